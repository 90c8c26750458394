//! The metadata tables: each a name, a key shape and a value codec.
//!
//! The core names a table and passes typed keys and values; how they become
//! bytes (order-preserving tuples, protobuf records) is decided here once,
//! for every engine. Adding a table is adding a line here and to [`ALL`].

use std::marker::PhantomData;

use super::keys;
use super::records::*;
use crate::error::{Error, Result};

/// How a table's keys are shaped.
pub trait KeyShape {
    /// A key as the core passes it.
    type Ref<'a>: Copy;
    /// A key as a scan returns it.
    type Owned;
    /// The key's bytes.
    fn encode(key: Self::Ref<'_>) -> Vec<u8>;
    /// The key from its bytes.
    fn decode(bytes: &[u8]) -> Result<Self::Owned>;
}

fn arity<const N: usize>(bytes: &[u8]) -> Result<[String; N]> {
    keys::parts(bytes)?
        .try_into()
        .map_err(|_| Error::Metadata(format!("corrupt key: not {N} components")))
}

/// One string.
pub struct Str;
/// Two strings.
pub struct Str2;
/// Three strings.
pub struct Str3;

impl KeyShape for Str {
    type Ref<'a> = &'a str;
    type Owned = String;
    fn encode(key: &str) -> Vec<u8> {
        keys::tuple(&[key])
    }
    fn decode(bytes: &[u8]) -> Result<String> {
        let [a] = arity(bytes)?;
        Ok(a)
    }
}

impl KeyShape for Str2 {
    type Ref<'a> = (&'a str, &'a str);
    type Owned = (String, String);
    fn encode((a, b): (&str, &str)) -> Vec<u8> {
        keys::tuple(&[a, b])
    }
    fn decode(bytes: &[u8]) -> Result<(String, String)> {
        let [a, b] = arity(bytes)?;
        Ok((a, b))
    }
}

impl KeyShape for Str3 {
    type Ref<'a> = (&'a str, &'a str, &'a str);
    type Owned = (String, String, String);
    fn encode((a, b, c): (&str, &str, &str)) -> Vec<u8> {
        keys::tuple(&[a, b, c])
    }
    fn decode(bytes: &[u8]) -> Result<(String, String, String)> {
        let [a, b, c] = arity(bytes)?;
        Ok((a, b, c))
    }
}

/// A string and a number (ordered as numbers: fixed-width hex).
pub struct StrU64;

impl KeyShape for StrU64 {
    type Ref<'a> = (&'a str, u64);
    type Owned = (String, u64);
    fn encode((a, n): (&str, u64)) -> Vec<u8> {
        keys::tuple(&[a, &format!("{n:016x}")])
    }
    fn decode(bytes: &[u8]) -> Result<(String, u64)> {
        let [a, n] = arity(bytes)?;
        let n = u64::from_str_radix(&n, 16)
            .map_err(|_| Error::Metadata("corrupt key: not a hex number".into()))?;
        Ok((a, n))
    }
}

/// How a table's values become bytes.
pub trait ValueCodec {
    /// A value as the core passes it.
    type Ref: ?Sized;
    /// A value as a read returns it.
    type Owned;
    /// The value's bytes.
    fn encode(value: &Self::Ref) -> Vec<u8>;
    /// The value from its bytes.
    fn decode(bytes: &[u8]) -> Result<Self::Owned>;
}

/// A protobuf record (fields can be added without rewriting anything).
pub struct Proto<M>(PhantomData<M>);
/// A UTF-8 string.
pub struct Text;
/// Milliseconds since the epoch, big-endian.
pub struct Millis;

impl<M: prost::Message + Default> ValueCodec for Proto<M> {
    type Ref = M;
    type Owned = M;
    fn encode(value: &M) -> Vec<u8> {
        value.encode_to_vec()
    }
    fn decode(bytes: &[u8]) -> Result<M> {
        decode(bytes)
    }
}

impl ValueCodec for Text {
    type Ref = str;
    type Owned = String;
    fn encode(value: &str) -> Vec<u8> {
        value.as_bytes().to_vec()
    }
    fn decode(bytes: &[u8]) -> Result<String> {
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::Metadata("corrupt text value".into()))
    }
}

impl ValueCodec for Millis {
    type Ref = i64;
    type Owned = i64;
    fn encode(value: &i64) -> Vec<u8> {
        value.to_be_bytes().to_vec()
    }
    fn decode(bytes: &[u8]) -> Result<i64> {
        let array: [u8; 8] = bytes
            .try_into()
            .map_err(|_| Error::Metadata("corrupt time value".into()))?;
        Ok(i64::from_be_bytes(array))
    }
}

/// A typed table.
pub struct Table<K, V> {
    /// Its name, the same on every engine.
    pub name: &'static str,
    shape: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Table<K, V> {
    const fn new(name: &'static str) -> Self {
        Table {
            name,
            shape: PhantomData,
        }
    }
}

/// Namespace id → [`NamespaceRecord`].
pub const NAMESPACES: Table<Str, Proto<NamespaceRecord>> = Table::new("namespaces");
/// Unique-name index: `sandbox \x1f scope \x1f user \x1f session \x1f name` → namespace id.
pub const NAMESPACE_NAMES: Table<Str, Text> = Table::new("namespace_names");
/// (namespace id, path) → [`EntryRecord`].
pub const ENTRIES: Table<Str2, Proto<EntryRecord>> = Table::new("entries");
/// (namespace id, object id) → [`ObjectRecord`].
pub const OBJECTS: Table<Str2, Proto<ObjectRecord>> = Table::new("objects");
/// (namespace id, object id) → when it became unreferenced.
pub const GARBAGE: Table<Str2, Millis> = Table::new("garbage");
/// Namespace id → [`PurgeRecord`] of a destroyed namespace still to delete.
pub const PURGES: Table<Str, Proto<PurgeRecord>> = Table::new("purges");
/// Upload id → [`UploadRecord`].
pub const UPLOADS: Table<Str, Proto<UploadRecord>> = Table::new("uploads");
/// Session id → [`SessionRecord`].
pub const SESSIONS: Table<Str, Proto<SessionRecord>> = Table::new("sessions");
/// SHA-256 of a session token → session id.
pub const SESSION_TOKENS: Table<Str, Text> = Table::new("session_tokens");
/// (sandbox, user, name) to the id of the session opened with that name.
pub const SESSION_NAMES: Table<Str3, Text> = Table::new("session_names");
/// `{sandbox}` or `{sandbox}/{user}` → [`UsageRecord`].
pub const USAGE: Table<Str, Proto<UsageRecord>> = Table::new("usage");
/// (namespace id, checkpoint id) → [`CheckpointRecord`].
pub const CHECKPOINTS: Table<Str2, Proto<CheckpointRecord>> = Table::new("checkpoints");
/// (namespace id, checkpoint id, path) → [`EntryRecord`] as it was: one
/// row per entry, the layout of checkpoints made before
/// [`CHECKPOINT_PAGES`] (still read; no longer written).
pub const CHECKPOINT_ENTRIES: Table<Str3, Proto<EntryRecord>> = Table::new("checkpoint_entries");
/// (namespace id, checkpoint id, last path of the page) → [`CheckpointPage`]:
/// a checkpoint's entries in path order, many to a row.
pub const CHECKPOINT_PAGES: Table<Str3, Proto<CheckpointPage>> = Table::new("checkpoint_pages");
/// (namespace id, SHA-256) → object id: content stored once per namespace.
pub const DIGESTS: Table<Str2, Text> = Table::new("digests");
/// Replica tag → [`ReplicaRecord`]: the replicas sharing the engine.
pub const REPLICAS: Table<Str, Proto<ReplicaRecord>> = Table::new("replicas");
/// Upload id → [`AttachmentRecord`]: which replica's stream holds it.
pub const ATTACHMENTS: Table<Str, Proto<AttachmentRecord>> = Table::new("attachments");
/// Name → secret every replica must share (the presign key, the
/// first-start admin key) when no file gives it.
pub const SECRETS: Table<Str, Text> = Table::new("secrets");
/// Name → when a one-time rewrite of the stored data was done (millis).
pub const MARKS: Table<Str, Millis> = Table::new("marks");
/// (namespace id, revision) → [`ChangeRecord`]: each namespace's change log.
pub const CHANGES: Table<StrU64, Proto<ChangeRecord>> = Table::new("changes");
/// (namespace id, `CheckpointRecord::seq`) → checkpoint id: a namespace's
/// lazy checkpoints in the order they were made (see `core::refs`).
pub const CHECKPOINT_SEQS: Table<StrU64, Text> = Table::new("checkpoint_seqs");

/// Every table, for engines that create them up front.
pub const ALL: &[&str] = &[
    NAMESPACES.name,
    NAMESPACE_NAMES.name,
    ENTRIES.name,
    OBJECTS.name,
    GARBAGE.name,
    PURGES.name,
    UPLOADS.name,
    SESSIONS.name,
    SESSION_TOKENS.name,
    SESSION_NAMES.name,
    USAGE.name,
    CHECKPOINTS.name,
    CHECKPOINT_ENTRIES.name,
    CHECKPOINT_PAGES.name,
    DIGESTS.name,
    REPLICAS.name,
    ATTACHMENTS.name,
    SECRETS.name,
    MARKS.name,
    CHANGES.name,
    CHECKPOINT_SEQS.name,
];
