//! The Rust client's transfers: files on disk with progress, and resume after
//! a connection dropped half-way (through a proxy that cuts it).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};

use arca_client::{Client, TransferOptions};
use arca_tests::{APP, Backend, CuttingProxy, TestServer, pattern, pb, sha256};

fn recorder() -> (Arc<Mutex<Vec<u64>>>, TransferOptions) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = TransferOptions {
        chunk_size: 256 * 1024,
        retries: 5,
        progress: Some(Arc::new(move |n| sink.lock().unwrap().push(n))),
    };
    (seen, options)
}

/// The progress `seen`, checked to go only forward and to end at `len`.
fn forward_to(seen: &Mutex<Vec<u64>>, len: u64) -> Vec<u64> {
    let progress = seen.lock().unwrap().clone();
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress goes only forward: {progress:?}"
    );
    assert_eq!(progress.last(), Some(&len), "{progress:?}");
    progress
}

/// A file on disk that stops giving bytes at `gate` until the upload's
/// progress names a durable offset inside the file: the upload then waits on
/// the server's report, not on how fast this machine's disk syncs.
struct GatedFile {
    file: tokio::fs::File,
    position: u64,
    gate: u64,
    durable: Arc<Durable>,
}

/// What the progress callback saw, and the reader waiting for it.
#[derive(Default)]
struct Durable {
    inside: AtomicBool,
    waiting: AtomicWaker,
}

impl AsyncRead for GatedFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.position >= self.gate && !self.durable.inside.load(Ordering::SeqCst) {
            self.durable.waiting.register(cx.waker());
            if !self.durable.inside.load(Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
        let room = if self.position < self.gate {
            buf.remaining().min((self.gate - self.position) as usize)
        } else {
            buf.remaining()
        };
        let mut bytes = vec![0u8; room];
        let mut limited = ReadBuf::new(&mut bytes);
        let polled = Pin::new(&mut self.file).poll_read(cx, &mut limited);
        let n = limited.filled().len();
        buf.put_slice(limited.filled());
        self.position += n as u64;
        polled
    }
}

impl AsyncSeek for GatedFile {
    fn start_seek(mut self: Pin<&mut Self>, to: std::io::SeekFrom) -> std::io::Result<()> {
        Pin::new(&mut self.file).start_seek(to)
    }

    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<u64>> {
        let polled = Pin::new(&mut self.file).poll_complete(cx);
        if let Poll::Ready(Ok(position)) = polled {
            self.position = position;
        }
        polled
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_on_disk_with_progress() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("in.bin");
    let content = pattern(9 * 1024 * 1024 + 5, 3);
    std::fs::write(&local, &content).unwrap();
    let len = content.len() as u64;

    // The source stops past the first persist interval (4 MiB) until the
    // server says something inside the file is durable: it must say so
    // while the client sends nothing, not only at the commit.
    let durable = Arc::new(Durable::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let options = TransferOptions {
        chunk_size: 256 * 1024,
        retries: 0,
        progress: Some(Arc::new({
            let seen = seen.clone();
            let durable = durable.clone();
            move |n| {
                seen.lock().unwrap().push(n);
                if n > 0 && n < len {
                    durable.inside.store(true, Ordering::SeqCst);
                    durable.waiting.wake();
                }
            }
        })),
    };
    let source = GatedFile {
        file: tokio::fs::File::open(&local).await.unwrap(),
        position: 0,
        gate: 5 << 20,
        durable,
    };
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "in.bin".into(),
        total_size: Some(len),
        ..Default::default()
    };
    let entry = tokio::time::timeout(
        Duration::from_secs(60),
        server.client.upload_from(start, source, &options),
    )
    .await
    .expect("no progress while the source waited past the persist interval")
    .unwrap();
    assert_eq!(entry.sha256, sha256(&content));
    let progress = forward_to(&seen, len);
    assert!(
        progress.iter().any(|&p| p > 0 && p < len),
        "no progress while uploading: {progress:?}"
    );

    // A local file by path, the way most callers upload.
    let (seen, options) = recorder();
    let again = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "again.bin".into(),
        ..Default::default()
    };
    let entry = server
        .client
        .upload_path(again, &local, &options)
        .await
        .unwrap();
    assert_eq!(entry.sha256, sha256(&content));
    forward_to(&seen, len);

    let out = dir.path().join("out.bin");
    let (seen, options) = recorder();
    let request = pb::DownloadRequest {
        namespace_id: ns.clone(),
        path: "in.bin".into(),
        ..Default::default()
    };
    let header = server
        .client
        .download_path(request, &out, &options)
        .await
        .unwrap();
    assert_eq!(header.total_size, content.len() as u64);
    assert!(std::fs::read(&out).unwrap() == content);
    assert_eq!(seen.lock().unwrap().last(), Some(&(content.len() as u64)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_resumes_after_the_connection_drops() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    // The first connection dies after ~6 MiB went up.
    let proxy = CuttingProxy::start(server.addr, Some(6 << 20), None).await;
    let client = Client::connect(format!("http://{}", proxy.addr), APP)
        .await
        .unwrap();
    let content = pattern(12 * 1024 * 1024, 7);
    let (seen, options) = recorder();
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "resumed.bin".into(),
        ..Default::default()
    };
    let entry = client
        .upload_from(start, std::io::Cursor::new(content.clone()), &options)
        .await
        .unwrap();
    assert_eq!(entry.sha256, sha256(&content));
    let progress = seen.lock().unwrap().clone();
    // After the drop the upload went on from what the server had persisted,
    // not from zero.
    assert!(proxy.connections() >= 2, "the connection was not cut");
    forward_to(&seen, content.len() as u64);
    assert!(progress.iter().any(|&p| p >= 4 << 20), "{progress:?}");
    let got = server
        .client
        .download(pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "resumed.bin".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(got.data == content);

    // A local file by path (read ahead on a blocking thread, which must
    // start again from the first byte to rehash what the server holds).
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("resumed.bin");
    std::fs::write(&local, &content).unwrap();
    let proxy = CuttingProxy::start(server.addr, Some(6 << 20), None).await;
    let client = Client::connect(format!("http://{}", proxy.addr), APP)
        .await
        .unwrap();
    let (seen, options) = recorder();
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "resumed-path.bin".into(),
        ..Default::default()
    };
    let entry = client.upload_path(start, &local, &options).await.unwrap();
    assert_eq!(entry.sha256, sha256(&content));
    assert!(proxy.connections() >= 2, "the connection was not cut");
    // Each attempt reports the offset it starts from: the resumed one
    // started past the first persist (4 MiB), never from zero again.
    let progress = forward_to(&seen, content.len() as u64);
    assert!(progress.contains(&0), "{progress:?}");
    assert!(progress.iter().any(|&p| p >= 4 << 20), "{progress:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_resumes_after_the_connection_drops() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    let content = pattern(10 * 1024 * 1024 + 3, 11);
    server
        .client
        .upload_bytes(
            pb::UploadStart {
                namespace_id: ns.clone(),
                path: "f".into(),
                ..Default::default()
            },
            content.clone().into(),
            1 << 20,
        )
        .await
        .unwrap();
    let proxy = CuttingProxy::start(server.addr, None, Some(5 << 20)).await;
    let client = Client::connect(format!("http://{}", proxy.addr), APP)
        .await
        .unwrap();
    let (_, options) = recorder();
    let mut sink = Vec::new();
    let request = pb::DownloadRequest {
        namespace_id: ns.clone(),
        path: "f".into(),
        ..Default::default()
    };
    client
        .download_into(request.clone(), &mut sink, &options)
        .await
        .unwrap();
    assert!(sink == content, "resumed download differs");
    // Into a local file: written beside the stream, resumed the same way.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    client
        .download_path(request, &local, &options)
        .await
        .unwrap();
    assert!(
        std::fs::read(&local).unwrap() == content,
        "resumed file download differs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_session_stays_alive() {
    let server = TestServer::start(Backend::Memory).await;
    let opened = server
        .client
        .sessions
        .clone()
        .open_session(pb::OpenSessionRequest {
            user: "alice".into(),
            ttl: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let session = server.as_secret(&opened.token);
    let keeper = session.keep_session_alive("", std::time::Duration::from_secs(1));
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    session
        .sessions
        .clone()
        .get_session(pb::GetSessionRequest::default())
        .await
        .expect("kept alive past its first lease");
    drop(keeper);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert!(
        session
            .sessions
            .clone()
            .get_session(pb::GetSessionRequest::default())
            .await
            .is_err(),
        "still alive without renewal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_trees_with_bounded_parallelism() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let mut expected = Vec::new();
    for i in 0..24 {
        let rel = format!("d{}/f{i}.bin", i % 4);
        let content = pattern(1000 + i * 5000, i as u8);
        std::fs::create_dir_all(src.join(&rel).parent().unwrap()).unwrap();
        std::fs::write(src.join(&rel), &content).unwrap();
        expected.push((rel, content));
    }
    let options = TransferOptions::default();
    let entries = server
        .client
        .upload_tree(&ns, &src, "tree", 4, &options)
        .await
        .unwrap();
    assert_eq!(entries.len(), 24);
    assert!(entries.windows(2).all(|w| w[0].path < w[1].path));
    let dst = dir.path().join("dst");
    let items = server
        .client
        .download_tree(&ns, "tree", &dst, 4, &options)
        .await
        .unwrap();
    assert_eq!(items.len(), 24);
    for (rel, content) in expected {
        assert!(std::fs::read(dst.join(&rel)).unwrap() == content, "{rel}");
    }
}
