//! Standard services: grpc.health.v1 and reflection (v1 and v1alpha).

use arca_tests::{Backend, TestServer};
use futures::StreamExt;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

#[tokio::test]
async fn health_reports_serving() {
    let server = TestServer::start(Backend::Memory).await;
    let mut health = HealthClient::new(server.client.channel());
    for service in ["arca.v1.FileService", "arca.v1.NamespaceService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.status(), ServingStatus::Serving, "{service}");
    }
}

#[tokio::test]
async fn reflection_lists_services_in_both_versions() {
    let server = TestServer::start(Backend::Memory).await;
    {
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        let mut client = ServerReflectionClient::new(server.client.channel());
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = client
            .server_reflection_info(futures::stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let Some(Ok(answer)) = answers.next().await else {
            panic!("no reflection answer")
        };
        let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
            panic!("unexpected answer")
        };
        let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        for want in [
            "arca.v1.FileService",
            "arca.v1.NamespaceService",
            "grpc.health.v1.Health",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "arca.v1.UploadStart".into(),
            )),
        };
        let mut answers = client
            .server_reflection_info(futures::stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let Some(Ok(answer)) = answers.next().await else {
            panic!("no reflection answer")
        };
        assert!(
            matches!(answer.message_response, Some(MessageResponse::FileDescriptorResponse(f)) if !f.file_descriptor_proto.is_empty())
        );
    }
    {
        use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
        let mut client = ServerReflectionClient::new(server.client.channel());
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = client
            .server_reflection_info(futures::stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let Some(Ok(answer)) = answers.next().await else {
            panic!("no reflection answer")
        };
        assert!(
            matches!(answer.message_response, Some(MessageResponse::ListServicesResponse(l)) if l.service.iter().any(|s| s.name == "arca.v1.FileService"))
        );
    }
}

#[tokio::test]
async fn concurrent_small_writes_all_land() {
    // Grouped commits: many concurrent writers, every acknowledged write readable.
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server.workspace().await;
    let writes = (0..200).map(|i| {
        let client = server.client.clone();
        let ns = ns.clone();
        async move {
            let r = arca_tests::pb::WriteFileRequest {
                namespace_id: ns,
                path: format!("f/{i}"),
                data: format!("content {i}").into_bytes().into(),
                ..Default::default()
            };
            client
                .files
                .clone()
                .write_file(r)
                .await
                .unwrap()
                .into_inner()
                .entry
                .unwrap()
                .version
        }
    });
    let versions = futures::future::join_all(writes).await;
    let unique: std::collections::BTreeSet<_> = versions.iter().collect();
    assert_eq!(unique.len(), 200, "every commit has its own version");
    for i in 0..200 {
        assert_eq!(
            server.read(&ns, &format!("f/{i}")).await.unwrap(),
            format!("content {i}").into_bytes()
        );
    }
}
