//! A staged write on S3: a multipart upload whose parts are cut at chunk
//! boundaries and sent `part_concurrency` at a time, each on its own task;
//! what is durable is the acknowledged parts at the front.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};

use super::{S3Store, s3_error, s3_problem};
use crate::blobs::{BlobStore, StagedWrite};
use crate::error::{Error, Result};

/// A part on its way to the store: its upload task and its size.
type PartInFlight = (tokio::task::JoinHandle<Result<CompletedPart>>, u64);

/// A multipart upload in progress.
pub(super) struct S3Write {
    store: S3Store,
    key: String,
    upload_id: String,
    /// Parts the store has acknowledged, in order, with their sizes.
    parts: Vec<(CompletedPart, u64)>,
    /// Parts being sent, oldest first (at most `part_concurrency`).
    in_flight: std::collections::VecDeque<PartInFlight>,
    /// The number the next part gets.
    next_number: i32,
    /// Chunks not yet sent as a part.
    buffer: Vec<Bytes>,
    buffered: u64,
    /// Bytes in acknowledged parts.
    persisted: u64,
    /// A part that failed while the stream waited on it, told by the next
    /// call.
    failed: Option<Error>,
    /// Set by complete, abort and suspend: the drop guard does nothing.
    settled: bool,
}

impl S3Write {
    pub(super) fn new(
        store: S3Store,
        key: &str,
        upload_id: String,
        parts: Vec<(CompletedPart, u64)>,
        persisted: u64,
    ) -> Self {
        S3Write {
            store,
            key: key.to_owned(),
            upload_id,
            next_number: parts.len() as i32 + 1,
            parts,
            in_flight: std::collections::VecDeque::new(),
            buffer: Vec::new(),
            buffered: 0,
            persisted,
            failed: None,
            settled: false,
        }
    }

    /// Sends the buffer as the next part, on its own task; waits for the
    /// oldest part while `part_concurrency` are already on their way.
    async fn flush_part(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut body = BytesMut::with_capacity(self.buffered as usize);
        for chunk in self.buffer.drain(..) {
            body.extend_from_slice(&chunk);
        }
        let number = self.next_number;
        self.next_number += 1;
        let request = self
            .store
            .inner
            .client
            .upload_part()
            .bucket(self.store.bucket())
            .key(self.store.full_key(&self.key))
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(S3Body::from(body.freeze()));
        let task = tokio::spawn(async move {
            let out = request
                .send()
                .await
                .map_err(|e| s3_error("upload part", e))?;
            let etag = out
                .e_tag()
                .ok_or_else(|| s3_problem("upload part", "no ETag"))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .e_tag(etag)
                .build())
        });
        self.in_flight.push_back((task, self.buffered));
        self.buffered = 0;
        while self.in_flight.len() >= self.store.inner.settings.part_concurrency.max(1) {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    /// Waits for the oldest part in flight and records it.
    async fn settle_oldest(&mut self) -> Result<()> {
        if let Some((task, _)) = self.in_flight.front_mut() {
            let result = task.await;
            self.record_oldest(result);
        }
        self.failed.take().map_or(Ok(()), Err)
    }

    /// Records the oldest part in flight, whose task just ended.
    fn record_oldest(
        &mut self,
        result: std::result::Result<Result<CompletedPart>, tokio::task::JoinError>,
    ) {
        let Some((_, size)) = self.in_flight.pop_front() else {
            return;
        };
        match result {
            Ok(Ok(part)) => {
                self.parts.push((part, size));
                self.persisted += size;
            }
            Ok(Err(e)) => self.failed = Some(e),
            Err(e) => self.failed = Some(Error::Internal(format!("part upload task failed: {e}"))),
        }
    }

    /// Records the parts at the front that have already arrived, without
    /// waiting for the others.
    async fn settle_finished(&mut self) -> Result<()> {
        self.failed.take().map_or(Ok(()), Err)?;
        while self
            .in_flight
            .front()
            .is_some_and(|(task, _)| task.is_finished())
        {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    async fn settle_all(&mut self) -> Result<()> {
        self.failed.take().map_or(Ok(()), Err)?;
        while !self.in_flight.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    fn cancel_in_flight(&mut self) {
        for (task, _) in self.in_flight.drain(..) {
            task.abort();
        }
    }
}

#[async_trait]
impl StagedWrite for S3Write {
    fn token(&self) -> String {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|(p, size)| {
                format!(
                    "{}:{}:{size}",
                    p.part_number().unwrap_or(0),
                    p.e_tag().unwrap_or("")
                )
            })
            .collect();
        format!("{}|{}", self.upload_id, parts.join(","))
    }

    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.buffered += data.len() as u64;
        self.buffer.push(data);
        if self.buffered >= self.store.inner.settings.part_size {
            self.flush_part().await?;
        }
        Ok(())
    }

    async fn persist(&mut self) -> Result<u64> {
        // Only acknowledged whole parts are durable, in order; the buffer
        // goes with the next part and parts on their way count once they
        // arrive (waiting for them here would undo their concurrency).
        self.settle_finished().await?;
        Ok(self.persisted)
    }

    async fn settle(&mut self) -> Result<u64> {
        self.settle_all().await?;
        Ok(self.persisted)
    }

    async fn in_flight_done(&mut self) {
        let Some((task, _)) = self.in_flight.front_mut() else {
            return std::future::pending().await;
        };
        // Cancel-safe: the part stays in flight until its result is in
        // hand, and is recorded without another await.
        let result = task.await;
        self.record_oldest(result);
    }

    async fn complete(mut self: Box<Self>) -> Result<()> {
        if self.parts.is_empty() && self.in_flight.is_empty() && self.buffer.is_empty() {
            // An empty object: multipart needs a part, a PUT does not.
            self.store.abort_upload(&self.key, &self.upload_id).await?;
            self.settled = true;
            return self.store.put(&self.key, Bytes::new()).await;
        }
        self.flush_part().await?;
        self.settle_all().await?;
        let parts = CompletedMultipartUpload::builder()
            .set_parts(Some(self.parts.iter().map(|(p, _)| p.clone()).collect()))
            .build();
        self.store
            .inner
            .client
            .complete_multipart_upload()
            .bucket(self.store.bucket())
            .key(self.store.full_key(&self.key))
            .upload_id(&self.upload_id)
            .multipart_upload(parts)
            .send()
            .await
            .map_err(|e| s3_error("complete multipart upload", e))?;
        self.settled = true;
        Ok(())
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.settled = true;
        self.cancel_in_flight();
        self.store.abort_upload(&self.key, &self.upload_id).await
    }

    fn suspend(mut self: Box<Self>) {
        // Parts still on their way are not in the token: a resume sends
        // them again under the same numbers, which replaces them.
        self.cancel_in_flight();
        self.settled = true;
    }
}

impl Drop for S3Write {
    fn drop(&mut self) {
        self.cancel_in_flight();
        if !self.settled {
            // Drop = abort: no parts stay behind.
            let (store, key, id) = (self.store.clone(), self.key.clone(), self.upload_id.clone());
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(e) = store.abort_upload(&key, &id).await {
                        tracing::warn!(key = %key, error = %e, "could not abort a dropped multipart upload");
                    }
                });
            }
        }
    }
}
