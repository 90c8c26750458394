//! The `arca` binary against a real server: a person's workflow end to end,
//! trees up and down, JSON output, the credential sources, and the exit code
//! of each kind of failure.

use std::path::Path;
use std::process::{Command, Output};

use arca_tests::{APP, Backend, TestServer};

fn arca(server: &TestServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arca"))
        .args(["--addr", &format!("http://{}", server.addr), "--token", APP])
        .args(args)
        .output()
        .expect("run arca")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "arca failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn json(output: Output) -> serde_json::Value {
    serde_json::from_str(ok(output).trim()).expect("JSON output")
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_end_to_end() {
    let server = TestServer::start(Backend::Filesystem).await;
    let dir = tempfile::tempdir().unwrap();
    let ns = ok(arca(
        &server,
        &["ns", "create", "--user", "alice", "--name", "notes"],
    ))
    .trim()
    .to_owned();
    assert_eq!(ns.len(), 32);
    let local = dir.path().join("hello.txt");
    std::fs::write(&local, b"hello from the cli").unwrap();
    let put = json(arca(
        &server,
        &[
            "--json",
            "put",
            local.to_str().unwrap(),
            &format!("{ns}:docs/hello.txt"),
            "--mime",
            "text/plain",
        ],
    ));
    assert_eq!(put["size"], 18);
    assert_eq!(
        ok(arca(&server, &["cat", &format!("{ns}:docs/hello.txt")])),
        "hello from the cli"
    );
    assert!(ok(arca(&server, &["ls", &ns, "-r"])).contains("docs/hello.txt"));
    let stat = json(arca(
        &server,
        &["--json", "stat", &format!("{ns}:docs/hello.txt")],
    ));
    assert_eq!(
        (stat["kind"].as_str(), stat["mime_type"].as_str()),
        (Some("file"), Some("text/plain"))
    );
    let out = dir.path().join("out.txt");
    ok(arca(
        &server,
        &[
            "get",
            &format!("{ns}:docs/hello.txt"),
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read(&out).unwrap(), b"hello from the cli");

    ok(arca(&server, &["mkdir", "-p", &format!("{ns}:a/b")]));
    ok(arca(
        &server,
        &["cp", &format!("{ns}:docs/hello.txt"), "a/b/copy.txt"],
    ));
    ok(arca(
        &server,
        &["mv", &format!("{ns}:a/b/copy.txt"), "a/moved.txt"],
    ));
    let found = json(arca(&server, &["--json", "find", &ns, "**/*.txt"]));
    let paths: Vec<_> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, vec!["a/moved.txt", "docs/hello.txt"]);
    ok(arca(
        &server,
        &[
            "meta",
            "set",
            &format!("{ns}:a/moved.txt"),
            "tag=draft",
            "owner=alice",
        ],
    ));
    assert_eq!(
        ok(arca(
            &server,
            &["meta", "get", &format!("{ns}:a/moved.txt")]
        )),
        "owner=alice\ntag=draft\n"
    );

    let cp = ok(arca(
        &server,
        &["checkpoint", "create", &ns, "--name", "v1"],
    ))
    .trim()
    .to_owned();
    ok(arca(&server, &["rm", "-r", &format!("{ns}:a")]));
    assert_eq!(
        ok(arca(&server, &["checkpoint", "diff", &ns, &cp])),
        "- a\n- a/b\n- a/moved.txt\n"
    );
    ok(arca(&server, &["checkpoint", "restore", &ns, &cp]));
    assert_eq!(
        ok(arca(&server, &["cat", &format!("{ns}:a/moved.txt")])),
        "hello from the cli"
    );
    assert!(ok(arca(&server, &["checkpoint", "ls", &ns])).contains(&cp));
    ok(arca(&server, &["checkpoint", "rm", &ns, &cp]));

    let session = json(arca(&server, &["--json", "session", "open", "alice"]));
    let token = session["token"].as_str().unwrap();
    let as_alice = Command::new(env!("CARGO_BIN_EXE_arca"))
        .args([
            "--addr",
            &format!("http://{}", server.addr),
            "--token",
            token,
            "cat",
            &format!("{ns}:docs/hello.txt"),
        ])
        .output()
        .unwrap();
    assert_eq!(ok(as_alice), "hello from the cli");
    let listed = json(arca(&server, &["--json", "ns", "ls", "--user", "alice"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    ok(arca(&server, &["ns", "rm", &ns]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trees_up_and_down() {
    let server = TestServer::start(Backend::Filesystem).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    for (path, size) in [("a.txt", 10), ("sub/b.bin", 3 << 20), ("sub/deep/c.md", 0)] {
        let file = src.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, arca_tests::pattern(size, 5)).unwrap();
    }
    let ns = ok(arca(&server, &["ns", "create", "--user", "alice"]))
        .trim()
        .to_owned();
    ok(arca(
        &server,
        &["put", "-r", src.to_str().unwrap(), &format!("{ns}:project")],
    ));
    let dst = dir.path().join("dst");
    ok(arca(
        &server,
        &["get", "-r", &format!("{ns}:project"), dst.to_str().unwrap()],
    ));
    for path in ["a.txt", "sub/b.bin", "sub/deep/c.md"] {
        assert_eq!(
            std::fs::read(src.join(path)).unwrap(),
            std::fs::read(dst.join(path)).unwrap(),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_have_one_line_and_their_own_exit_code() {
    let server = TestServer::start(Backend::Memory).await;
    let ns = ok(arca(&server, &["ns", "create", "--user", "alice"]))
        .trim()
        .to_owned();
    let cases: Vec<(Vec<String>, i32)> = vec![
        (vec!["cat".into(), format!("{ns}:missing.txt")], 3),
        (vec!["cat".into(), format!("{ns}:../escape")], 6),
        (vec!["mkdir".into(), format!("{ns}:d")], 0),
        (vec!["mkdir".into(), format!("{ns}:d")], 5),
        (
            vec![
                "put".into(),
                "/definitely/not/here".into(),
                format!("{ns}:x"),
            ],
            10,
        ),
        (vec!["frobnicate".into()], 2),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = arca(&server, &args);
        assert_eq!(
            code(&output),
            expected,
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if expected != 0 && expected != 2 {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        }
    }
    let bad_token = Command::new(env!("CARGO_BIN_EXE_arca"))
        .args([
            "--addr",
            &format!("http://{}", server.addr),
            "--token",
            "wrong",
            "ns",
            "ls",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&bad_token), 4);
    let unreachable = Command::new(env!("CARGO_BIN_EXE_arca"))
        .args(["--addr", "http://127.0.0.1:1", "--token", APP, "ns", "ls"])
        .output()
        .unwrap();
    assert_eq!(code(&unreachable), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_and_token_from_the_environment_or_a_file() {
    let server = TestServer::start(Backend::Memory).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], cwd: &Path, args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_arca"));
        command
            .env_remove("ARCA_ADDR")
            .env_remove("ARCA_TOKEN")
            .env_remove("ARCA_TOKEN_FILE")
            .current_dir(cwd);
        for (k, v) in envs {
            command.env(k, v);
        }
        command.args(args).output().unwrap()
    };
    let addr = format!("http://{}", server.addr);
    ok(run(
        &[("ARCA_ADDR", &addr), ("ARCA_TOKEN", APP)],
        dir.path(),
        &["ns", "ls"],
    ));
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{APP}\n")).unwrap();
    ok(run(
        &[
            ("ARCA_ADDR", &addr),
            ("ARCA_TOKEN_FILE", token_file.to_str().unwrap()),
        ],
        dir.path(),
        &["ns", "ls"],
    ));
    // The admin key a local server writes on first start is picked up as is.
    std::fs::create_dir_all(dir.path().join("arca-data")).unwrap();
    std::fs::write(
        dir.path().join("arca-data/admin.key"),
        format!("{}\n", arca_tests::ADMIN),
    )
    .unwrap();
    ok(run(&[("ARCA_ADDR", &addr)], dir.path(), &["ns", "ls"]));
    assert_eq!(
        code(&run(
            &[("ARCA_ADDR", &addr)],
            &dir.path().join("arca-data"),
            &["ns", "ls"]
        )),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_urls_round_trip_through_plain_http() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = ok(arca(&server, &["ns", "create", "--user", "alice"]))
        .trim()
        .to_owned();
    let plan = json(arca(
        &server,
        &[
            "--json",
            "presign",
            "put",
            &format!("{ns}:shared/report.txt"),
            "--size",
            "13",
            "--expires",
            "900",
        ],
    ));
    let url = plan["parts"][0]["url"].as_str().unwrap().to_owned();
    let put = arca_tests::http("PUT", &url, &[], b"hello, world!".to_vec()).await;
    assert_eq!(put.status, 200);
    let upload_id = plan["upload_id"].as_str().unwrap();
    let entry = json(arca(&server, &["--json", "presign", "finalize", upload_id]));
    assert_eq!(entry["size"], 13);

    let url = ok(arca(
        &server,
        &["presign", "get", &format!("{ns}:shared/report.txt")],
    ));
    let got = arca_tests::http("GET", url.trim(), &[], Vec::new()).await;
    assert_eq!(got.body, b"hello, world!");

    // An expiry past the server's maximum is bad input (exit code 6).
    let refused = arca(
        &server,
        &[
            "presign",
            "get",
            &format!("{ns}:shared/report.txt"),
            "--expires",
            "999999",
        ],
    );
    assert_eq!(code(&refused), 6);
    // A malformed part is a usage error.
    let usage = arca(&server, &["presign", "finalize", upload_id, "--part", "x"]);
    assert_eq!(code(&usage), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_for_admins_only() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = ok(arca(&server, &["ns", "create", "--user", "alice"]))
        .trim()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f.txt");
    std::fs::write(&local, b"12345").unwrap();
    ok(arca(
        &server,
        &["put", local.to_str().unwrap(), &format!("{ns}:f.txt")],
    ));
    let as_admin = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_arca"))
            .args([
                "--addr",
                &format!("http://{}", server.addr),
                "--token",
                arca_tests::ADMIN,
            ])
            .args(args)
            .output()
            .expect("run arca")
    };
    let stats = json(as_admin(&["--json", "stats"]));
    assert_eq!(stats["usage"][0]["files"], 1);
    assert_eq!(stats["usage"][0]["bytes"], 5);
    assert_eq!(stats["backends"][0]["reachable"], true);
    assert!(ok(as_admin(&["stats"])).contains("SANDBOX\tBACKEND"));
    // An app key is not an admin: exit code 4 (not allowed).
    assert_eq!(code(&arca(&server, &["stats"])), 4);
}

/// The CLI over TLS: a custom CA by flag or `ARCA_CA_FILE`; without it the
/// server's certificate is not trusted and the CLI says it cannot connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let (ca_file, cert_file, key_file) = (
        dir.path().join("ca.pem"),
        dir.path().join("server.pem"),
        dir.path().join("server.key"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&cert_file, server_cert.pem()).unwrap();
    std::fs::write(&key_file, server_key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut config = arca_tests::test_config(Backend::Memory, dir.path());
    config.tls = Some(arca_server::config::TlsConfig {
        cert_file,
        key_file,
        client_ca_file: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(arca_server::serve(config, listener, async {
        let _ = stopped.await;
    }));
    let run = |args: &[&str], ca_env: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_arca"));
        command
            .env_remove("ARCA_CA_FILE")
            .args(["--addr", &addr, "--token", APP])
            .args(args);
        if let Some(ca) = ca_env {
            command.env("ARCA_CA_FILE", ca);
        }
        command.output().expect("run arca")
    };
    let ca = ca_file.to_str().unwrap();
    let ns = ok(run(
        &["--ca-file", ca, "ns", "create", "--user", "alice"],
        None,
    ));
    let ns = ns.trim();
    let local = ca_file.with_file_name("hello.txt");
    std::fs::write(&local, b"over tls").unwrap();
    ok(run(
        &["put", local.to_str().unwrap(), &format!("{ns}:hello.txt")],
        Some(&ca_file),
    ));
    let cat = run(&["cat", &format!("{ns}:hello.txt")], Some(&ca_file));
    assert_eq!(ok(cat), "over tls");
    // Not trusted without the CA (the system roots do not know it).
    let refused = run(&["ls", ns], None);
    assert_eq!(
        code(&refused),
        7,
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot reach"));
    // A CA file that cannot be read is a usage error.
    let missing = run(&["--ca-file", "/nonexistent/ca.pem", "ls", ns], None);
    assert_eq!(code(&missing), 2);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("CA file"));
    let _ = stop.send(());
    served.await.unwrap().unwrap();
    drop(dir);
}

/// `arca watch` prints each change once, in order, as lines or JSON
/// objects, from `--since` on, and ends when the namespace is destroyed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_changes_until_the_namespace_goes() {
    let server = TestServer::start(Backend::Memory).await;
    for json_output in [true, false] {
        let ns = server.workspace().await;
        server.write(&ns, "a.txt", b"a").await;
        let mut command = Command::new(env!("CARGO_BIN_EXE_arca"));
        command.args(["--addr", &format!("http://{}", server.addr), "--token", APP]);
        if json_output {
            command.arg("--json");
        }
        let child = command
            .args(["watch", &ns, "--since", "0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run arca watch");
        server.write(&ns, "b.txt", b"b").await;
        server
            .client
            .files
            .clone()
            .r#move(arca_tests::pb::MoveRequest {
                namespace_id: ns.clone(),
                source: "a.txt".into(),
                destination: "c.txt".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        // Let the watch print what is logged before the namespace goes.
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        server
            .as_secret(arca_tests::ADMIN)
            .namespaces
            .destroy_namespace(arca_tests::pb::DestroyNamespaceRequest {
                namespace_id: ns.clone(),
            })
            .await
            .unwrap();
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let printed = ok(output);
        let lines: Vec<&str> = printed.lines().collect();
        if json_output {
            let events: Vec<serde_json::Value> = lines
                .iter()
                .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
                .collect();
            let seen: Vec<(u64, &str, &str)> = events
                .iter()
                .map(|e| {
                    (
                        e["revision"].as_u64().unwrap(),
                        e["kind"].as_str().unwrap(),
                        e["path"].as_str().unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                seen,
                [
                    (1, "created", "a.txt"),
                    (2, "created", "b.txt"),
                    (3, "moved", "c.txt"),
                    (0, "destroyed", ""),
                ]
            );
            assert_eq!(events[2]["old_path"], "a.txt");
            assert_eq!(events[0]["size"], 1);
        } else {
            let words: Vec<Vec<&str>> = lines
                .iter()
                .map(|l| l.split_whitespace().collect())
                .collect();
            assert_eq!(
                words,
                [
                    vec!["1", "created", "a.txt"],
                    vec!["2", "created", "b.txt"],
                    vec!["3", "moved", "a.txt", "->", "c.txt"],
                    vec!["0", "destroyed"],
                ]
            );
        }
    }
}

/// `arca export` writes a tar that `tar` reads; `arca import` takes it (and
/// a gzipped one) back, all or nothing; `NS@CHECKPOINT` exports a
/// checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_through_tar_files() {
    let server = TestServer::start(Backend::Memory).await;
    let ns = server.workspace().await;
    server.write(&ns, "docs/a.txt", b"alpha").await;
    server.write(&ns, "b.bin", &[7u8; 5000]).await;
    let dir = tempfile::tempdir().unwrap();
    let tar_file = dir.path().join("ns.tar");
    let tar_path = tar_file.to_str().unwrap();
    let printed = json(arca(&server, &["--json", "export", &ns, tar_path]));
    assert_eq!(printed["files"], 2);
    assert_eq!(printed["directories"], 1);
    let listed = Command::new("tar")
        .arg("-tf")
        .arg(&tar_file)
        .output()
        .unwrap();
    let names = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        ["b.bin", "docs/", "docs/a.txt"]
    );

    let copy = server.workspace().await;
    let printed = json(arca(&server, &["--json", "import", &copy, tar_path]));
    assert_eq!(printed["files"], 2);
    assert_eq!(server.read(&copy, "docs/a.txt").await.unwrap(), b"alpha");
    // Again without --overwrite: refused whole, exit code 5 (conflict).
    let again = arca(&server, &["import", &copy, tar_path]);
    assert_eq!(
        code(&again),
        5,
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    ok(arca(
        &server,
        &["import", "--overwrite", &format!("{copy}:under"), tar_path],
    ));
    assert_eq!(
        server.read(&copy, "under/b.bin").await.unwrap(),
        vec![7u8; 5000]
    );

    // A checkpoint, gzipped on the way back in.
    let checkpoint = json(arca(&server, &["--json", "checkpoint", "create", &ns]));
    let id = checkpoint["checkpoint_id"].as_str().unwrap().to_owned();
    server.write(&ns, "docs/a.txt", b"changed").await;
    let old = dir.path().join("old.tar");
    ok(arca(
        &server,
        &["export", &format!("{ns}@{id}"), old.to_str().unwrap()],
    ));
    let gz = dir.path().join("old.tar.gz");
    let zipped = Command::new("gzip").arg("-k").arg(&old).status().unwrap();
    assert!(zipped.success());
    let restored = server.workspace().await;
    ok(arca(&server, &["import", &restored, gz.to_str().unwrap()]));
    assert_eq!(
        server.read(&restored, "docs/a.txt").await.unwrap(),
        b"alpha"
    );
    // Not an archive: bad input (exit code 6), nothing imported.
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"junk").unwrap();
    let refused = arca(&server, &["import", &restored, junk.to_str().unwrap()]);
    assert_eq!(
        code(&refused),
        6,
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
