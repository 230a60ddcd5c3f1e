//! `--tls`: a throwaway certificate authority, made fresh for each run, and a server
//! certificate for `localhost` and `127.0.0.1` that it signs. Clients trust the authority's
//! PEM (`apply --ca-cert FILE`); nothing is kept after the run.

use std::io;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A server certificate, its key, and the authority that signed it.
#[derive(Clone)]
pub struct Identity {
    /// PEM of the authority: what a client trusts.
    pub ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("ca_pem", &self.ca_pem).field("key", &"<redacted>").finish()
    }
}

fn failed(err: rcgen::Error) -> io::Error {
    io::Error::other(format!("cannot make the emulator's TLS certificate: {err}"))
}

impl Identity {
    /// A new authority and a server certificate for `localhost`, `127.0.0.1` and `::1`.
    pub fn generate() -> io::Result<Identity> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "devdist emulator throwaway CA");
        let ca_key = KeyPair::generate().map_err(failed)?;
        let ca = ca_params.self_signed(&ca_key).map_err(failed)?;
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        let mut params = CertificateParams::new(names).map_err(failed)?;
        params.distinguished_name.push(DnType::CommonName, "devdist emulator");
        let key = KeyPair::generate().map_err(failed)?;
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(failed)?;
        Ok(Identity { ca_pem: ca.pem(), chain: vec![cert.der().clone(), ca.der().clone()], key: key.serialize_der() })
    }

    /// The rustls configuration serving this identity.
    pub fn server_config(&self) -> io::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(self.chain.clone(), key))
            .map_err(|err| io::Error::other(format!("cannot serve TLS: {err}")))?;
        Ok(Arc::new(config))
    }
}
