//! The HTTPS path: a server whose certificate only `ca_cert` vouches for.

use devdist_platform::{Client, ClientConfig, Credentials, ErrorKind, Secret};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

const QUERIED: &str = r#"{"RequestId":"r2","Success":true,"Data":{"JobId":"job-1","Status":2,"Total":3}}"#;

/// Serves `connections` TLS connections on 127.0.0.1, answering each request with `QUERIED`;
/// returns the endpoint and the PEM of the self-signed certificate.
fn https_server(connections: usize) -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let pem = cert.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("https://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for _ in 0..connections {
            let (tcp, _) = listener.accept().unwrap();
            let tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config.clone()).unwrap(), tcp);
            let mut reader = BufReader::new(tls);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    break; // the client refused the certificate
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{QUERIED}",
                        QUERIED.len()
                    );
                    let tls = reader.get_mut();
                    tls.write_all(answer.as_bytes()).unwrap();
                    tls.flush().unwrap();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                    break;
                }
            }
        }
    });
    (endpoint, pem)
}

fn config(endpoint: String) -> ClientConfig {
    let credentials =
        Credentials { access_key_id: "testid".into(), secret: Secret::new("a-realistic-secret"), token: None };
    let mut config = ClientConfig::new(credentials);
    config.endpoint = endpoint;
    config.rate_scale = 100.0;
    config
}

#[test]
fn https_with_the_given_ca_and_refused_without_it() {
    let (endpoint, pem) = https_server(2);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();

    let mut trusting = config(endpoint.clone());
    trusting.ca_cert = Some(ca);
    let client = Client::new(trusting).unwrap();
    let job = client.query_device_distribute_job("job-1").unwrap();
    assert_eq!((job.job_id.as_str(), job.status), ("job-1", devdist_platform::JobStatus::Completed));
    assert_eq!(client.stats().total().calls, 1, "{:?}", client.stats());

    // Not retried: the server only takes one more connection.
    let err = Client::new(config(endpoint)).unwrap().query_device_distribute_job("job-1").unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::Permanent, "transport.setup"), "{err}");
    assert!(err.message.contains("certificate"), "{err}");
}

#[test]
fn a_ca_file_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a pem\n").unwrap();
    let mut config = config("https://127.0.0.1:1".into());
    config.ca_cert = Some(ca.clone());
    let err = Client::new(config).unwrap_err();
    assert_eq!(err.to_string(), format!("client.BadCaCert: {}: no PEM certificate in it", ca.display()));
}
