//! Tar archives of namespaces: the format, out ([`write`]) and in
//! ([`read`]). What an archive may contain and how it becomes a commit is
//! the core's (`crate::core::archive`); this module only turns entries into
//! tar blocks and tar blocks into checked entries.
//!
//! The format written is pax (POSIX.1-2001): ustar headers, with a pax
//! extended header before an entry whose path is long or not ASCII, and
//! before every file for what tar has no field for: `ARCA.sha256`,
//! `ARCA.mime_type`, `ARCA.metadata` (a JSON object). The reader takes
//! ustar, pax and GNU archives, plain or gzip-compressed.

pub mod read;
pub mod write;

/// pax keyword of a file's lowercase hex SHA-256.
pub const PAX_SHA256: &str = "ARCA.sha256";
/// pax keyword of a file's MIME type.
pub const PAX_MIME_TYPE: &str = "ARCA.mime_type";
/// pax keyword of an entry's metadata, as a JSON object of strings.
pub const PAX_METADATA: &str = "ARCA.metadata";
