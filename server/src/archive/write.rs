//! Tar out: the header blocks of each entry, the padding after its content
//! and the end of the archive. Content itself is the caller's to stream
//! between a header and its padding, so memory stays bounded.

use crate::meta::EntryRecord;

/// A tar block.
pub const BLOCK: usize = 512;

/// The zero blocks that end an archive.
pub fn end_of_archive() -> Vec<u8> {
    vec![0; 2 * BLOCK]
}

/// The zeros that pad `size` bytes of content to a whole block.
pub fn padding(size: u64) -> Vec<u8> {
    let rest = (size % BLOCK as u64) as usize;
    if rest == 0 {
        Vec::new()
    } else {
        vec![0; BLOCK - rest]
    }
}

/// One pax record: `"<length> <key>=<value>\n"`, the length counting
/// itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &str) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut length = body + 1;
    while length != body + length.to_string().len() {
        length = body + length.to_string().len();
    }
    out.extend_from_slice(format!("{length} {key}={value}\n").as_bytes());
}

fn ustar(name: &[u8], size: u64, mode: u32, mtime: u64, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(kind);
    // `set_path` splits a long path into ustar's prefix and name; a path
    // it cannot place is carried by the pax record and truncated here.
    let fitted = std::str::from_utf8(name)
        .ok()
        .filter(|n| n.is_ascii())
        .is_some_and(|n| header.set_path(n).is_ok());
    if !fitted {
        let ustar = header.as_ustar_mut().expect("a ustar header");
        ustar.prefix = [0; 155];
        ustar.name = [0; 100];
        let cut = name.len().min(99);
        ustar.name[..cut].copy_from_slice(&name[..cut]);
    }
    header.set_cksum();
    header
}

/// The header blocks of the entry at `path` (a pax extended header when
/// needed, then its ustar header). Directories end in '/'.
pub fn entry_header(path: &str, entry: &EntryRecord) -> Vec<u8> {
    let dir = entry.is_dir();
    let name = if dir {
        format!("{path}/")
    } else {
        path.to_owned()
    };
    let mtime = u64::try_from(entry.modified_ms.max(0) / 1000).unwrap_or(0);
    let mut pax = Vec::new();
    let long = name.len() > 100 || !name.is_ascii();
    if long {
        pax_record(&mut pax, "path", &name);
    }
    if !dir {
        pax_record(&mut pax, super::PAX_SHA256, &entry.sha256);
        pax_record(&mut pax, super::PAX_MIME_TYPE, &entry.mime_type);
    }
    if !entry.metadata.is_empty() {
        let json = serde_json::to_string(&entry.metadata).unwrap_or_default();
        pax_record(&mut pax, super::PAX_METADATA, &json);
    }
    let mut out = Vec::with_capacity(3 * BLOCK + pax.len());
    if !pax.is_empty() {
        let pax_name = format!("PaxHeaders/{}", name.trim_end_matches('/'));
        let header = ustar(
            pax_name.as_bytes(),
            pax.len() as u64,
            0o644,
            mtime,
            tar::EntryType::XHeader,
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&pax);
        out.extend_from_slice(&padding(pax.len() as u64));
    }
    let (size, mode, kind) = if dir {
        (0, 0o755, tar::EntryType::Directory)
    } else {
        (entry.size, 0o644, tar::EntryType::Regular)
    };
    out.extend_from_slice(ustar(name.as_bytes(), size, mode, mtime, kind).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_count_their_own_length() {
        for value_len in [0, 1, 5, 6, 7, 90, 95, 96, 97, 990, 995, 996, 9990] {
            let mut out = Vec::new();
            pax_record(&mut out, "path", &"x".repeat(value_len));
            let text = String::from_utf8(out.clone()).unwrap();
            let (length, _) = text.split_once(' ').unwrap();
            assert_eq!(length.parse::<usize>().unwrap(), out.len(), "{value_len}");
        }
    }
}
