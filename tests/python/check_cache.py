#!/usr/bin/env python3
"""Check, offline, that a Hugging Face cache folder works with the Python Hugging Face libraries.

Usage:
    HF_HUB_OFFLINE=1 HF_HUB_CACHE=<cache dir> python check_cache.py EXPECT.json

EXPECT.json:
    {"repos": [{"repo_id": "acme/tiny-bert",
                "repo_type": "model",            # or "dataset"
                "revision": "<40 hex commit>",
                "files": {"<path>": "<sha256 hex>", ...},   # exactly the files of the snapshot
                "load": "transformers",          # or "datasets" or null
                "rows": {"train": 4},            # needed with load "datasets": rows per split
                "main": true}]}                  # optional, default true: refs/main names this revision

Prints "ok: <check>" for every check that passes and stops with "FAIL: <check>: <reason>" and exit
status 1 at the first one that does not. The cache is only read: everything the libraries write
(the datasets Arrow cache, modules, tokens) goes to a temporary HF_HOME removed at exit.

datasets.load_dataset("<org>/<name>") cannot be used here: in offline mode it never reads the hub
cache, only a cache of datasets it prepared earlier while online. The dataset is therefore loaded
from its snapshot folder, which is what an offline user of a cache like this one does.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile

TRUE_VALUES = {"1", "ON", "YES", "TRUE"}


class Failure(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


@contextlib.contextmanager
def check(label):
    try:
        yield
    except Exception as e:  # every library error is a failed check
        reason = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
        print(f"FAIL: {label}: {reason}", file=sys.stderr, flush=True)
        sys.exit(1)
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
        repos = json.load(f)["repos"]
    for repo in repos:
        rid = repo.get("repo_id", "?")
        if repo.get("repo_type") not in ("model", "dataset"):
            die(f"{rid}: repo_type must be 'model' or 'dataset'")
        if not re.fullmatch(r"[0-9a-f]{40}", repo.get("revision", "")):
            die(f"{rid}: revision must be 40 lowercase hex characters")
        if not repo.get("files"):
            die(f"{rid}: files must list the expected files")
        if repo.get("load") not in (None, "transformers", "datasets"):
            die(f"{rid}: load must be 'transformers', 'datasets' or null")
        if repo.get("load") == "datasets" and not repo.get("rows"):
            die(f"{rid}: load 'datasets' needs rows, e.g. {{\"train\": 4}}")
    return repos


def check_scan(repos, cache):
    import huggingface_hub

    with check("scan_cache_dir() reports no warnings"):
        scan = huggingface_hub.scan_cache_dir(cache)
        expect(not scan.warnings, "; ".join(str(w) for w in scan.warnings))
    for repo in repos:
        rid, rtype, rev = repo["repo_id"], repo["repo_type"], repo["revision"]
        with check(f"scan_cache_dir() lists {rtype} {rid} at {rev}"):
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
    from huggingface_hub import hf_hub_download, snapshot_download

    rid, rtype, rev = repo["repo_id"], repo["repo_type"], repo["revision"]
    folder = "--".join([rtype + "s", *rid.split("/")])
    snapshot = os.path.realpath(os.path.join(cache, folder, "snapshots", rev))
    revisions = [rev, None] if repo.get("main", True) else [rev]
    for revision in revisions:
        at = rev if revision else "main"
        for path, digest in sorted(repo["files"].items()):
            with check(f"hf_hub_download {rid} {path!r} at {at}"):
                got = hf_hub_download(rid, path, repo_type=rtype, revision=revision, local_files_only=True)
                real = os.path.join(os.path.realpath(os.path.dirname(got)), os.path.basename(got))
                expect(real == os.path.join(snapshot, path), f"returned {got}, not {path} in snapshot {rev}")
                expect(sha256_file(got) == digest, f"sha256 {sha256_file(got)}, expected {digest}")
        with check(f"snapshot_download {rid} at {at} holds exactly the expected files"):
            got = snapshot_download(rid, repo_type=rtype, revision=revision, local_files_only=True)
            expect(os.path.realpath(got) == snapshot, f"returned {got}, expected the snapshot of {rev}")
            same_files(snapshot_files(got), repo["files"])
            for path, digest in repo["files"].items():
                expect(sha256_file(os.path.join(got, path)) == digest, f"{path}: content differs")


def check_transformers(repo):
    import transformers

    rid = repo["repo_id"]
    revision = None if repo.get("main", True) else repo["revision"]
    args = repr(rid) + (f", revision={revision!r}" if revision else "")
    with check(f"transformers AutoConfig.from_pretrained({args})"):
        config = transformers.AutoConfig.from_pretrained(rid, revision=revision)
        expect(config.model_type, "config has no model_type")
    with check(f"transformers AutoTokenizer.from_pretrained({args}) encodes a sentence"):
        tokenizer = transformers.AutoTokenizer.from_pretrained(rid, revision=revision)
        ids = tokenizer("the cat sat on the mat", add_special_tokens=False)["input_ids"]
        expect(ids, "no token ids")
        expect(any(i != tokenizer.unk_token_id for i in ids), f"only unknown tokens: {ids}")


def check_datasets(repo):
    import datasets
    from huggingface_hub import snapshot_download

    rid, rev = repo["repo_id"], repo["revision"]
    with check(f"datasets.load_dataset(<snapshot of {rid} at {rev}>) has rows {repo['rows']}"):
        folder = snapshot_download(rid, repo_type="dataset", revision=rev, local_files_only=True)
        loaded = datasets.load_dataset(folder)
        rows = {split: loaded[split].num_rows for split in loaded}
        expect(rows == repo["rows"], f"rows {rows}")


def main():
    if len(sys.argv) != 2:
        die("usage: HF_HUB_OFFLINE=1 HF_HUB_CACHE=<cache dir> python check_cache.py EXPECT.json")
    if os.environ.get("HF_HUB_OFFLINE", "").upper() not in TRUE_VALUES:
        die("refusing to run without HF_HUB_OFFLINE=1 (the check must not reach any Hub)")
    cache = os.environ.get("HF_HUB_CACHE")
    if not cache or not os.path.isdir(cache):
        die("HF_HUB_CACHE must name the cache folder to check")
    repos = load_expect(sys.argv[1])

    # Set before the libraries are imported: they read their environment once, at import.
    scratch = tempfile.mkdtemp(prefix="check-cache-")
    try:
        os.environ.update(
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_DATASETS_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            HF_HOME=scratch,
            HF_DATASETS_CACHE=os.path.join(scratch, "datasets"),
        )
        check_scan(repos, cache)
        for repo in repos:
            check_downloads(repo, cache)
            if repo.get("load") == "transformers":
                check_transformers(repo)
            elif repo.get("load") == "datasets":
                check_datasets(repo)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"ok: all checks passed for {len(repos)} repo(s)")


if __name__ == "__main__":
    main()
