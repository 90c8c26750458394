//! `arca`: the command line for an Arca server.
//!
//! Remote paths are written `NAMESPACE:PATH` (`PATH` defaults to the root),
//! like scp. The address comes from `--addr` or `ARCA_ADDR` (default
//! `http://127.0.0.1:7420`); the credential from `--token`, `ARCA_TOKEN`, a
//! token file (`--token-file`, `ARCA_TOKEN_FILE`), or else the admin key a
//! local server writes on first start (`./arca-data/admin.key`). TLS: an
//! `https://` address trusts the system roots, `--ca-file` / `ARCA_CA_FILE`
//! a custom CA. Progress bars show on a terminal only; `--json` prints machine-readable results.
//! Errors are one line on stderr, with an exit code per kind of failure.

mod archive;
mod args;
mod checkpoint;
mod files;
mod meta;
mod mount;
mod ns;
mod presign;
mod session;
mod stats;
mod support;
mod watch;

use std::process::ExitCode;

use arca_client::Client;
use clap::Parser;

use args::*;
use support::*;

async fn run(cli: Cli) -> Result<(), Failure> {
    let out = Out { json: cli.json };
    let (addr, tls) = tls_for(&cli)?;
    let client = Client::connect_with(
        addr,
        arca_client::ConnectOptions {
            secret: token(&cli)?,
            tls,
        },
    )
    .await
    .map_err(|e| fail(7, format!("cannot reach {}: {e}", cli.addr)))?;
    match cli.command {
        Command::Ns(command) => ns::run(&client, &out, command).await?,
        Command::Files(command) => files::run(&client, &out, command).await?,
        Command::Meta(command) => meta::run(&client, &out, command).await?,
        Command::Checkpoint(command) => checkpoint::run(&client, &out, command).await?,
        Command::Session(command) => session::run(&client, &out, command).await?,
        Command::Presign(command) => presign::run(&client, &out, command).await?,
        Command::Stats { sandbox } => stats::run(&client, &out, sandbox).await?,
        Command::Mount {
            remote: spec,
            mountpoint,
            read_only,
            cache_ttl,
            spool_dir,
        } => {
            use crate::mount::{MountError, MountOptions, mount};
            let (namespace, root) = remote(&spec);
            let mut options = MountOptions::new(namespace);
            options.root = root;
            options.read_only = read_only;
            options.cache_ttl = std::time::Duration::from_secs_f64(cache_ttl.clamp(0.0, 86_400.0));
            options.spool_dir = spool_dir;
            let shown = mountpoint.display().to_string();
            let ready = || eprintln!("mounted {spec} at {shown}; Ctrl-C or SIGTERM unmounts");
            mount(client.clone(), options, &mountpoint, ready)
                .await
                .map_err(|e| match e {
                    MountError::Remote(e) => e.into(),
                    MountError::NotADirectory(_) => fail(6, e.to_string()),
                    MountError::Fuse(_) => fail(10, e.to_string()),
                })?;
        }
        Command::Export { source, file } => archive::export(&client, &out, &source, &file).await?,
        Command::Import {
            target,
            file,
            overwrite,
        } => archive::import(&client, &out, &target, &file, overwrite).await?,
        Command::Watch {
            namespace,
            since,
            prefix,
            glob,
        } => {
            let args = watch::WatchArgs {
                namespace,
                since,
                prefix,
                glob,
            };
            watch::run(&client, &out, args).await?;
        }
    }
    Ok(())
}

/// jemalloc, not glibc's malloc: a transfer frees a chunk-sized buffer per
/// message (the gRPC encoder's and decoder's, which this process does not
/// choose), and glibc hands such memory back to the kernel as soon as the
/// top of its heap is free, so every next buffer is faulted in, zeroed and
/// charged again page by page: 130,000 page faults and a seventh of the
/// CPU of an `arca put` of 1 GiB. jemalloc keeps freed memory for a while
/// and returns it on a timer, which also suits a long `arca mount`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("arca: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
