//! TLS: rustls on the server from PEM files, the client trusting a custom
//! CA, and client-certificate verification when configured.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use arca_client::{Client, ConnectOptions, pb};
use arca_server::config::TlsConfig;
use arca_tests::{APP, Backend, test_config};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn make_pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["arca-client".to_owned()]).unwrap();
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &ca).unwrap();
    Pki {
        ca: ca.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn serve(
    config: arca_server::Config,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<arca_server::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(arca_server::serve(config, listener, async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

async fn list(client: &Client) -> Result<(), String> {
    client
        .namespaces
        .clone()
        .list_namespaces(pb::ListNamespacesRequest::default())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki();
    let (ca, cert, key) = (
        dir.path().join("ca.pem"),
        dir.path().join("server.pem"),
        dir.path().join("server.key"),
    );
    write(&ca, &pki.ca, 0o644);
    write(&cert, &pki.server_cert, 0o644);
    write(&key, &pki.server_key, 0o600);
    let mut config = test_config(Backend::Memory, dir.path());
    config.tls = Some(TlsConfig {
        cert_file: cert,
        key_file: key.clone(),
        client_ca_file: Some(ca),
    });
    let (addr, stop, task) = serve(config.clone()).await;
    let endpoint = format!("https://localhost:{}", addr.port());
    let trust = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");

    // With the CA and a client certificate: a full round trip.
    let client = Client::connect_with(
        endpoint.clone(),
        ConnectOptions {
            secret: Some(APP.into()),
            tls: Some(
                trust
                    .clone()
                    .identity(Identity::from_pem(&pki.client_cert, &pki.client_key)),
            ),
        },
    )
    .await
    .unwrap();
    let ns = client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                user: "alice".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let start = pb::UploadStart {
        namespace_id: ns.namespace_id.clone(),
        path: "over-tls".into(),
        ..Default::default()
    };
    client
        .upload_bytes(start, vec![7u8; 3 << 20].into(), 1 << 20)
        .await
        .unwrap();
    let got = client
        .download(pb::DownloadRequest {
            namespace_id: ns.namespace_id,
            path: "over-tls".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.data, vec![7u8; 3 << 20]);

    // Without a client certificate: refused.
    let no_identity = Client::connect_with(
        endpoint.clone(),
        ConnectOptions {
            secret: Some(APP.into()),
            tls: Some(trust),
        },
    )
    .await;
    if let Ok(client) = no_identity {
        assert!(
            list(&client).await.is_err(),
            "a client without a certificate got through"
        );
    }
    // Plaintext to a TLS port: refused.
    let plaintext = Client::connect(format!("http://127.0.0.1:{}", addr.port()), APP).await;
    if let Ok(client) = plaintext {
        assert!(list(&client).await.is_err(), "plaintext got through");
    }
    // A CA the server's certificate does not chain to: refused.
    let stranger = make_pki();
    let wrong_ca = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&stranger.ca))
        .domain_name("localhost");
    let wrong = Client::connect_with(
        endpoint,
        ConnectOptions {
            secret: Some(APP.into()),
            tls: Some(wrong_ca),
        },
    )
    .await;
    if let Ok(client) = wrong {
        assert!(
            list(&client).await.is_err(),
            "an untrusted server certificate was accepted"
        );
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();

    // A private key others may read is refused at start.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, _stop, task) = serve(config).await;
    assert!(
        task.await.unwrap().is_err(),
        "a world-readable key file was accepted"
    );
}

/// Presigned URLs over TLS reach clients that speak HTTP/1.1 only (the
/// port offers ALPN h2 and http/1.1; gRPC keeps working beside them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_urls_over_tls_serve_http1_clients() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki();
    let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    write(&cert, &pki.server_cert, 0o644);
    write(&key, &pki.server_key, 0o600);
    let mut config = test_config(Backend::Memory, dir.path());
    config.tls = Some(TlsConfig {
        cert_file: cert,
        key_file: key,
        client_ca_file: None,
    });
    let (addr, stop, task) = serve(config).await;
    let client = Client::connect_with(
        format!("https://localhost:{}", addr.port()),
        ConnectOptions {
            secret: Some(APP.into()),
            tls: Some(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(&pki.ca))
                    .domain_name("localhost"),
            ),
        },
    )
    .await
    .unwrap();
    let ns = client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                user: "alice".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .namespace_id;
    client
        .files
        .clone()
        .write_file(pb::WriteFileRequest {
            namespace_id: ns.clone(),
            path: "hello.txt".into(),
            data: b"hello over https".to_vec().into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let signed = client
        .presign_download(&ns, "hello.txt", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(signed.url.starts_with("https://"), "{}", signed.url);
    let path = &signed.url[signed.url.find("/presigned/").unwrap()..];

    // An HTTP/1.1-only TLS client, as many HTTP libraries are.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap())
        .unwrap();
    let mut tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello over https"), "{answer}");

    // WebDAV on the same TLS port, to the same HTTP/1.1-only client.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /dav/{ns}/hello.txt HTTP/1.1\r\nHost: localhost\r\n\
                 Authorization: Bearer {APP}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello over https"), "{answer}");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
