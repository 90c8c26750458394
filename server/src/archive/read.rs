//! Tar in: a blocking parser over the archive's bytes (plain or gzip) that
//! checks every entry and hands the core a sequence of [`Item`]s through a
//! bounded channel, content in pieces, so an archive of any size is held a
//! piece at a time.
//!
//! Refused, INVALID_ARGUMENT naming the entry: paths that are not UTF-8,
//! absolute, or climb with `..`; symbolic links (a namespace has none);
//! hard links to anything but an earlier file of the archive; devices,
//! FIFOs and sparse files; metadata that is not a JSON object of strings;
//! an entry cut short; an archive without its end blocks.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::{Error, Result, invalid};

/// Content is handed on in pieces of this size.
const PIECE: usize = 256 * 1024;

/// One thing an archive holds, in archive order. A file's content follows
/// it as `Data` pieces adding up to its size.
#[derive(Debug)]
pub enum Item {
    /// A directory.
    Directory {
        /// Its normalised path.
        path: String,
        /// Its metadata from the pax record.
        metadata: BTreeMap<String, String>,
    },
    /// A file; its content follows.
    File {
        /// Its normalised path.
        path: String,
        /// Its size as the header declares it.
        size: u64,
        /// The SHA-256 its pax record declares, if any.
        sha256: Option<String>,
        /// The MIME type its pax record declares ("" if none).
        mime_type: String,
        /// Its metadata from the pax record.
        metadata: BTreeMap<String, String>,
    },
    /// The next piece of the last file's content.
    Data(Bytes),
    /// A hard link: the same content as the earlier file `target`.
    Link {
        /// Its normalised path.
        path: String,
        /// The earlier file's normalised path.
        target: String,
    },
}

/// A `Read` over byte pieces sent from async code (the inbound stream);
/// the end of the channel is the end of the archive.
pub struct ChannelReader {
    pieces: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    /// Reads what `pieces` delivers.
    pub fn new(pieces: mpsc::Receiver<Bytes>) -> Self {
        ChannelReader {
            pieces,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.pieces.blocking_recv() {
                Some(piece) => self.current = piece,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Counts what the tar parser consumed (decompressed), to tell an archive
/// that ends with its end blocks from one cut at an entry boundary.
struct Counting<R> {
    inner: R,
    consumed: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

fn padded(size: u64) -> u64 {
    size.div_ceil(512) * 512
}

/// A path as an archive gives it, normalised: UTF-8, relative, no `..`;
/// `.` and empty segments dropped ("" is the archive's root).
fn entry_path(raw: &[u8], what: &str) -> Result<String> {
    let text = std::str::from_utf8(raw).map_err(|_| {
        invalid(format!(
            "{what} {:?}: the path is not UTF-8",
            String::from_utf8_lossy(raw)
        ))
    })?;
    if text.starts_with('/') {
        return Err(invalid(format!(
            "{what} {text:?}: absolute paths are refused (tar-slip)"
        )));
    }
    let mut segments = Vec::new();
    for segment in text.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                return Err(invalid(format!(
                    "{what} {text:?}: paths with '..' are refused (tar-slip)"
                )));
            }
            s => segments.push(s),
        }
    }
    Ok(segments.join("/"))
}

fn io_failure(at: &str, e: &std::io::Error) -> Error {
    invalid(format!("the archive is not a readable tar{at}: {e}"))
}

/// Parses the archive `input` delivers, sending each item (or the first
/// failure, as the last message) to `out`. Returns when the archive ends,
/// fails, or `out` is closed (the core stopped listening).
pub fn parse(input: impl Read, out: &mpsc::Sender<Result<Item>>) {
    if let Err(e) = parse_into(input, out) {
        let _ = out.blocking_send(Err(e));
    }
}

fn send(out: &mpsc::Sender<Result<Item>>, item: Item) -> Result<()> {
    out.blocking_send(Ok(item))
        .map_err(|_| Error::Aborted("the import stopped".into()))
}

fn parse_into(input: impl Read, out: &mpsc::Sender<Result<Item>>) -> Result<()> {
    let mut buffered = BufReader::new(input);
    let gzip = buffered
        .fill_buf()
        .map_err(|e| io_failure("", &e))?
        .starts_with(&[0x1f, 0x8b]);
    let stream: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let mut archive = tar::Archive::new(Counting {
        inner: stream,
        consumed: 0,
    });
    let mut files = HashSet::new();
    let mut last: Option<(String, u64)> = None;
    let entries = archive.entries().map_err(|e| io_failure("", &e))?;
    for entry in entries {
        let after = last
            .as_ref()
            .map(|(p, _)| format!(" after entry {p:?}"))
            .unwrap_or_default();
        let mut entry = entry.map_err(|e| io_failure(&after, &e))?;
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let kind = entry.header().entry_type();
        let end = entry.raw_file_position() + padded(entry.size());
        last = Some((shown.clone(), end));
        use tar::EntryType as T;
        match kind {
            T::XGlobalHeader => continue,
            T::Directory => {
                let path = entry_path(&raw_path, "entry")?;
                let (_, _, metadata) = pax_fields(&mut entry, &shown)?;
                if !path.is_empty() {
                    send(out, Item::Directory { path, metadata })?;
                }
            }
            T::Regular | T::Continuous => {
                let path = entry_path(&raw_path, "entry")?;
                if path.is_empty() {
                    return Err(invalid(format!("entry {shown:?}: a file must have a name")));
                }
                let (sha256, mime_type, metadata) = pax_fields(&mut entry, &shown)?;
                let size = entry.size();
                send(
                    out,
                    Item::File {
                        path: path.clone(),
                        size,
                        sha256,
                        mime_type,
                        metadata,
                    },
                )?;
                let mut sent = 0u64;
                loop {
                    let mut piece = vec![0; PIECE];
                    let n = entry
                        .read(&mut piece)
                        .map_err(|e| invalid(format!("entry {shown:?}: {e}")))?;
                    if n == 0 {
                        break;
                    }
                    piece.truncate(n);
                    sent += n as u64;
                    send(out, Item::Data(Bytes::from(piece)))?;
                }
                if sent != size {
                    return Err(invalid(format!(
                        "entry {shown:?} is cut short: {sent} of its {size} bytes (a truncated archive)"
                    )));
                }
                files.insert(path);
            }
            T::Link => {
                let path = entry_path(&raw_path, "hard link")?;
                let raw_target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let target = entry_path(&raw_target, "the target of hard link")?;
                if !files.contains(&target) {
                    return Err(invalid(format!(
                        "hard link {shown:?} points to {:?}, which is not an earlier file of the \
                         archive (a link outside is refused)",
                        String::from_utf8_lossy(&raw_target)
                    )));
                }
                send(out, Item::Link { path, target })?;
            }
            T::Symlink => {
                return Err(invalid(format!(
                    "entry {shown:?} is a symbolic link; a namespace has none, so links are refused"
                )));
            }
            other => {
                return Err(invalid(format!(
                    "entry {shown:?} is a {other:?} entry (device, FIFO, sparse file...), which a \
                     namespace cannot hold"
                )));
            }
        }
    }
    let consumed = archive.into_inner().consumed;
    let (shown, end) = last.unwrap_or_default();
    if consumed < end + 512 {
        return Err(invalid(if shown.is_empty() {
            "the archive is empty or truncated: no tar end blocks".to_owned()
        } else {
            format!("the archive is truncated after entry {shown:?}: it has no end blocks")
        }));
    }
    Ok(())
}

type PaxFields = (Option<String>, String, BTreeMap<String, String>);

/// The Arca pax records of a file: its SHA-256, MIME type and metadata.
fn pax_fields<R: Read>(entry: &mut tar::Entry<'_, R>, shown: &str) -> Result<PaxFields> {
    let (mut sha256, mut mime_type, mut metadata) = (None, String::new(), BTreeMap::new());
    let bad = |what: &str| invalid(format!("entry {shown:?}: {what}"));
    let Some(extensions) = entry
        .pax_extensions()
        .map_err(|e| bad(&format!("unreadable pax records: {e}")))?
    else {
        return Ok((sha256, mime_type, metadata));
    };
    for extension in extensions {
        let extension = extension.map_err(|e| bad(&format!("unreadable pax record: {e}")))?;
        let (Ok(key), Ok(value)) = (extension.key(), extension.value()) else {
            continue;
        };
        match key {
            super::PAX_SHA256 => {
                if !crate::ids::is_sha256_hex(value) {
                    return Err(bad(&format!("{key} is not a lowercase hex SHA-256")));
                }
                sha256 = Some(value.to_owned());
            }
            super::PAX_MIME_TYPE => mime_type = value.to_owned(),
            super::PAX_METADATA => {
                metadata = serde_json::from_str(value)
                    .map_err(|_| bad(&format!("{key} is not a JSON object of strings")))?;
            }
            _ => {}
        }
    }
    Ok((sha256, mime_type, metadata))
}
