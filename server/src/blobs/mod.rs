//! Blob backends: where immutable object content lives.
//!
//! One trait, [`BlobStore`], implemented by every backend (memory and
//! filesystem here; S3 joins later). A write is staged through
//! [`StagedWrite`] and becomes visible under its key only at
//! [`StagedWrite::complete`]; [`StagedWrite::abort`], or dropping the writer,
//! leaves nothing behind, while [`StagedWrite::suspend`] keeps the persisted
//! part so that a broken upload can be resumed (even after a restart, on
//! durable backends). This module knows nothing of namespaces, entries or
//! redb: keys are opaque strings built by `crate::grid`.
//!
//! Every backend runs the same behavioural suite in [`conformance`].

pub mod conformance;
pub mod faulty;
pub mod fs;
pub mod memory;
pub mod s3;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::config::BackendConfig;
use crate::error::{Error, Result};

/// A stream of content chunks.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// A store of immutable objects addressed by key.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Begins a staged write of a new object at `key`. Nothing is visible
    /// under `key` until [`StagedWrite::complete`].
    async fn begin(&self, key: &str) -> Result<Box<dyn StagedWrite>>;

    /// Writes a whole small object in one step, with the same guarantees
    /// as `begin`, `write` and `complete` (which is what it does unless a
    /// backend has a faster way).
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let mut writer = self.begin(key).await?;
        writer.write(data).await?;
        writer.complete().await
    }

    /// Reopens a suspended staged write of `key`, keeping exactly its first
    /// `persisted` bytes (anything written after the last persist is
    /// dropped). `token` is the one the original writer reported.
    /// NOT_FOUND if the staged state is gone.
    async fn resume(&self, key: &str, token: &str, persisted: u64) -> Result<Box<dyn StagedWrite>>;

    /// Deletes the staged state of a suspended write. Idempotent.
    async fn discard(&self, key: &str, token: &str) -> Result<()>;

    /// Streams `range` of the object at `key` (clipped to its size).
    async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream>;

    /// The size of the object at `key`, or `None` if there is none.
    async fn size(&self, key: &str) -> Result<Option<u64>>;

    /// Deletes the object at `key`. Deleting a missing object succeeds.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Every key (objects and staged writes) under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// Whether the backend can be reached now (readiness). Local backends
    /// always can.
    async fn reachable(&self) -> bool {
        true
    }

    /// Moves the completed object at `from` to `to` (which must not exist);
    /// afterwards `from` is gone. Used to take a presigned upload out of
    /// reach of its URL before it is verified and committed. The default
    /// copies through a staged write; backends override it with a rename
    /// or a server-side copy.
    async fn promote(&self, from: &str, to: &str) -> Result<()> {
        use futures::StreamExt;
        let size = self
            .size(from)
            .await?
            .ok_or_else(|| crate::error::not_found(format!("no object at {from}")))?;
        let mut reader = self.read(from, 0..size).await?;
        let mut writer = self.begin(to).await?;
        while let Some(chunk) = reader.next().await {
            writer.write(chunk?).await?;
        }
        writer.complete().await?;
        self.delete(from).await
    }

    /// The SHA-256 (hex) the writer of the object at `key` remembered (see
    /// [`StagedWrite::remember_sha256`]), if the backend keeps it and the
    /// object has one; `None` tells the caller to hash the content.
    async fn remembered_sha256(&self, _key: &str) -> Result<Option<String>> {
        Ok(None)
    }

    /// The store's own presigned URLs, if it has them (S3). Without them the
    /// server signs URLs that it serves itself.
    fn direct_urls(&self) -> Option<&dyn DirectUrls> {
        None
    }

    /// Deletes everything under `prefix`, staged writes included; returns how
    /// many keys went. Fails closed: a listing error deletes nothing more.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let keys = self.list(prefix).await?;
        for key in &keys {
            self.delete(key).await?;
        }
        Ok(keys.len() as u64)
    }
}

/// URLs signed by the store itself, so that content moves between the
/// client and the store without passing through the server.
#[async_trait]
pub trait DirectUrls: Send + Sync {
    /// A URL that GETs the object at `key` (Range requests allowed).
    async fn presign_get(&self, key: &str, expires: Duration) -> Result<SignedUrl>;

    /// A URL that PUTs a whole object at `key` in one request.
    async fn presign_put(&self, key: &str, expires: Duration) -> Result<SignedUrl>;

    /// The size of every part but the last of a multipart plan.
    fn part_size(&self) -> u64;

    /// Starts a multipart upload of `key`; returns its token (for
    /// [`BlobStore::discard`], which aborts it).
    async fn start_parts(&self, key: &str) -> Result<String>;

    /// A URL that PUTs part `number` (1-based) of the multipart upload `token`.
    async fn presign_part(
        &self,
        key: &str,
        token: &str,
        number: u32,
        expires: Duration,
    ) -> Result<SignedUrl>;

    /// Completes the multipart upload `token` from `parts` (number, the
    /// ETag the store answered the part's PUT with), in order; the object
    /// appears at `key`. NOT_FOUND when the upload is gone, INVALID_ARGUMENT
    /// when the store refuses the parts (one missing, a wrong ETag).
    ///
    /// The caller's ETags are used rather than the store's ListParts: it is
    /// the standard presigned multipart flow, and ListParts is what
    /// S3-compatible stores get wrong most often.
    async fn complete_parts(&self, key: &str, token: &str, parts: &[(u32, String)]) -> Result<()>;
}

/// A presigned request: its URL and the headers that were signed with it.
#[derive(Debug, Clone)]
pub struct SignedUrl {
    /// The URL.
    pub url: String,
    /// Headers the request must carry, with these values.
    pub headers: Vec<(String, String)>,
}

/// A write in progress. Dropping it without `complete` or `suspend` aborts it.
#[async_trait]
pub trait StagedWrite: Send + Sync {
    /// The backend's handle for resuming this write; stored in the upload
    /// record. May be empty when the key alone identifies the staged state.
    fn token(&self) -> String;

    /// Appends data.
    async fn write(&mut self, data: Bytes) -> Result<()>;

    /// Makes what it can of what was written durable and returns the number
    /// of bytes a [`BlobStore::resume`] would keep: all of it on the
    /// filesystem, acknowledged whole parts only on S3. Always an offset at
    /// which a `write` started or ended. Work still in flight (S3 parts on
    /// their way) is not waited for: it counts at a later call.
    async fn persist(&mut self) -> Result<u64>;

    /// Like [`StagedWrite::persist`], after waiting for the work in flight:
    /// for when the writer is about to be left (a stream ends, a client
    /// asks where it stands).
    async fn settle(&mut self) -> Result<u64> {
        self.persist().await
    }

    /// Resolves when work started by an earlier `persist` ends (an
    /// fdatasync beside the writes, a part acknowledged), so that a stream
    /// whose client pauses still hears what became durable; the next
    /// `persist` reports it. Never resolves when nothing is in flight.
    /// Cancel-safe: dropping it loses nothing.
    async fn in_flight_done(&mut self) {
        std::future::pending::<()>().await
    }

    /// Remembers `sha256` (hex) as the digest of everything written, kept
    /// with the object from `complete` on, through `promote`, where the
    /// backend can (the file's extended attribute, the object in memory),
    /// so that a caller who hashed the bytes as they were written need not
    /// read them back. A backend that cannot keeps nothing.
    fn remember_sha256(&mut self, _sha256: &str) {}

    /// Publishes the content under the key, atomically and durably.
    async fn complete(self: Box<Self>) -> Result<()>;

    /// Deletes the staged content.
    async fn abort(self: Box<Self>) -> Result<()>;

    /// Keeps the persisted part for a later [`BlobStore::resume`].
    fn suspend(self: Box<Self>);
}

/// The configured backends by name, with the default for each scope.
#[derive(Clone)]
pub struct Backends {
    stores: BTreeMap<String, Arc<dyn BlobStore>>,
}

impl Backends {
    /// Opens every configured backend.
    pub async fn open(configs: &BTreeMap<String, BackendConfig>) -> Result<Self> {
        let mut stores: BTreeMap<String, Arc<dyn BlobStore>> = BTreeMap::new();
        for (name, config) in configs {
            let store: Arc<dyn BlobStore> = match config {
                BackendConfig::Memory => Arc::new(memory::MemoryStore::new()),
                BackendConfig::Filesystem { root } => Arc::new(fs::FsStore::open(root)?),
                BackendConfig::S3(s3) => Arc::new(s3::S3Store::open(s3_settings(s3)?).await?),
            };
            stores.insert(name.clone(), store);
        }
        Ok(Backends { stores })
    }

    /// Adds (or replaces) a backend.
    pub fn insert(&mut self, name: &str, store: Arc<dyn BlobStore>) {
        self.stores.insert(name.to_owned(), store);
    }

    /// The backend called `name`.
    pub fn get(&self, name: &str) -> Result<&Arc<dyn BlobStore>> {
        self.stores.get(name).ok_or_else(|| {
            Error::InvalidArgument(format!("no blob backend named {name:?} is configured"))
        })
    }

    /// Whether every backend can be reached now.
    pub async fn all_reachable(&self) -> bool {
        for store in self.stores.values() {
            if !store.reachable().await {
                return false;
            }
        }
        true
    }

    /// The names of all backends.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.stores.keys().map(String::as_str)
    }
}

/// Reads a whole (small) object into memory. Only for callers that have
/// already checked the size against a limit.
pub async fn read_all(store: &dyn BlobStore, key: &str, range: Range<u64>) -> Result<Vec<u8>> {
    use futures::StreamExt;
    let mut out = Vec::with_capacity((range.end - range.start).min(1 << 24) as usize);
    let mut stream = store.read(key, range).await?;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// The S3 backend's settings, its credential files read (refused if
/// others may read them).
pub(crate) fn s3_settings(config: &crate::config::S3Config) -> Result<s3::S3Settings> {
    let static_credentials = match (&config.access_key_id_file, &config.secret_access_key_file) {
        (Some(id), Some(secret)) => Some((
            crate::auth::read_private_file(id)?.trim().to_owned(),
            crate::auth::read_private_file(secret)?.trim().to_owned(),
        )),
        (None, None) => None,
        _ => {
            return Err(Error::InvalidArgument(
                "s3: give both access_key_id_file and secret_access_key_file, or neither".into(),
            ));
        }
    };
    Ok(s3::S3Settings {
        bucket: config.bucket.clone(),
        prefix: config.prefix.clone(),
        region: config.region.clone(),
        endpoint: config.endpoint.clone(),
        path_style: config.path_style,
        static_credentials,
        sse: config.sse.clone(),
        sse_kms_key_id: config.sse_kms_key_id.clone(),
        part_size: config.part_size_mib.saturating_mul(1 << 20),
        part_concurrency: config.part_concurrency.max(1),
        max_attempts: config.max_attempts,
        attempt_timeout: std::time::Duration::from_secs(config.attempt_timeout_secs.max(1)),
    })
}
