# The checks of lib/ that need no build: the vectors the Rust side also tests (tests/vectors/*.json, and
# the lock tests/vectors/nix-hug.lock) and the argument checks of fetchModel, fetchDataset, fetchSpace and
# buildCache (the locks fromLock refuses are each a file of their own: tests/lock.rs writes them). Each
# attribute is true or throws listing its failures. Run them with
# `nix-instantiate --eval --strict checks/vectors.nix`; the flake runs them against its own lib.
#
# Fixed-output store paths do not depend on the builder, so by default a dummy nix-hug path is enough.
{
  lib ? import ../lib {
    nix-hug = "/nix/store/00000000000000000000000000000000-nix-hug";
    system = "x86_64-linux";
  },
}:
let
  inherit (builtins)
    attrNames
    concatLists
    concatStringsSep
    deepSeq
    elem
    filter
    fromJSON
    hasContext
    length
    map
    readFile
    toJSON
    tryEval
    ;

  urls = fromJSON (readFile ../tests/vectors/urls.json);
  storePaths = fromJSON (readFile ../tests/vectors/store-paths.json);
  inherit (urls) rev;
  isDrvPath = p: builtins.match "/.*\\.drv" p != null;
  fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  upperRev = builtins.replaceStrings [ "a" "b" "c" "d" "e" "f" ] [ "A" "B" "C" "D" "E" "F" ] rev;

  # `got` is forced deeply; a throw becomes a value that equals nothing expected.
  try =
    v:
    let
      r = tryEval (deepSeq v v);
    in
    if r.success then r.value else { threw = true; };
  check = name: got: expected: {
    inherit name expected;
    got = try got;
  };
  throws = name: v: check name (!(tryEval (deepSeq v v)).success) true;

  fetchers = {
    model = lib.fetchModel;
    dataset = lib.fetchDataset;
    space = lib.fetchSpace;
  };
  types = builtins.attrNames fetchers;
  fetchFor = type: fetchers.${type};
  fetch =
    type: url: extra:
    fetchFor type (
      {
        inherit url rev;
        fileTreeHash = fakeHash;
      }
      // extra
    );
  firstOf = xs: if xs == [ ] then [ ] else [ (builtins.head xs) ];
  dashed = c: if c.org == null then c.repo else "${c.org}-${c.repo}";
  # A case with `error` is refused (its text is the CLI's reason; here it only has to throw). One with
  # a `file`, a `folder` or a `quant` parses, but the fetch functions want that as filters.
  names = c: !(c ? error || c ? file || c ? folder || c ? quant);
  typed = filter (c: names c && c.type != null) urls.cases;

  urlChecks = concatLists (
    map (
      c:
      let
        case = "urls.json ${toJSON c.url}";
      in
      if c ? error then
        [ (throws "${case}: parseUrl" (lib.parseUrl c.url)) ]
        ++ map (type: throws "${case}: fetch ${type}" (fetch type c.url { }).name) types
      else
        [
          (check "${case}: parseUrl" (lib.parseUrl c.url) {
            inherit (c) type org repo ref;
            repoId = if c.org == null then c.repo else "${c.org}/${c.repo}";
            file = c.file or null;
            folder = c.folder or null;
            quant = c.quant or null;
          })
        ]
        ++ (
          if !(names c) then
            map (type: throws "${case}: fetch ${type}" (fetch type c.url { }).name) types
          # A bare id is whatever the function takes it for, but a space always has an owner.
          else if c.type == null then
            map (
              type:
              if type == "space" && c.org == null then
                throws "${case}: fetch space" (fetch type c.url { }).name
              else
                check "${case}: fetch ${type} name" (fetch type c.url { }).name "hf-${type}-${dashed c}-${rev}"
            ) types
          else
            [ (check "${case}: name" (fetch c.type c.url { }).name c.name) ]
            ++ map (type: throws "${case}: refused by fetch ${type}" (fetch type c.url { }).name) (
              filter (type: type != c.type) types
            )
        )
    ) urls.cases
  );

  # Every encoding of every hash gives the recorded path: for a bare fixed-output derivation, for
  # fetchModel/fetchDataset when a typed URL case has the same name, and for buildCache.
  storePathChecks = concatLists (
    map (
      e:
      concatLists (
        map (
          enc:
          let
            case = "store-paths.json ${e.name} (${enc})";
            hash = e.${enc};
            fod = derivation {
              inherit (e) name;
              system = "x86_64-linux";
              builder = "/nix/store/00000000000000000000000000000000-nix-hug/bin/nix-hug";
              outputHashMode = "recursive";
              outputHashAlgo = "sha256";
              outputHash = hash;
            };
          in
          [ (check "${case}: fixed-output path" fod.outPath e.path) ]
          ++ map (
            c: check "${case}: ${c.url}" (fetch c.type c.url { fileTreeHash = hash; }).outPath e.path
          ) (firstOf (filter (c: c.name == e.name) typed))
          ++ (
            if e.name == "hf-hub-cache" then
              [ (check "${case}: buildCache" (lib.buildCache { inherit hash; }).outPath e.path) ]
            else
              [ ]
          )
        ) [ "narHash" "nix32" "hex" ]
      )
    ) storePaths
  );

  model = fetch "model" "hf:acme/tiny-bert" { };
  legacy = fetch "model" "gpt2" { };
  dataset = fetch "dataset" "datasets/acme/tiny-ds" { };
  space = fetch "space" "spaces/acme/app" { };
  goodFilters = {
    include = [ ".*\\.safetensors" ];
    exclude = [ ];
    files = [ "config.json" ];
  };
  filtered = fetch "model" "acme/tiny-bert" {
    filters = goodFilters;
    endpoint = "http://127.0.0.1:8080";
  };
  # As `nix-hug fetch acme/tiny-gguf:Q4_K_M` prints it.
  quant = fetch "model" "acme/tiny-gguf" {
    filters.files = [
      "Q4_K_M/tiny-Q4_K_M-00002-of-00002.gguf"
      "Q4_K_M/tiny-Q4_K_M-00001-of-00002.gguf"
      "mmproj-F16.gguf"
    ];
  };
  cache = lib.buildCache {
    models = [ model ];
    datasets = [ dataset ];
  };
  fixedCache = lib.buildCache {
    models = [ model ];
    datasets = [ dataset ];
    hash = fakeHash;
  };

  apiChecks = [
    (check "result attributes"
      [
        {
          inherit (model) repoId repoType org repo revision;
        }
        {
          inherit (dataset) repoId repoType org repo revision;
        }
        {
          inherit (legacy) repoId repoType org repo revision;
        }
        {
          inherit (space) repoId repoType org repo revision;
        }
      ]
      [
        {
          repoId = "acme/tiny-bert";
          repoType = "model";
          org = "acme";
          repo = "tiny-bert";
          revision = rev;
        }
        {
          repoId = "acme/tiny-ds";
          repoType = "dataset";
          org = "acme";
          repo = "tiny-ds";
          revision = rev;
        }
        {
          repoId = "gpt2";
          repoType = "model";
          org = null;
          repo = "gpt2";
          revision = rev;
        }
        {
          repoId = "acme/app";
          repoType = "space";
          org = "acme";
          repo = "app";
          revision = rev;
        }
      ]
    )
    (check "legacy snapshot" legacy.snapshot "${legacy.outPath}/models--gpt2/snapshots/${rev}")
    (check "model snapshot" model.snapshot "${model.outPath}/models--acme--tiny-bert/snapshots/${rev}")
    (check "dataset snapshot" dataset.snapshot "${dataset.outPath}/datasets--acme--tiny-ds/snapshots/${rev}")
    (check "space snapshot" space.snapshot "${space.outPath}/spaces--acme--app/snapshots/${rev}")
    (check "space env" { inherit (space) repoType repoId; } {
      repoType = "space";
      repoId = "acme/app";
    })
    (check "snapshot has context" (hasContext model.snapshot) true)
    (check "gguf and mmproj" {
      inherit (quant) gguf mmproj;
    } {
      gguf = "${quant.snapshot}/Q4_K_M/tiny-Q4_K_M-00001-of-00002.gguf";
      mmproj = "${quant.snapshot}/mmproj-F16.gguf";
    })
    (check "gguf has context" (hasContext quant.gguf) true)
    (check "gguf without an mmproj"
      (fetch "model" "acme/tiny-gguf" { filters.files = [ "tiny-Q8_0.gguf" "README.md" ]; }).mmproj
      null
    )
    (check "no gguf without filters.files" {
      inherit (model) gguf mmproj;
      filtered = filtered.gguf;
    } {
      gguf = null;
      mmproj = null;
      filtered = null;
    })
    (check "interpolation is outPath" "${model}" model.outPath)
    (check "result is a derivation" (model.type == "derivation" && isDrvPath model.drvPath) true)
    (check "fetch env"
      {
        inherit (model)
          args
          repoType
          repoId
          revision
          filters
          endpoint
          outputHashMode
          outputHashAlgo
          ;
        tokenPassed = elem "HF_TOKEN" model.impureEnvVars && elem "HF_ENDPOINT" model.impureEnvVars;
      }
      {
        args = [ "__fetch" ];
        repoType = "model";
        repoId = "acme/tiny-bert";
        revision = rev;
        filters = "";
        endpoint = "";
        outputHashMode = "recursive";
        outputHashAlgo = "sha256";
        tokenPassed = true;
      }
    )
    (check "filters and endpoint env" {
      inherit (filtered) filters endpoint;
    } {
      filters = toJSON goodFilters;
      endpoint = "http://127.0.0.1:8080";
    })
    (check "filters and endpoint keep the store path" filtered.outPath model.outPath)
    (check "deprecated arguments are ignored"
      (fetch "model" "hf:acme/tiny-bert" {
        repoInfoHash = fakeHash;
        derivationHash = fakeHash;
      }).outPath
      model.outPath
    )
    (check "empty fileTreeHash is accepted" (fetch "model" "hf:acme/tiny-bert" { fileTreeHash = ""; }).name model.name)
    (throws "fetchModel refuses a datasets URL" (fetch "model" "datasets/acme/tiny-ds" { }).name)
    (throws "fetchDataset refuses an hf: URL" (fetch "dataset" "hf:acme/tiny-bert" { }).name)
    (throws "rev main" (fetch "model" "acme/tiny-bert" { rev = "main"; }).name)
    (throws "rev 39 hex" (fetch "model" "acme/tiny-bert" { rev = builtins.substring 1 39 rev; }).name)
    (throws "rev 41 hex" (fetch "model" "acme/tiny-bert" { rev = rev + "0"; }).name)
    (throws "rev upper case" (fetch "model" "acme/tiny-bert" { rev = upperRev; }).name)
    (throws "rev null" (fetch "model" "acme/tiny-bert" { rev = null; }).name)
    (check "hash, as nixpkgs calls it, is fileTreeHash" (lib.fetchModel {
      inherit rev;
      url = "acme/tiny-bert";
      hash = fakeHash;
    }).outPath model.outPath)
    (throws "fileTreeHash and hash both" (fetch "model" "acme/tiny-bert" { hash = fakeHash; }).name)
    (throws "neither fileTreeHash nor hash" (lib.fetchModel {
      inherit rev;
      url = "acme/tiny-bert";
    }).name)
    (throws "fileTreeHash too short" (fetch "model" "acme/tiny-bert" { fileTreeHash = "sha256-AAAA"; }).name)
    (throws "fileTreeHash sha512" (fetch "model" "acme/tiny-bert" { fileTreeHash = "sha512-AAAA"; }).name)
    (throws "filters unknown key" (fetch "model" "acme/tiny-bert" { filters.includes = [ ".*" ]; }).name)
    (throws "filters string value" (fetch "model" "acme/tiny-bert" { filters.include = ".*"; }).name)
    (throws "filters non-string item" (fetch "model" "acme/tiny-bert" { filters.files = [ 1 ]; }).name)
    (throws "filters as a list" (fetch "model" "acme/tiny-bert" { filters = [ ".*" ]; }).name)
    (throws "filters as a string" (fetch "model" "acme/tiny-bert" { filters = "{}"; }).name)
    (throws "endpoint not a URL" (fetch "model" "acme/tiny-bert" { endpoint = "127.0.0.1"; }).name)
    (check "buildCache attributes"
      {
        inherit (cache) name args copy;
        fixed = cache ? outputHash;
        inputs = map toString cache.inputs;
      }
      {
        name = "hf-hub-cache";
        args = [ "__cache" ];
        copy = "";
        fixed = false;
        inputs = [
          model.outPath
          dataset.outPath
        ];
      }
    )
    (check "buildCache instantiates" (isDrvPath cache.drvPath) true)
    (check "buildCache with hash attributes" {
      inherit (fixedCache) copy outputHash outputHashMode;
    } {
      copy = "1";
      outputHash = fakeHash;
      outputHashMode = "recursive";
    })
    (throws "buildCache refuses a dataset among models" (lib.buildCache { models = [ dataset ]; }).drvPath)
    (throws "buildCache refuses a model among datasets" (lib.buildCache { datasets = [ model ]; }).drvPath)
    (throws "buildCache refuses a bad hash" (lib.buildCache { hash = "nope"; }).drvPath)
  ];

  hf = lib.fromLock ../tests/vectors/nix-hug.lock;
  shared = "5555555555555555555555555555555555555555555555555555555555555555";
  blobOf = entry: (fromJSON (builtins.unsafeDiscardStringContext entry.blobs)).${shared};
  # A flat fixed-output path depends on the name and the hash only.
  flatPath =
    sha256:
    (derivation {
      name = "hf-blob-${sha256}";
      system = "x86_64-linux";
      builder = "/nix/store/00000000000000000000000000000000-other/bin/other";
      outputHashMode = "flat";
      outputHashAlgo = "sha256";
      outputHash = sha256;
    }).outPath;
  entryAttrs = e: { inherit (e) repoId repoType org repo revision; };

  lockChecks = [
    (check "fromLock attributes" (attrNames hf) [
      "cache"
      "tiny-bert"
      "tiny-bert-v1"
      "tiny-ds"
      "tiny-gguf"
    ])
    (check "fromLock results" (map entryAttrs [ hf.tiny-bert hf.tiny-ds ]) [
      (entryAttrs model // { revision = "0123456789abcdef0123456789abcdef01234567"; })
      (entryAttrs dataset // { revision = "fedcba9876543210fedcba9876543210fedcba98"; })
    ])
    (check "fromLock snapshot" hf.tiny-ds.snapshot
      "${hf.tiny-ds.outPath}/datasets--acme--tiny-ds/snapshots/fedcba9876543210fedcba9876543210fedcba98"
    )
    (check "fromLock entry attributes" {
      inherit (hf.tiny-bert) name args part;
      fixed = hf.tiny-bert ? outputHash;
    } {
      name = "hf-model-acme-tiny-bert-0123456789abcdef0123456789abcdef01234567";
      args = [ "__lock" ];
      part = "cache";
      fixed = false;
    })
    (check "a blob's path is named after its hash alone" (blobOf hf.tiny-bert) (flatPath shared))
    (check "one blob, one path in two entries" (blobOf hf.tiny-bert-v1) (blobOf hf.tiny-bert))
    (check "an entry without small files has no small-files output" hf.tiny-ds.smallFiles "")
    (check "fromLock cache" (map toString hf.cache.inputs) [
      hf.tiny-bert.outPath
      hf.tiny-bert-v1.outPath
      hf.tiny-gguf.outPath
      hf.tiny-ds.outPath
    ])
    (check "a fromLock entry of a quant has gguf and mmproj" {
      inherit (hf.tiny-gguf) gguf mmproj;
    } {
      gguf = "${hf.tiny-gguf.snapshot}/Q4_K_M/tiny-Q4_K_M-00001-of-00002.gguf";
      mmproj = "${hf.tiny-gguf.snapshot}/mmproj-F16.gguf";
    })
    (check "a fromLock entry without GGUF files" { inherit (hf.tiny-bert) gguf mmproj; } {
      gguf = null;
      mmproj = null;
    })
    (check "fromLock instantiates" (isDrvPath hf.cache.drvPath) true)
  ]
  # Every result's env names its own output as the Hub cache, offline.
  ++ map
    (
      { what, result }:
      check "${what} env" result.env {
        HF_HUB_CACHE = result.outPath;
        HF_HUB_OFFLINE = "1";
      }
    )
    [
      { what = "fetchModel"; result = model; }
      { what = "fetchDataset"; result = dataset; }
      { what = "fetchSpace"; result = space; }
      { what = "a quant's fetchModel"; result = quant; }
      { what = "buildCache"; result = cache; }
      { what = "buildCache with hash"; result = fixedCache; }
      { what = "a fromLock entry"; result = hf.tiny-bert; }
      { what = "fromLock cache"; result = hf.cache; }
    ]
  ++ [
    (check "env keeps the output's context" (hasContext model.env.HF_HUB_CACHE) true)
  ];

  failures = filter (c: c.got != c.expected) (urlChecks ++ storePathChecks ++ apiChecks ++ lockChecks);
in
{
  vectors =
    failures == [ ]
    || throw (
      "nix-hug vectors: ${toString (length failures)} failing check(s):\n"
      + concatStringsSep "\n" (
        map (c: "  ${c.name}: expected ${toJSON c.expected}, got ${toJSON c.got}") failures
      )
    );
}
