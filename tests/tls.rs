//! `fetchModel` behind a proxy that intercepts TLS, in the real Nix sandbox: the builder trusts the CA
//! bundle that `NIX_SSL_CERT_FILE` (or `SSL_CERT_FILE`) names once `extra-sandbox-paths` makes the file
//! visible there, and the output is the one a plain-HTTP build gives.

mod hub;
mod support;

use hub::tls::HttpsHub;
use hub::{Hub, fixtures};
use nix_hug::download::Options;
use nix_hug::filter::Filters;
use nix_hug::hub::Hub as Client;
use nix_hug::repo::{Repo, RepoType};
use nix_hug::{nar, pipeline};
use std::path::Path;
use support::{built, expression_file, forget, nix_build_command, nix_str};

#[test]
#[ignore = "needs nix"]
fn fetch_model_builds_over_https_once_the_ca_bundle_is_in_the_sandbox() {
    let fixture = hub::Repo { id: "acme/behind-a-proxy".into(), ..fixtures::tiny_bert() };
    let commit = fixture.commits[1].sha.clone();
    let plain = Hub::start(vec![fixture.clone()]);
    let https = HttpsHub::start(vec![fixture]);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &https.ca_pem).unwrap();

    // The hash, from the same pipeline outside the sandbox.
    let repo = Repo::from_id(RepoType::Model, "acme/behind-a-proxy").unwrap();
    let name = repo.store_name(&commit);
    let client = Client::new(&plain.endpoint(), None).unwrap();
    let plan = pipeline::plan(&client, &repo, &commit, &Filters::default()).unwrap();
    pipeline::fetch(&client, &plan, pipeline::Sink::Dir(&dir.path().join(&name)), Options::default(), &|_| {}).unwrap();
    let hash = nar::nar_sha256(&dir.path().join(&name)).unwrap();
    let expected = nar::fixed_output_path(&hash, &name).unwrap();

    let fetch = |endpoint: &str| {
        let (sri, endpoint) = (nar::sri(&hash), nix_str(endpoint));
        format!(
            "nix-hug-lib.fetchModel {{ url = \"acme/behind-a-proxy\"; rev = \"{commit}\"; fileTreeHash = \"{sri}\"; endpoint = {endpoint}; }}"
        )
    };
    let file = expression_file(
        dir.path(),
        &format!("{{\n  plain = {};\n  https = {};\n}}\n", fetch(&plain.endpoint()), fetch(&https.hub.endpoint())),
    );
    // A build that really runs, with only `var` (if any) naming a bundle, and `visible` in the sandbox.
    let build = |attr: &str, var: Option<&str>, visible: Option<&Path>| {
        forget(&expected);
        let mut cmd = nix_build_command();
        cmd.args(["-A", attr]).arg(&file).env_remove("NIX_SSL_CERT_FILE").env_remove("SSL_CERT_FILE");
        if let Some(var) = var {
            cmd.env(var, &ca);
        }
        if let Some(path) = visible {
            cmd.args(["--option", "extra-sandbox-paths"]).arg(path);
        }
        built(&mut cmd)
    };

    assert_eq!(build("plain", None, None).unwrap_or_else(|e| panic!("over plain HTTP:\n{e}")), expected);
    for var in ["NIX_SSL_CERT_FILE", "SSL_CERT_FILE"] {
        https.hub.clear_requests();
        let path = build("https", Some(var), Some(&ca)).unwrap_or_else(|e| panic!("over HTTPS with {var}:\n{e}"));
        assert_eq!(path, expected, "the same output as over plain HTTP");
        let requests = https.hub.requests();
        assert!(requests.iter().any(|r| r.target.contains("/resolve/")), "downloaded in the sandbox: {requests:?}");
        assert!(requests.iter().any(|r| r.target.starts_with("/cdn/")), "through the HTTPS CDN: {requests:?}");
    }

    // Named but not in the sandbox: the log says so, and the built-in roots do not know the test CA.
    let untrusted = "is not trusted (UnknownIssuer): if a proxy intercepts TLS, set NIX_SSL_CERT_FILE to a PEM bundle";
    let err = build("https", Some("NIX_SSL_CERT_FILE"), None).expect_err("the CA is not in the sandbox");
    let hidden = format!("nix-hug: NIX_SSL_CERT_FILE is {}, which is not in the sandbox: ", ca.display());
    assert!(err.contains(&hidden) && err.contains(untrusted), "{err}");
    let err = build("https", None, None).expect_err("no CA bundle");
    assert!(err.contains(untrusted) && !err.contains("nix-hug: warning:"), "not retried: {err}");
}
