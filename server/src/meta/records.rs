//! The records stored in the metadata engine, encoded as protobuf (prost derive) so that
//! fields can be added later without rewriting the database.

use std::collections::BTreeMap;

use prost::Message;

use crate::error::Result;

/// Entry kinds as stored.
pub const KIND_FILE: i32 = 1;
/// Entry kinds as stored.
pub const KIND_DIRECTORY: i32 = 2;

/// A namespace.
#[derive(Clone, PartialEq, Message)]
pub struct NamespaceRecord {
    /// Server-made id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// `arca.v1.NamespaceType` value.
    #[prost(int32, tag = "2")]
    pub ns_type: i32,
    /// `arca.v1.Scope` value.
    #[prost(int32, tag = "3")]
    pub scope: i32,
    /// Optional name.
    #[prost(string, tag = "4")]
    pub name: String,
    /// Owning sandbox.
    #[prost(string, tag = "5")]
    pub sandbox: String,
    /// Owning user (SESSION and USER scopes).
    #[prost(string, tag = "6")]
    pub user: String,
    /// Owning session (SESSION scope).
    #[prost(string, tag = "7")]
    pub session: String,
    /// User metadata.
    #[prost(btree_map = "string, string", tag = "8")]
    pub metadata: BTreeMap<String, String>,
    /// Creation time, ms since the epoch.
    #[prost(int64, tag = "9")]
    pub created_ms: i64,
    /// Expiry, ms since the epoch.
    #[prost(int64, optional, tag = "10")]
    pub expires_ms: Option<i64>,
    /// Blob backend name.
    #[prost(string, tag = "11")]
    pub backend: String,
    /// Grid prefix of all its content.
    #[prost(string, tag = "12")]
    pub grid_prefix: String,
    /// Number of files.
    #[prost(uint64, tag = "13")]
    pub file_count: u64,
    /// Bytes in files.
    #[prost(uint64, tag = "14")]
    pub total_bytes: u64,
    /// Short description (the reference's artifact summary).
    #[prost(string, tag = "15")]
    pub summary: String,
    /// Entries (live and checkpointed) whose content is another namespace's
    /// object (forks, cross-namespace copies): a destroy releases those
    /// references, and only then, when this is non-zero, reads the tree.
    #[prost(uint64, tag = "16")]
    pub borrowed: u64,
    /// Whether it is a template: forks of it may substitute variables.
    #[prost(bool, tag = "17")]
    pub template: bool,
    /// The rules every write to it must pass (none: only access and quotas).
    #[prost(message, optional, tag = "18")]
    pub profile: Option<ProfileRecord>,
    /// What it holds beyond its live files' bytes (none yet: all zero).
    #[prost(message, optional, tag = "19")]
    pub footprint: Option<Footprint>,
    /// The revision of its last recorded change (0: none since it was
    /// created; the tree as created is revision 0).
    #[prost(uint64, tag = "20")]
    pub revision: u64,
    /// The oldest revision its change log still holds (older ones were
    /// trimmed by the retention); above `revision` when the log is empty.
    /// 0 is read as 1.
    #[prost(uint64, tag = "21")]
    pub changes_from: u64,
    /// The commit time of the oldest change its log holds, or earlier, ms
    /// since the epoch (0: not known). While it is within the retention,
    /// nothing in the log is too old, and a commit need not read the log
    /// to find out.
    #[prost(int64, tag = "22")]
    pub changes_from_ms: i64,
    /// Whether its checkpoints hold its own objects lazily (see
    /// `core::refs`): every commit keeps `ObjectRecord::live_refs` of its
    /// objects, and a checkpoint with a `seq` adds no reference to them
    /// while they are live. Set at creation, or by its first checkpoint once
    /// every live replica reads [`layout::LAZY_REFS`]; never unset.
    #[prost(bool, tag = "23")]
    pub lazy_refs: bool,
    /// The `seq` of its newest lazy checkpoint (0: none yet).
    #[prost(uint64, tag = "24")]
    pub checkpoint_seq: u64,
    /// The highest `seq` of a lazy checkpoint of it that was deleted (0:
    /// none). Every lazy checkpoint made after it still exists, so an
    /// object live since then counts them without reading the sequence.
    #[prost(uint64, tag = "25")]
    pub deleted_checkpoint_seq: u64,
}

impl NamespaceRecord {
    /// What it holds beyond its live files' bytes.
    pub fn footprint(&self) -> Footprint {
        self.footprint.unwrap_or_default()
    }

    /// The oldest revision its change log holds (`revision + 1` if none).
    pub fn oldest_change(&self) -> u64 {
        self.changes_from.max(1)
    }
}

/// Change kinds as stored (the values of `arca.v1.ChangeKind`).
pub mod change_kind {
    /// A file appeared at a path that held nothing.
    pub const FILE_CREATED: i32 = 1;
    /// A file's content was replaced.
    pub const FILE_REPLACED: i32 = 2;
    /// A file was removed.
    pub const FILE_DELETED: i32 = 3;
    /// A file or directory moved from `old_path` to `path`.
    pub const MOVED: i32 = 4;
    /// A directory was created.
    pub const DIRECTORY_CREATED: i32 = 5;
    /// A directory was removed.
    pub const DIRECTORY_REMOVED: i32 = 6;
    /// An entry's metadata (or MIME type) changed, not its content.
    pub const METADATA_CHANGED: i32 = 7;
    /// The whole tree was replaced by a checkpoint's.
    pub const RESTORED: i32 = 8;
}

/// One committed change of a namespace's tree, in its change log under the
/// revision the commit gave it.
#[derive(Clone, PartialEq, Message)]
pub struct ChangeRecord {
    /// One of [`change_kind`].
    #[prost(int32, tag = "1")]
    pub kind: i32,
    /// The path changed ("" for the whole tree).
    #[prost(string, tag = "2")]
    pub path: String,
    /// Where a moved entry was.
    #[prost(string, tag = "3")]
    pub old_path: String,
    /// The entry after the change (before it, for a removal), without its
    /// user metadata: a change's size is bounded by its paths, and
    /// METADATA_CHANGED says when to read the metadata again.
    #[prost(message, optional, tag = "4")]
    pub entry: Option<EntryRecord>,
    /// When it was committed, ms since the epoch (the engine's clock).
    #[prost(int64, tag = "5")]
    pub committed_ms: i64,
    /// The checkpoint a RESTORED tree came from.
    #[prost(string, tag = "6")]
    pub checkpoint_id: String,
}

/// What a namespace (or, summed, a sandbox or a user) makes the server hold
/// beyond the bytes of its live files: metadata rows, checkpoints, content
/// only checkpoints keep, and staged uploads. Counted in the transactions
/// that change them, for the quotas that bound them.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Footprint {
    /// Entry rows: live files and directories, and their copies in
    /// checkpoints.
    #[prost(uint64, tag = "1")]
    pub entries: u64,
    /// Bytes of those rows (each one's path and encoded record) and of the
    /// checkpoint records.
    #[prost(uint64, tag = "2")]
    pub metadata_bytes: u64,
    /// Checkpoints.
    #[prost(uint64, tag = "3")]
    pub checkpoints: u64,
    /// Bytes of objects that only checkpoints refer to (no live entry does),
    /// charged to the namespace that owns them.
    #[prost(uint64, tag = "4")]
    pub retained_bytes: u64,
    /// Bytes of unfinished uploads: the declared size, or what was persisted
    /// when none was declared.
    #[prost(uint64, tag = "5")]
    pub staged_bytes: u64,
}

/// An access profile as stored: the rules writes to a namespace must pass.
#[derive(Clone, PartialEq, Message)]
pub struct ProfileRecord {
    /// The preset it was made from, for display ("" for a custom one).
    #[prost(string, tag = "1")]
    pub preset: String,
    /// No write of any kind.
    #[prost(bool, tag = "2")]
    pub read_only: bool,
    /// Globs a written path must match one of (empty: any path).
    #[prost(string, repeated, tag = "3")]
    pub allowed_globs: Vec<String>,
    /// Globs no written path may match.
    #[prost(string, repeated, tag = "4")]
    pub denied_globs: Vec<String>,
    /// Largest file in bytes (0: no limit beyond the server's).
    #[prost(uint64, tag = "5")]
    pub max_file_bytes: u64,
    /// Most files (0: no limit).
    #[prost(uint64, tag = "6")]
    pub max_files: u64,
    /// MIME type prefixes a written file must have one of (empty: any).
    #[prost(string, repeated, tag = "7")]
    pub allowed_mime_prefixes: Vec<String>,
}

/// A file or directory.
#[derive(Clone, PartialEq, Message)]
pub struct EntryRecord {
    /// [`KIND_FILE`] or [`KIND_DIRECTORY`].
    #[prost(int32, tag = "1")]
    pub kind: i32,
    /// The object holding the content (files).
    #[prost(string, tag = "2")]
    pub object_id: String,
    /// The object's key in the backend (files).
    #[prost(string, tag = "3")]
    pub object_key: String,
    /// Content size.
    #[prost(uint64, tag = "4")]
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    #[prost(string, tag = "5")]
    pub sha256: String,
    /// MIME type.
    #[prost(string, tag = "6")]
    pub mime_type: String,
    /// User metadata.
    #[prost(btree_map = "string, string", tag = "7")]
    pub metadata: BTreeMap<String, String>,
    /// Version, from the global counter.
    #[prost(uint64, tag = "8")]
    pub version: u64,
    /// Creation time, ms since the epoch.
    #[prost(int64, tag = "9")]
    pub created_ms: i64,
    /// Last change, ms since the epoch.
    #[prost(int64, tag = "10")]
    pub modified_ms: i64,
    /// The namespace that owns the object, when it is not this entry's own
    /// (content shared by a fork or a cross-namespace copy). Empty: its own.
    #[prost(string, tag = "11")]
    pub object_ns: String,
}

impl EntryRecord {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == KIND_DIRECTORY
    }
}

/// An immutable object in a backend, with its reference count.
#[derive(Clone, PartialEq, Message)]
pub struct ObjectRecord {
    /// Backend key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Backend name.
    #[prost(string, tag = "2")]
    pub backend: String,
    /// Size.
    #[prost(uint64, tag = "3")]
    pub size: u64,
    /// Lowercase hex SHA-256.
    #[prost(string, tag = "4")]
    pub sha256: String,
    /// Entries referring to it. At zero it is queued for reclaim.
    #[prost(uint64, tag = "5")]
    pub refs: u64,
    /// How many of `refs` are other namespaces' entries. These keep the
    /// object (and its record) alive when its own namespace is destroyed.
    #[prost(uint64, tag = "6")]
    pub foreign_refs: u64,
    /// How many of `refs` are entries of checkpoints (of any namespace).
    /// When all are, only checkpoints keep the object and its size is
    /// charged to `retained_by`.
    #[prost(uint64, tag = "7")]
    pub checkpoint_refs: u64,
    /// The namespace charged with this object while only checkpoints refer
    /// to it (empty otherwise).
    #[prost(string, tag = "8")]
    pub retained_by: String,
    /// Live entries of its owner that refer to it (kept only while the
    /// owner's `NamespaceRecord::lazy_refs` is set). While non-zero, every
    /// lazy checkpoint its owner makes holds it without a reference of its
    /// own.
    #[prost(uint64, tag = "9")]
    pub live_refs: u64,
    /// The owner's `checkpoint_seq` when `live_refs` last rose from zero:
    /// the lazy checkpoints with a higher `seq` were made while it was live
    /// and are counted into `refs` when `live_refs` falls to zero.
    #[prost(uint64, tag = "10")]
    pub live_since: u64,
}

impl ObjectRecord {
    /// Whether only checkpoint entries refer to it.
    pub fn only_checkpointed(&self) -> bool {
        self.refs > 0 && self.refs == self.checkpoint_refs
    }
}

/// A resumable upload in progress.
#[derive(Clone, PartialEq, Message)]
pub struct UploadRecord {
    /// Target namespace.
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    /// Target path (normalised).
    #[prost(string, tag = "2")]
    pub path: String,
    /// MIME type.
    #[prost(string, tag = "3")]
    pub mime_type: String,
    /// User metadata.
    #[prost(btree_map = "string, string", tag = "4")]
    pub metadata: BTreeMap<String, String>,
    /// Declared total size.
    #[prost(uint64, optional, tag = "5")]
    pub total_size: Option<u64>,
    /// Declared SHA-256.
    #[prost(string, tag = "6")]
    pub expected_sha256: String,
    /// Precondition: the path must not exist.
    #[prost(bool, tag = "7")]
    pub must_not_exist: bool,
    /// Precondition: the path must have this version.
    #[prost(uint64, optional, tag = "8")]
    pub if_version_match: Option<u64>,
    /// The object being written.
    #[prost(string, tag = "9")]
    pub object_id: String,
    /// Its backend key.
    #[prost(string, tag = "10")]
    pub object_key: String,
    /// Its backend.
    #[prost(string, tag = "11")]
    pub backend: String,
    /// The backend's resume token.
    #[prost(string, tag = "12")]
    pub token: String,
    /// Bytes durably persisted.
    #[prost(uint64, tag = "13")]
    pub persisted: u64,
    /// Serialized SHA-256 state over the persisted bytes.
    #[prost(bytes = "vec", tag = "14")]
    pub hash_state: Vec<u8>,
    /// When the upload is discarded if unfinished, ms since the epoch.
    #[prost(int64, tag = "15")]
    pub lease_expires_ms: i64,
    /// Content arrives through presigned URLs, not a stream; FinalizeUpload
    /// commits it.
    #[prost(bool, tag = "16")]
    pub presigned: bool,
    /// Presigned single-PUT uploads: the key the URL writes to, moved to
    /// `object_key` at finalize (so the URL cannot change committed
    /// content). Empty for multipart plans, which write `object_key` itself.
    #[prost(string, tag = "17")]
    pub staging_key: String,
}

/// A session: a lease held by one user of one sandbox.
#[derive(Clone, PartialEq, Message)]
pub struct SessionRecord {
    /// The sandbox.
    #[prost(string, tag = "1")]
    pub sandbox: String,
    /// The user it acts as.
    #[prost(string, tag = "2")]
    pub user: String,
    /// Lowercase hex SHA-256 of its bearer token.
    #[prost(string, tag = "3")]
    pub token_sha256: String,
    /// When it was opened, ms since the epoch.
    #[prost(int64, tag = "4")]
    pub created_ms: i64,
    /// When its lease runs out, ms since the epoch.
    #[prost(int64, tag = "5")]
    pub expires_ms: i64,
    /// The caller's name for it (empty: none).
    #[prost(string, tag = "6")]
    pub name: String,
    /// SHA-256s of the tokens issued when its name was opened again,
    /// oldest first (bounded).
    #[prost(string, repeated, tag = "7")]
    pub more_tokens: Vec<String>,
}

/// What a sandbox or a user holds, for quotas: the sums over its
/// namespaces.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct UsageRecord {
    /// Bytes in live files.
    #[prost(uint64, tag = "1")]
    pub bytes: u64,
    /// Namespaces.
    #[prost(uint64, tag = "2")]
    pub namespaces: u64,
    /// Everything else it holds.
    #[prost(message, optional, tag = "3")]
    pub footprint: Option<Footprint>,
}

/// A run of one checkpoint's entries, in path order: a checkpoint of n
/// entries is about n / 256 rows, not n, so making one writes few rows
/// however many entries it copies.
#[derive(Clone, PartialEq, Message)]
pub struct CheckpointPage {
    /// The entries, in path order.
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<PagedEntry>,
}

/// One entry of a [`CheckpointPage`].
#[derive(Clone, PartialEq, Message)]
pub struct PagedEntry {
    /// Its path.
    #[prost(string, tag = "1")]
    pub path: String,
    /// The entry as it was.
    #[prost(message, optional, tag = "2")]
    pub entry: Option<EntryRecord>,
}

/// A checkpoint of a namespace's tree.
#[derive(Clone, PartialEq, Message)]
pub struct CheckpointRecord {
    /// Name given at creation.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Description given at creation.
    #[prost(string, tag = "2")]
    pub description: String,
    /// Creation time, ms since the epoch.
    #[prost(int64, tag = "3")]
    pub created_ms: i64,
    /// Entries held.
    #[prost(uint64, tag = "4")]
    pub entry_count: u64,
    /// Files held.
    #[prost(uint64, tag = "5")]
    pub file_count: u64,
    /// Bytes of the files held.
    #[prost(uint64, tag = "6")]
    pub total_bytes: u64,
    /// Its place in its namespace's sequence of lazy checkpoints (see
    /// `core::refs`); 0 for a checkpoint that added a reference to every
    /// object it holds when it was made.
    #[prost(uint64, tag = "7")]
    pub seq: u64,
}

/// A namespace prefix queued for deletion from its backend.
#[derive(Clone, PartialEq, Message)]
pub struct PurgeRecord {
    /// Backend name.
    #[prost(string, tag = "1")]
    pub backend: String,
    /// Grid prefix.
    #[prost(string, tag = "2")]
    pub prefix: String,
    /// Objects of the namespace other namespaces still refer to kept their
    /// records: the purge deletes every other key under the prefix, not the
    /// prefix. Those objects go one by one when their last reference does.
    #[prost(bool, tag = "3")]
    pub keep_recorded: bool,
    /// For the intent a namespace being created queues before storing its
    /// first files: the tag of the replica storing them (empty for a
    /// destroyed namespace, and on an embedded engine). No other replica
    /// purges it while that replica lives.
    #[prost(string, tag = "4")]
    pub writer: String,
}

/// Decodes a stored record.
pub fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M> {
    Ok(M::decode(bytes)?)
}

/// A replica sharing the metadata engine, alive while its lease runs.
#[derive(Clone, PartialEq, Message)]
pub struct ReplicaRecord {
    /// When the lease runs out unless renewed, ms on the engine's clock.
    #[prost(int64, tag = "1")]
    pub expires_ms: i64,
    /// When the replica registered.
    #[prost(int64, tag = "2")]
    pub started_ms: i64,
    /// The host it runs on, for operators.
    #[prost(string, tag = "3")]
    pub host: String,
    /// Shut down cleanly with none of its writes in flight: its keys are
    /// nobody's at once, where a replica that died may still have been
    /// writing them until its lease ran out.
    #[prost(bool, tag = "4")]
    pub retired: bool,
    /// The newest layout of the shared rows its binary reads
    /// ([`layout::CURRENT`]); 0 for binaries from before the field. A row
    /// is written in a layout only when every live replica reads it.
    #[prost(uint32, tag = "5")]
    pub layout: u32,
}

/// Layouts of the shared rows, oldest first. A replica says which it reads
/// ([`ReplicaRecord::layout`]); a newer one is written only while every live
/// replica reads it, so a rolling update never leaves a replica blind to
/// rows another wrote.
pub mod layout {
    /// Checkpoint entries one row each (`CHECKPOINT_ENTRIES`).
    pub const ENTRY_ROWS: u32 = 0;
    /// Checkpoint entries in pages (`CHECKPOINT_PAGES`).
    pub const CHECKPOINT_PAGES: u32 = 1;
    /// Checkpoints that hold their namespace's live objects without a
    /// reference each (`CheckpointRecord::seq`, `ObjectRecord::live_refs`).
    pub const LAZY_REFS: u32 = 2;
    /// The newest this binary reads.
    pub const CURRENT: u32 = LAZY_REFS;
}

/// Which stream (or request) an upload is attached to, on a shared engine.
#[derive(Clone, PartialEq, Message)]
pub struct AttachmentRecord {
    /// The tag of the replica holding it.
    #[prost(string, tag = "1")]
    pub replica: String,
    /// The holder: one attachment on that replica.
    #[prost(string, tag = "2")]
    pub holder: String,
    /// When the attachment lapses unless its replica renews it.
    #[prost(int64, tag = "3")]
    pub expires_ms: i64,
}
