//! `arca export NS[@CHECKPOINT] FILE.tar` and `arca import NS[:DIR] FILE.tar`:
//! a namespace (or a checkpoint of it) to a tar file and back, with a
//! progress bar on a terminal. `-` is standard output or input. The server
//! makes and checks the archive; an import commits all of it or nothing.

use std::path::Path;

use arca_client::{Client, pb};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Failure, Out, fail, progress_bar};

/// Bytes sent per message on import.
const PIECE: usize = 1 << 20;

/// `NS@CHECKPOINT` as (namespace, checkpoint).
fn source(spec: &str) -> (String, String) {
    match spec.split_once('@') {
        Some((ns, checkpoint)) => (ns.to_owned(), checkpoint.to_owned()),
        None => (spec.to_owned(), String::new()),
    }
}

/// Writes the archive of `spec` to `file`.
pub(crate) async fn export(
    client: &Client,
    out: &Out,
    spec: &str,
    file: &Path,
) -> Result<(), Failure> {
    use pb::export_archive_response::Message as Piece;
    let (namespace_id, checkpoint_id) = source(spec);
    let mut stream = client
        .archives
        .clone()
        .export_archive(pb::ExportArchiveRequest {
            namespace_id,
            checkpoint_id,
        })
        .await?
        .into_inner();
    let to_stdout = file == Path::new("-");
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = if to_stdout {
        Box::new(tokio::io::stdout())
    } else {
        Box::new(tokio::fs::File::create(file).await?)
    };
    let mut bar = progress_bar(0, "export");
    let (mut summary, mut written) = (pb::ExportSummary::default(), 0u64);
    while let Some(message) = stream.message().await? {
        match message.message {
            Some(Piece::Summary(s)) => {
                bar = progress_bar(s.content_bytes, "export");
                summary = s;
            }
            Some(Piece::Data(data)) => {
                sink.write_all(&data).await?;
                written += data.len() as u64;
                bar.set_position(written.min(summary.content_bytes));
            }
            None => {}
        }
    }
    sink.flush().await?;
    if !to_stdout {
        // Durable before it is reported written.
        tokio::fs::File::open(file).await?.sync_all().await?;
    }
    bar.finish_and_clear();
    if !to_stdout {
        out.show(
            json!({
                "files": summary.files,
                "directories": summary.directories,
                "content_bytes": summary.content_bytes,
                "archive_bytes": written,
            }),
            || {
                format!(
                    "exported {} files, {} directories ({} bytes) to {}",
                    summary.files,
                    summary.directories,
                    summary.content_bytes,
                    file.display()
                )
            },
        );
    }
    Ok(())
}

/// Imports the archive in `file` into `spec` (`NS` or `NS:DIR`).
pub(crate) async fn import(
    client: &Client,
    out: &Out,
    spec: &str,
    file: &Path,
    overwrite: bool,
) -> Result<(), Failure> {
    use pb::import_archive_request::Message as In;
    let (namespace_id, path) = match spec.split_once(':') {
        Some((ns, dir)) => (ns.to_owned(), dir.to_owned()),
        None => (spec.to_owned(), String::new()),
    };
    let from_stdin = file == Path::new("-");
    let (mut source, size): (Box<dyn tokio::io::AsyncRead + Unpin + Send>, u64) = if from_stdin {
        (Box::new(tokio::io::stdin()), 0)
    } else {
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(|e| fail(10, format!("{}: {e}", file.display())))?;
        let size = opened.metadata().await?.len();
        (Box::new(opened), size)
    };
    let bar = progress_bar(size, "import");
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let start = pb::ImportArchiveRequest {
        message: Some(In::Start(pb::ImportStart {
            namespace_id,
            path,
            overwrite,
        })),
    };
    tx.send(start)
        .await
        .map_err(|_| fail(7, "the import stream closed"))?;
    let reading = {
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                let mut piece = vec![0; PIECE];
                let n = source.read(&mut piece).await?;
                if n == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                piece.truncate(n);
                bar.inc(n as u64);
                let data = pb::ImportArchiveRequest {
                    message: Some(In::Data(piece.into())),
                };
                if tx.send(data).await.is_err() {
                    return Ok(()); // the call ended: its status says why
                }
            }
        })
    };
    let answer = client
        .archives
        .clone()
        .import_archive(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await;
    let read = reading.await.map_err(|e| fail(10, e.to_string()))?;
    bar.finish_and_clear();
    read?;
    let answer = answer?.into_inner();
    out.show(
        json!({
            "files": answer.files,
            "directories": answer.directories,
            "content_bytes": answer.content_bytes,
            "archive_bytes": answer.archive_bytes,
        }),
        || {
            format!(
                "imported {} files, {} directories ({} bytes)",
                answer.files, answer.directories, answer.content_bytes
            )
        },
    );
    Ok(())
}
