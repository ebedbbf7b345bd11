//! A static web server on loopback: a folder served as any web server serves one (GET and HEAD of its
//! files, 404 for anything else), every request logged. A persist directory shared with a team is
//! served so.

use super::Request;
use super::http::{Body, Response, read_head, write_response};
use std::collections::HashMap;
use std::io::BufReader;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

pub struct Files {
    state: Arc<State>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

struct State {
    dir: PathBuf,
    log: Mutex<Vec<Request>>,
    stop: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
}

impl Files {
    /// Serves `dir` at `http://127.0.0.1:PORT/`.
    pub fn serve(dir: &Path) -> Files {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            dir: dir.to_owned(),
            log: Mutex::default(),
            stop: AtomicBool::new(false),
            conns: Mutex::default(),
        });
        let acceptor = {
            let state = state.clone();
            thread::spawn(move || accept(&state, listener))
        };
        Files { state, addr, acceptor: Some(acceptor) }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    /// The paths asked for with a GET that was answered 200.
    pub fn served(&self) -> Vec<String> {
        let ok = |r: &Request| r.method == "GET" && r.status == 200;
        self.requests().into_iter().filter(ok).map(|r| r.target).collect()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        for conn in self.state.conns.lock().unwrap().values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept(state: &Arc<State>, listener: TcpListener) {
    let host = listener.local_addr().unwrap().to_string();
    for (id, stream) in listener.incoming().enumerate() {
        let Ok(stream) = stream else { continue };
        {
            let mut conns = state.conns.lock().unwrap();
            if state.stop.load(Ordering::SeqCst) {
                break;
            }
            conns.insert(id as u64, stream.try_clone().unwrap());
        }
        let (state, host) = (state.clone(), host.clone());
        thread::spawn(move || {
            let _ = serve_connection(&state, stream, &host);
            state.conns.lock().unwrap().remove(&(id as u64));
        });
    }
}

fn serve_connection(state: &State, stream: TcpStream, host: &str) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    while let Some(head) = read_head(&mut reader)? {
        let path = head.target.split('?').next().unwrap_or_default();
        // Names of a binary cache and a manifest only: no `..`, no percent-encoding to decode.
        let safe = path.starts_with('/') && !path.split('/').any(|s| s == "..");
        let file = state.dir.join(path.trim_start_matches('/'));
        let response = match std::fs::read(&file) {
            _ if !matches!(head.method.as_str(), "GET" | "HEAD") => Response::new(405, Body::Owned(Vec::new())),
            Ok(bytes) if safe => Response::new(200, Body::Owned(bytes)),
            _ => Response::new(404, Body::Owned(b"not found\n".to_vec())),
        };
        state.log.lock().unwrap().push(Request::of(host, &head, response.status));
        if !write_response(reader.get_ref(), &head, response, None)? || !head.keep_alive {
            break;
        }
    }
    Ok(())
}
