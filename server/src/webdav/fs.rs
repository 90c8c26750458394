//! The file system WebDAV sees: every namespace the request's credential
//! reaches, as one collection each under the root, mapped onto the core.
//!
//! `/` lists the reachable namespaces (read only); `/{namespace id}/{path}`
//! is that path of the namespace's tree. Every operation is one core call
//! made as the request's [`Identity`], so access, quotas, the BLOB rules and
//! the audit log are decided where they are for gRPC. Dead properties are
//! kept as entry metadata under `dav:{xml namespace}name`, so they move and
//! copy with their entry and are visible to gRPC clients.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavMetaData, DavProp, FsError, FsFuture, FsResult, FsStream,
    GuardedFileSystem, OpenOptions, ReadDirMeta,
};
use futures::FutureExt;

use super::file::{ReadFile, WriteFile};
use crate::auth::Identity;
use crate::core::namespaces::NamespaceFilter;
use crate::core::{Core, MetadataUpdate};
use crate::error::Error;
use crate::meta::EntryRecord;

/// Prefix of the metadata keys that hold dead properties.
const PROP_KEY_PREFIX: &str = "dav:";
/// Entries asked of the core per listing page.
const LIST_PAGE: u32 = 1000;

/// Maps a core error onto the few results WebDAV handlers know, logging
/// the message they cannot carry. Exhaustive: a new error kind must be
/// placed here deliberately.
pub(super) fn fs_error(e: Error) -> FsError {
    let mapped = match &e {
        Error::NotFound(_) => FsError::NotFound,
        Error::AlreadyExists(_) => FsError::Exists,
        Error::PermissionDenied(_) | Error::Unauthenticated(_) => FsError::Forbidden,
        // A path or request the tree rules refuse (a file where a directory
        // is needed, a BLOB's second file): nothing can make it succeed.
        Error::InvalidArgument(_) | Error::FailedPrecondition(_) => FsError::Forbidden,
        Error::ResourceExhausted(_) => FsError::InsufficientStorage,
        Error::OutOfRange(_)
        | Error::Aborted(_)
        | Error::Unavailable(_)
        | Error::Backend(_)
        | Error::DataLoss(_)
        | Error::Metadata(_)
        | Error::Internal(_) => FsError::GeneralFailure,
    };
    match mapped {
        FsError::GeneralFailure => tracing::warn!(error = %e, "webdav request failed"),
        _ => tracing::debug!(error = %e, "webdav request refused"),
    }
    mapped
}

/// What a WebDAV path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// The collection of reachable namespaces.
    Root,
    /// A path in a namespace's tree (`""`: its root).
    Entry {
        /// The namespace id.
        namespace: String,
        /// The path in its tree, without leading or trailing '/'.
        path: String,
    },
}

impl Target {
    /// Parses a decoded request path. Paths that are not UTF-8 cannot name
    /// anything Arca stores.
    pub(super) fn of(path: &DavPath) -> FsResult<Target> {
        let raw = std::str::from_utf8(path.as_bytes()).map_err(|_| FsError::NotFound)?;
        let trimmed = raw.trim_matches('/');
        if trimmed.is_empty() {
            return Ok(Target::Root);
        }
        let (namespace, path) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        Ok(Target::Entry {
            namespace: namespace.to_owned(),
            path: path.to_owned(),
        })
    }

    fn entry(path: &DavPath) -> FsResult<(String, String)> {
        match Target::of(path)? {
            Target::Entry { namespace, path } => Ok((namespace, path)),
            // The root is the server's, not a tree: nothing is made there.
            Target::Root => Err(FsError::Forbidden),
        }
    }

    /// A path that names an entry below a namespace's root.
    fn below_root(path: &DavPath) -> FsResult<(String, String)> {
        match Target::entry(path)? {
            (_, p) if p.is_empty() => Err(FsError::Forbidden),
            found => Ok(found),
        }
    }
}

/// What PROPFIND shows of an entry (or of the root).
#[derive(Debug, Clone)]
pub(super) struct Meta {
    dir: bool,
    size: u64,
    modified_ms: i64,
    created_ms: i64,
    /// Changes on every write of the entry: the ETag.
    version: u64,
}

impl Meta {
    pub(super) fn of(entry: &EntryRecord) -> Meta {
        Meta {
            dir: entry.is_dir(),
            size: entry.size,
            modified_ms: entry.modified_ms,
            created_ms: entry.created_ms,
            version: entry.version,
        }
    }

    fn root() -> Meta {
        Meta {
            dir: true,
            size: 0,
            modified_ms: 0,
            created_ms: 0,
            version: 0,
        }
    }
}

fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl DavMetaData for Meta {
    fn len(&self) -> u64 {
        self.size
    }

    fn modified(&self) -> FsResult<SystemTime> {
        Ok(system_time(self.modified_ms))
    }

    fn created(&self) -> FsResult<SystemTime> {
        Ok(system_time(self.created_ms))
    }

    fn is_dir(&self) -> bool {
        self.dir
    }

    fn etag(&self) -> Option<String> {
        Some(format!("v{:x}", self.version))
    }
}

/// One child in a listing.
struct Child {
    name: String,
    meta: Meta,
}

impl DavDirEntry for Child {
    fn name(&self) -> Vec<u8> {
        self.name.as_bytes().to_vec()
    }

    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.meta.clone());
        futures::future::ready(Ok(meta)).boxed()
    }
}

/// What MOVE and COPY do to an entry.
#[derive(Clone, Copy)]
enum Relocation {
    Move,
    Copy,
}

/// The WebDAV view of the core.
#[derive(Clone)]
pub struct CoreFs {
    core: Arc<Core>,
}

impl CoreFs {
    /// The file system over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        CoreFs { core }
    }

    async fn stat(&self, who: &Identity, ns: &str, path: &str) -> FsResult<EntryRecord> {
        self.core
            .stat(who, ns, path)
            .await
            .map(|(_, entry)| entry)
            .map_err(fs_error)
    }

    async fn meta(&self, who: &Identity, path: &DavPath) -> FsResult<Meta> {
        match Target::of(path)? {
            Target::Root => Ok(Meta::root()),
            Target::Entry { namespace, path } => {
                Ok(Meta::of(&self.stat(who, &namespace, &path).await?))
            }
        }
    }

    /// The namespaces of the credential's sandbox it may read.
    async fn namespaces(&self, who: &Identity) -> FsResult<Vec<Child>> {
        let mut children = Vec::new();
        let mut token = String::new();
        loop {
            let (page, next) = self
                .core
                .list_namespaces(who, NamespaceFilter::default(), 1000, &token)
                .await
                .map_err(fs_error)?;
            for ns in page {
                // The root entry's times are the namespace's.
                let meta = Meta {
                    dir: true,
                    size: 0,
                    modified_ms: ns.created_ms,
                    created_ms: ns.created_ms,
                    version: 0,
                };
                children.push(Child { name: ns.id, meta });
            }
            if next.is_empty() {
                return Ok(children);
            }
            token = next;
        }
    }

    /// Every direct child of a directory, page by page.
    async fn children(&self, who: &Identity, ns: &str, dir: &str) -> FsResult<Vec<Child>> {
        let mut children = Vec::new();
        let mut token = String::new();
        loop {
            let (page, next) = self
                .core
                .list(who, ns, dir, false, LIST_PAGE, &token)
                .await
                .map_err(fs_error)?;
            for (path, entry) in page.entries {
                let name = crate::paths::file_name(&path).to_owned();
                children.push(Child {
                    name,
                    meta: Meta::of(&entry),
                });
            }
            if next.is_empty() {
                return Ok(children);
            }
            token = next;
        }
    }

    async fn open_file(
        &self,
        who: &Identity,
        path: &DavPath,
        options: OpenOptions,
    ) -> FsResult<Box<dyn DavFile>> {
        let (ns, path) = Target::below_root(path)?;
        if !options.write {
            let entry = self.stat(who, &ns, &path).await?;
            let file = ReadFile::new(self.core.clone(), who.clone(), ns, path, entry);
            return Ok(Box::new(file));
        }
        let existing = match self.stat(who, &ns, &path).await {
            Ok(entry) => Some(entry),
            Err(FsError::NotFound) => None,
            Err(e) => return Err(e),
        };
        // Writes replace whole files through one streamed upload; a write
        // into the middle of an existing file (a partial PUT) is not
        // offered. (A LOCK of an unmapped URL opens without truncation to
        // create an empty file: nothing is kept, so that is a whole write.)
        if options.append || (!options.truncate && existing.is_some()) {
            return Err(FsError::NotImplemented);
        }
        match &existing {
            Some(_) if options.create_new => return Err(FsError::Exists),
            Some(entry) if entry.is_dir() => return Err(FsError::Forbidden),
            None if !options.create => return Err(FsError::NotFound),
            // RFC 4918 9.7.1: a PUT whose parent collection is missing is
            // 409, not an implicit MKCOL as a gRPC write would do.
            None => {
                let parent = crate::paths::parent(&path);
                if !self.stat(who, &ns, parent).await?.is_dir() {
                    return Err(FsError::Forbidden);
                }
            }
            Some(_) => {}
        }
        let file = WriteFile::start(
            self.core.clone(),
            who,
            &ns,
            &path,
            options.create_new,
            options.size,
            options.checksum.as_deref(),
        )
        .await?;
        Ok(Box::new(file))
    }

    /// A MOVE or a file's COPY, within one namespace or into another (the
    /// core's cross-namespace rules: shared content within a sandbox and
    /// backend, streamed otherwise).
    async fn relocate(
        &self,
        who: &Identity,
        from: &DavPath,
        to: &DavPath,
        how: Relocation,
    ) -> FsResult<()> {
        let (ns, src) = Target::below_root(from)?;
        let (to_ns, dst) = Target::below_root(to)?;
        let request = crate::core::across::Relocate {
            from_ns: ns,
            from: src,
            to_ns,
            to: dst,
            overwrite: true,
            parents: false,
            remove_source: matches!(how, Relocation::Move),
        };
        self.core.relocate(who, request).await.map_err(fs_error)?;
        Ok(())
    }

    async fn patch(
        &self,
        who: &Identity,
        path: &DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsResult<Vec<(StatusCode, DavProp)>> {
        let (ns, path) = Target::entry(path)?;
        // Instructions apply in document order (RFC 4918 14.26): the last
        // one naming a property decides it.
        let mut last = std::collections::BTreeMap::new();
        for (setting, prop) in &patch {
            let value = match setting {
                true => {
                    let xml = prop.xml.as_deref().unwrap_or_default();
                    Some(String::from_utf8(xml.to_vec()).map_err(|_| FsError::Forbidden)?)
                }
                false => None,
            };
            last.insert(prop_key(prop), value);
        }
        let mut set = std::collections::BTreeMap::new();
        let mut remove = Vec::new();
        for (key, value) in last {
            match value {
                Some(value) => {
                    set.insert(key, value);
                }
                None => remove.push(key),
            }
        }
        let update = MetadataUpdate::Merge { set, remove };
        // All or nothing, as RFC 4918 9.2 asks of one PROPPATCH.
        let status = match self.core.set_metadata(who, &ns, &path, update, None).await {
            Ok(_) => StatusCode::OK,
            Err(Error::InvalidArgument(message)) => {
                tracing::debug!(%message, "webdav property refused");
                StatusCode::INSUFFICIENT_STORAGE
            }
            Err(e) => return Err(fs_error(e)),
        };
        Ok(patch
            .into_iter()
            .map(|(_, prop)| (status, without_value(&prop)))
            .collect())
    }

    async fn props(&self, who: &Identity, path: &DavPath, content: bool) -> FsResult<Vec<DavProp>> {
        let Target::Entry { namespace, path } = Target::of(path)? else {
            return Ok(Vec::new());
        };
        let entry = self.stat(who, &namespace, &path).await?;
        Ok(entry
            .metadata
            .iter()
            .filter_map(|(key, value)| {
                let prop = parse_prop_key(key)?;
                Some(if content {
                    DavProp {
                        xml: Some(value.as_bytes().to_vec()),
                        ..prop
                    }
                } else {
                    prop
                })
            })
            .collect())
    }
}

/// The metadata key of a dead property: `dav:{namespace}name`.
fn prop_key(prop: &DavProp) -> String {
    format!(
        "{PROP_KEY_PREFIX}{{{}}}{}",
        prop.namespace.as_deref().unwrap_or_default(),
        prop.name
    )
}

/// The property a metadata key holds, if it holds one.
fn parse_prop_key(key: &str) -> Option<DavProp> {
    let rest = key.strip_prefix(PROP_KEY_PREFIX)?.strip_prefix('{')?;
    let (namespace, name) = rest.rsplit_once('}')?;
    Some(DavProp {
        name: name.to_owned(),
        prefix: None,
        namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
        xml: None,
    })
}

fn without_value(prop: &DavProp) -> DavProp {
    DavProp {
        xml: None,
        ..prop.clone()
    }
}

impl GuardedFileSystem<Identity> for CoreFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
        who: &'a Identity,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        self.open_file(who, path, options).boxed()
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
        who: &'a Identity,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let children = match Target::of(path)? {
                Target::Root => self.namespaces(who).await?,
                Target::Entry { namespace, path } => self.children(who, &namespace, &path).await?,
            };
            let entries = children
                .into_iter()
                .map(|child| Ok(Box::new(child) as Box<dyn DavDirEntry>));
            let stream: FsStream<Box<dyn DavDirEntry>> = Box::pin(futures::stream::iter(entries));
            Ok(stream)
        }
        .boxed()
    }

    fn metadata<'a>(
        &'a self,
        path: &'a DavPath,
        who: &'a Identity,
    ) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            let meta: Box<dyn DavMetaData> = Box::new(self.meta(who, path).await?);
            Ok(meta)
        }
        .boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath, who: &'a Identity) -> FsFuture<'a, ()> {
        async move {
            let (ns, path) = Target::below_root(path)?;
            self.core
                .mkdir(who, &ns, &path, false, false)
                .await
                .map_err(fs_error)?;
            Ok(())
        }
        .boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath, who: &'a Identity) -> FsFuture<'a, ()> {
        async move {
            let (ns, path) = Target::below_root(path)?;
            if !self.stat(who, &ns, &path).await?.is_dir() {
                return Err(FsError::Forbidden);
            }
            self.core
                .remove(who, &ns, &path, false)
                .await
                .map_err(|e| match e {
                    // Not empty: what a directory removal reports as EEXIST.
                    Error::FailedPrecondition(_) => FsError::Exists,
                    other => fs_error(other),
                })?;
            Ok(())
        }
        .boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath, who: &'a Identity) -> FsFuture<'a, ()> {
        async move {
            let (ns, path) = Target::below_root(path)?;
            if self.stat(who, &ns, &path).await?.is_dir() {
                return Err(FsError::Forbidden);
            }
            self.core
                .remove(who, &ns, &path, false)
                .await
                .map_err(fs_error)?;
            Ok(())
        }
        .boxed()
    }

    fn rename<'a>(
        &'a self,
        from: &'a DavPath,
        to: &'a DavPath,
        who: &'a Identity,
    ) -> FsFuture<'a, ()> {
        // The handler has already applied `Overwrite` (and removed what it
        // replaces); the move itself is one metadata commit.
        self.relocate(who, from, to, Relocation::Move).boxed()
    }

    fn copy<'a>(
        &'a self,
        from: &'a DavPath,
        to: &'a DavPath,
        who: &'a Identity,
    ) -> FsFuture<'a, ()> {
        self.relocate(who, from, to, Relocation::Copy).boxed()
    }

    fn have_props<'a>(
        &'a self,
        path: &'a DavPath,
        _who: &'a Identity,
    ) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        let entry = Target::of(path).is_ok_and(|t| t != Target::Root);
        Box::pin(futures::future::ready(entry))
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
        who: &'a Identity,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        self.patch(who, path, patch).boxed()
    }

    fn get_props<'a>(
        &'a self,
        path: &'a DavPath,
        do_content: bool,
        who: &'a Identity,
    ) -> FsFuture<'a, Vec<DavProp>> {
        self.props(who, path, do_content).boxed()
    }

    fn get_prop<'a>(
        &'a self,
        path: &'a DavPath,
        prop: DavProp,
        who: &'a Identity,
    ) -> FsFuture<'a, Vec<u8>> {
        async move {
            let (ns, path) = Target::entry(path)?;
            let entry = self.stat(who, &ns, &path).await?;
            entry
                .metadata
                .get(&prop_key(&prop))
                .map(|xml| xml.as_bytes().to_vec())
                .ok_or(FsError::NotFound)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let of = |p: &str| Target::of(&DavPath::new(p).unwrap()).unwrap();
        assert_eq!(of("/"), Target::Root);
        assert_eq!(
            of("/ns1/"),
            Target::Entry {
                namespace: "ns1".into(),
                path: String::new()
            }
        );
        assert_eq!(
            of("/ns1/a/b%20c/"),
            Target::Entry {
                namespace: "ns1".into(),
                path: "a/b c".into()
            }
        );
    }

    #[test]
    fn property_keys_round_trip() {
        let prop = DavProp {
            name: "color".into(),
            prefix: Some("x".into()),
            namespace: Some("http://example.com/ns/".into()),
            xml: None,
        };
        let key = prop_key(&prop);
        assert_eq!(key, "dav:{http://example.com/ns/}color");
        let back = parse_prop_key(&key).unwrap();
        assert_eq!(back.name, "color");
        assert_eq!(back.namespace.as_deref(), Some("http://example.com/ns/"));
        assert!(parse_prop_key("user-key").is_none());
        let bare = parse_prop_key(&prop_key(&DavProp {
            namespace: None,
            ..prop
        }))
        .unwrap();
        assert_eq!(bare.namespace, None);
    }
}
