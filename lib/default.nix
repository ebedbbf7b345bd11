# Nix side of nix-hug. The derivations below run the nix-hug binary as their builder; its hidden
# `__fetch` and `__cache` commands read the plain string attributes set here from the environment.
# Only builtins are used, so this works without nixpkgs, on Nix 2.8 and later.
{
  # A derivation (the flake package) or a store path with bin/nix-hug inside.
  nix-hug,
  system ?
    if builtins.isAttrs nix-hug && nix-hug ? system then nix-hug.system else builtins.currentSystem,
}:
let
  inherit (builtins)
    all
    attrNames
    concatStringsSep
    elem
    elemAt
    filter
    head
    isAttrs
    isList
    isString
    length
    match
    replaceStrings
    stringLength
    toJSON
    ;

  builder = "${nix-hug}/bin/nix-hug";

  # Hub repository-name rules, for the owner and the name alike.
  validName =
    s:
    stringLength s <= 96
    && match "[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?" s != null
    && match ".*(--|\\.\\.).*" s == null;

  # The first segments of the Hub's own pages, never a legacy single-name id.
  reserved = [
    "datasets"
    "models"
    "spaces"
  ];

  # The first form whose regex matches the URL decides; its last group is "[org/]repo[/tree/REF]".
  # Order matters: "https://huggingface.co/datasets/..." must never be read as a model owned by "datasets".
  urlForms = [
    {
      re = "https://(huggingface|hf)\\.co/datasets/(.*[^/])/?";
      type = "dataset";
      tree = true;
    }
    {
      re = "https://(huggingface|hf)\\.co/(.*[^/])/?";
      type = "model";
      tree = true;
    }
    {
      re = "(.*://.*)";
      error = "only https://huggingface.co/... and https://hf.co/... URLs are supported";
    }
    {
      re = "hf-datasets:(.*)";
      type = "dataset";
    }
    {
      re = "hf:(.*)";
      type = "model";
    }
    {
      re = "datasets/(.*)";
      type = "dataset";
    }
  ];
  # Anything else is a bare org/repo, a model or a dataset (the CLI probes model first).
  bareForm.type = null;

  parseUrl =
    url:
    let
      fail =
        why:
        throw (
          "nix-hug: invalid Hugging Face URL ${toJSON url}: ${why} (accepted: org/repo, hf:org/repo, "
          + "hf-datasets:org/repo, datasets/org/repo or https://huggingface.co/[datasets/]org/repo[/tree/REF])"
        );
      forms = filter (f: match f.re url != null) urlForms;
      form = if forms == [ ] then bareForm else head forms;
      groups = match form.re url;
      rest = if forms == [ ] then url else elemAt groups (length groups - 1);
      # A legacy id (gpt2) has no owner: org is null.
      parts = match "(([^/]*)/)?([^/]*)(/tree/([^/]*))?" rest;
      org = elemAt parts 1;
      repo = elemAt parts 2;
      ref = elemAt parts 4;
    in
    if !isString url then
      fail "not a string"
    else if form ? error then
      fail form.error
    else if parts == null then
      fail "expected org/repo (or a legacy name such as gpt2)"
    else if org != null && !validName org then
      fail "invalid owner ${toJSON org}"
    else if !validName repo then
      fail "invalid repository name ${toJSON repo}"
    else if org == null && elem repo reserved then
      fail "${toJSON repo} is not a repository"
    else if ref != null && !(form.tree or false) then
      fail "/tree/REF is only allowed in https:// URLs"
    else if ref != null && match "([A-Za-z0-9._+@=-]|%2[Ff])+" ref == null then
      fail "invalid ref ${toJSON ref} (write a slash as %2F)"
    else
      {
        inherit (form) type;
        inherit org repo;
        repoId = if org == null then repo else "${org}/${repo}";
        ref = if ref == null then null else replaceStrings [ "%2F" "%2f" ] [ "/" "/" ] ref;
      };

  # SRI, nix32 or hex; "" is Nix's own "tell me the hash" placeholder.
  validHash =
    h:
    isString h
    && (
      h == ""
      || match "sha256-[A-Za-z0-9+/]{43}=" h != null
      || match "[0-9a-df-np-sv-z]{52}" h != null
      || match "[0-9a-fA-F]{64}" h != null
    );

  validFilters =
    f:
    f == null
    || isAttrs f
      && all (k: k == "include" || k == "exclude" || k == "files") (attrNames f)
      && all (k: isList f.${k} && all isString f.${k}) (attrNames f);

  fetchRepo =
    type: fn:
    args@{
      url,
      rev,
      fileTreeHash,
      filters ? null,
      endpoint ? null,
      # Deprecated (older nix-hug hashed the Hub's JSON): accepted and ignored.
      repoInfoHash ? null,
      derivationHash ? null,
    }:
    let
      u = parseUrl url;
      # The store name and the cache folder spell the id's "/" as "-" and "--".
      dashed = replaceStrings [ "/" ] [ "-" ] u.repoId;
      folder = "${type}s--${replaceStrings [ "/" ] [ "--" ] u.repoId}";
      deprecated = filter (n: args ? ${n}) [
        "repoInfoHash"
        "derivationHash"
      ];
      drv = builtins.derivation {
        name = "hf-${type}-${dashed}-${rev}";
        inherit system builder;
        args = [ "__fetch" ];
        repoType = type;
        inherit (u) repoId;
        revision = rev;
        filters = if filters == null then "" else toJSON filters;
        endpoint = if endpoint == null then "" else endpoint;
        outputHashMode = "recursive";
        outputHashAlgo = "sha256";
        outputHash = fileTreeHash;
        # Honoured for fixed-output derivations only: a token for gated repos, a mirror, proxies and
        # the CA bundle of a proxy that intercepts TLS (the file must be visible in the sandbox).
        impureEnvVars = [
          "HF_TOKEN"
          "HF_ENDPOINT"
          "NIX_SSL_CERT_FILE"
          "SSL_CERT_FILE"
          "http_proxy"
          "https_proxy"
          "ftp_proxy"
          "all_proxy"
          "no_proxy"
          "HTTP_PROXY"
          "HTTPS_PROXY"
          "FTP_PROXY"
          "ALL_PROXY"
          "NO_PROXY"
        ];
        # Weights are large: download them where they are needed, not on a remote builder.
        preferLocalBuild = true;
      };
      # `//` keeps outPath, drvPath and type: the result still builds and interpolates as the derivation.
      result = drv // {
        inherit (u) repoId org repo;
        repoType = type;
        revision = rev;
        snapshot = "${drv}/${folder}/snapshots/${rev}";
      };
    in
    if u.type != null && u.type != type then
      throw "nix-hug: ${fn}: ${toJSON url} is a ${u.type} URL; use ${
        if u.type == "model" then "fetchModel" else "fetchDataset"
      }"
    else if !(isString rev && match "[0-9a-f]{40}" rev != null) then
      throw (
        "nix-hug: ${fn} ${u.repoId}: rev must be a full 40-hex commit id, got ${toJSON rev}; "
        + "run `nix-hug fetch ${url}` to get the commit and the fileTreeHash"
      )
    else if !validHash fileTreeHash then
      throw (
        "nix-hug: ${fn} ${u.repoId}: fileTreeHash must be a sha256 hash (SRI, nix32 or hex), "
        + "got ${toJSON fileTreeHash}; run `nix-hug fetch ${url}` to get it"
      )
    else if !validFilters filters then
      throw (
        "nix-hug: ${fn} ${u.repoId}: filters must be { include ? [ REGEX ]; exclude ? [ REGEX ]; "
        + "files ? [ PATH ]; } (lists of strings), got ${toJSON filters}"
      )
    else if !(endpoint == null || isString endpoint && match "https?://.+" endpoint != null) then
      throw "nix-hug: ${fn} ${u.repoId}: endpoint must be an http(s) URL, got ${toJSON endpoint}"
    else if deprecated == [ ] then
      result
    else
      builtins.trace "nix-hug: warning: ${fn} ${u.repoId}: ignoring deprecated ${concatStringsSep " and " deprecated}" result;

  buildCache =
    {
      models ? [ ],
      datasets ? [ ],
      hash ? null,
    }:
    let
      misplaced = kind: filter (x: isAttrs x && x ? repoType && x.repoType != kind);
      wrong = misplaced "model" models ++ misplaced "dataset" datasets;
    in
    if !(isList models && isList datasets) then
      throw "nix-hug: buildCache: models and datasets must be lists"
    else if wrong != [ ] then
      throw "nix-hug: buildCache: ${(head wrong).repoId} is a ${(head wrong).repoType}; list it in ${(head wrong).repoType}s"
    else if !(hash == null || validHash hash) then
      throw "nix-hug: buildCache: hash must be a sha256 hash (SRI, nix32 or hex), got ${toJSON hash}"
    else
      builtins.derivation (
        {
          name = "hf-hub-cache";
          inherit system builder;
          args = [ "__cache" ];
          inputs = models ++ datasets;
        }
        // (
          if hash == null then
            {
              # Symlinks into the inputs: cheaper to make than to download.
              copy = "";
              preferLocalBuild = true;
              allowSubstitutes = false;
            }
          else
            {
              copy = "1";
              outputHashMode = "recursive";
              outputHashAlgo = "sha256";
              outputHash = hash;
            }
        )
      );
in
{
  inherit parseUrl buildCache;
  fetchModel = fetchRepo "model" "fetchModel";
  fetchDataset = fetchRepo "dataset" "fetchDataset";
}
