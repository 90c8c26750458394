//! `arca mount` (FUSE) against a live server, driven by real tools: git,
//! pytest, tar, and the shell's own mv, touch, chmod, df, rm -r; truncation
//! that truncates; errno for every refusal (EROFS, EACCES, EDQUOT, EIO
//! while the server is away, then recovery); other clients' writes within
//! the TTL; SIGTERM saving open files; SIGKILL leaving no hung mount.
//!
//! The mount runs as the `arca` binary, as users run it (the test command
//! builds the workspace first).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use arca_tests::{ADMIN, APP, Backend, TestServer, pattern, pb, sha256, test_config};

fn arca_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("arca"))
        .unwrap();
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first (tests/run.sh runs cargo build --workspace)",
        bin.display()
    );
    bin
}

fn mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let want = path.to_string_lossy();
    mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(&want))
}

/// A running `arca mount`.
struct Mount {
    child: tokio::process::Child,
    dir: tempfile::TempDir,
}

impl Mount {
    async fn start(server: &TestServer, secret: &str, spec: &str, extra: &[&str]) -> Mount {
        match Self::try_start(server, secret, spec, extra).await {
            Ok(mount) => mount,
            Err((code, stderr)) => panic!("arca mount exited with {code:?}: {stderr}"),
        }
    }

    async fn try_start(
        server: &TestServer,
        secret: &str,
        spec: &str,
        extra: &[&str],
    ) -> Result<Mount, (Option<i32>, String)> {
        assert!(
            Path::new("/dev/fuse").exists(),
            "/dev/fuse is missing: FUSE tests need it"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(arca_bin())
            .arg("--addr")
            .arg(format!("http://{}", server.addr))
            .arg("--token")
            .arg(secret)
            .arg("mount")
            .arg(spec)
            .arg(dir.path())
            .args(extra)
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("arca mount");
        for _ in 0..200 {
            if mounted(dir.path()) {
                return Ok(Mount { child, dir });
            }
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = pipe.read_to_string(&mut stderr).await;
                }
                return Err((status.code(), stderr));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the mount did not appear");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// SIGTERM, then the process must end and the mount point be free.
    async fn stop(mut self) {
        self.signal("-TERM");
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the mount did not stop on SIGTERM")
            .unwrap();
        assert!(status.success(), "arca mount exited with {status}");
        assert!(!mounted(self.path()), "still mounted after SIGTERM");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if mounted(self.dir.path()) {
            let _ = std::process::Command::new("fusermount3")
                .args(["-u", "-z", "-q"])
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Runs a shell script in `dir`; the output, whether or not it succeeded.
async fn sh_in(dir: &Path, script: &str) -> Output {
    tokio::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .await
        .unwrap()
}

/// Runs a shell script in `dir` that must succeed; its stdout.
async fn sh(dir: &Path, script: &str) -> String {
    let out = sh_in(dir, script).await;
    assert!(
        out.status.success(),
        "`{script}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a script that must fail; its stderr.
async fn sh_fails(dir: &Path, script: &str) -> String {
    let out = sh_in(dir, script).await;
    assert!(!out.status.success(), "`{script}` succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn python() -> String {
    std::env::var("ARCA_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// git and pytest run in a mounted workspace as on a local disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_and_pytest_run_in_a_mount() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    let mount = Mount::start(&server, APP, &ns, &[]).await;
    let dir = mount.path();
    sh(
        dir,
        "mkdir -p project/tests && cd project && \
         printf 'def add(a, b):\\n    return a + b\\n' > calc.py && \
         printf 'from calc import add\\n\\ndef test_add():\\n    assert add(2, 3) == 5\\n' > tests/test_calc.py && \
         git init -q && git config user.email agent@example.com && git config user.name agent && \
         git add -A && git commit -qm 'first' && \
         echo '# calc' > README.md && git add README.md && git commit -qm 'readme'",
    )
    .await;
    let log = sh(
        &dir.join("project"),
        "git log --oneline | wc -l && git status --porcelain",
    )
    .await;
    assert_eq!(log.trim(), "2", "two commits, a clean tree: {log}");
    let fsck = sh(&dir.join("project"), "git fsck --strict 2>&1; echo ok").await;
    assert!(fsck.trim().ends_with("ok"), "{fsck}");
    let tests = sh(
        &dir.join("project"),
        &format!(
            "PYTHONPATH=. {} -m pytest -q -p no:cacheprovider tests",
            python()
        ),
    )
    .await;
    assert!(tests.contains("1 passed"), "{tests}");
    // The repository is real content on the server.
    let head = server.entry(&ns, "project/.git/HEAD").await.expect("HEAD");
    assert!(head.size > 0);
    mount.stop().await;
}

/// `tar -x` of 1,000 files: every file on the server with its SHA-256.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tar_of_a_thousand_files_arrives_whole() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    let scratch = tempfile::tempdir().unwrap();
    let src = scratch.path().join("src");
    let mut files = Vec::new();
    for i in 0..1000 {
        let rel = format!("d{}/e{}/f{i}.txt", i % 10, i % 7);
        let data = pattern(1 + (i * 53) % 9000, i as u8);
        std::fs::create_dir_all(src.join(&rel).parent().unwrap()).unwrap();
        std::fs::write(src.join(&rel), &data).unwrap();
        files.push((rel, data));
    }
    sh(scratch.path(), "tar -cf t.tar -C src .").await;
    let mount = Mount::start(&server, APP, &ns, &[]).await;
    let archive = scratch.path().join("t.tar");
    sh(
        mount.path(),
        &format!("mkdir x && tar -xf {} -C x", archive.display()),
    )
    .await;
    for (rel, data) in &files {
        let entry = server
            .entry(&ns, &format!("x/{rel}"))
            .await
            .unwrap_or_else(|| panic!("{rel} missing"));
        assert_eq!(entry.sha256, sha256(data), "{rel}");
    }
    mount.stop().await;
}

/// What the reference mount gets wrong, right: truncation truncates; mv,
/// touch, chmod, df and rm -r work; refusals carry the right errno.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_semantics_hold() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    let mount = Mount::start(&server, APP, &ns, &[]).await;
    let dir = mount.path();
    sh(
        dir,
        "echo 'a much longer first version' > f.txt && echo v2 > f.txt",
    )
    .await;
    assert_eq!(server.read(&ns, "f.txt").await.unwrap(), b"v2\n");
    assert_eq!(sh(dir, "cat f.txt").await, "v2\n");
    sh(dir, "printf 0123456789 > t.txt && truncate -s 4 t.txt").await;
    assert_eq!(server.read(&ns, "t.txt").await.unwrap(), b"0123");
    sh(dir, "printf 'abc' >> t.txt").await;
    assert_eq!(server.read(&ns, "t.txt").await.unwrap(), b"0123abc");

    sh(
        dir,
        "mkdir -p a/b && echo x > a/b/c && mv a z && test -f z/b/c && test ! -e a",
    )
    .await;
    assert!(server.entry(&ns, "z/b/c").await.is_some());
    sh(
        dir,
        "echo new > n && mv -f n f.txt && cat f.txt | grep -qx new",
    )
    .await;
    sh(
        dir,
        "touch f.txt new-empty && test -f new-empty && test ! -s new-empty",
    )
    .await;
    assert_eq!(server.entry(&ns, "new-empty").await.unwrap().size, 0);
    sh(
        dir,
        "printf '#!/bin/sh\\necho ran\\n' > run.sh && chmod 755 run.sh",
    )
    .await;
    assert_eq!(sh(dir, "stat -c %a run.sh").await.trim(), "755");
    assert_eq!(sh(dir, "./run.sh").await, "ran\n");
    let entry = server.entry(&ns, "run.sh").await.unwrap();
    assert_eq!(entry.metadata["posix.mode"], "755", "kept as metadata");
    sh(dir, "echo more >> run.sh").await;
    assert_eq!(
        sh(dir, "stat -c %a run.sh").await.trim(),
        "755",
        "kept across writes"
    );
    let df = sh(dir, "df -P .").await;
    assert!(df.contains(&format!("arca:{ns}")), "{df}");

    let exists = sh_fails(dir, "mkdir z").await;
    assert!(exists.contains("File exists"), "{exists}");
    let not_empty = sh_fails(dir, "rmdir z").await;
    assert!(not_empty.contains("not empty"), "{not_empty}");
    let missing = sh_fails(dir, "cat nowhere").await;
    assert!(missing.contains("No such file"), "{missing}");
    let link = sh_fails(dir, "ln -s f.txt link").await;
    assert!(link.contains("Operation not permitted"), "{link}");
    sh(dir, "rm -r z && test ! -e z").await;
    assert!(server.entry(&ns, "z").await.is_none());
    assert_eq!(sh(dir, "ls").await, "f.txt\nnew-empty\nrun.sh\nt.txt\n");
    mount.stop().await;
}

/// A write through gRPC shows in the mount within the cache TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_clients_writes_show_within_the_ttl() {
    let server = TestServer::start(Backend::Memory).await;
    let ns = server.workspace().await;
    server.write(&ns, "shared.txt", b"one").await;
    let mount = Mount::start(&server, APP, &ns, &["--cache-ttl", "0.5"]).await;
    assert_eq!(sh(mount.path(), "cat shared.txt").await, "one");
    server.write(&ns, "shared.txt", b"two, longer").await;
    server.write(&ns, "appeared.txt", b"new").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(sh(mount.path(), "cat shared.txt").await, "two, longer");
    assert_eq!(sh(mount.path(), "cat appeared.txt").await, "new");
    mount.stop().await;
}

/// A read-only mount refuses every change with EROFS and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_mounts_refuse_with_erofs() {
    let server = TestServer::start(Backend::Memory).await;
    let ns = server.workspace().await;
    server.write(&ns, "kept.txt", b"kept").await;
    let mount = Mount::start(&server, APP, &ns, &["--read-only"]).await;
    let dir = mount.path();
    assert_eq!(sh(dir, "cat kept.txt").await, "kept");
    for script in [
        "echo x > kept.txt",
        "echo x > new.txt",
        "mkdir d",
        "rm kept.txt",
        "mv kept.txt other.txt",
        "chmod 600 kept.txt",
    ] {
        let refused = sh_fails(dir, script).await;
        assert!(
            refused.contains("Read-only file system"),
            "{script}: {refused}"
        );
    }
    assert_eq!(server.read(&ns, "kept.txt").await.unwrap(), b"kept");
    assert_eq!(server.ls(&ns, "", true).await, vec!["kept.txt".to_owned()]);
    mount.stop().await;
}

/// What the credential may not do is EACCES; a namespace it cannot reach
/// is refused when mounting; a quota is EDQUOT at close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_eacces_and_edquot() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Memory, dir.path());
    config.quotas.user.max_bytes = 1 << 20;
    let server = TestServer::start_with(config, dir).await;

    // A SANDBOX namespace mounted with a session token: read, not write.
    let shared = server
        .namespace(pb::NamespaceType::Workspace, pb::Scope::Sandbox, "")
        .await;
    server
        .as_secret(ADMIN)
        .files
        .write_file(pb::WriteFileRequest {
            namespace_id: shared.clone(),
            path: "doc.txt".into(),
            data: b"shared".to_vec().into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, bob) = server.open_session("bob").await;
    let mount = Mount::start(&server, &bob, &shared, &[]).await;
    assert_eq!(sh(mount.path(), "cat doc.txt").await, "shared");
    for script in [
        "echo x > doc.txt",
        "echo x > new.txt",
        "mkdir d",
        "rm doc.txt",
    ] {
        let refused = sh_fails(mount.path(), script).await;
        assert!(refused.contains("Permission denied"), "{script}: {refused}");
    }
    mount.stop().await;

    // Alice's namespace, to bob's token: refused at once, exit code 4.
    let alice = server.workspace().await;
    let (code, stderr) = match Mount::try_start(&server, &bob, &alice, &[]).await {
        Err(refused) => refused,
        Ok(_) => panic!("bob mounted alice's namespace"),
    };
    assert_eq!(code, Some(4), "{stderr}");

    // Over the user's quota: the close fails with EDQUOT, nothing kept;
    // df shows the quota.
    let mount = Mount::start(&server, APP, &alice, &[]).await;
    sh(mount.path(), "head -c 262144 /dev/zero > quarter").await;
    let df = sh(mount.path(), "df -P -B1 . | tail -1").await;
    let columns: Vec<&str> = df.split_whitespace().collect();
    assert_eq!(columns[1], "1048576", "size is the quota: {df}");
    assert_eq!(
        columns[3], "786432",
        "available is what is left of it: {df}"
    );
    let over = sh_fails(
        mount.path(),
        "dd if=/dev/zero of=big bs=1M count=2 status=none",
    )
    .await;
    assert!(over.contains("Disk quota exceeded"), "{over}");
    assert!(
        server
            .entry(&alice, "big")
            .await
            .is_none_or(|e| e.size == 0)
    );
    mount.stop().await;
}

/// A namespace's access profile binds the mount as every other door: a
/// denied name is EACCES at create, a file over its size limit EPERM at
/// close (its bytes not kept: only the empty file its create committed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_profiles_bind_the_mount() {
    let server = TestServer::start(Backend::Memory).await;
    let ns = server
        .client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                user: "alice".into(),
                ..Default::default()
            }),
            profile: Some(pb::AccessProfile {
                preset: "strict".into(),
                max_file_bytes: 1 << 20,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .namespace_id;
    let mount = Mount::start(&server, APP, &ns, &[]).await;
    sh(mount.path(), "echo fine > notes.txt").await;
    let denied = sh_fails(mount.path(), "echo x > tool.exe").await;
    assert!(denied.contains("Permission denied"), "{denied}");
    let too_big = sh_fails(
        mount.path(),
        "dd if=/dev/zero of=big.bin bs=1M count=2 status=none",
    )
    .await;
    assert!(too_big.contains("Operation not permitted"), "{too_big}");
    assert!(server.entry(&ns, "tool.exe").await.is_none());
    assert!(
        server
            .entry(&ns, "big.bin")
            .await
            .is_none_or(|e| e.size == 0)
    );
    assert_eq!(server.read(&ns, "notes.txt").await.unwrap(), b"fine\n");
    mount.stop().await;
}

/// While the server is away, operations fail with EIO and the mount
/// stays; when it is back, the mount works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mount_outlives_a_server_restart() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    let mount = Mount::start(&server, APP, &ns, &["--cache-ttl", "0"]).await;
    sh(mount.path(), "echo before > a.txt").await;
    // Scripts run outside the mount: a shell cannot even enter it while
    // the server is away.
    let outside = std::env::temp_dir();
    let (a, b) = (mount.path().join("a.txt"), mount.path().join("b.txt"));
    let addr = server.addr;
    let (config, dir) = server.stop().await;
    let away = sh_fails(&outside, &format!("cat {}", a.display())).await;
    assert!(away.contains("Input/output error"), "{away}");
    let away = sh_fails(&outside, &format!("echo during > {}", b.display())).await;
    assert!(away.contains("Input/output error"), "{away}");
    assert!(
        mounted(mount.path()),
        "the mount must stay while the server is away"
    );
    let server = TestServer::start_at(config, dir, addr).await;
    let mut back = String::new();
    for _ in 0..100 {
        let out = sh_in(&outside, &format!("cat {}", a.display())).await;
        if out.status.success() {
            back = String::from_utf8_lossy(&out.stdout).into_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(back, "before\n", "the mount did not recover");
    sh(mount.path(), "echo after > b.txt").await;
    assert_eq!(server.read(&ns, "b.txt").await.unwrap(), b"after\n");
    mount.stop().await;
}

/// SIGTERM saves a file still open for writing, then unmounts; SIGKILL
/// leaves no hung mount point behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_save_open_files_and_kills_leave_no_hung_mount() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    let mount = Mount::start(&server, APP, &ns, &[]).await;
    let held = mount.path().join("held.txt");
    let mut holder = tokio::process::Command::new(python())
        .arg("-c")
        .arg(format!(
            "import sys, time\nf = open({held:?}, 'w')\nf.write('written, not closed')\nf.flush()\n\
             print('ready', flush=True)\ntime.sleep(30)\n"
        ))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(holder.stdout.take().unwrap()).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ready"));
    }
    mount.stop().await;
    assert_eq!(
        server.read(&ns, "held.txt").await.unwrap(),
        b"written, not closed"
    );
    let _ = holder.kill().await;

    let mut mount = Mount::start(&server, APP, &ns, &[]).await;
    assert_eq!(
        sh(mount.path(), "cat held.txt").await,
        "written, not closed"
    );
    mount.signal("-KILL");
    let _ = mount.child.wait().await;
    let mut gone = false;
    for _ in 0..200 {
        if !mounted(mount.path()) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "a killed mount left its mount point mounted");
    assert_eq!(sh(mount.path(), "ls | wc -l").await.trim(), "0");
}
