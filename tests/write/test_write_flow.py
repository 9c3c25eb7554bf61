"""Regeneration semantics: create, unchanged, update, conflict, stale, and the lock."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from deploysmith import __version__
from deploysmith.errors import DeploysmithError
from deploysmith.model import RenderedFile
from deploysmith.write import (
    Change,
    Lock,
    LockedFile,
    Summary,
    WriteResult,
    apply_changes,
    digest,
    plan_changes,
    read_lock,
)

Run = Callable[..., WriteResult]
Snapshot = Callable[[Path], dict[str, tuple[bytes, int, int]]]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_first_run_creates_every_file_and_the_lock(repo: Path, run: Run) -> None:
    result = run()

    docker, app, smoke = sha("FROM python:3.13-slim\n"), sha("kind: Deployment\n"), sha("#!/bin/sh\nexit 0\n")
    assert result.summary == Summary(created=("Dockerfile", "deploy/base/app.yaml", "scripts/smoke.sh"))
    assert result.written == (
        "Dockerfile",
        "deploy/base/app.yaml",
        "scripts/smoke.sh",
        ".deploysmith/lock.json",
    )
    assert (repo / "Dockerfile").read_text() == "FROM python:3.13-slim\n"
    assert (repo / "deploy/base/app.yaml").read_text() == "kind: Deployment\n"
    assert (repo / ".deploysmith/lock.json").read_text() == (
        "{\n"
        f'  "deploysmith": "{__version__}",\n'
        '  "files": [\n'
        "    {\n"
        '      "path": "Dockerfile",\n'
        f'      "sha256": "{docker}"\n'
        "    },\n"
        "    {\n"
        '      "path": "deploy/base/app.yaml",\n'
        f'      "sha256": "{app}"\n'
        "    },\n"
        "    {\n"
        '      "path": "scripts/smoke.sh",\n'
        f'      "sha256": "{smoke}"\n'
        "    }\n"
        "  ],\n"
        '  "inputs": {\n'
        '    "requirements": {\n'
        '      "ci": "github"\n'
        "    },\n"
        '    "stack": "sha256:abc"\n'
        "  }\n"
        "}\n"
    )
    assert read_lock(repo) == result.lock


def test_second_identical_run_changes_no_byte_and_no_mtime(repo: Path, run: Run, snapshot: Snapshot) -> None:
    run()
    before = snapshot(repo)

    result = run()

    assert result.summary == Summary(unchanged=("Dockerfile", "deploy/base/app.yaml", "scripts/smoke.sh"))
    assert result.written == ()
    assert snapshot(repo) == before
    assert sorted(before) == [
        ".deploysmith/lock.json",
        "Dockerfile",
        "deploy/base/app.yaml",
        "scripts/smoke.sh",
    ]


def test_changed_inputs_rewrite_only_the_lock(repo: Path, run: Run, snapshot: Snapshot) -> None:
    run()
    before = snapshot(repo)

    result = run(inputs={"requirements": {"ci": "gitlab"}, "stack": "sha256:abc"})

    assert result.written == (".deploysmith/lock.json",)
    after = snapshot(repo)
    assert {path for path in after if after[path] != before[path]} == {".deploysmith/lock.json"}
    assert json.loads((repo / ".deploysmith/lock.json").read_text())["inputs"]["requirements"] == {
        "ci": "gitlab"
    }


def test_untouched_file_with_a_new_render_is_updated(
    repo: Path, run: Run, kit: tuple[RenderedFile, ...]
) -> None:
    run()
    new_kit = (RenderedFile("Dockerfile", "FROM python:3.14-slim\n"), *kit[1:])

    changes = plan_changes(repo, new_kit, read_lock(repo))
    assert [(c.kind, c.path, c.reason) for c in changes] == [
        ("update", "Dockerfile", "not edited since deploysmith wrote it"),
        ("unchanged", "deploy/base/app.yaml", "same content"),
        ("unchanged", "scripts/smoke.sh", "same content"),
    ]
    result = apply_changes(repo, changes, {})

    assert result.summary == Summary(
        updated=("Dockerfile",), unchanged=("deploy/base/app.yaml", "scripts/smoke.sh")
    )
    assert (repo / "Dockerfile").read_text() == "FROM python:3.14-slim\n"
    assert read_lock(repo) == Lock(
        version=__version__,
        inputs={},
        files=(
            LockedFile("Dockerfile", sha("FROM python:3.14-slim\n")),
            LockedFile("deploy/base/app.yaml", sha("kind: Deployment\n")),
            LockedFile("scripts/smoke.sh", sha("#!/bin/sh\nexit 0\n")),
        ),
    )


def test_user_edited_file_is_a_conflict_and_stays_untouched(
    repo: Path, run: Run, kit: tuple[RenderedFile, ...], snapshot: Snapshot
) -> None:
    first = run()
    (repo / "Dockerfile").write_text("FROM python:3.13-slim\nUSER app\n")
    user_file = snapshot(repo)["Dockerfile"]
    new_kit = (RenderedFile("Dockerfile", "FROM python:3.14-slim\n"), *kit[1:])

    result = run(new_kit)

    assert result.summary == Summary(
        conflicts=("Dockerfile",), unchanged=("deploy/base/app.yaml", "scripts/smoke.sh")
    )
    assert result.written == ("Dockerfile.deploysmith-new",)
    assert snapshot(repo)["Dockerfile"] == user_file
    assert (repo / "Dockerfile.deploysmith-new").read_text() == "FROM python:3.14-slim\n"
    # The lock keeps the hash of what deploysmith last wrote into the Dockerfile itself.
    assert result.lock == first.lock
    changes = plan_changes(repo, new_kit, read_lock(repo))
    assert changes[0] == Change(
        "conflict",
        "Dockerfile",
        "edited since deploysmith wrote it",
        "FROM python:3.14-slim\n",
        current_sha256=sha("FROM python:3.13-slim\nUSER app\n"),
        locked_sha256=sha("FROM python:3.13-slim\n"),
        side_current=True,
    )


def test_repeated_conflict_rewrites_nothing(
    repo: Path, run: Run, kit: tuple[RenderedFile, ...], snapshot: Snapshot
) -> None:
    run()
    (repo / "Dockerfile").write_text("edited\n")
    new_kit = (RenderedFile("Dockerfile", "FROM python:3.14-slim\n"), *kit[1:])
    run(new_kit)
    before = snapshot(repo)

    result = run(new_kit)

    assert result.summary.conflicts == ("Dockerfile",)
    assert result.written == ()
    assert snapshot(repo) == before


def test_outdated_side_file_is_replaced(repo: Path, run: Run, kit: tuple[RenderedFile, ...]) -> None:
    run()
    (repo / "Dockerfile").write_text("edited\n")
    run((RenderedFile("Dockerfile", "v2\n"), *kit[1:]))

    result = run((RenderedFile("Dockerfile", "v3\n"), *kit[1:]))

    assert result.written == ("Dockerfile.deploysmith-new",)
    assert (repo / "Dockerfile.deploysmith-new").read_text() == "v3\n"
    assert (repo / "Dockerfile").read_text() == "edited\n"


def test_reverting_an_edit_makes_the_file_updatable_again(
    repo: Path, run: Run, kit: tuple[RenderedFile, ...]
) -> None:
    run()
    (repo / "Dockerfile").write_text("edited\n")
    new_kit = (RenderedFile("Dockerfile", "v2\n"), *kit[1:])
    run(new_kit)
    (repo / "Dockerfile").write_text("FROM python:3.13-slim\n")

    result = run(new_kit)

    assert result.summary.updated == ("Dockerfile",)
    assert (repo / "Dockerfile").read_text() == "v2\n"


def test_existing_file_deploysmith_never_wrote_is_a_conflict(repo: Path, run: Run) -> None:
    (repo / "Dockerfile").write_text("FROM node:22\n")

    result = run()

    assert result.summary == Summary(
        created=("deploy/base/app.yaml", "scripts/smoke.sh"), conflicts=("Dockerfile",)
    )
    assert (repo / "Dockerfile").read_text() == "FROM node:22\n"
    assert (repo / "Dockerfile.deploysmith-new").read_text() == "FROM python:3.13-slim\n"
    # Not recorded: deploysmith has not written the Dockerfile, so it stays the user's.
    assert [item.path for item in result.lock.files] == ["deploy/base/app.yaml", "scripts/smoke.sh"]


def test_existing_file_with_the_same_bytes_is_unchanged_and_adopted(repo: Path, run: Run) -> None:
    (repo / "Dockerfile").write_text("FROM python:3.13-slim\n")

    result = run()

    assert result.summary.unchanged == ("Dockerfile",)
    assert result.lock.files[0] == LockedFile("Dockerfile", sha("FROM python:3.13-slim\n"))


def test_files_no_longer_rendered_are_reported_stale_and_kept(
    repo: Path, run: Run, kit: tuple[RenderedFile, ...]
) -> None:
    run()
    (repo / "scripts/smoke.sh").write_text("#!/bin/sh\nexit 1\n")

    result = run(kit[:1])

    assert result.summary == Summary(
        unchanged=("Dockerfile",), stale=("deploy/base/app.yaml", "scripts/smoke.sh")
    )
    stale = [(c.path, c.reason) for c in plan_changes(repo, kit[:1], read_lock(repo)) if c.kind == "stale"]
    assert stale == [
        ("deploy/base/app.yaml", "no longer generated"),
        ("scripts/smoke.sh", "no longer generated; edited since deploysmith wrote it"),
    ]
    assert (repo / "deploy/base/app.yaml").read_text() == "kind: Deployment\n"
    # Kept in the lock while the files exist, so every run repeats the report...
    assert [item.path for item in result.lock.files] == [
        "Dockerfile",
        "deploy/base/app.yaml",
        "scripts/smoke.sh",
    ]
    (repo / "deploy/base/app.yaml").unlink()
    (repo / "scripts/smoke.sh").unlink()

    # ...and dropped once the user removed them.
    result = run(kit[:1])

    assert result.summary == Summary(unchanged=("Dockerfile",))
    assert [item.path for item in result.lock.files] == ["Dockerfile"]


def test_deleted_generated_file_is_created_again(repo: Path, run: Run) -> None:
    run()
    (repo / "Dockerfile").unlink()

    result = run()

    assert result.summary.created == ("Dockerfile",)


def test_executable_bit_follows_the_render(repo: Path, run: Run, kit: tuple[RenderedFile, ...]) -> None:
    run()

    assert stat.S_IMODE((repo / "scripts/smoke.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((repo / "Dockerfile").stat().st_mode) == 0o644
    assert stat.S_IMODE((repo / ".deploysmith/lock.json").stat().st_mode) == 0o644

    result = run((kit[0], kit[1], RenderedFile("scripts/smoke.sh", "#!/bin/sh\nexit 0\n")))

    assert [
        (c.kind, c.reason) for c in plan_changes(repo, kit, read_lock(repo)) if c.path == "scripts/smoke.sh"
    ] == [("update", "file mode becomes 755")]
    assert result.summary.updated == ("scripts/smoke.sh",)
    assert stat.S_IMODE((repo / "scripts/smoke.sh").stat().st_mode) == 0o644


def test_plan_changes_writes_nothing(repo: Path, kit: tuple[RenderedFile, ...]) -> None:
    changes = plan_changes(repo, kit, None)

    assert [c.kind for c in changes] == ["create", "create", "create"]
    assert list(repo.iterdir()) == []


def test_apply_refuses_when_a_file_changed_after_planning(
    repo: Path, run: Run, kit: tuple[RenderedFile, ...]
) -> None:
    run()
    new_kit = (RenderedFile("Dockerfile", "v2\n"), *kit[1:])
    changes = plan_changes(repo, new_kit, read_lock(repo))
    (repo / "Dockerfile").write_text("saved after the dry run\n")

    with pytest.raises(
        DeploysmithError, match=r"^Dockerfile: changed on disk since deploysmith planned this write"
    ):
        apply_changes(repo, changes, {})

    assert (repo / "Dockerfile").read_text() == "saved after the dry run\n"


def test_summary_headline_and_json() -> None:
    summary = Summary(created=("a", "b"), conflicts=("c",))

    assert summary.headline() == "2 created, 0 updated, 0 unchanged, 1 conflict, 0 stale"
    assert summary.to_json() == {
        "counts": {"created": 2, "updated": 0, "unchanged": 0, "conflicts": 1, "stale": 0},
        "created": ["a", "b"],
        "updated": [],
        "unchanged": [],
        "conflicts": ["c"],
        "stale": [],
    }


def test_digest_is_stable_and_order_independent() -> None:
    assert digest({"b": 1, "a": [1, 2]}) == digest({"a": [1, 2], "b": 1})
    assert digest({"a": 1}) == "sha256:" + hashlib.sha256(b'{"a":1}').hexdigest()
