//! Serves the test fixtures on loopback until killed, for trying nix-hug or huggingface_hub by hand
//! (`HF_ENDPOINT=<first line>`). Prints the endpoint, then one JSON line describing the repos.
//! `acme/large`'s shards come at 4 MiB/s each, slowly enough to watch the progress bars of a fetch.

#[path = "../tests/hub/mod.rs"]
mod hub;

use std::io::Write;

fn main() {
    let large = hub::fixtures::large();
    let shards: Vec<String> = large.commits[0].files.iter().filter(|f| f.lfs).map(|f| f.path.clone()).collect();
    let repos: Vec<hub::Repo> = hub::fixtures::all().into_iter().chain([large]).collect();
    let summary: Vec<serde_json::Value> = repos
        .iter()
        .map(|r| {
            let refs: serde_json::Map<String, serde_json::Value> =
                r.refs.iter().map(|(name, sha)| (name.clone(), sha.clone().into())).collect();
            serde_json::json!({"id": r.id, "kind": r.kind.singular(), "refs": refs})
        })
        .collect();
    let hub = hub::Hub::start(repos);
    for path in shards {
        hub.inject(hub::Fault::Throttle { path, bytes_per_sec: 4 << 20 });
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", hub.endpoint()).unwrap();
    writeln!(out, "{}", serde_json::json!({ "repos": summary })).unwrap();
    out.flush().unwrap();
    drop(out);
    // The server runs on its own threads; the default SIGINT/SIGTERM action ends the process.
    loop {
        std::thread::park();
    }
}
