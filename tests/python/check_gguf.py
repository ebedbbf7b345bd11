"""Reads GGUF files with llama.cpp's own gguf package and checks their metadata.

    python check_gguf.py EXPECT.json

EXPECT.json maps each path to the fields it must have, e.g. {"/nix/store/…/m-Q8_0.gguf":
{"general.file_type": 7}}. Prints "ok: N files read" and exits 0, or names what differs and exits 1.
"""

import json
import sys

from gguf import GGUFReader


def main(expect_file: str) -> int:
    with open(expect_file) as f:
        expect = json.load(f)
    failures = []
    for path, fields in expect.items():
        reader = GGUFReader(path)
        if not reader.tensors:
            failures.append(f"{path}: no tensor")
        for key, want in fields.items():
            field = reader.get_field(key)
            got = None if field is None else field.contents()
            if got != want:
                failures.append(f"{path}: {key} is {got!r}, expected {want!r}")
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        return 1
    print(f"ok: {len(expect)} files read")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
