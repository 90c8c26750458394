//! The metadata engines themselves: the conformance suite on PostgreSQL
//! (redb runs it in the server's unit tests), the schema's versioning, and
//! what a database that goes away does to a running server.

use std::sync::Arc;

use arca_server::meta::{self, MetaStore, postgres::PostgresEngine};
use arca_tests::{Backend, TestServer, assert_code, postgres_metadata, scratch_schema};
use tonic::Code;

async fn postgres_store(
    dir: &std::path::Path,
) -> (MetaStore, arca_server::config::MetadataConfig, String) {
    let schema = scratch_schema();
    let config = postgres_metadata(dir, &schema);
    let engine = PostgresEngine::open(&config).await.expect("open postgres");
    (MetaStore::new(Arc::new(engine)), config, schema)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _, _) = postgres_store(dir.path()).await;
    meta::conformance::run_all(&store).await;
    store.close();
}

/// Opening again finds the schema current and applies nothing; a schema
/// newer than the binary is refused with a message that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_versions_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config, schema) = postgres_store(dir.path()).await;
    store
        .write(|w| w.put(&meta::NAMESPACE_NAMES, "kept", "x"))
        .await
        .unwrap();
    store.close();
    let again = MetaStore::new(Arc::new(PostgresEngine::open(&config).await.unwrap()));
    let kept = again
        .read(|r| r.get(&meta::NAMESPACE_NAMES, "kept"))
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("x"));
    again.close();

    let newer = meta::postgres::SCHEMA_VERSION + 1;
    arca_tests::postgres_execute(&format!(
        "UPDATE {schema}.arca_schema SET version = {newer}"
    ));
    let refused = PostgresEngine::open(&config).await.err().expect("refused");
    let message = refused.to_string();
    assert!(message.contains(&format!("version {newer}")), "{message}");
    assert!(message.contains("newer than this server"), "{message}");
}

/// A database of schema 1 (a primary key on whole keys) is migrated at
/// start: its rows, their order and the version sequence survive, keys
/// too long for the old index can then be written, and the table keeps
/// room on its pages for updates (schema 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config, schema) = postgres_store(dir.path()).await;
    let names: Vec<String> = (0..50).map(|i| format!("name-{i:02}")).collect();
    let written = names.clone();
    let version = store
        .write(move |w| {
            for name in &written {
                w.put(&meta::NAMESPACE_NAMES, name, name)?;
            }
            w.next_version()
        })
        .await
        .unwrap();
    store.close();
    // Back to schema 1 as that binary created it.
    arca_tests::postgres_execute(&format!(
        "ALTER TABLE {schema}.arca_kv DROP CONSTRAINT arca_kv_pkey, DROP COLUMN k_head, \
         DROP COLUMN k_hash, ADD PRIMARY KEY (tbl, k), RESET (fillfactor); \
         UPDATE {schema}.arca_schema SET version = 1"
    ));
    let store = MetaStore::new(Arc::new(PostgresEngine::open(&config).await.unwrap()));
    let listed = store
        .read(|r| r.keys(&meta::NAMESPACE_NAMES, meta::Span::all()))
        .await
        .unwrap();
    assert_eq!(listed, names);
    let long = "x".repeat(3000) + &"é".repeat(1500);
    let (l, v) = (long.clone(), long.clone());
    let later = store
        .write(move |w| {
            w.put(&meta::NAMESPACE_NAMES, &l, &v)?;
            w.next_version()
        })
        .await
        .unwrap();
    assert!(later > version);
    let found = store
        .read(move |r| r.get(&meta::NAMESPACE_NAMES, &long))
        .await
        .unwrap();
    assert!(found.is_some());
    store.close();
    arca_tests::postgres_execute(&format!(
        "DO $$ BEGIN IF NOT (SELECT coalesce(reloptions, '{{}}') @> ARRAY['fillfactor=75'] \
         FROM pg_class WHERE oid = '{schema}.arca_kv'::regclass) \
         THEN RAISE EXCEPTION 'arca_kv has no fillfactor after the migration'; END IF; END $$"
    ));
}

/// A URL file every user may read is refused, as every secret file is; an
/// unreachable database is a clear start-up error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_database_settings_fail_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = postgres_metadata(dir.path(), &scratch_schema());
    let url_file = config.url_file.clone().unwrap();
    std::fs::set_permissions(&url_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = PostgresEngine::open(&config).await.err().expect("refused");
    assert!(
        open.to_string().contains("readable by every user"),
        "{open}"
    );

    std::fs::write(
        &url_file,
        "postgres://arca@127.0.0.1:1/arca?sslmode=disable",
    )
    .unwrap();
    std::fs::set_permissions(&url_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut config = config;
    config.connect_timeout_secs = 1;
    let open = PostgresEngine::open(&config).await.err().expect("refused");
    assert!(
        matches!(open, arca_server::Error::Unavailable(_)),
        "{open:?}"
    );
    assert!(open.to_string().contains("cannot connect"), "{open}");
}

/// A whole server on PostgreSQL: what it writes survives a restart, and a
/// session token it issued works after it (the record is in the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_postgres_keeps_what_it_wrote() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = arca_tests::test_config(Backend::Filesystem, dir.path());
    config.metadata = postgres_metadata(dir.path(), &scratch_schema());
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    server.write(&ns, "a/b.txt", b"kept").await;
    let (_, token) = server.open_session("alice").await;
    let server = server.restart().await;
    assert_eq!(server.read(&ns, "a/b.txt").await.unwrap(), b"kept");
    let session = server.as_secret(&token);
    let mut sessions = session.sessions.clone();
    sessions
        .get_session(arca_client::pb::GetSessionRequest {
            session_id: String::new(),
        })
        .await
        .expect("the token works after a restart");
    let missing = server.read(&ns, "nope").await;
    assert_code(missing, Code::NotFound);
}

/// A sandbox's turn (`meta::postgres::turn_of` its usage row) held by
/// another session of the test database, as a writer on another replica
/// would hold it.
struct SandboxTurn {
    session: tokio_postgres::Client,
    turn: i64,
}

impl SandboxTurn {
    async fn hold(schema: &str, sandbox: &str) -> SandboxTurn {
        let (url, password) = arca_tests::postgres().unwrap();
        let mut pg: tokio_postgres::Config = url.parse().unwrap();
        pg.password(password);
        pg.options(format!("-csearch_path={schema}"));
        let (session, connection) = pg.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let turn = meta::postgres::turn_of(&meta::USAGE, sandbox);
        session
            .execute(
                "SELECT pg_advisory_lock(hashtextextended(current_schema(), 0) # $1)",
                &[&turn],
            )
            .await
            .unwrap();
        SandboxTurn { session, turn }
    }

    async fn let_go(self) {
        self.session
            .execute(
                "SELECT pg_advisory_unlock(hashtextextended(current_schema(), 0) # $1)",
                &[&self.turn],
            )
            .await
            .unwrap();
    }
}

/// Runs `change` while another session holds sandbox `sb`'s turn: it must
/// still be waiting after half a second (while `meanwhile` runs), and must
/// succeed once the turn is let go.
async fn waits_for_the_turn<T: Send + 'static>(
    schema: &str,
    what: &str,
    change: impl std::future::Future<Output = Result<T, tonic::Status>> + Send + 'static,
    meanwhile: impl std::future::Future<Output = ()>,
) -> T {
    let holder = SandboxTurn::hold(schema, "sb").await;
    let change = tokio::spawn(change);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!change.is_finished(), "{what} did not wait for the turn");
    meanwhile.await;
    holder.let_go().await;
    tokio::time::timeout(std::time::Duration::from_secs(30), change)
        .await
        .unwrap_or_else(|_| panic!("{what} did not commit once the turn was let go"))
        .unwrap()
        .unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// A server whose metadata is on PostgreSQL, in a fresh schema: the
/// server and the schema's name.
async fn server_on_postgres() -> (TestServer, String) {
    server_on_postgres_with(|_| {}).await
}

/// [`server_on_postgres`] with `change` made to its configuration.
async fn server_on_postgres_with(
    change: impl FnOnce(&mut arca_server::Config),
) -> (TestServer, String) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let schema = scratch_schema();
    let mut config = arca_tests::test_config(Backend::Filesystem, dir.path());
    config.metadata = postgres_metadata(dir.path(), &schema);
    change(&mut config);
    (TestServer::start_with(config, dir).await, schema)
}

/// The records of unfinished uploads, by the admin's stats.
async fn uploads_in_progress(server: &TestServer) -> u64 {
    let mut admin = server.as_secret(arca_tests::ADMIN).admin;
    let request = arca_client::pb::GetStatsRequest::default();
    let stats = admin.get_stats(request).await.unwrap().into_inner();
    stats.uploads_in_progress
}

/// On PostgreSQL a change of the tree (here Move, Mkdir, Remove, a move
/// into another namespace and an archive's import) takes its turn on the
/// sandbox's usage row, as a file's commit does, instead of running beside
/// the other writers of the sandbox and rolling back at commit: while
/// another session holds that turn, the change waits; once it is let go,
/// the change commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_changes_take_their_sandboxs_turn_on_postgres() {
    let (server, schema) = server_on_postgres().await;
    let ns = server.workspace().await;
    server.write(&ns, "a.txt", b"moved").await;

    let (ns2, mut files) = (ns.clone(), server.client.files.clone());
    let changes = async move {
        files
            .r#move(arca_client::pb::MoveRequest {
                namespace_id: ns2.clone(),
                source: "a.txt".into(),
                destination: "b.txt".into(),
                ..Default::default()
            })
            .await?;
        files
            .mkdir(arca_client::pb::MkdirRequest {
                namespace_id: ns2.clone(),
                path: "d".into(),
                ..Default::default()
            })
            .await?;
        files
            .remove(arca_client::pb::RemoveRequest {
                namespace_id: ns2,
                path: "d".into(),
                ..Default::default()
            })
            .await
    };
    // Reads take no turn.
    let reads = async { assert_eq!(server.read(&ns, "a.txt").await.unwrap(), b"moved") };
    waits_for_the_turn(&schema, "a move, a mkdir and a remove", changes, reads).await;
    assert_eq!(server.read(&ns, "b.txt").await.unwrap(), b"moved");
    assert_code(server.read(&ns, "a.txt").await, Code::NotFound);
    assert!(server.entry(&ns, "d").await.is_none());

    let other = server.workspace().await;
    let (from, to, mut files) = (ns.clone(), other.clone(), server.client.files.clone());
    let across = async move {
        files
            .r#move(arca_client::pb::MoveRequest {
                namespace_id: from,
                source: "b.txt".into(),
                destination: "c.txt".into(),
                target_namespace_id: to,
                ..Default::default()
            })
            .await
    };
    waits_for_the_turn(&schema, "a move across namespaces", across, async {}).await;
    assert_eq!(server.read(&other, "c.txt").await.unwrap(), b"moved");
    assert_code(server.read(&ns, "b.txt").await, Code::NotFound);

    let (into, client) = (ns.clone(), server.client.clone());
    let import = async move {
        arca_tests::import_one_file(&client, &into, "imported.txt", b"from a tar").await
    };
    waits_for_the_turn(&schema, "an archive's import", import, async {}).await;
    assert_eq!(
        server.read(&ns, "imported.txt").await.unwrap(),
        b"from a tar"
    );
}

/// On PostgreSQL the changes of a namespace itself take their sandbox's
/// turn too: a creation and a fork add to the usage rows every commit of
/// the sandbox rewrites, an update rewrites the namespace's record that
/// its files' commits rewrite, a destruction settles both. Each waits
/// while another session holds the turn, and commits once it is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_changes_take_their_sandboxs_turn_on_postgres() {
    use arca_client::pb;
    let (server, schema) = server_on_postgres().await;
    let source = server.workspace().await;
    server.write(&source, "kept.txt", b"forked").await;
    let owner = pb::Owner {
        sandbox: "sb".into(),
        user: "alice".into(),
        session: String::new(),
    };

    let (mut namespaces, who) = (server.client.namespaces.clone(), owner.clone());
    let create = async move {
        let request = pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(who),
            ..Default::default()
        };
        namespaces.create_namespace(request).await
    };
    let created = waits_for_the_turn(&schema, "a namespace's creation", create, async {})
        .await
        .into_inner()
        .namespace_id;

    let (mut namespaces, from) = (server.client.namespaces.clone(), source.clone());
    let fork = async move {
        let request = pb::CreateNamespaceRequest {
            scope: pb::Scope::User as i32,
            owner: Some(owner),
            source: Some(pb::NamespaceSource {
                namespace_id: from,
                ..Default::default()
            }),
            ..Default::default()
        };
        namespaces.create_namespace(request).await
    };
    let forked = waits_for_the_turn(&schema, "a fork", fork, async {})
        .await
        .into_inner()
        .namespace_id;
    assert_eq!(server.read(&forked, "kept.txt").await.unwrap(), b"forked");

    let (mut namespaces, id) = (server.client.namespaces.clone(), created.clone());
    let update = async move {
        let request = pb::UpdateNamespaceRequest {
            namespace_id: id,
            summary: Some("updated in turn".into()),
            ..Default::default()
        };
        namespaces.update_namespace(request).await
    };
    let updated = waits_for_the_turn(&schema, "a namespace's update", update, async {}).await;
    assert_eq!(updated.into_inner().summary, "updated in turn");

    let (mut namespaces, id) = (server.client.namespaces.clone(), forked.clone());
    let destroy = async move {
        let request = pb::DestroyNamespaceRequest { namespace_id: id };
        namespaces.destroy_namespace(request).await
    };
    waits_for_the_turn(&schema, "a namespace's destruction", destroy, async {}).await;
    // Gone, and no different from one that never was.
    assert_code(
        server.read(&forked, "kept.txt").await,
        Code::PermissionDenied,
    );
}

/// A failed upload's record goes with its staged bytes, released on the
/// usage rows every commit of the sandbox rewrites: on PostgreSQL the
/// deletion takes the sandbox's turn. An upload whose digest does not
/// match fails; its answer comes after its record is gone, so while
/// another session holds the turn no answer comes, and once it is let go
/// the refusal does and the upload holds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_uploads_record_deletion_takes_its_sandboxs_turn_on_postgres() {
    use arca_client::pb::{self, upload_request::Message as In};
    let (server, schema) = server_on_postgres().await;
    let ns = server.workspace().await;
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "wrong.bin".into(),
        ..Default::default()
    };
    let (stream, _) = arca_tests::UploadStream::open(&server, In::Start(start))
        .await
        .unwrap();
    // Under the persist interval: no record save is due, only the
    // deletion wants the turn.
    stream.data(0, &arca_tests::pattern(64 << 10, 5)).await;
    let finish = async move {
        stream
            .send(In::Finish(pb::UploadFinish {
                expected_sha256: "0".repeat(64),
            }))
            .await;
        match stream.drain(false).await.1 {
            Err(refused) => Ok(refused.code()),
            Ok(()) => Err(tonic::Status::internal("a wrong digest committed")),
        }
    };
    let refused = waits_for_the_turn(
        &schema,
        "a failed upload's record deletion",
        finish,
        async {},
    )
    .await;
    assert_ne!(refused, Code::Ok);
    assert_eq!(uploads_in_progress(&server).await, 0, "its record is gone");
    assert_code(server.read(&ns, "wrong.bin").await, Code::NotFound);
}

/// The reclaimer discards an upload whose lease ran out; its record's
/// deletion releases staged bytes on the sandbox's usage rows, so on
/// PostgreSQL it takes the sandbox's turn: while another session holds
/// it, the record stays past its lease; once it is let go, it goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_uploads_discard_takes_its_sandboxs_turn_on_postgres() {
    use arca_client::pb::{self, upload_request::Message as In};
    let (server, schema) = server_on_postgres_with(|c| c.uploads.lease_secs = 1).await;
    let ns = server.workspace().await;
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "left.bin".into(),
        ..Default::default()
    };
    let (stream, _) = arca_tests::UploadStream::open(&server, In::Start(start))
        .await
        .unwrap();
    stream.data(0, &arca_tests::pattern(64 << 10, 7)).await;
    // The client goes away: the upload is persisted and suspended.
    let _ = stream.drain(false).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let holder = SandboxTurn::hold(&schema, "sb").await;
    // Past the lease, and two passes of the reclaimer (one a second).
    tokio::time::sleep(std::time::Duration::from_millis(3_000)).await;
    assert_eq!(
        uploads_in_progress(&server).await,
        1,
        "the expired upload was discarded without the sandbox's turn"
    );
    holder.let_go().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while uploads_in_progress(&server).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired upload was not discarded once the turn was let go"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An upload's record, saved every `persist_interval_bytes`, settles its
/// staged bytes on the usage rows every commit of the sandbox rewrites: on
/// PostgreSQL its save takes the sandbox's turn too. While another session
/// holds it, the client hears no progress (progress follows the saved
/// record); once it is let go, the progress comes and the upload commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_record_saves_take_their_sandboxs_turn_on_postgres() {
    use arca_client::pb::{self, upload_request::Message as In, upload_response::Message as Out};
    let (server, schema) = server_on_postgres().await;
    let ns = server.workspace().await;
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "big.bin".into(),
        ..Default::default()
    };
    // The upload is open (its first record is saved) before the turn is
    // taken from it.
    let (stream, _) = arca_tests::UploadStream::open(&server, In::Start(start))
        .await
        .unwrap();
    let (tx, mut answers) = (stream.tx, stream.rx);
    let holder = SandboxTurn::hold(&schema, "sb").await;
    let data = arca_tests::pattern(6 << 20, 3);
    for (i, chunk) in data.chunks(1 << 20).enumerate() {
        tx.send(pb::UploadRequest {
            message: Some(In::Data(pb::UploadData {
                offset: (i << 20) as u64,
                data: bytes::Bytes::copy_from_slice(chunk),
            })),
        })
        .await
        .unwrap();
    }
    let early =
        tokio::time::timeout(std::time::Duration::from_millis(700), answers.message()).await;
    assert!(
        early.is_err(),
        "progress came while the turn was held: {early:?}"
    );
    holder.let_go().await;
    let progress = tokio::time::timeout(std::time::Duration::from_secs(30), answers.message())
        .await
        .expect("progress once the turn is let go")
        .unwrap()
        .unwrap();
    assert!(
        matches!(progress.message, Some(Out::Progress(ref p)) if p.persisted_offset >= 4 << 20),
        "{progress:?}"
    );
    tx.send(pb::UploadRequest {
        message: Some(In::Finish(pb::UploadFinish::default())),
    })
    .await
    .unwrap();
    drop(tx);
    let (rest, end) = arca_tests::drain(answers).await;
    end.unwrap();
    let committed = rest.iter().find_map(|m| match &m.message {
        Some(Out::Committed(entry)) => Some(entry.clone()),
        _ => None,
    });
    let entry = committed.expect("the upload committed");
    assert_eq!(entry.sha256, arca_tests::sha256(&data));
    assert_eq!(entry.size, data.len() as u64);
}

/// A PostgreSQL server of this test's own (stopping the shared one would
/// disturb every other test), driven by tests/postgres.sh.
struct OwnPostgres {
    dir: tempfile::TempDir,
    url: String,
    password: String,
}

impl OwnPostgres {
    fn run(args: &[&str], dir: &std::path::Path) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/postgres.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .args(args)
            .arg(dir)
            .output()
            .expect("run tests/postgres.sh");
        assert!(
            out.status.success(),
            "postgres.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("arca-pg-own")
            .tempdir_in("/tmp")
            .unwrap();
        let out = Self::run(&["start"], dir.path());
        let mut words = out.split_whitespace();
        let (port, password) = (words.next().unwrap(), words.next().unwrap());
        OwnPostgres {
            url: format!("postgres://arca@127.0.0.1:{port}/arca?sslmode=disable"),
            password: password.to_owned(),
            dir,
        }
    }

    fn metadata(&self, secrets: &std::path::Path) -> arca_server::config::MetadataConfig {
        use std::os::unix::fs::PermissionsExt;
        let (url_file, password_file) = (secrets.join("own-url"), secrets.join("own-password"));
        for (path, text) in [(&url_file, &self.url), (&password_file, &self.password)] {
            std::fs::write(path, text).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        arca_server::config::MetadataConfig {
            engine: arca_server::config::MetadataEngine::Postgres,
            url_file: Some(url_file),
            password_file: Some(password_file),
            connect_timeout_secs: 1,
            pool_size: 4,
            ..Default::default()
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        Self::run(&["stop"], self.dir.path());
    }
}

async fn readiness(server: &TestServer) -> i32 {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status)
        .unwrap_or(-1)
}

/// PostgreSQL stopped under a running server: calls answer UNAVAILABLE,
/// readiness turns NOT_SERVING, nothing is half-committed; started again,
/// the server recovers by itself, with everything acknowledged before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_database_is_unavailable_and_recovers() {
    use tonic_health::ServingStatus;
    let pg = OwnPostgres::start();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = arca_tests::test_config(Backend::Filesystem, dir.path());
    config.metadata = pg.metadata(dir.path());
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    server.write(&ns, "before.txt", b"acknowledged").await;
    assert_eq!(readiness(&server).await, ServingStatus::Serving as i32);

    OwnPostgres::run(&["stop"], pg.dir.path());
    let during = server.try_write(&ns, "during.txt", b"x").await;
    assert_code(during, Code::Unavailable);
    assert_code(server.read(&ns, "before.txt").await, Code::Unavailable);
    let mut unready = false;
    for _ in 0..50 {
        if readiness(&server).await == ServingStatus::NotServing as i32 {
            unready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        unready,
        "readiness must turn NOT_SERVING without the database"
    );

    OwnPostgres::run(&["resume"], pg.dir.path());
    let mut back = false;
    for _ in 0..50 {
        if server.read(&ns, "before.txt").await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(back, "the server must recover when the database returns");
    assert_eq!(
        server.read(&ns, "before.txt").await.unwrap(),
        b"acknowledged"
    );
    assert_code(server.read(&ns, "during.txt").await, Code::NotFound);
    server.write(&ns, "after.txt", b"y").await;
    let mut ready = false;
    for _ in 0..50 {
        if readiness(&server).await == ServingStatus::Serving as i32 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(ready, "readiness must come back");
    server.stop().await;
}

/// Two engines on one database (two replicas) adding one to a row that
/// their jobs name as contended take turns on it: every addition lands, and
/// no job runs twice (none lost a race at commit and ran again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_of_a_contended_row_take_turns_instead_of_conflicting() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let (a, config, _) = postgres_store(dir.path()).await;
    let b = MetaStore::new(Arc::new(PostgresEngine::open(&config).await.unwrap()));
    let runs = Arc::new(AtomicUsize::new(0));
    let additions = 200;
    let jobs = (0..additions).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let runs = runs.clone();
        async move {
            store
                .write_reading(
                    || meta::Wanted::default().contended_row(&meta::GARBAGE, ("counter", "n")),
                    move |w| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let n = w.get(&meta::GARBAGE, ("counter", "n"))?.unwrap_or(0);
                        w.put(&meta::GARBAGE, ("counter", "n"), &(n + 1))
                    },
                )
                .await
                .unwrap()
        }
    });
    futures::future::join_all(jobs).await;
    let total = a
        .read(|r| r.get(&meta::GARBAGE, ("counter", "n")))
        .await
        .unwrap();
    assert_eq!(total, Some(additions));
    assert_eq!(runs.load(Ordering::SeqCst), additions as usize);
    a.close();
    b.close();
}
