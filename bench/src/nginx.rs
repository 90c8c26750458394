//! nginx as the plain HTTP peer of the transfer figures: Debian's nginx,
//! started by the benchmark on a free loopback port as one process (no
//! master, so its CPU time is one process's), serving and taking files
//! (WebDAV PUT) in a directory on the same disk as Arca's data. Its
//! request bodies are spooled to a temporary directory beside the files
//! and renamed into place, as nginx does in production.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx.
pub struct Nginx {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where the files it serves and takes live.
    pub root: PathBuf,
}

impl Nginx {
    /// Starts nginx with its files under `dir`, or says why it cannot
    /// (not installed: Debian's package `nginx`).
    pub fn start(dir: &Path) -> Result<Nginx, String> {
        let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or("nginx is not installed (Debian: apt-get install nginx)")?;
        let root = dir.join("root");
        let body = dir.join("body");
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&body).map_err(|e| e.to_string())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let d = dir.display();
        let config = dir.join("nginx.conf");
        std::fs::write(
            &config,
            format!(
                "daemon off;
master_process off;
worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/body;
    fastcgi_temp_path {d}/body;
    uwsgi_temp_path {d}/body;
    scgi_temp_path {d}/body;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        client_max_body_size 0;
        location / {{
            dav_methods PUT DELETE;
            create_full_put_path on;
        }}
    }}
}}
",
                root = root.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .arg("-p")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting nginx: {e}"))?;
        let mut nginx = Nginx {
            child,
            url: format!("http://127.0.0.1:{port}"),
            root,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || nginx.child.try_wait().ok().flatten().is_some() {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                return Err(format!("nginx did not start: {log}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }

    /// The process id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
