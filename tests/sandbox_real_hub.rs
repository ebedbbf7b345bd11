//! The sandbox builder against a Hub answering as huggingface.co does (`hub::Mode::Real`): redirects
//! to the resolve cache and to signed CDN URLs, opaque tree cursors, `xetHash` in the listing, and a
//! legacy id that redirects to its new one. The output must be the one the plain Hub gives, and the
//! builder's token must reach the Hub's host only, never the CDN.

mod hub;
mod support;

use hub::{Hub, Mode, fixtures};
use nix_hug::download::Options;
use nix_hug::filter::Filters;
use nix_hug::hub::{Hub as Client, Token};
use nix_hug::repo::{Repo, RepoType};
use nix_hug::{nar, pipeline};
use support::{nix_build_command, nix_str, run};

/// The builder reads it from the environment of `nix-build` (an impure variable); acme/gated needs it.
const TOKEN: &str = "hf_testtoken";

/// `fileTreeHash` of `id` at `commit` with `filters`, fetched from `hub` outside the sandbox.
fn hash_of(hub: &Hub, id: &str, commit: &str, filters: &Filters) -> String {
    let repo = Repo::from_id(RepoType::Model, id).unwrap();
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join(repo.store_name(commit));
    let client = Client::new(&hub.endpoint(), Token::from_value(TOKEN)).unwrap();
    let plan = pipeline::plan(&client, &repo, commit, filters).unwrap();
    pipeline::fetch(&client, &plan, pipeline::Sink::Dir(&out), Options::default(), &|_| {}).unwrap();
    nar::sri(&nar::nar_sha256(&out).unwrap())
}

#[test]
#[ignore = "needs nix"]
fn builds_the_same_output_from_the_real_hub() {
    let hubs = Mode::ALL.map(|mode| Hub::start_in(mode, fixtures::all()));
    let dir = tempfile::tempdir().unwrap();
    // Small and LFS files, and names to quote; a choice no other test builds, so that no other
    // test deletes this output while it is being checked.
    let files: Vec<String> =
        ["config.json", "model.safetensors", "onnx/model.onnx", "with space.txt"].map(String::from).into();
    let nix_files =
        format!("filters = {{ files = [ {} ]; }};", files.iter().map(|f| nix_str(f)).collect::<Vec<_>>().join(" "));
    for (id, fixture, filters, nix_filters) in [
        ("acme/tiny-bert", fixtures::tiny_bert(), Filters { files, ..Default::default() }, nix_files.as_str()),
        ("gpt2", fixtures::gpt2(), Filters::default(), ""),
        ("acme/gated", fixtures::gated(), Filters::default(), ""),
    ] {
        let commit = fixture.commits.last().unwrap().sha.clone();
        let hash = hash_of(&hubs[0], id, &commit, &filters);
        let name = Repo::from_id(RepoType::Model, id).unwrap().store_name(&commit);
        let expected = nar::fixed_output_path(&nar::parse_hash(&hash).unwrap(), &name).unwrap();
        for hub in &hubs {
            let file = dir.path().join("model.nix");
            let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
            std::fs::write(
                &file,
                format!(
                    "(import {} {{ nix-hug = builtins.path {{ path = {}; name = \"nix-hug-static\"; }}; }}).fetchModel \
                     {{ url = {}; rev = \"{commit}\"; {nix_filters} fileTreeHash = \"{hash}\"; endpoint = {}; }}\n",
                    lib.display(),
                    support::static_package().display(),
                    nix_str(id),
                    nix_str(&hub.endpoint())
                ),
            )
            .unwrap();
            // Built once (or already in the store, where other tests may be using it), then built
            // again with --check: Nix runs the builder and requires the very same output.
            let build = |check: &[&str]| {
                let out = run(nix_build_command().args(check).arg(&file).env("HF_TOKEN", TOKEN));
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "nix-build {check:?} of {id} against {:?}:\n{stderr}", hub.mode());
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            };
            assert_eq!(build(&[]), expected, "{id}");
            hub.clear_requests();
            assert_eq!(build(&["--check"]), expected, "{id}");
            assert!(hub.requests().iter().any(|r| r.target.contains("/resolve/")), "{id}: built by downloading");
        }
        let real = hubs[1].requests();
        assert!(real.iter().any(|r| r.target.starts_with("/api/resolve-cache/")), "{id}: {real:?}");
        assert!(real.iter().all(|r| r.status < 400), "{id}: {:?}", real.iter().find(|r| r.status >= 400));
        let cdn = hubs[1].cdn();
        let (to_cdn, to_hub): (Vec<_>, Vec<_>) = real.into_iter().partition(|r| cdn.ends_with(&r.host));
        assert!(!to_cdn.is_empty() && to_cdn.iter().all(|r| r.target.contains("X-Amz-Signature=")), "{to_cdn:?}");
        assert!(to_cdn.iter().all(|r| r.authorization.is_none()), "{id}: the token went to the CDN: {to_cdn:?}");
        let bearer = format!("Bearer {TOKEN}");
        assert!(to_hub.iter().all(|r| r.authorization.as_deref() == Some(bearer.as_str())), "{id}: {to_hub:?}");
    }
}
