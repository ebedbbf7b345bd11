//! The test Hub over HTTPS, as a client behind a proxy that intercepts TLS sees the Hub: a front on
//! 127.0.0.1 and 127.0.0.2 that terminates TLS with a certificate (for both addresses) signed by a CA
//! made for the test, and relays the plain bytes to the Hub behind it. The CDN is HTTPS too, so the
//! redirect to it crosses hosts as it does on huggingface.co.

use super::{Hub, Repo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

pub struct HttpsHub {
    /// The Hub behind the front; its `endpoint()` and `cdn()` are the front's `https://` URLs.
    pub hub: Hub,
    /// The test CA's certificate (PEM), what a client must trust.
    pub ca_pem: String,
    fronts: [SocketAddr; 2],
    stop: Arc<AtomicBool>,
    acceptors: Vec<JoinHandle<()>>,
}

impl HttpsHub {
    pub fn start(repos: Vec<Repo>) -> HttpsHub {
        let (ca_pem, config) = certificates();
        let listeners = ["127.0.0.1:0", "127.0.0.2:0"].map(|a| TcpListener::bind(a).expect("binding the front"));
        let fronts = [0, 1].map(|i| listeners[i].local_addr().unwrap());
        let front_of = move |addr: SocketAddr| fronts.into_iter().find(|f| f.ip() == addr.ip()).unwrap();
        let hub = Hub::start_behind(repos, |addr| format!("https://{}", front_of(addr)));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptors = listeners
            .into_iter()
            .zip(hub.addrs)
            .map(|(listener, behind)| {
                let (config, stop) = (config.clone(), stop.clone());
                thread::spawn(move || {
                    for client in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(client) = client else { continue };
                        let config = config.clone();
                        thread::spawn(move || relay(client, behind, config));
                    }
                })
            })
            .collect();
        HttpsHub { hub, ca_pem, fronts, stop, acceptors }
    }
}

impl Drop for HttpsHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for addr in self.fronts {
            let _ = TcpStream::connect(addr);
        }
        for t in self.acceptors.drain(..) {
            let _ = t.join();
        }
    }
}

/// A CA, and the server settings of a certificate it signed for 127.0.0.1 and 127.0.0.2.
fn certificates() -> (String, Arc<ServerConfig>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    ca.distinguished_name.push(DnType::CommonName, "nix-hug test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(["127.0.0.1".to_owned(), "127.0.0.2".to_owned()])
        .unwrap()
        .signed_by(&key, &Issuer::new(ca, ca_key))
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(leaf.der().to_vec())], key)
        .unwrap();
    (ca_pem, Arc::new(config))
}

/// One client connection: TLS records from the client are decrypted to the Hub, the Hub's answers
/// encrypted back by a second thread. Only the record bookkeeping is shared, never a blocking read.
fn relay(client: TcpStream, behind: SocketAddr, config: Arc<ServerConfig>) -> io::Result<()> {
    let tls = Arc::new(Mutex::new(ServerConnection::new(config).map_err(io::Error::other)?));
    let hub = TcpStream::connect(behind)?;
    let answers = {
        let (tls, mut hub, mut client) = (tls.clone(), hub.try_clone()?, client.try_clone()?);
        thread::spawn(move || -> io::Result<()> {
            let mut buf = vec![0; 64 << 10];
            loop {
                let n = hub.read(&mut buf).unwrap_or(0);
                let mut tls = tls.lock().unwrap();
                if n == 0 {
                    tls.send_close_notify();
                } else {
                    tls.writer().write_all(&buf[..n])?;
                }
                while tls.wants_write() {
                    tls.write_tls(&mut client)?;
                }
                if n == 0 {
                    return client.shutdown(Shutdown::Write);
                }
            }
        })
    };
    let forwarded = forward(&client, &hub, &tls);
    // Wakes the answering thread if the Hub keeps the connection open.
    let _ = hub.shutdown(Shutdown::Both);
    let _ = answers.join();
    forwarded
}

fn forward(mut client: &TcpStream, mut hub: &TcpStream, tls: &Mutex<ServerConnection>) -> io::Result<()> {
    let mut buf = vec![0; 64 << 10];
    loop {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let mut plain = Vec::new();
        {
            let mut tls = tls.lock().unwrap();
            let mut records = &buf[..n];
            while !records.is_empty() {
                tls.read_tls(&mut records)?;
                let state = tls.process_new_packets().map_err(io::Error::other);
                // An alert for the client (a failed handshake) goes out before the error ends the relay.
                while tls.wants_write() {
                    tls.write_tls(&mut client)?;
                }
                let start = plain.len();
                plain.resize(start + state?.plaintext_bytes_to_read(), 0);
                tls.reader().read_exact(&mut plain[start..])?;
            }
        }
        hub.write_all(&plain)?;
    }
}
