"""The lock file: round trip, and one-line errors for a damaged or crafted lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploysmith.errors import DeploysmithError
from deploysmith.write import Lock, LockedFile, read_lock
from deploysmith.write.lock import new_lock, parse_lock

HASH = "0" * 64


def test_no_lock_yet(repo: Path) -> None:
    assert read_lock(repo) is None


def test_round_trip_is_byte_stable() -> None:
    lock = new_lock({"b": [1, 2], "a": {"z": None}}, (LockedFile("z", HASH), LockedFile("a", HASH)), "9.9")

    assert lock.to_bytes() == (
        b'{\n  "deploysmith": "9.9",\n  "files": [\n'
        b'    {\n      "path": "a",\n      "sha256": "' + HASH.encode() + b'"\n    },\n'
        b'    {\n      "path": "z",\n      "sha256": "' + HASH.encode() + b'"\n    }\n'
        b'  ],\n  "inputs": {\n    "a": {\n      "z": null\n    },\n'
        b'    "b": [\n      1,\n      2\n    ]\n  }\n}\n'
    )
    assert parse_lock(lock.to_bytes()) == lock
    assert parse_lock(lock.to_bytes()).to_bytes() == lock.to_bytes()


def test_inputs_json_cannot_hold_fail_before_writing() -> None:
    with pytest.raises(TypeError):
        new_lock({"when": object()}, ())


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (
            b"{",
            "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        (b"[]", "expected a JSON object"),
        (b'{"files": []}', "'deploysmith' must be the version string"),
        (b'{"deploysmith": "1", "files": {}}', "'files' must be a list"),
        (b'{"deploysmith": "1", "inputs": [], "files": []}', "'inputs' must be an object"),
        (
            b'{"deploysmith": "1", "files": [{"path": "a", "sha256": "x"}]}',
            "each entry of 'files' needs a 'path' and a 64-hex 'sha256'",
        ),
        (
            b'{"deploysmith": "1", "files": [{"path": "../a", "sha256": "' + HASH.encode() + b'"}]}',
            "unsafe path (../a: '..' would leave the repository; use a path inside it)",
        ),
    ],
)
def test_damaged_lock_is_a_one_line_error(raw: bytes, why: str) -> None:
    with pytest.raises(DeploysmithError) as caught:
        parse_lock(raw)

    assert str(caught.value) == (
        f".deploysmith/lock.json: {why}; fix it or delete it "
        "(deploysmith then treats existing files as the user's)"
    )


def test_read_lock_from_disk(repo: Path) -> None:
    (repo / ".deploysmith").mkdir()
    (repo / ".deploysmith/lock.json").write_bytes(Lock("1", {}, (LockedFile("a", HASH),)).to_bytes())

    assert read_lock(repo) == Lock("1", {}, (LockedFile("a", HASH),))
