//! The Upload stream fed arbitrary message sequences (a property test, in
//! place of a coverage-guided fuzzer, which needs a nightly toolchain): in
//! any order, with any offsets and digests, the stream ends with a status or
//! a commit, never hangs, and commits only exactly the bytes that were sent
//! in order, with their SHA-256.

use std::time::Duration;

use arca_tests::{Backend, TestServer, pb, sha256};
use pb::upload_request::Message as In;
use pb::upload_response::Message as Out;
use proptest::prelude::*;
use tonic::Code;

/// One message the client may send.
#[derive(Debug, Clone)]
enum Step {
    Start,
    Resume,
    /// Data at the next offset plus `skew` (0: in order), of `len` bytes.
    Data {
        skew: i8,
        len: u16,
    },
    Query,
    /// Finish, with the right digest, a wrong one, or none.
    Finish {
        digest: Option<bool>,
    },
    Empty,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::Start),
        1 => Just(Step::Resume),
        6 => (prop_oneof![6 => Just(0i8), 1 => any::<i8>()], 0u16..3000)
            .prop_map(|(skew, len)| Step::Data { skew, len }),
        1 => Just(Step::Query),
        2 => prop::option::of(any::<bool>()).prop_map(|digest| Step::Finish { digest }),
        1 => Just(Step::Empty),
    ]
}

/// What the stream did.
struct Outcome {
    committed: Option<pb::Entry>,
    end: Result<(), tonic::Status>,
}

async fn run(server: &TestServer, ns: &str, path: &str, steps: &[Step]) -> (Outcome, Vec<u8>) {
    let mut sent = Vec::new();
    let mut offset: i64 = 0;
    let mut messages = Vec::new();
    // What follows a finish is never read: the stream ends there.
    let mut finished = false;
    for step in steps {
        let message = match step {
            Step::Start => In::Start(pb::UploadStart {
                namespace_id: ns.to_owned(),
                path: path.to_owned(),
                ..Default::default()
            }),
            Step::Resume => In::Resume(pb::UploadResume {
                upload_id: "0123456789abcdef0123456789abcdef".into(),
            }),
            Step::Data { skew, len } => {
                let at = (offset + i64::from(*skew)).max(0);
                let data: Vec<u8> = (0..*len).map(|i| (i as u8).wrapping_mul(7)).collect();
                // In order when it lands where the last one ended (a skew
                // clamped at 0 can too).
                if at == offset && !finished {
                    sent.extend_from_slice(&data);
                    offset += i64::from(*len);
                }
                In::Data(pb::UploadData {
                    offset: at as u64,
                    data: data.into(),
                })
            }
            Step::Query => In::QueryState(pb::QueryState {}),
            Step::Finish { digest } => {
                finished = true;
                In::Finish(pb::UploadFinish {
                    expected_sha256: match digest {
                        Some(true) => sha256(&sent),
                        Some(false) => sha256(b"something else"),
                        None => String::new(),
                    },
                })
            }
            Step::Empty => {
                messages.push(pb::UploadRequest { message: None });
                continue;
            }
        };
        messages.push(pb::UploadRequest {
            message: Some(message),
        });
    }
    let answers = server
        .client
        .files
        .clone()
        .upload(futures::stream::iter(messages))
        .await
        .expect("the stream opens");
    let mut answers = answers.into_inner();
    let mut committed = None;
    let end = loop {
        match answers.message().await {
            Ok(Some(pb::UploadResponse {
                message: Some(Out::Committed(entry)),
            })) => committed = Some(entry),
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(status) => break Err(status),
        }
    };
    (Outcome { committed, end }, sent)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_ends_clearly_and_commits_only_what_was_sent(steps in prop::collection::vec(step(), 0..12)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let server = TestServer::start(Backend::Memory).await;
            let ns = server.workspace().await;
            let (outcome, sent) = tokio::time::timeout(Duration::from_secs(20), run(&server, &ns, "f.bin", &steps))
                .await
                .expect("the stream ended (no hang)");
            let first_opens = matches!(steps.first(), Some(Step::Start));
            match (&outcome.committed, &outcome.end) {
                (Some(entry), _) => {
                    // Only a started upload commits, and only what was sent in order.
                    prop_assert!(first_opens, "committed without start: {steps:?}");
                    prop_assert_eq!(&entry.sha256, &sha256(&sent));
                    prop_assert_eq!(server.read(&ns, "f.bin").await.unwrap(), sent.clone());
                }
                (None, Err(status)) => {
                    prop_assert!(!status.message().is_empty(), "a status without a reason");
                    prop_assert!(
                        matches!(status.code(), Code::InvalidArgument | Code::NotFound | Code::FailedPrecondition),
                        "{status:?} for {steps:?}"
                    );
                    // Nothing was committed.
                    prop_assert!(server.read(&ns, "f.bin").await.is_err());
                }
                (None, Ok(())) => {
                    // Closed without finish: only a started stream, nothing visible.
                    prop_assert!(first_opens || steps.is_empty(), "OK without a commit for {steps:?}");
                    prop_assert!(server.read(&ns, "f.bin").await.is_err());
                }
            }
            Ok(())
        })?;
    }
}
