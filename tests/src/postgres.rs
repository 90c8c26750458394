//! The PostgreSQL test server tests/run.sh starts (tests/postgres.sh):
//! where it is, a fresh schema per server so that tests sharing the
//! database never see each other's rows, and metadata settings pointing at
//! one, with the URL and password in private files as a deployment keeps
//! them.

/// The PostgreSQL test server, if one is running: its URL (without the
/// password) and the password of its `arca` role. tests/run.sh starts one
/// with tests/postgres.sh.
pub fn postgres() -> Option<(String, String)> {
    let url = std::env::var("ARCA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let password = std::env::var("ARCA_TEST_POSTGRES_PASSWORD").unwrap_or_default();
    Some((url, password))
}

/// Whether the integration suites run with metadata on PostgreSQL
/// (`ARCA_TEST_METADATA=postgres`) instead of redb.
pub fn metadata_on_postgres() -> bool {
    std::env::var("ARCA_TEST_METADATA").is_ok_and(|e| e == "postgres")
}

/// Runs SQL statements on the test database as its `arca` role.
pub fn postgres_execute(statements: &str) {
    let (url, password) = postgres().expect("ARCA_TEST_POSTGRES_URL (tests/run.sh sets it)");
    let statements = statements.to_owned();
    // Its own thread and runtime: callers may be sync or inside a runtime.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async move {
                let mut config: tokio_postgres::Config = url.parse().expect("postgres url");
                config.password(password);
                let (client, connection) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .expect("connect to postgres");
                tokio::spawn(connection);
                client.batch_execute(&statements).await.expect("run sql");
            });
    })
    .join()
    .expect("sql thread");
}

/// A fresh schema in the test database, so that servers and tests sharing
/// the database never see each other's rows: returns its name.
pub fn scratch_schema() -> String {
    let schema = format!("t_{}", arca_server::ids::new_id());
    postgres_execute(&format!("CREATE SCHEMA {schema}"));
    schema
}

/// Metadata settings for PostgreSQL in `schema`: the URL and password in
/// private files in `dir`, as a deployment keeps them.
pub fn postgres_metadata(
    dir: &std::path::Path,
    schema: &str,
) -> arca_server::config::MetadataConfig {
    use std::os::unix::fs::PermissionsExt;
    let (url, password) = postgres().expect("ARCA_TEST_POSTGRES_URL (tests/run.sh sets it)");
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let (url_file, password_file) = (dir.join("pg-url"), dir.join("pg-password"));
    for (path, text) in [(&url_file, &url), (&password_file, &password)] {
        std::fs::write(path, text).expect("write postgres secrets");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    arca_server::config::MetadataConfig {
        engine: arca_server::config::MetadataEngine::Postgres,
        url_file: Some(url_file),
        password_file: Some(password_file),
        pool_size: 8,
        ..Default::default()
    }
}
