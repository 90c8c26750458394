//! Inode numbers for paths, and what the mount remembers of entries.
//!
//! Arca names entries by path; the kernel by inode number. Each path seen
//! gets a number for the life of the mount (a rename moves the number
//! with the entry and everything beneath it), so an open file follows its
//! entry through `mv`. Entries and listings are cached for the TTL and
//! dropped by the mount's own changes, so it sees its writes at once and
//! other clients' within the TTL.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fuser::{FileAttr, FileType, INodeNo};

use arca_client::pb;

/// The metadata key where a file's permission bits are kept (octal), so
/// `chmod +x` survives a remount and shows to other clients.
pub(super) const MODE_KEY: &str = "posix.mode";
/// Permissions of files and directories that carry none.
const DEFAULT_FILE_MODE: u16 = 0o644;
const DEFAULT_DIR_MODE: u16 = 0o755;
/// The block size reported (for `du` and `stat`).
pub(super) const BLOCK: u32 = 4096;

/// The paths the kernel knows, by number.
#[derive(Default)]
pub(super) struct Inodes {
    by_path: HashMap<String, u64>,
    paths: HashMap<u64, String>,
    next: u64,
}

impl Inodes {
    pub(super) fn new() -> Self {
        let mut inodes = Inodes {
            next: INodeNo::ROOT.0 + 1,
            ..Default::default()
        };
        inodes.by_path.insert(String::new(), INodeNo::ROOT.0);
        inodes.paths.insert(INodeNo::ROOT.0, String::new());
        inodes
    }

    /// The path of an inode (relative to the mount).
    pub(super) fn path(&self, ino: u64) -> Option<String> {
        self.paths.get(&ino).cloned()
    }

    /// The inode of a path, numbering it if it is new.
    pub(super) fn ino(&mut self, path: &str) -> u64 {
        if let Some(ino) = self.by_path.get(path) {
            return *ino;
        }
        let ino = self.next;
        self.next += 1;
        self.by_path.insert(path.to_owned(), ino);
        self.paths.insert(ino, path.to_owned());
        ino
    }

    /// The path is gone: a new entry there gets a new number.
    pub(super) fn forget_path(&mut self, path: &str) {
        if let Some(ino) = self.by_path.remove(path) {
            self.paths.remove(&ino);
        }
    }

    /// `from` (and everything beneath it) is now at `to`.
    pub(super) fn renamed(&mut self, from: &str, to: &str) {
        self.forget_path(to);
        let prefix = format!("{from}/");
        let moved: Vec<(String, u64)> = self
            .by_path
            .iter()
            .filter(|(p, _)| *p == from || p.starts_with(&prefix))
            .map(|(p, i)| (p.clone(), *i))
            .collect();
        for (old, ino) in moved {
            let new = format!("{to}{}", &old[from.len()..]);
            self.by_path.remove(&old);
            self.forget_path(&new);
            self.by_path.insert(new.clone(), ino);
            self.paths.insert(ino, new);
        }
    }
}

/// The path of `name` in the directory at `dir`.
pub(super) fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// The directory holding `path`.
pub(super) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Entries and listings seen recently.
#[derive(Default)]
pub(super) struct Cache {
    entries: HashMap<String, (Instant, pb::Entry)>,
    listings: HashMap<String, (Instant, Vec<pb::Entry>)>,
}

impl Cache {
    pub(super) fn entry(&self, path: &str, ttl: Duration) -> Option<pb::Entry> {
        let (at, entry) = self.entries.get(path)?;
        (at.elapsed() < ttl).then(|| entry.clone())
    }

    pub(super) fn listing(&self, path: &str, ttl: Duration) -> Option<Vec<pb::Entry>> {
        let (at, list) = self.listings.get(path)?;
        (at.elapsed() < ttl).then(|| list.clone())
    }

    pub(super) fn put_entry(&mut self, path: &str, entry: pb::Entry) {
        self.entries
            .insert(path.to_owned(), (Instant::now(), entry));
    }

    pub(super) fn put_listing(&mut self, path: &str, list: Vec<pb::Entry>) {
        self.listings
            .insert(path.to_owned(), (Instant::now(), list));
    }

    /// Forgets `path`, what is beneath it, and its directory's listing.
    pub(super) fn invalidate(&mut self, path: &str) {
        let prefix = format!("{path}/");
        self.entries
            .retain(|p, _| p != path && !(path.is_empty() || p.starts_with(&prefix)));
        self.listings
            .retain(|p, _| p != path && !p.starts_with(&prefix));
        self.listings.remove(parent(path));
    }
}

fn system_time(at: Option<&prost_types::Timestamp>) -> SystemTime {
    at.map_or(UNIX_EPOCH, |t| {
        UNIX_EPOCH
            + Duration::new(
                u64::try_from(t.seconds).unwrap_or(0),
                u32::try_from(t.nanos).unwrap_or(0),
            )
    })
}

pub(super) fn is_dir(entry: &pb::Entry) -> bool {
    entry.kind == pb::EntryKind::Directory as i32
}

/// The permission bits an entry carries, or the defaults.
pub(super) fn mode_of(entry: &pb::Entry) -> u16 {
    entry
        .metadata
        .get(MODE_KEY)
        .and_then(|m| u16::from_str_radix(m, 8).ok())
        .map(|m| m & 0o7777)
        .unwrap_or(if is_dir(entry) {
            DEFAULT_DIR_MODE
        } else {
            DEFAULT_FILE_MODE
        })
}

/// The attributes the kernel sees. `size` overrides the entry's (a file
/// with unsaved writes open); owner is whoever mounted.
pub(super) fn attr(ino: u64, entry: &pb::Entry, size: Option<u64>, owner: (u32, u32)) -> FileAttr {
    let dir = is_dir(entry);
    let size = size.unwrap_or(entry.size);
    let modified = system_time(entry.modified_at.as_ref());
    FileAttr {
        ino: INodeNo(ino),
        size: if dir { 0 } else { size },
        blocks: size.div_ceil(512),
        atime: modified,
        mtime: modified,
        ctime: modified,
        crtime: system_time(entry.created_at.as_ref()),
        kind: if dir {
            FileType::Directory
        } else {
            FileType::RegularFile
        },
        perm: mode_of(entry),
        nlink: if dir { 2 } else { 1 },
        uid: owner.0,
        gid: owner.1,
        rdev: 0,
        blksize: BLOCK,
        flags: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_carry_numbers_with_them() {
        let mut inodes = Inodes::new();
        let dir = inodes.ino("a");
        let file = inodes.ino("a/f");
        let other = inodes.ino("ab");
        let replaced = inodes.ino("b/f");
        inodes.renamed("a", "b");
        assert_eq!(inodes.path(dir).as_deref(), Some("b"));
        assert_eq!(inodes.path(file).as_deref(), Some("b/f"));
        assert_eq!(
            inodes.path(other).as_deref(),
            Some("ab"),
            "a prefix is not a parent"
        );
        assert_eq!(inodes.path(replaced), None, "the replaced entry is gone");
        assert_eq!(inodes.ino("b/f"), file);
        assert_eq!(inodes.path(INodeNo::ROOT.0).as_deref(), Some(""));
    }

    #[test]
    fn invalidation_reaches_parents_and_children() {
        let mut cache = Cache::default();
        let ttl = Duration::from_secs(60);
        for p in ["d", "d/f", "e"] {
            cache.put_entry(p, pb::Entry::default());
        }
        cache.put_listing("", Vec::new());
        cache.put_listing("d", Vec::new());
        cache.invalidate("d");
        assert!(cache.entry("d/f", ttl).is_none());
        assert!(cache.entry("d", ttl).is_none());
        assert!(cache.listing("", ttl).is_none());
        assert!(cache.entry("e", ttl).is_some());
    }

    #[test]
    fn modes() {
        let mut entry = pb::Entry {
            kind: pb::EntryKind::File as i32,
            ..Default::default()
        };
        assert_eq!(mode_of(&entry), 0o644);
        entry.metadata.insert(MODE_KEY.into(), "755".into());
        assert_eq!(mode_of(&entry), 0o755);
        entry.metadata.insert(MODE_KEY.into(), "nonsense".into());
        assert_eq!(mode_of(&entry), 0o644);
        assert_eq!(child("", "x"), "x");
        assert_eq!(child("a", "x"), "a/x");
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
    }
}
