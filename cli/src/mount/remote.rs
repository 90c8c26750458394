//! The gRPC calls a mount makes, each answered as a `Result<_, Errno>`:
//! the one place where server statuses become errno values.
//!
//! Metadata calls carry a deadline, so an unreachable server turns into
//! EIO instead of a hung process; transfers retry and resume on their own
//! (the client library's resumable upload) and carry none.

use std::collections::HashMap;
use std::time::Duration;

use fuser::Errno;
use tonic::Code;

use arca_client::{Client, ClientError, TransferOptions, pb};

/// What a failed call means to a POSIX caller, before the call's own
/// context refines it (a FAILED_PRECONDITION is ENOTEMPTY to rmdir).
pub(super) fn errno(error: &ClientError) -> Errno {
    match error {
        ClientError::Status(status) => status_errno(status.code()),
        // Not reachable, or the connection broke: the mount keeps going
        // and the next call tries again.
        ClientError::Transport(_) | ClientError::Protocol(_) => Errno::EIO,
        // Content that does not match its digest, or a local spool that
        // could not be read or written.
        ClientError::DigestMismatch { .. } | ClientError::Io(_) => Errno::EIO,
    }
}

fn status_errno(code: Code) -> Errno {
    match code {
        Code::NotFound => Errno::ENOENT,
        Code::AlreadyExists => Errno::EEXIST,
        Code::PermissionDenied | Code::Unauthenticated => Errno::EACCES,
        Code::ResourceExhausted => Errno::EDQUOT,
        Code::InvalidArgument | Code::OutOfRange => Errno::EINVAL,
        // A rule of the tree (a file where a directory must be, a version
        // that moved on); callers with more context say which.
        Code::FailedPrecondition | Code::Aborted => Errno::EPERM,
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::Unknown
        | Code::Internal
        | Code::DataLoss
        | Code::Unimplemented
        | Code::Ok => Errno::EIO,
    }
}

/// The status code of a failed call, if the server answered.
pub(super) fn code(error: &ClientError) -> Option<Code> {
    match error {
        ClientError::Status(status) => Some(status.code()),
        _ => None,
    }
}

/// A namespace as the mount reaches it.
#[derive(Clone)]
pub(super) struct Remote {
    client: Client,
    namespace: String,
    /// The mounted directory of the namespace ("" for its root).
    root: String,
    deadline: Duration,
}

type Result<T> = std::result::Result<T, ClientError>;

impl Remote {
    pub(super) fn new(client: Client, namespace: String, root: String, deadline: Duration) -> Self {
        Remote {
            client,
            namespace,
            root,
            deadline,
        }
    }

    /// The namespace path of a path relative to the mount.
    pub(super) fn path(&self, rel: &str) -> String {
        match (self.root.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_owned(),
            (false, true) => self.root.clone(),
            (false, false) => format!("{}/{rel}", self.root),
        }
    }

    async fn timed<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Status(tonic::Status::deadline_exceeded(
                "the server did not answer in time",
            ))),
        }
    }

    pub(super) async fn stat(&self, rel: &str) -> Result<pb::Entry> {
        let request = pb::StatRequest {
            namespace_id: self.namespace.clone(),
            path: self.path(rel),
        };
        let mut files = self.client.files.clone();
        self.timed(async move { Ok(files.stat(request).await?.into_inner()) })
            .await
    }

    /// Every direct child of a directory.
    pub(super) async fn list(&self, rel: &str) -> Result<Vec<pb::Entry>> {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let request = pb::ListRequest {
                namespace_id: self.namespace.clone(),
                path: self.path(rel),
                recursive: false,
                page_size: 10_000,
                page_token: token.clone(),
            };
            let mut files = self.client.files.clone();
            let page = self
                .timed(async move { Ok(files.list(request).await?.into_inner()) })
                .await?;
            all.extend(page.entries);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            token = page.next_page_token;
        }
    }

    pub(super) async fn mkdir(&self, rel: &str) -> Result<pb::Entry> {
        let request = pb::MkdirRequest {
            namespace_id: self.namespace.clone(),
            path: self.path(rel),
            parents: false,
            exist_ok: false,
        };
        let mut files = self.client.files.clone();
        self.timed(async move { Ok(files.mkdir(request).await?.into_inner()) })
            .await
    }

    pub(super) async fn remove(&self, rel: &str) -> Result<()> {
        let request = pb::RemoveRequest {
            namespace_id: self.namespace.clone(),
            path: self.path(rel),
            recursive: false,
        };
        let mut files = self.client.files.clone();
        self.timed(async move { Ok(files.remove(request).await.map(|_| ())?) })
            .await
    }

    pub(super) async fn rename(&self, from: &str, to: &str, overwrite: bool) -> Result<pb::Entry> {
        let request = pb::MoveRequest {
            namespace_id: self.namespace.clone(),
            source: self.path(from),
            destination: self.path(to),
            overwrite,
            parents: false,
            // Within the mounted namespace.
            target_namespace_id: String::new(),
        };
        let mut files = self.client.files.clone();
        self.timed(async move { Ok(files.r#move(request).await?.into_inner()) })
            .await
    }

    pub(super) async fn set_metadata(
        &self,
        rel: &str,
        set: HashMap<String, String>,
    ) -> Result<pb::Entry> {
        let request = pb::SetMetadataRequest {
            namespace_id: self.namespace.clone(),
            path: self.path(rel),
            mode: pb::MetadataUpdateMode::Merge as i32,
            metadata: set,
            remove_keys: Vec::new(),
            if_version_match: None,
        };
        let mut files = self.client.files.clone();
        self.timed(async move { Ok(files.set_metadata(request).await?.into_inner()) })
            .await
    }

    /// Writes a small file whole (an empty file at create, a small commit).
    pub(super) async fn write_small(
        &self,
        rel: &str,
        data: Vec<u8>,
        metadata: HashMap<String, String>,
        mime_type: String,
        must_not_exist: bool,
    ) -> Result<pb::Entry> {
        let precondition = must_not_exist.then_some(pb::Precondition {
            condition: Some(pb::precondition::Condition::MustNotExist(true)),
        });
        let request = pb::WriteFileRequest {
            namespace_id: self.namespace.clone(),
            path: self.path(rel),
            data: data.into(),
            metadata,
            mime_type,
            precondition,
            ..Default::default()
        };
        let mut files = self.client.files.clone();
        let response = self
            .timed(async move { Ok(files.write_file(request).await?.into_inner()) })
            .await?;
        response
            .entry
            .ok_or_else(|| ClientError::Protocol("WriteFile answered without an entry".into()))
    }

    /// Commits a spooled file with one streamed (resumable) upload.
    pub(super) async fn upload(
        &self,
        rel: &str,
        spool: &std::fs::File,
        size: u64,
        metadata: HashMap<String, String>,
        mime_type: String,
    ) -> Result<pb::Entry> {
        let file = tokio::fs::File::from_std(spool.try_clone()?);
        let start = pb::UploadStart {
            namespace_id: self.namespace.clone(),
            path: self.path(rel),
            mime_type,
            metadata,
            total_size: Some(size),
            ..Default::default()
        };
        self.client
            .upload_from(start, file, &TransferOptions::default())
            .await
    }

    /// One range of a file, at the version it was opened at.
    pub(super) async fn read_range(
        &self,
        rel: &str,
        offset: u64,
        length: u64,
        version: u64,
    ) -> Result<Vec<u8>> {
        let request = pb::DownloadRequest {
            namespace_id: self.namespace.clone(),
            path: self.path(rel),
            offset,
            length,
            if_version_match: Some(version),
        };
        Ok(self.client.download(request).await?.data)
    }

    /// The whole content, into `sink` (to spool a file opened for writing
    /// without truncation).
    pub(super) async fn read_into(&self, rel: &str, sink: &std::fs::File) -> Result<()> {
        let mut file = tokio::fs::File::from_std(sink.try_clone()?);
        let request = pb::DownloadRequest {
            namespace_id: self.namespace.clone(),
            path: self.path(rel),
            ..Default::default()
        };
        self.client.download_to(request, &mut file).await?;
        use tokio::io::AsyncWriteExt;
        file.flush().await?;
        Ok(())
    }

    pub(super) async fn namespace(&self) -> Result<pb::Namespace> {
        let request = pb::GetNamespaceRequest {
            namespace_id: self.namespace.clone(),
        };
        let mut namespaces = self.client.namespaces.clone();
        self.timed(async move { Ok(namespaces.get_namespace(request).await?.into_inner()) })
            .await
    }
}
