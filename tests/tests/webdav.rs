//! WebDAV against a live server: the litmus suites (basic, copymove,
//! props, locks, http) and rclone moving a tree up and down on every
//! backend; credentials and denials exactly as gRPC decides them; PUT
//! through the upload commit path (whole bodies only, quota, dedup); the
//! `Depth: infinity` bound; ranges, copies and moves as metadata, dead
//! properties as entry metadata; HTTP/2.

use std::path::Path;

use arca_tests::{
    ADMIN, APP, Backend, HttpAnswer, OTHER_APP, TestServer, http, on_every_backend, pattern, pb,
    sha256, test_config,
};
use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn url(server: &TestServer, ns: &str, path: &str) -> String {
    format!("http://{}/dav/{ns}/{path}", server.addr)
}

async fn dav(
    method: &str,
    url: &str,
    secret: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpAnswer {
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if let Some(secret) = secret {
        all.push(("authorization".into(), format!("Bearer {secret}")));
    }
    http(method, url, &all, body.to_vec()).await
}

fn text(answer: &HttpAnswer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

/// One raw HTTP/1.1 exchange (to see repeated headers, or to cut a body).
async fn raw(server: &TestServer, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status line and headers of the answer to a request sent without
/// its body (an `Expect: 100-continue` the server answers at once).
async fn head_only(server: &TestServer, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert!(read > 0, "closed before an answer");
        answer.extend_from_slice(&buf[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Every litmus suite passes, none skipped.
async fn litmus_passes_every_suite(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let scratch = tempfile::tempdir().unwrap(); // litmus writes its logs in its directory
    let out = tokio::process::Command::new("litmus")
        .arg("-k")
        .arg(url(&server, &ns, ""))
        .arg("user")
        .arg(APP)
        .current_dir(scratch.path())
        .output()
        .await
        .expect("litmus is not installed (Debian package litmus; tests/run.sh installs it)");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summaries: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("<- summary for"))
        .collect();
    let suites = ["basic", "copymove", "props", "locks", "http"];
    assert_eq!(summaries.len(), suites.len(), "{output}");
    let mut passed = 0;
    for (summary, suite) in summaries.iter().zip(suites) {
        assert!(summary.contains(&format!("`{suite}'")), "{output}");
        assert!(summary.contains(" 0 failed"), "{summary}\n{output}");
        let count = summary
            .split(": ")
            .nth(2)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("unreadable summary {summary}"));
        passed += count;
    }
    assert!(
        !output.contains("SKIPPED"),
        "a litmus test was skipped:\n{output}"
    );
    assert_eq!(passed, 104, "{output}");
}

/// A tree of `files` files under `root`: nested directories, names with
/// spaces and non-ASCII, an empty file and one of several MiB.
fn make_tree(root: &Path, files: usize) -> Vec<(String, Vec<u8>)> {
    let mut made = Vec::new();
    for i in 0..files {
        let rel = match i {
            0 => "empty file.txt".to_owned(),
            1 => "big.bin".to_owned(),
            _ => format!("dir {}/sub-é{}/file-{i}.txt", i % 7, i % 3),
        };
        let data = match i {
            0 => Vec::new(),
            1 => pattern(3 << 20, 9),
            _ => pattern((i * 37) % 5000 + 1, i as u8),
        };
        let path = root.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &data).unwrap();
        made.push((rel, data));
    }
    made
}

async fn rclone(args: &[&str], config: &Path) {
    let out = tokio::process::Command::new("rclone")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .await
        .expect("rclone is not installed (Debian package rclone; tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "rclone {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// rclone (its WebDAV backend) copies a tree of 300 files up and down:
/// every file arrives with its SHA-256, and comes back byte for byte.
async fn rclone_copies_a_tree_up_and_down(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let scratch = tempfile::tempdir().unwrap();
    let (up, down) = (scratch.path().join("up"), scratch.path().join("down"));
    let tree = make_tree(&up, 300);
    let config = scratch.path().join("rclone.conf");
    std::fs::write(&config, "").unwrap();
    let remote = format!(
        ":webdav,url='http://{}/dav/{ns}',vendor=other,bearer_token='{APP}':tree",
        server.addr
    );
    rclone(
        &["copy", up.to_str().unwrap(), &remote, "--transfers", "8"],
        &config,
    )
    .await;
    for (rel, data) in &tree {
        let entry = server
            .entry(&ns, &format!("tree/{rel}"))
            .await
            .unwrap_or_else(|| panic!("{rel} did not arrive"));
        assert_eq!(entry.size, data.len() as u64, "{rel}");
        assert_eq!(entry.sha256, sha256(data), "{rel}");
    }
    rclone(
        &["copy", &remote, down.to_str().unwrap(), "--transfers", "8"],
        &config,
    )
    .await;
    for (rel, data) in &tree {
        let back = std::fs::read(down.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(back == *data, "{rel} came back different");
    }
}

/// Credentials: none or a wrong one is 401 with both challenges; Basic
/// with the secret as password works; what a credential may reach is what
/// gRPC lets it reach, and a SANDBOX namespace is read-only to a session.
async fn credentials_and_denials_follow_the_core(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "a.txt", b"alice's").await;

    let answer = raw(
        &server,
        format!("PROPFIND /dav/{ns}/ HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("www-authenticate: basic realm=\"arca\""),
        "{answer}"
    );
    assert!(
        lower.contains("www-authenticate: bearer realm=\"arca\""),
        "{answer}"
    );
    let wrong = dav(
        "PROPFIND",
        &url(&server, &ns, ""),
        Some("nope"),
        &[("depth", "0")],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", text(&wrong));
    assert!(wrong.headers.contains_key("www-authenticate"));

    let basic = base64::engine::general_purpose::STANDARD.encode(format!("anyone:{APP}"));
    let answer = http(
        "GET",
        &url(&server, &ns, "a.txt"),
        &[("authorization".into(), format!("Basic {basic}"))],
        Vec::new(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, b"alice's");

    // Another sandbox's key sees neither the namespace nor its listing.
    let foreign = dav(
        "GET",
        &url(&server, &ns, "a.txt"),
        Some(OTHER_APP),
        &[],
        b"",
    )
    .await;
    assert_eq!(foreign.status, 403);
    let root = dav(
        "PROPFIND",
        &format!("http://{}/dav/", server.addr),
        Some(OTHER_APP),
        &[("depth", "1")],
        b"",
    )
    .await;
    assert_eq!(root.status, 207);
    assert!(!text(&root).contains(&ns), "{}", text(&root));
    let own_root = dav(
        "PROPFIND",
        &format!("http://{}/dav/", server.addr),
        Some(APP),
        &[("depth", "1")],
        b"",
    )
    .await;
    assert!(
        text(&own_root).contains(&format!("/dav/{ns}/")),
        "{}",
        text(&own_root)
    );

    // Bob's session token may not reach alice's namespace.
    let (_, bob) = server.open_session("bob").await;
    let denied = dav(
        "PUT",
        &url(&server, &ns, "a.txt"),
        Some(&bob),
        &[],
        b"bob was here",
    )
    .await;
    assert_eq!(denied.status, 403);
    let denied = dav("GET", &url(&server, &ns, "a.txt"), Some(&bob), &[], b"").await;
    assert_eq!(denied.status, 403);

    // A SANDBOX namespace: a session reads it and cannot change it.
    let shared = server
        .namespace(pb::NamespaceType::Workspace, pb::Scope::Sandbox, "")
        .await;
    let admin_put = dav(
        "PUT",
        &url(&server, &shared, "s.txt"),
        Some(ADMIN),
        &[],
        b"shared",
    )
    .await;
    assert_eq!(admin_put.status, 201, "{}", text(&admin_put));
    let read = dav("GET", &url(&server, &shared, "s.txt"), Some(&bob), &[], b"").await;
    assert_eq!(read.body, b"shared");
    for (method, target, body) in [
        ("PUT", "s.txt", &b"changed"[..]),
        ("DELETE", "s.txt", b""),
        ("MKCOL", "newdir", b""),
    ] {
        let refused = dav(
            method,
            &url(&server, &shared, target),
            Some(&bob),
            &[],
            body,
        )
        .await;
        assert_eq!(refused.status, 403, "{method}: {}", text(&refused));
    }
    let moved = dav(
        "MOVE",
        &url(&server, &shared, "s.txt"),
        Some(&bob),
        &[("destination", &url(&server, &shared, "t.txt"))],
        b"",
    )
    .await;
    assert_eq!(moved.status, 403, "{}", text(&moved));
    let read = dav("GET", &url(&server, &shared, "s.txt"), Some(&bob), &[], b"").await;
    assert_eq!(read.body, b"shared", "nothing changed");
}

/// A PUT commits only a whole body: cut off mid-body, or over the quota,
/// the old content stays and the staged upload is discarded at once. A
/// committed PUT records the SHA-256, and content the namespace holds is
/// stored once.
async fn put_commits_whole_bodies_only(backend: Backend) {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    config.quotas.user.max_bytes = 4 << 20;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    let v1 = pattern(100_000, 1);
    let put = dav("PUT", &url(&server, &ns, "f.bin"), Some(APP), &[], &v1).await;
    assert_eq!(put.status, 201, "{}", text(&put));
    assert_eq!(
        server.entry(&ns, "f.bin").await.unwrap().sha256,
        sha256(&v1)
    );

    // Half of a 2 MiB body, then the client goes away.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PUT /dav/{ns}/f.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {APP}\r\n\
         Content-Length: {}\r\n\r\n",
        2 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&pattern(1 << 20, 2)).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(stream);
    let mut discarded = false;
    for _ in 0..100 {
        if server.stats().await.uploads_in_progress == 0 {
            discarded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(discarded, "the cut PUT's upload was not discarded");
    let get = dav("GET", &url(&server, &ns, "f.bin"), Some(APP), &[], b"").await;
    assert!(get.body == v1, "the old content must stay");

    // Over the user's quota: 507 before any of the body, nothing written.
    // The client asks first (`Expect: 100-continue`, as curl does for large
    // bodies): a client that sends the body at once may lose the early
    // answer to a reset when the server closes the unread connection.
    let over = head_only(
        &server,
        &format!(
            "PUT /dav/{ns}/f.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {APP}\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            5 << 20
        ),
    )
    .await;
    assert!(over.starts_with("HTTP/1.1 507"), "{over}");
    let get = dav("GET", &url(&server, &ns, "f.bin"), Some(APP), &[], b"").await;
    assert!(get.body == v1, "the old content must stay");
    assert_eq!(server.stats().await.uploads_in_progress, 0);

    // A digest the client declares is checked: a wrong one commits nothing.
    let wrong = format!("SHA256:{}", "0".repeat(64));
    let refused = dav(
        "PUT",
        &url(&server, &ns, "g.bin"),
        Some(APP),
        &[("oc-checksum", &wrong)],
        b"checked",
    )
    .await;
    assert_eq!(refused.status, 403, "{}", text(&refused));
    assert!(server.entry(&ns, "g.bin").await.is_none());

    // The same content again, at another path: stored once.
    let before = stored_objects(&server).await;
    let again = dav(
        "PUT",
        &url(&server, &ns, "copy-of-f.bin"),
        Some(APP),
        &[],
        &v1,
    )
    .await;
    assert_eq!(again.status, 201);
    assert_eq!(stored_objects(&server).await, before);

    // A PUT whose parent collection is missing is 409 (RFC 4918 9.7.1).
    let orphan = dav(
        "PUT",
        &url(&server, &ns, "no/such/dir/x"),
        Some(APP),
        &[],
        b"x",
    )
    .await;
    assert_eq!(orphan.status, 409, "{}", text(&orphan));
}

async fn stored_objects(server: &TestServer) -> u64 {
    server
        .stats()
        .await
        .usage
        .iter()
        .map(|u| u.stored_objects)
        .sum()
}

/// `Depth: infinity` answers a tree within the bound and refuses a larger
/// one (or the whole server) with `propfind-finite-depth`; a client cannot
/// lift the bound with the header the handler uses for it.
async fn infinite_depth_is_bounded(backend: Backend) {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    config.webdav.max_infinite_depth_entries = 20;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    for i in 0..8 {
        server.write(&ns, &format!("d/e{}/f{i}", i % 2), b"x").await;
    }
    let infinite = [("depth", "infinity")];
    let within = dav(
        "PROPFIND",
        &url(&server, &ns, "d/"),
        Some(APP),
        &infinite,
        b"",
    )
    .await;
    assert_eq!(within.status, 207, "{}", text(&within));
    for i in 0..8 {
        let href = format!("/dav/{ns}/d/e{}/f{i}", i % 2);
        assert!(text(&within).contains(&href), "{href} missing");
    }
    for i in 8..30 {
        server.write(&ns, &format!("d/more/f{i}"), b"x").await;
    }
    for headers in [
        &infinite[..],
        &[("depth", "infinity"), ("x-litmus", "me")][..],
    ] {
        let refused = dav(
            "PROPFIND",
            &url(&server, &ns, "d/"),
            Some(APP),
            headers,
            b"",
        )
        .await;
        assert_eq!(refused.status, 403, "{}", text(&refused));
        assert!(text(&refused).contains("propfind-finite-depth"));
    }
    let root = dav(
        "PROPFIND",
        &format!("http://{}/dav/", server.addr),
        Some(APP),
        &infinite,
        b"",
    )
    .await;
    assert_eq!(root.status, 403);
    let one = dav(
        "PROPFIND",
        &url(&server, &ns, "d/"),
        Some(APP),
        &[("depth", "1")],
        b"",
    )
    .await;
    assert_eq!(one.status, 207);
}

/// Ranged GETs; COPY and MOVE change metadata only (no new stored
/// object); dead properties are entry metadata and move with the entry.
async fn ranges_copies_moves_and_properties(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let data = pattern(300_000, 5);
    let put = dav(
        "PUT",
        &url(&server, &ns, "src/f.bin"),
        Some(APP),
        &[],
        &data,
    )
    .await;
    assert_eq!(put.status, 409, "no parent yet");
    let mkcol = dav("MKCOL", &url(&server, &ns, "src"), Some(APP), &[], b"").await;
    assert_eq!(mkcol.status, 201);
    let put = dav(
        "PUT",
        &url(&server, &ns, "src/f.bin"),
        Some(APP),
        &[],
        &data,
    )
    .await;
    assert_eq!(put.status, 201);
    let part = dav(
        "GET",
        &url(&server, &ns, "src/f.bin"),
        Some(APP),
        &[("range", "bytes=100000-100009")],
        b"",
    )
    .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &data[100_000..100_010]);
    let head = dav("HEAD", &url(&server, &ns, "src/f.bin"), Some(APP), &[], b"").await;
    assert_eq!(head.headers["content-length"], "300000");

    let proppatch = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/arca/">
  <D:set><D:prop><Z:colour>blue ☂</Z:colour></D:prop></D:set>
</D:propertyupdate>"#;
    let patched = dav(
        "PROPPATCH",
        &url(&server, &ns, "src/f.bin"),
        Some(APP),
        &[("content-type", "application/xml")],
        proppatch.as_bytes(),
    )
    .await;
    assert_eq!(patched.status, 207, "{}", text(&patched));
    let entry = server.entry(&ns, "src/f.bin").await.unwrap();
    let kept = &entry.metadata["dav:{http://example.com/arca/}colour"];
    assert!(kept.contains("blue ☂"), "{kept}");

    let before = stored_objects(&server).await;
    let copied = dav(
        "COPY",
        &url(&server, &ns, "src"),
        Some(APP),
        &[("destination", &url(&server, &ns, "copy"))],
        b"",
    )
    .await;
    assert_eq!(copied.status, 201, "{}", text(&copied));
    let moved = dav(
        "MOVE",
        &url(&server, &ns, "src"),
        Some(APP),
        &[("destination", &url(&server, &ns, "moved"))],
        b"",
    )
    .await;
    assert_eq!(moved.status, 201, "{}", text(&moved));
    assert_eq!(
        stored_objects(&server).await,
        before,
        "no bytes were copied"
    );
    assert!(server.entry(&ns, "src/f.bin").await.is_none());
    for path in ["copy/f.bin", "moved/f.bin"] {
        let entry = server.entry(&ns, path).await.unwrap();
        assert_eq!(entry.sha256, sha256(&data), "{path}");
        assert!(
            entry
                .metadata
                .contains_key("dav:{http://example.com/arca/}colour"),
            "{path} lost its property"
        );
    }
    let propfind = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><Z:colour xmlns:Z="http://example.com/arca/"/></D:prop></D:propfind>"#;
    let found = dav(
        "PROPFIND",
        &url(&server, &ns, "moved/f.bin"),
        Some(APP),
        &[("depth", "0"), ("content-type", "application/xml")],
        propfind.as_bytes(),
    )
    .await;
    assert_eq!(found.status, 207);
    assert!(text(&found).contains("blue ☂"), "{}", text(&found));

    // Across namespaces is the core's cross-namespace move: the file (and
    // its dead properties) leave one namespace as they appear in the other.
    let other = server.workspace().await;
    let across = dav(
        "MOVE",
        &url(&server, &ns, "moved/f.bin"),
        Some(APP),
        &[("destination", &url(&server, &other, "f.bin"))],
        b"",
    )
    .await;
    assert_eq!(across.status, 201, "{}", text(&across));
    assert!(server.entry(&ns, "moved/f.bin").await.is_none());
    let arrived = server.entry(&other, "f.bin").await.expect("moved across");
    assert!(arrived.metadata.keys().any(|k| k.starts_with("dav:")));
}

on_every_backend!(
    litmus_passes_every_suite,
    rclone_copies_a_tree_up_and_down,
    credentials_and_denials_follow_the_core,
    put_commits_whole_bodies_only,
    infinite_depth_is_bounded,
    ranges_copies_moves_and_properties,
);

/// HTTP/2 (prior knowledge, as curl sends it) reaches WebDAV on the same
/// port as gRPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_over_http2() {
    let server = TestServer::start(Backend::Memory).await;
    let ns = server.workspace().await;
    server.write(&ns, "h2.txt", b"over h2").await;
    let out = tokio::process::Command::new("curl")
        .args([
            "-s",
            "--http2-prior-knowledge",
            "-w",
            "\n%{http_version} %{http_code}",
        ])
        .arg("-H")
        .arg(format!("Authorization: Bearer {APP}"))
        .arg(url(&server, &ns, "h2.txt"))
        .output()
        .await
        .expect("curl");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed, "over h2\n2 200", "{printed}");
}

/// `[webdav] enabled = false` serves nothing under /dav/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_can_be_turned_off() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Memory, dir.path());
    config.webdav.enabled = false;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    let answer = dav("PROPFIND", &url(&server, &ns, ""), Some(APP), &[], b"").await;
    assert_eq!(answer.status, 404);
}

/// A path or Destination that leaves /dav/ once `..` is resolved, or a
/// Destination with a query, is the client's fault (400), not a gateway's
/// (dav-server alone answers 502, or panics), and a sibling of the prefix
/// (`/dav/../davx/`) is not read as inside it; nothing moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_leaving_the_root_are_refused() {
    let server = TestServer::start(Backend::Memory).await;
    let ns = server.workspace().await;
    server.write(&ns, "kept.txt", b"kept").await;
    let host = server.addr;
    for (method, target, extra) in [
        ("DELETE", format!("/dav/{ns}/../../etc"), String::new()),
        (
            "GET",
            format!("/dav/{ns}/../../davx/kept.txt"),
            String::new(),
        ),
        ("GET", "/dav/%00".to_owned(), String::new()),
        (
            "MOVE",
            format!("/dav/{ns}/kept.txt"),
            "Destination: /dav/../elsewhere/x\r\n".to_owned(),
        ),
        (
            "MOVE",
            format!("/dav/{ns}/kept.txt"),
            format!("Destination: http://{host}/davx/{ns}/x\r\n"),
        ),
        // A query names no resource (and dav-server panicked on this one,
        // found by the fuzzer).
        (
            "MOVE",
            format!("/dav/{ns}/kept.txt"),
            "Destination: /dav?elsewhere/x\r\n".to_owned(),
        ),
        (
            "COPY",
            format!("/dav/{ns}/kept.txt"),
            format!("Destination: http://{host}/dav/{ns}/copy.txt?v=2\r\n"),
        ),
    ] {
        let answer = raw(
            &server,
            format!(
                "{method} {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {APP}\r\n\
                 {extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{method} {target} {extra}: {answer}"
        );
    }
    // The root lists namespaces and takes no copy or move (dav-server
    // panicked on a move to it, found by the fuzzer).
    for (method, destination) in [
        ("MOVE", "/dav/".to_owned()),
        ("MOVE", "/dav".to_owned()),
        ("COPY", format!("http://{host}/dav/{ns}/..")),
        ("MOVE", "/dav//./".to_owned()),
    ] {
        let answer = raw(
            &server,
            format!(
                "{method} /dav/{ns}/kept.txt HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {APP}\r\n\
                 Destination: {destination}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 403") && answer.contains("WebDAV root"),
            "{method} to {destination}: {answer}"
        );
    }
    assert_eq!(server.read(&ns, "kept.txt").await.unwrap(), b"kept");
}
