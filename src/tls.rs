/*!
Which certificate authorities the Hub client trusts, and what a rejected certificate means. A PEM bundle
named by `NIX_SSL_CERT_FILE`, else `SSL_CERT_FILE` (the variables nixpkgs' fetchers read), replaces the
built-in webpki roots, as a CA file does for curl: behind a proxy that intercepts TLS the bundle must hold
its CA, and whoever names a bundle decides what is trusted. A bundle that cannot be used is an error,
never a silent fallback to the built-in roots.

One exception, in the sandbox: there the variables come from the environment of whoever runs the build
(Nix's own profile script sets `NIX_SSL_CERT_FILE`), and Nix 2.8 shows no file of the host unless
`extra-sandbox-paths` lists it. A named file that does not exist there is said in the build log and the
built-in roots are used, so that builds which never needed the bundle keep working.
*/

use crate::error::{Error, Kind, Result, usage};
use crate::{debug, info};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, parse_pem};

/// The variables that name a CA bundle, the first set and non-empty one wins.
pub const CA_FILE_VARS: [&str; 2] = ["NIX_SSL_CERT_FILE", "SSL_CERT_FILE"];

static IN_SANDBOX: AtomicBool = AtomicBool::new(false);

/// Called by the sandbox face before it makes its Hub client.
pub fn set_in_sandbox() {
    IN_SANDBOX.store(true, Ordering::Relaxed);
}

/// The TLS settings for the environment: its CA bundle, or the built-in roots.
pub fn config() -> Result<TlsConfig> {
    let named = CA_FILE_VARS.iter().find_map(|&var| Some((var, std::env::var_os(var).filter(|v| !v.is_empty())?)));
    let roots = match named {
        Some((var, path)) if IN_SANDBOX.load(Ordering::Relaxed) && !Path::new(&path).exists() => {
            let path = Path::new(&path).display();
            info!(
                "{var} is {path}, which is not in the sandbox: trusting the built-in roots instead (list it in extra-sandbox-paths to trust it)"
            );
            RootCerts::WebPki
        }
        Some((var, path)) => bundle(var, Path::new(&path))?,
        None => RootCerts::WebPki,
    };
    Ok(TlsConfig::builder().root_certs(roots).build())
}

/// The certificates of the PEM file `path`, named by `var`.
fn bundle(var: &str, path: &Path) -> Result<RootCerts> {
    let bad = |why: String| usage(format!("{var} is {}, which {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    for item in parse_pem(&pem) {
        if let PemItem::Certificate(cert) = item.map_err(|e| bad(format!("is not a PEM bundle: {e}")))? {
            certs.push(cert);
        }
    }
    // ureq skips what it cannot parse as a certificate; a bundle of only such would trust nothing.
    let (usable, _) = rustls::RootCertStore::empty()
        .add_parsable_certificates(certs.iter().map(|c| rustls::pki_types::CertificateDer::from(c.der())));
    if usable == 0 {
        return Err(bad("holds no PEM certificate".to_owned()));
    }
    debug!("trusting the {usable} certificates of {var}={} instead of the built-in roots", path.display());
    Ok(RootCerts::new_with_certs(&certs))
}

/// A failed TLS handshake with `origin`, which no retry will mend; `None` if `e` is not one.
pub fn handshake_error(e: &ureq::Error, origin: &str) -> Option<Error> {
    let tls = match e {
        ureq::Error::Rustls(tls) => tls,
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>()?,
        _ => return None,
    };
    let msg = match tls {
        rustls::Error::InvalidCertificate(why) => format!(
            "the TLS certificate of {origin} is not trusted ({why}): if a proxy intercepts TLS, set {} to a PEM \
             bundle that holds its CA",
            CA_FILE_VARS[0]
        ),
        other => format!("TLS handshake with {origin} failed: {other}"),
    };
    Some(Error::new(Kind::Network, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(content: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), content).unwrap();
        f
    }

    #[test]
    fn a_bundle_replaces_the_built_in_roots() {
        let ca = rcgen::generate_simple_self_signed(["ca.test".to_owned()]).unwrap();
        let f = file(format!("# a comment\n{}", ca.cert.pem()).as_bytes());
        match bundle("NIX_SSL_CERT_FILE", f.path()).unwrap() {
            RootCerts::Specific(certs) => assert_eq!(certs.len(), 1),
            _ => panic!("a bundle must replace the built-in roots"),
        }
    }

    #[test]
    fn unusable_bundles_name_the_variable_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let text = file(b"not a certificate\n");
        let broken = file(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        let not_der = file(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        let cases = [
            (missing.as_path(), "which cannot be read: No such file or directory"),
            (dir.path(), "which cannot be read: Is a directory"),
            (text.path(), "which holds no PEM certificate"),
            (broken.path(), "which is not a PEM bundle: "),
            (not_der.path(), "which holds no PEM certificate"),
        ];
        for (path, why) in cases {
            let e = bundle("SSL_CERT_FILE", path).err().unwrap();
            assert_eq!(e.kind(), Kind::Usage);
            let line = e.to_string();
            assert!(line.starts_with(&format!("SSL_CERT_FILE is {}, {why}", path.display())), "{line}");
        }
    }

    #[test]
    fn rejected_certificates_are_not_retried_and_say_what_to_set() {
        let untrusted = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let e = handshake_error(&ureq::Error::Io(std::io::Error::other(untrusted)), "https://h:1").unwrap();
        assert_eq!(
            e.to_string(),
            "the TLS certificate of https://h:1 is not trusted (UnknownIssuer): if a proxy intercepts TLS, \
             set NIX_SSL_CERT_FILE to a PEM bundle that holds its CA"
        );
        assert!(!e.is_transient(), "not transient");
        assert!(handshake_error(&ureq::Error::Io(std::io::ErrorKind::ConnectionReset.into()), "https://h").is_none());
    }
}
