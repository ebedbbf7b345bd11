#!/usr/bin/env python3
"""Check that a Hugging Face cache folder works with the Python Hugging Face libraries, without a Hub.

Usage, in one of two modes:
    HF_HUB_CACHE=<cache dir> HF_HUB_OFFLINE=1 python check_cache.py EXPECT.json
    HF_HUB_CACHE=<cache dir> HF_ENDPOINT=http://127.0.0.1:<closed port> python check_cache.py EXPECT.json
The first is offline mode. In the second the network is merely unreachable: the libraries try the Hub,
cannot connect, and must fall back on the cache. An endpoint off loopback is refused.

EXPECT.json:
    {"read_only": true,                          # optional: the cache must be on a read-only mount
     "writes": ["version.txt"],                  # optional: the only writes the client is known to try
     "repos": [{"repo_id": "acme/tiny-bert",
                "repo_type": "model",            # or "dataset" or "space"
                "revision": "<40 hex commit>",
                "files": {"<path>": "<sha256 hex>", ...},   # exactly the files of the snapshot
                "load": "transformers",          # or "datasets" or null
                "rows": {"train": 4},            # needed with load "datasets": rows per split
                "main": true}]}                  # optional, default true: refs/main names this revision

Prints "ok: <check>" for every check that passes and stops with "FAIL: <check>: <reason>" and exit
status 1 at the first one that does not; the last line counts what was checked. The cache is only
read: everything the libraries write (the datasets Arrow cache, modules, tokens) goes to a temporary
HF_HOME removed at exit, and an audit hook records every attempt to write into the cache or into the
folders its snapshots link to (a library may hide the error; the attempt still fails the check unless
EXPECT.json lists it in "writes", paths relative to the cache, and then it must happen).

Written for every huggingface_hub from 0.20 and transformers from 4.46 on: only calls all of them have.

datasets.load_dataset("<org>/<name>") cannot be used here: in offline mode it never reads the hub
cache, only a cache of datasets it prepared earlier while online. The dataset is therefore loaded
from its snapshot folder, which is what an offline user of a cache like this one does.
"""

import collections
import contextlib
import hashlib
import importlib.metadata
import ipaddress
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.parse

TRUE_VALUES = {"1", "ON", "YES", "TRUE"}

# What passed, by kind of check, for the closing line.
passed = collections.Counter()


class Failure(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


@contextlib.contextmanager
def check(label, kind):
    try:
        yield
    except Exception as e:  # every library error is a failed check
        reason = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
        print(f"FAIL: {label}: {reason}", file=sys.stderr, flush=True)
        sys.exit(1)
    passed[kind] += 1
    print(f"ok: {label}", flush=True)


def die(message):
    print(f"check_cache: {message}", file=sys.stderr)
    sys.exit(2)


_digests = {}


def sha256_file(path):
    real = os.path.realpath(path)
    if real not in _digests:
        h = hashlib.sha256()
        with open(real, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _digests[real] = h.hexdigest()
    return _digests[real]


def snapshot_files(folder):
    found = set()
    for root, _dirs, names in os.walk(folder):
        for name in names:
            found.add(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return found


def same_files(found, wanted):
    missing, extra = sorted(set(wanted) - found), sorted(found - set(wanted))
    expect(not missing and not extra, f"missing {missing}, unexpected {extra}")


def load_expect(path):
    with open(path, encoding="utf-8") as f:
        expected = json.load(f)
    for repo in expected["repos"]:
        rid = repo.get("repo_id", "?")
        if repo.get("repo_type") not in ("model", "dataset", "space"):
            die(f"{rid}: repo_type must be 'model', 'dataset' or 'space'")
        if not re.fullmatch(r"[0-9a-f]{40}", repo.get("revision", "")):
            die(f"{rid}: revision must be 40 lowercase hex characters")
        if not repo.get("files"):
            die(f"{rid}: files must list the expected files")
        if repo.get("load") not in (None, "transformers", "datasets"):
            die(f"{rid}: load must be 'transformers', 'datasets' or null")
        if repo.get("load") == "datasets" and not repo.get("rows"):
            die(f"{rid}: load 'datasets' needs rows, e.g. {{\"train\": 4}}")
    return expected


def snapshot_folder(cache, repo):
    folder = "--".join([repo["repo_type"] + "s", *repo["repo_id"].split("/")])
    return os.path.join(cache, folder, "snapshots", repo["revision"])


STORE = os.environ.get("NIX_STORE_DIR", "/nix/store")


def cache_roots(cache, repos):
    """The cache folder and every folder holding the blobs its snapshots link to (other store paths,
    for a cache of links): the store path a blob is in (a fetch output, or for a lock entry the blob's
    own path or the one of the entry's small files), else `<root>` of `<root>/<repo folder>/blobs/<etag>`."""
    roots = {os.path.abspath(cache), os.path.realpath(cache)}
    for repo in repos:
        snapshot = snapshot_folder(cache, repo)
        for path in repo["files"]:
            blob = os.path.realpath(os.path.join(snapshot, path))
            in_store = os.path.relpath(blob, STORE)
            if in_store.startswith(".."):
                roots.add(os.path.dirname(os.path.dirname(os.path.dirname(blob))))
            else:
                roots.add(os.path.join(STORE, in_store.split(os.sep)[0]))
    return sorted(roots)


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def watch_writes(roots):
    """Records, from now on, every attempt to change something under `roots`, failed or not."""
    attempts = []

    def inside(path):
        if not isinstance(path, (str, bytes, os.PathLike)):
            return False
        path = os.path.abspath(os.fsdecode(path))
        return any(path == r or path.startswith(r + os.sep) for r in roots)

    def hook(event, args):
        try:
            if event == "open":
                mode, flags = args[1] or "", args[2] or 0
                touched = [args[0]] if flags & WRITE_FLAGS or set(mode) & set("wax+") else []
            elif event == "os.mkdir":
                touched = [] if os.path.isdir(args[0]) else [args[0]]  # makedirs(exist_ok=True) is a read
            elif event in ("os.rename", "os.symlink", "os.link"):
                touched = [args[1]] if event != "os.rename" else list(args[:2])
            elif event in ("os.remove", "os.rmdir", "os.chmod", "os.chown", "os.utime", "os.truncate"):
                touched = [args[0]]
            else:
                return
            attempts.extend((event, os.path.abspath(os.fsdecode(p))) for p in touched if inside(p))
        except Exception:  # an audit hook must never break the call it watches
            pass

    sys.addaudithook(hook)
    return attempts


def check_writes(attempts, cache, known):
    label = f"the only writes tried are the known ones, {known}" if known else "nothing tried to write into the cache"
    with check(label, "writes tried as known" if known else "no write"):
        tried = sorted({os.path.relpath(path, os.path.abspath(cache)) for _event, path in attempts})
        expect(tried == known, "; ".join(f"{event} {path}" for event, path in attempts) or "none")


def check_read_only(roots):
    with check(f"the cache is on a read-only mount ({len(roots)} folder(s))", "read-only mount"):
        writable = [r for r in roots if not os.statvfs(r).f_flag & os.ST_RDONLY]
        expect(not writable, f"writable: {writable}")


def check_scan(repos, cache):
    import huggingface_hub

    # transformers 4.x's own version.txt at the cache root (buildCache outputs carry one, so that it does
    # not warn on import) is "not a directory" to every scan_cache_dir: that one warning, and no other.
    version_txt = os.path.join(cache, "version.txt")
    allowed = [f"Repo path is not a directory: {version_txt}"] if os.path.isfile(version_txt) else []
    with check("scan_cache_dir() reports no warnings but transformers' version.txt", "scan_cache_dir"):
        scan = huggingface_hub.scan_cache_dir(cache)
        others = [str(w) for w in scan.warnings if str(w) not in allowed]
        expect(not others and len(scan.warnings) == len(allowed), "; ".join(str(w) for w in scan.warnings))
    for repo in repos:
        rid, rtype, rev = repo["repo_id"], repo["repo_type"], repo["revision"]
        with check(f"scan_cache_dir() lists {rtype} {rid} at {rev}", "scan_cache_dir"):
            infos = [r for r in scan.repos if r.repo_id == rid and r.repo_type == rtype]
            expect(infos, "repo not found")
            revisions = {r.commit_hash: r for r in infos[0].revisions}
            expect(rev in revisions, f"revision not found, have {sorted(revisions)}")
            info = revisions[rev]
            if repo.get("main", True):
                expect("main" in info.refs, f"refs/main does not name it (refs: {sorted(info.refs)})")
            found = {f.file_path.relative_to(info.snapshot_path).as_posix() for f in info.files}
            same_files(found, repo["files"])


def check_downloads(repo, cache):
    """Called as users call them: offline or not is the environment's business, not local_files_only's."""
    from huggingface_hub import hf_hub_download, snapshot_download

    rid, rtype, rev = repo["repo_id"], repo["repo_type"], repo["revision"]
    snapshot = os.path.realpath(snapshot_folder(cache, repo))
    revisions = [rev, None] if repo.get("main", True) else [rev]
    for revision in revisions:
        at = rev if revision else "main"
        for path, digest in sorted(repo["files"].items()):
            with check(f"hf_hub_download {rid} {path!r} at {at}", "hf_hub_download"):
                got = hf_hub_download(rid, path, repo_type=rtype, revision=revision)
                real = os.path.join(os.path.realpath(os.path.dirname(got)), os.path.basename(got))
                expect(real == os.path.join(snapshot, path), f"returned {got}, not {path} in snapshot {rev}")
                expect(sha256_file(got) == digest, f"sha256 {sha256_file(got)}, expected {digest}")
        with check(f"snapshot_download {rid} at {at} holds exactly the expected files", "snapshot_download"):
            got = snapshot_download(rid, repo_type=rtype, revision=revision)
            expect(os.path.realpath(got) == snapshot, f"returned {got}, expected the snapshot of {rev}")
            same_files(snapshot_files(got), repo["files"])
            for path, digest in repo["files"].items():
                expect(sha256_file(os.path.join(got, path)) == digest, f"{path}: content differs")


def check_transformers(repo):
    import transformers

    rid = repo["repo_id"]
    revision = None if repo.get("main", True) else repo["revision"]
    args = repr(rid) + (f", revision={revision!r}" if revision else "")
    with check(f"transformers AutoConfig.from_pretrained({args})", "AutoConfig"):
        config = transformers.AutoConfig.from_pretrained(rid, revision=revision)
        expect(config.model_type, "config has no model_type")
    with check(f"transformers AutoTokenizer.from_pretrained({args}) encodes a sentence", "AutoTokenizer"):
        tokenizer = transformers.AutoTokenizer.from_pretrained(rid, revision=revision)
        ids = tokenizer("the cat sat on the mat", add_special_tokens=False)["input_ids"]
        expect(ids, "no token ids")
        expect(any(i != tokenizer.unk_token_id for i in ids), f"only unknown tokens: {ids}")


def check_datasets(repo):
    import datasets
    from huggingface_hub import snapshot_download

    rid, rev = repo["repo_id"], repo["revision"]
    with check(f"datasets.load_dataset(<snapshot of {rid} at {rev}>) has rows {repo['rows']}", "load_dataset"):
        folder = snapshot_download(rid, repo_type="dataset", revision=rev)
        loaded = datasets.load_dataset(folder)
        rows = {split: loaded[split].num_rows for split in loaded}
        expect(rows == repo["rows"], f"rows {rows}")


def mode():
    """"offline", or the HF_ENDPOINT on loopback the libraries will try; anything else is refused."""
    if os.environ.get("HF_HUB_OFFLINE", "").upper() in TRUE_VALUES:
        return "offline"
    host = urllib.parse.urlsplit(os.environ.get("HF_ENDPOINT", "")).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        die("refusing to run without HF_HUB_OFFLINE=1 or an HF_ENDPOINT on loopback (no Hub may be reached)")
    return f"HF_ENDPOINT={os.environ['HF_ENDPOINT']}"


def versions():
    names = ("huggingface_hub", "transformers", "datasets")
    found = []
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def main():
    if len(sys.argv) != 2:
        die("usage: HF_HUB_OFFLINE=1 HF_HUB_CACHE=<cache dir> python check_cache.py EXPECT.json")
    how = mode()
    cache = os.environ.get("HF_HUB_CACHE")
    if not cache or not os.path.isdir(cache):
        die("HF_HUB_CACHE must name the cache folder to check")
    expected = load_expect(sys.argv[1])
    repos = expected["repos"]
    roots = cache_roots(cache, repos)
    if expected.get("read_only"):
        check_read_only(roots)
    writes = watch_writes(roots)

    # Set before the libraries are imported: they read their environment once, at import.
    scratch = tempfile.mkdtemp(prefix="check-cache-")
    try:
        os.environ.update(HF_HUB_DISABLE_TELEMETRY="1", HF_HOME=scratch)
        os.environ.update(HF_DATASETS_CACHE=os.path.join(scratch, "datasets"))
        if how == "offline":
            os.environ.update(HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        check_scan(repos, cache)
        for repo in repos:
            check_downloads(repo, cache)
            if repo.get("load") == "transformers":
                check_transformers(repo)
            elif repo.get("load") == "datasets":
                check_datasets(repo)
        check_writes(writes, cache, sorted(expected.get("writes", [])))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    counts = ", ".join(f"{kind} {n}" for kind, n in passed.items())
    print(f"ok: all checks passed for {len(repos)} repo(s), {how}: {counts} ({versions()})")


if __name__ == "__main__":
    main()
