//! Loopback TCP proxies for fault tests: one that cuts its first
//! connection after a number of bytes (a transfer dropped half-way), and
//! one whose behaviour the test switches (pass, answer 503, stall).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;

/// A loopback TCP proxy that cuts its first connection after a number of
/// bytes in one direction, to drop a transfer half-way; later connections
/// pass through untouched.
pub struct CuttingProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl CuttingProxy {
    /// Proxies to `target`; the first connection is cut after `up` bytes
    /// client→server or `down` bytes server→client.
    pub async fn start(target: SocketAddr, up: Option<u64>, down: Option<u64>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        let task = tokio::spawn(async move {
            let mut first = true;
            while let Ok((client, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (limit_up, limit_down) = if first { (up, down) } else { (None, None) };
                first = false;
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    tokio::select! {
                        _ = pump(&mut client_read, &mut server_write, limit_up) => {}
                        _ = pump(&mut server_read, &mut client_write, limit_down) => {}
                    }
                    // Dropping both halves closes the connection abruptly.
                });
            }
        });
        CuttingProxy {
            addr,
            task,
            accepted,
        }
    }

    /// Connections accepted so far: more than one once a client came back
    /// after the cut.
    pub fn connections(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    limit: Option<u64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    let mut moved = 0u64;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        moved += n as u64;
        if limit.is_some_and(|l| moved >= l) {
            return;
        }
    }
}

/// What a [`FaultProxy`] does with the connections it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass bytes both ways.
    Pass,
    /// Answer every request `503 Service Unavailable` (S3's "slow down").
    Unavailable,
    /// Read requests and never answer.
    Stall,
}

/// A loopback HTTP proxy in front of an S3 server whose behaviour can be
/// switched: pass, answer 5xx, or stall. Switching closes the connections
/// already open, so pooled connections see the new behaviour too.
pub struct FaultProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    mode: Arc<std::sync::Mutex<Fault>>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Proxies to `target`, passing everything until told otherwise.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let mode = Arc::new(std::sync::Mutex::new(Fault::Pass));
        let connections: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let task = {
            let (mode, connections) = (mode.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let fault = *mode.lock().unwrap();
                    let handle = tokio::spawn(serve_faulty(client, target, fault));
                    connections.lock().unwrap().push(handle.abort_handle());
                }
            })
        };
        FaultProxy {
            addr,
            mode,
            connections,
            task,
        }
    }

    /// Switches behaviour, closing every open connection.
    pub fn set(&self, fault: Fault) {
        *self.mode.lock().unwrap() = fault;
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.set(Fault::Pass);
    }
}

async fn serve_faulty(client: tokio::net::TcpStream, target: SocketAddr, fault: Fault) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    match fault {
        Fault::Pass => {
            let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                return;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::select! {
                _ = pump(&mut client_read, &mut server_write, None) => {}
                _ = pump(&mut server_read, &mut client_write, None) => {}
            }
        }
        Fault::Unavailable => {
            // Answer once the request head has arrived, then close.
            let mut client = client;
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match client.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let body = "<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>";
            let answer = format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(answer.as_bytes()).await;
            let _ = client.shutdown().await;
        }
        Fault::Stall => {
            let mut client = client;
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = client.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            // Keep the connection open and silent until aborted.
            std::future::pending::<()>().await;
        }
    }
}
