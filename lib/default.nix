# Nix side of nix-hug. The derivations below run the nix-hug binary as their builder; its hidden
# `__fetch`, `__cache` and `__lock` commands read the plain string attributes set here from the
# environment (and the long ones from the files of `passAsFile`).
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
    any
    attrNames
    attrValues
    concatMap
    concatStringsSep
    elem
    elemAt
    filter
    fromJSON
    genList
    head
    isAttrs
    isInt
    isList
    isString
    length
    lessThan
    listToAttrs
    mapAttrs
    match
    readFile
    removeAttrs
    replaceStrings
    sort
    split
    stringLength
    substring
    toJSON
    ;

  builder = "${nix-hug}/bin/nix-hug";

  # What every result carries for its consumers (`mkShell { inherit (model) env; }`, a systemd unit's
  # `environment`): the output is a Hub cache folder, and nothing may try the Hub or write to it.
  withEnv =
    drv:
    drv
    // {
      env = {
        HF_HUB_CACHE = "${drv}";
        HF_HUB_OFFLINE = "1";
      };
    };

  # The result of a fetch or a lock entry: the derivation, still built and interpolated as itself (`//`
  # keeps outPath, drvPath and type), with what users read off it. `files` are the exact paths its filters
  # name, among which the GGUF files `nix-hug fetch org/repo:QUANT` lists: the first shard of the model
  # (what llama.cpp is given, and finds the others from) and the multimodal projector.
  resultOf =
    {
      drv,
      type,
      id,
      folder,
      rev,
      files,
    }:
    let
      snapshot = "${drv}/${folder}/snapshots/${rev}";
      ggufs = filter (f: match ".*\\.gguf" f != null) files;
      isMmproj = f: match "(.*/)?[^/]*mmproj[^/]*" f != null;
      firstIn = files: if files == [ ] then null else "${snapshot}/${head (sort lessThan files)}";
    in
    withEnv drv
    // {
      inherit (id) repoId org repo;
      inherit snapshot;
      repoType = type;
      revision = rev;
      gguf = firstIn (filter (f: !isMmproj f) ggufs);
      mmproj = firstIn (filter isMmproj ggufs);
    };

  # Honoured for fixed-output derivations only: a token for gated repos, a mirror, proxies and the CA
  # bundle of a proxy that intercepts TLS (the file must be visible in the sandbox).
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

  # Hub repository-name rules, for the owner and the name alike.
  validName =
    s:
    stringLength s <= 96
    && match "[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?" s != null
    && match ".*(--|\\.\\.).*" s == null;

  # The first segments of the Hub's own pages, never a legacy single-name id or an owner.
  reserved = [
    "datasets"
    "models"
    "spaces"
  ];

  # The pages of a repository whose web URL says a ref, and a file or a folder after it.
  pages = [
    "tree"
    "blob"
    "resolve"
  ];

  # What a web URL puts before the id of each repo type.
  prefixes = {
    model = "";
    dataset = "datasets/";
    space = "spaces/";
  };

  hosts = [
    "huggingface.co"
    "hf.co"
  ];

  splitSlash = s: filter isString (split "/" s);
  take = n: list: genList (elemAt list) n;
  drop = n: list: genList (i: elemAt list (i + n)) (length list - n);
  range = from: to: genList (i: from + i) (to - from + 1);

  # Percent-decoding as the CLI does it. The escapes must spell UTF-8 (`multiByte` is UTF-8's grammar
  # written over `%XX` escapes) and nothing may be a control character, raw or escaped.
  hex = "[0-9A-Fa-f]";
  cont = "%[89ABab]${hex}";
  multiByte = concatStringsSep "|" [
    "%[Cc][2-9A-Fa-f]${cont}"
    "%[Dd]${hex}${cont}"
    "%[Ee]0%[ABab]${hex}${cont}"
    "%[Ee][1-9A-Ca-cEeFf]${cont}${cont}"
    "%[Ee][Dd]%[89]${hex}${cont}"
    "%[Ff]0%[9ABab]${hex}${cont}${cont}"
    "%[Ff][1-3]${cont}${cont}${cont}"
    "%[Ff]4%8${hex}${cont}${cont}"
  ];
  hexDigits = stringToChars "0123456789abcdef";
  stringToChars = s: genList (i: substring i 1 s) (stringLength s);
  hex2 = n: elemAt hexDigits (n / 16) + elemAt hexDigits (n - n / 16 * 16);
  hex4 = n: hex2 (n / 256) + hex2 (n - n / 256 * 256);
  char = escapes: fromJSON "\"${escapes}\"";
  # Every byte an accepted escape can spell, as a one-byte string: ASCII from a JSON escape, the
  # others cut out of a character whose UTF-8 holds them (Nix strings are bytes).
  byte =
    n:
    if n < 128 then
      char "\\u${hex4 n}"
    else if n < 192 then
      substring 1 1 (char "\\u${hex4 n}")
    else if n < 224 then
      substring 0 1 (char "\\u${hex4 ((n - 192) * 64)}")
    else if n < 240 then
      substring 0 1 (char "\\u${hex4 ((n - 224) * 4096 + (if n == 224 then 2048 else 0))}")
    else
      substring 0 1 (char "\\u${hex4 (55296 + (n - 240) * 256 - (if n == 240 then 0 else 64))}\\udc00");
  bytes = listToAttrs (
    map (n: {
      name = hex2 n;
      value = byte n;
    }) (range 32 126 ++ range 128 191 ++ range 194 244)
  );
  lowerHex = replaceStrings [ "A" "B" "C" "D" "E" "F" ] [ "a" "b" "c" "d" "e" "f" ];

  # The parsers below answer { value = …; } or { error = WHY; }, WHY as the CLI words it.
  percentDecode =
    raw:
    if match "([^%]|%${hex}{2})*" raw == null then
      { error = "invalid percent-encoding in ${toJSON raw} (write a % as %25)"; }
    else if match "([^%]|%[0-7]${hex}|${multiByte})*" raw == null then
      { error = "${toJSON raw} is not UTF-8 once percent-decoded"; }
    else if match ".*([[:cntrl:]]|%[01]${hex}|%7[Ff]).*" raw != null then
      { error = "${toJSON raw} holds a control character"; }
    else
      {
        value = concatStringsSep "" (
          map (p: if isList p then bytes.${lowerHex (head p)} else p) (split "%(${hex}{2})" raw)
        );
      };

  decodeRef =
    raw:
    let
      r = percentDecode raw;
    in
    if r ? error then
      r
    else if r.value == "refs" then
      { error = "write the slashes of a ref as %2F (refs%2Fpr%2F1)"; }
    else if match "[A-Za-z0-9._+@=/-]+" r.value == null then
      { error = "invalid ref ${toJSON r.value} (letters, digits and ._+@=-, with a slash written as %2F)"; }
    else
      r;

  decodePath =
    raw:
    let
      r = percentDecode raw;
      segments = splitSlash r.value;
      invalid = why: { error = "invalid path ${toJSON r.value} (${why})"; };
    in
    if r ? error then
      r
    else if elem "" segments then
      invalid "an empty segment"
    else if elem "." segments || elem ".." segments then
      invalid "a '.' or '..' segment"
    else if match ".*\\\\.*" r.value != null then
      invalid "a backslash"
    else
      r;

  # The segments of `[org/]name[:QUANT]` (llama.cpp's way of naming the GGUF files of a quant); a
  # space always has an owner.
  parseId =
    type: segments:
    let
      n = length segments;
      org = if n == 2 then head segments else null;
      tagged = match "([^:]*):(.*)" (elemAt segments (n - 1));
      repo = if tagged == null then elemAt segments (n - 1) else head tagged;
      quant = if tagged == null then null else elemAt tagged 1;
      rules = "letters, digits, '-', '_' and '.', starting and ending with a letter or digit, without '--' or '..', at most 96 characters";
    in
    if segments == [ "" ] then
      { error = "no repository in the URL"; }
    else if elem "" segments then
      { error = "${toJSON (concatStringsSep "/" segments)} has an empty segment"; }
    else if n > 2 then
      { error = "${toJSON (concatStringsSep "/" segments)} has too many parts (expected org/name)"; }
    else if org == null && elem repo reserved then
      { error = "${toJSON repo} is a page of the Hub, not a repository"; }
    else if org == null && type == "space" then
      { error = "space ${toJSON repo} has no owner (expected org/name)"; }
    else if elem org reserved then
      { error = "${toJSON org} is a page of the Hub, not an owner"; }
    else if org != null && !validName org then
      { error = "invalid owner ${toJSON org} (${rules})"; }
    else if !validName repo then
      { error = "invalid name ${toJSON repo} (${rules})"; }
    else if quant == "" then
      { error = "no quant after ':' (as in org/repo:Q4_K_M)"; }
    else if quant != null && match "[A-Za-z0-9_-]+" quant == null then
      { error = "invalid quant ${toJSON quant} (letters, digits, '_' and '-', as in Q4_K_M)"; }
    else
      {
        inherit org repo quant;
        repoId = if org == null then repo else "${org}/${repo}";
      };

  noQuant = type: "a :QUANT chooses the GGUF files of a model; ${type}s have none";

  # `hf:org/name`, `datasets/org/name`, `spaces/org/name`, `org/name`: an id and nothing else.
  idOnly =
    type: id:
    let
      segments = splitSlash id;
      r = parseId type segments;
    in
    if length segments > 2 && any (s: elem s pages) (drop 1 segments) then
      { error = "/tree, /blob and /resolve are understood only in a huggingface.co URL"; }
    else if r ? error then
      r
    else if r.quant != null && type != null && type != "model" then
      { error = noQuant type; }
    else
      r
      // {
        # A quant is a model's.
        type = if r.quant != null then "model" else type;
        ref = null;
        file = null;
        folder = null;
      };

  # The segments after the repository: none, tree/REF[/DIR], blob/REF/FILE or resolve/REF/FILE.
  webPage =
    segments:
    let
      n = length segments;
      page = head segments;
      isFile = page == "blob" || page == "resolve";
      ref = decodeRef (elemAt segments 1);
      path = decodePath (concatStringsSep "/" (drop 2 segments));
    in
    if n == 0 then
      {
        ref = null;
        file = null;
        folder = null;
      }
    else if page == "tree" && n == 1 then
      { error = "/tree needs a ref"; }
    else if isFile && n < 3 then
      { error = "/${page} needs a ref and a file"; }
    else if !(elem page pages) then
      {
        error = "unexpected /${page} after the repository (expected /tree/REF[/DIR], /blob/REF/FILE or /resolve/REF/FILE)";
      }
    else if ref ? error then
      ref
    else if n > 2 && path ? error then
      path
    else
      {
        ref = ref.value;
        file = if isFile then path.value else null;
        folder = if isFile || n == 2 then null else path.value;
      };

  # What follows the host: /[datasets/|spaces/]ID[/PAGE/REF[/PATH]][/][?QUERY][#FRAGMENT]. The query
  # and the fragment only say how the page is shown (?library=transformers, #model-card).
  web =
    rest:
    let
      beforeQuery = head (match "([^?#]*).*" rest);
      noLead = if substring 0 1 beforeQuery == "/" then substring 1 (stringLength beforeQuery) beforeQuery else beforeQuery;
      l = stringLength noLead;
      trimmed = if l > 0 && substring (l - 1) 1 noLead == "/" then substring 0 (l - 1) noLead else noLead;
      prefixed = match "(datasets|spaces)/(.*)" trimmed;
      type =
        if prefixed == null then
          "model"
        else if head prefixed == "datasets" then
          "dataset"
        else
          "space";
      path = if prefixed == null then trimmed else elemAt prefixed 1;
      segments = splitSlash path;
      # The first n segments are the id.
      splitAt =
        n:
        let
          id = parseId type (take n segments);
          page = webPage (drop n segments);
        in
        if id ? error then
          id
        else if id.quant != null && type != "model" then
          { error = noQuant type; }
        else if id.quant != null && n < length segments then
          {
            error = "a :QUANT ends the repository's URL, with no /tree, /blob or /resolve after it (a ref goes in --ref)";
          }
        else if page ? error then
          page
        else
          id // page // { inherit type; };
      twoFirst = splitAt 2;
    in
    if path == "" then
      { error = "no repository in the URL"; }
    else if elem "" segments then
      { error = "empty segment (//) in the path"; }
    else if type == "model" && head segments == "models" then
      { error = "\"models\" is a page of the Hub, not a repository"; }
    # acme/tree is acme's repo "tree" and acme/tree/tree/main that repo at main, but gpt2/tree/main is
    # the legacy gpt2 at main: an id of two segments when the rest reads as a page, else of one.
    else if length segments > 2 && elem (elemAt segments 1) pages then
      if twoFirst ? error then splitAt 1 else twoFirst
    else if length segments == 1 then
      splitAt 1
    else
      twoFirst;

  parseUrlOrError =
    url:
    let
      hfDatasets = match "hf-datasets:(.*)" url;
      hfSpaces = match "hf-spaces:(.*)" url;
      hf = match "hf:(.*)" url;
      withScheme = match "([^/]*)://([^/?#]*)(.*)" url;
      schemeless = match "(huggingface\\.co|hf\\.co)([/?#].*)?" url;
      datasets = match "datasets/(.*)" url;
      spaces = match "spaces/(.*)" url;
    in
    if !isString url then
      { error = "not a string"; }
    else if hfDatasets != null then
      idOnly "dataset" (head hfDatasets)
    else if hfSpaces != null then
      idOnly "space" (head hfSpaces)
    else if hf != null then
      idOnly "model" (head hf)
    else if withScheme != null && !(elem (elemAt withScheme 1) hosts) then
      { error = "not a Hugging Face URL (expected huggingface.co or hf.co)"; }
    else if withScheme != null && head withScheme != "https" then
      { error = "use https:// (not ${head withScheme}://)"; }
    else if withScheme != null then
      web (elemAt withScheme 2)
    else if schemeless != null then
      web (if elemAt schemeless 1 == null then "" else elemAt schemeless 1)
    else if datasets != null then
      idOnly "dataset" (head datasets)
    else if spaces != null then
      idOnly "space" (head spaces)
    else
      idOnly null url;

  # The URL forms of the README: { type; org; repo; repoId; ref; file; folder; }, the nulls for what
  # the URL does not say.
  parseUrl =
    url:
    let
      r = parseUrlOrError url;
    in
    if r ? error then throw "nix-hug: invalid Hugging Face URL ${toJSON url}: ${r.error}" else r;

  # regex::escape, for the filters a folder URL stands for.
  regexMeta = stringToChars "\\.+*?()|[]{}^$#&-~";
  escapeRegex = replaceStrings regexMeta (map (c: "\\" + c) regexMeta);

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
      # `hash`, as nixpkgs' fetchers call it, is the same thing.
      fileTreeHash ? null,
      hash ? null,
      filters ? null,
      endpoint ? null,
      # Deprecated (older nix-hug hashed the Hub's JSON): accepted and ignored.
      repoInfoHash ? null,
      derivationHash ? null,
    }:
    let
      u = parseUrl url;
      outputHash = if fileTreeHash != null then fileTreeHash else hash;
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
        inherit outputHash;
        inherit impureEnvVars;
        # Weights are large: download them where they are needed, not on a remote builder.
        preferLocalBuild = true;
      };
      result = resultOf {
        inherit drv type folder rev;
        id = u;
        files = if isAttrs filters then filters.files or [ ] else [ ];
      };
    in
    if u.type != null && u.type != type then
      throw "nix-hug: ${fn}: ${toJSON url} is a ${u.type} URL; use ${
        if u.type == "model" then
          "fetchModel"
        else if u.type == "dataset" then
          "fetchDataset"
        else
          "fetchSpace"
      }"
    # A bare legacy id (`gpt2`) is a model's or a dataset's: spaces have none.
    else if type == "space" && u.org == null then
      throw "nix-hug: ${fn}: ${toJSON url}: space ${toJSON u.repo} has no owner (expected org/name)"
    # The CLI turns a file or folder URL into filters; here they are written as filters, so that
    # an expression says what it takes in one place.
    else if u.file != null || u.folder != null then
      throw (
        "nix-hug: ${fn}: ${toJSON url} names a ${if u.file != null then "file" else "folder"}; write "
        + "url = ${toJSON (prefixes.${type} + u.repoId)}; filters = { ${
          if u.file != null then
            "files = [ ${toJSON u.file} ];"
          else
            "include = [ ${toJSON (escapeRegex u.folder + "/.*")} ];"
        } }; instead"
      )
    # The files of a quant are known from the listing of the Hub, which evaluation does not ask.
    else if u.quant != null then
      throw (
        "nix-hug: ${fn}: ${toJSON url} names the GGUF quant ${u.quant}, which nix-hug fetch turns into "
        + "its files; run `nix-hug fetch ${url}` and write the url and filters.files it prints"
      )
    else if !(isString rev && match "[0-9a-f]{40}" rev != null) then
      throw (
        "nix-hug: ${fn} ${u.repoId}: rev must be a full 40-hex commit id, got ${toJSON rev}; "
        + "run `nix-hug fetch ${url}` to get the commit and the fileTreeHash"
      )
    else if fileTreeHash != null && hash != null then
      throw "nix-hug: ${fn} ${u.repoId}: give fileTreeHash or hash (the same thing), not both"
    else if outputHash == null then
      throw "nix-hug: ${fn} ${u.repoId}: fileTreeHash (or hash) is missing; run `nix-hug fetch ${url}` to get it"
    else if !validHash outputHash then
      throw (
        "nix-hug: ${fn} ${u.repoId}: fileTreeHash must be a sha256 hash (SRI, nix32 or hex), "
        + "got ${toJSON outputHash}; run `nix-hug fetch ${url}` to get it"
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
      spaces ? [ ],
      hash ? null,
    }:
    let
      misplaced = kind: filter (x: isAttrs x && x ? repoType && x.repoType != kind);
      wrong = misplaced "model" models ++ misplaced "dataset" datasets ++ misplaced "space" spaces;
    in
    if !(isList models && isList datasets && isList spaces) then
      throw "nix-hug: buildCache: models, datasets and spaces must be lists"
    else if wrong != [ ] then
      throw "nix-hug: buildCache: ${(head wrong).repoId} is a ${(head wrong).repoType}; list it in ${(head wrong).repoType}s"
    else if !(hash == null || validHash hash) then
      throw "nix-hug: buildCache: hash must be a sha256 hash (SRI, nix32 or hex), got ${toJSON hash}"
    else
      withEnv (builtins.derivation (
        {
          name = "hf-hub-cache";
          inherit system builder;
          args = [ "__cache" ];
          inputs = models ++ datasets ++ spaces;
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
      ));

  # `fromLock ./nix-hug.lock`: the lock's format is in src/lock.rs, which writes it. Each entry becomes
  # three kinds of derivation, all built by the `__lock` command:
  # - each large file, a flat fixed-output derivation named after its sha256 and nothing else, so that
  #   one blob is one store path and one download, whichever entries, commits or repos list it;
  # - the entry's small files, one recursive fixed-output derivation: each file at its repo path;
  # - the entry's cache folder, the layout of a fetchModel output with every blob a link to one of
  #   those: an ordinary derivation, made of links only.
  fromLock =
    lockFile:
    let
      where = "nix-hug: fromLock ${toString lockFile}";
      text = readFile lockFile;
      lock = fromJSON text;
      version = lock.version or null;
      names = attrNames lock.repos;

      # Each entry's fields, refused in the words of src/lock.rs where both check the same thing.
      checked = mapAttrs checkEntry lock.repos;
      checkEntry =
        name: e:
        let
          bad = why: throw "${where}: entry ${toJSON name}: ${why}";
          id =
            if isString (e.repoId or null) then
              parseId (e.type or null) (splitSlash e.repoId)
            else
              { error = "not a string"; };
          files = if isAttrs (e.files or null) then attrValues e.files else [ ];
          validFile =
            f:
            isAttrs f
            && isInt (f.size or null)
            && isString (f.gitOid or null)
            && (!(f ? sha256) || isString f.sha256 && match "[0-9a-f]{64}" f.sha256 != null);
          anySmall = any (f: !(f ? sha256)) files;
        in
        if !isAttrs e then
          bad "not an object"
        else if !(elem (e.type or null) [ "model" "dataset" "space" ]) then
          bad "type must be \"model\", \"dataset\" or \"space\", got ${toJSON (e.type or null)}"
        else if id ? error then
          bad "repoId ${toJSON (e.repoId or null)}: ${id.error}"
        else if id.quant != null then
          bad "repoId ${toJSON e.repoId}: a repo id has no :QUANT (the lock lists the quant's files)"
        else if !(isString (e.rev or null) && match "[0-9a-f]{40}" e.rev != null) then
          bad "rev ${toJSON (e.rev or null)} is not a full commit id (40 lowercase hex)"
        else if !isAttrs (e.files or null) || !all validFile files then
          bad "files must map each path to { size; gitOid; sha256 ? <64 lowercase hex>; }"
        else if anySmall && !(e ? smallFiles) then
          bad "smallFiles (the hash of its small files) is missing"
        else if !anySmall && e ? smallFiles then
          bad "smallFiles is given, but files lists no small file"
        else if e ? smallFiles && !(isString e.smallFiles && match "sha256-[A-Za-z0-9+/]{43}=" e.smallFiles != null) then
          bad "smallFiles ${toJSON e.smallFiles} is not a sha256 in SRI form (sha256-…)"
        else if e ? endpoint && !(isString e.endpoint && match "https?://.+" e.endpoint != null) then
          bad "invalid Hub endpoint ${toJSON e.endpoint}: expected https://host[:port]"
        else
          e
          // {
            inherit (id) org repo;
            large = filter (path: e.files.${path} ? sha256) (attrNames e.files);
          };

      # What every derivation of an entry is told; the fixed-output ones also get the endpoint, which
      # never changes what they hold.
      common = e: {
        inherit system builder;
        args = [ "__lock" ];
        repoType = e.type;
        inherit (e) repoId;
        revision = e.rev;
        passAsFile = [ "files" ];
      };
      fixed = e: {
        endpoint = e.endpoint or "";
        inherit impureEnvVars;
        # Weights are large: download them where they are needed, not on a remote builder.
        preferLocalBuild = true;
      };

      # Every large file by its sha256, from the first entry (by name) that lists it.
      blobs = listToAttrs (
        concatMap (
          name:
          let
            e = checked.${name};
          in
          map (path: {
            name = e.files.${path}.sha256;
            value = builtins.derivation (
              common e
              // fixed e
              // {
                name = "hf-blob-${e.files.${path}.sha256}";
                part = "blob";
                files = toJSON { ${path} = e.files.${path}; };
                outputHashMode = "flat";
                outputHashAlgo = "sha256";
                outputHash = e.files.${path}.sha256;
              }
            );
          }) e.large
        ) names
      );

      entry =
        e:
        let
          dashed = replaceStrings [ "/" ] [ "-" ] e.repoId;
          folder = "${e.type}s--${replaceStrings [ "/" ] [ "--" ] e.repoId}";
          small = builtins.derivation (
            common e
            // fixed e
            // {
              name = "hf-${e.type}-${dashed}-${e.rev}-small-files";
              part = "smallFiles";
              files = toJSON (removeAttrs e.files e.large);
              outputHashMode = "recursive";
              outputHashAlgo = "sha256";
              outputHash = e.smallFiles;
            }
          );
          drv = builtins.derivation (
            common e
            // {
              name = "hf-${e.type}-${dashed}-${e.rev}";
              part = "cache";
              files = toJSON e.files;
              smallFiles = if e ? smallFiles then small else "";
              blobs = toJSON (
                listToAttrs (
                  map (path: rec {
                    name = e.files.${path}.sha256;
                    value = "${blobs.${name}}";
                  }) e.large
                )
              );
              passAsFile = [
                "files"
                "blobs"
              ];
              # Links into other outputs: cheaper to make than to download.
              preferLocalBuild = true;
              allowSubstitutes = false;
            }
          );
        in
        resultOf {
          inherit drv folder;
          inherit (e) type rev;
          id = e;
          files = e.filters.files or [ ];
        };

      entries = mapAttrs (_: entry) checked;
      ofType = type: filter (r: r.repoType == type) (map (name: entries.${name}) names);
    in
    if text == "" then
      throw "${where}: the file is empty"
    else if substring 0 8 text == "<<<<<<< " || replaceStrings [ "\n<<<<<<< " ] [ "" ] text != text then
      throw "${where}: it holds merge conflict markers (<<<<<<<): resolve the conflict first"
    else if !isAttrs lock then
      throw "${where}: not a nix-hug lock (expected an object with version and repos)"
    else if version == null then
      throw "${where}: no version: not a nix-hug lock"
    else if version != 1 then
      throw "${where}: version ${toJSON version} is not supported (this nix-hug reads version 1)${
        if isInt version && version > 1 then "; update nix-hug" else ""
      }"
    else if !isAttrs (lock.repos or null) then
      throw "${where}: repos must be an object"
    else if lock.repos ? cache then
      throw "${where}: entry \"cache\": \"cache\" is the attribute of fromLock's cache of every entry; choose another name"
    else
      entries
      // {
        cache = buildCache {
          models = ofType "model";
          datasets = ofType "dataset";
          spaces = ofType "space";
        };
      };
in
{
  inherit parseUrl buildCache fromLock;
  fetchModel = fetchRepo "model" "fetchModel";
  fetchDataset = fetchRepo "dataset" "fetchDataset";
  fetchSpace = fetchRepo "space" "fetchSpace";
}
