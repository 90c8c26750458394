//! The SHA-256 a staged write remembers, kept as an extended attribute of
//! its file. The attribute belongs to the file (the inode), so it follows
//! the rename that completes the write and any promote after it, and a
//! later write of the same key (a new file) has none. A filesystem without
//! user attributes keeps nothing, and callers hash the content instead.

use std::fs::File;
use std::path::Path;

use rustix::fs::{XattrFlags, fgetxattr, fsetxattr};

const NAME: &str = "user.arca.sha256";

/// Remembers `sha256` on `file`; a filesystem that refuses keeps nothing.
pub(super) fn remember(file: &File, sha256: &str) {
    if let Err(e) = fsetxattr(file, NAME, sha256.as_bytes(), XattrFlags::empty()) {
        tracing::debug!(error = %e, "the filesystem keeps no digest with the object");
    }
}

/// The digest remembered on the file at `path`: 64 lowercase hex digits,
/// or nothing (no file, no attribute, or one that is not a digest).
pub(super) fn remembered(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    let mut value = [0u8; 64];
    match fgetxattr(&file, NAME, &mut value[..]) {
        Ok(64) => {
            let digest = std::str::from_utf8(&value).ok()?;
            let hex = digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            hex.then(|| digest.to_owned())
        }
        _ => None,
    }
}
