//! The `arca-server` binary: reads the configuration layers, sets up
//! logging, binds the listener and runs [`arca_server::serve`] until SIGTERM
//! or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use arca_server::Config;
use arca_server::config::LogFormat;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Arca storage server. Flags override `ARCA_*` environment variables, which
/// override the TOML file, which overrides the built-in defaults.
#[derive(Debug, Parser)]
#[command(name = "arca-server", version)]
struct Args {
    /// TOML configuration file.
    #[arg(long, env = "ARCA_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:7420).
    #[arg(long, env = "ARCA_LISTEN")]
    listen: Option<SocketAddr>,
    /// Data directory (default ./arca-data).
    #[arg(long, env = "ARCA_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Default blob backend for every scope.
    #[arg(long, env = "ARCA_DEFAULT_BACKEND")]
    default_backend: Option<String>,
    /// A TOML file of API keys (`[keys.<id>]` with sandbox, role and
    /// secret_sha256); refused if other users may read it.
    #[arg(long, env = "ARCA_KEYS_FILE")]
    keys_file: Option<PathBuf>,
    /// Log filter, e.g. `info` or `arca_server=debug`.
    #[arg(long, env = "ARCA_LOG")]
    log: Option<String>,
    /// Log format.
    #[arg(long, env = "ARCA_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Check the configuration and exit.
    #[arg(long)]
    check_config: bool,
    /// Copy the metadata of a stopped single-replica deployment (its
    /// `arca.redb`) into the engine the configuration names (PostgreSQL),
    /// which must be empty, then exit. Its `presign.key` beside it, if any,
    /// becomes the shared presign key unless `presign.hmac_key_file` is set.
    #[arg(long, value_name = "ARCA_REDB")]
    import_redb: Option<PathBuf>,
}

/// `--import-redb`: copies a redb file into the configured engine.
async fn import_redb(config: &Config, file: &std::path::Path) -> arca_server::Result<()> {
    use arca_server::meta::{MetaStore, import};
    if config.metadata.engine != arca_server::config::MetadataEngine::Postgres {
        return Err(arca_server::Error::InvalidArgument(
            "--import-redb copies into the engine the configuration names; it names redb \
             (set [metadata] engine = \"postgres\")"
                .into(),
        ));
    }
    if !file.is_file() {
        return Err(arca_server::Error::InvalidArgument(format!(
            "{} is not a file",
            file.display()
        )));
    }
    let presign_key = match (&config.presign.hmac_key_file, file.parent()) {
        (None, Some(dir)) if dir.join("presign.key").is_file() => Some(
            arca_server::auth::read_private_file(&dir.join("presign.key"))?
                .trim()
                .to_owned(),
        ),
        _ => None,
    };
    let source = MetaStore::open_redb(file)?;
    let target = MetaStore::open(config).await?;
    let result = import::copy_all(&source, &target, presign_key).await;
    source.close();
    target.close();
    let imported = result?;
    for (table, rows) in &imported.rows {
        println!("{table}: {rows} rows");
    }
    println!(
        "imported {} into the {} engine; versions continue after {}",
        file.display(),
        target.engine().name(),
        imported.highest_version
    );
    Ok(())
}

fn load(args: &Args) -> arca_server::Result<Config> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(backend) = &args.default_backend {
        config.default_backend.all = backend.clone();
    }
    if let Some(file) = &args.keys_file {
        config.auth.keys_file = Some(file.clone());
    }
    if let Some(filter) = &args.log {
        config.log.filter = filter.clone();
    }
    if let Some(format) = args.log_format {
        config.log.format = format;
    }
    config.finalize()
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let config = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("arca-server: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.check_config {
        // The same validation as startup: every file the configuration names.
        if let Err(e) = arca_server::api::check_referenced_files(&config) {
            eprintln!("arca-server: {e}");
            return std::process::ExitCode::from(2);
        }
        println!("configuration ok");
        return std::process::ExitCode::SUCCESS;
    }
    if let Some(file) = &args.import_redb {
        return match import_redb(&config, file).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("arca-server: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    init_logging(&config);
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(address = %config.listen, error = %e, "cannot listen");
            return std::process::ExitCode::FAILURE;
        }
    };
    match arca_server::serve(config, listener, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            std::process::ExitCode::FAILURE
        }
    }
}
