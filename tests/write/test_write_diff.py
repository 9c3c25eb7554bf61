"""The --dry-run diff: exact output, git-style labels, and no writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deploysmith.model import RenderedFile
from deploysmith.write import WriteResult, plan_changes, read_lock, render_diff

Run = Callable[..., WriteResult]
Snapshot = Callable[[Path], dict[str, tuple[bytes, int, int]]]


def test_diff_of_create_update_conflict_and_stale(repo: Path, run: Run, snapshot: Snapshot) -> None:
    run(
        (
            RenderedFile("Dockerfile", "FROM a\nUSER 1000\n"),
            RenderedFile("compose.yaml", "services: {}\n"),
            RenderedFile("old.yaml", "x: 1\n"),
        )
    )
    (repo / "compose.yaml").write_text("services: {web: {}}\n")
    new_kit = (
        RenderedFile("Dockerfile", "FROM b\nUSER 1000\n"),
        RenderedFile("compose.yaml", "services: {}\nvolumes: {}\n"),
        RenderedFile("run.sh", "exit 0"),
    )
    changes = plan_changes(repo, new_kit, read_lock(repo))
    before = snapshot(repo)

    diff = render_diff(repo, changes)

    assert diff == (
        "--- a/Dockerfile\n"
        "+++ b/Dockerfile\n"
        "@@ -1,2 +1,2 @@\n"
        "-FROM a\n"
        "+FROM b\n"
        " USER 1000\n"
        "# conflict: compose.yaml: edited since deploysmith wrote it; "
        "the new version would go to compose.yaml.deploysmith-new\n"
        "--- a/compose.yaml\n"
        "+++ b/compose.yaml\n"
        "@@ -1 +1,2 @@\n"
        "-services: {web: {}}\n"
        "+services: {}\n"
        "+volumes: {}\n"
        "# stale: old.yaml: no longer generated; deploysmith leaves it in place\n"
        "--- /dev/null\n"
        "+++ b/run.sh\n"
        "@@ -0,0 +1 @@\n"
        "+exit 0\n"
        "\\ No newline at end of file\n"
    )
    assert snapshot(repo) == before


def test_diff_is_empty_when_nothing_changes(repo: Path, run: Run, kit: tuple[RenderedFile, ...]) -> None:
    run()

    assert render_diff(repo, plan_changes(repo, kit, read_lock(repo))) == ""


def test_diff_notes_a_conflict_already_written_and_a_mode_change(repo: Path, run: Run) -> None:
    run((RenderedFile("run.sh", "exit 0\n"), RenderedFile("Dockerfile", "FROM a\n")))
    (repo / "Dockerfile").write_text("FROM mine\n")
    new_kit = (RenderedFile("run.sh", "exit 0\n", executable=True), RenderedFile("Dockerfile", "FROM b\n"))
    run(new_kit)  # writes Dockerfile.deploysmith-new and makes run.sh executable
    (repo / "run.sh").chmod(0o644)

    diff = render_diff(repo, plan_changes(repo, new_kit, read_lock(repo)))

    assert diff == (
        "# conflict: Dockerfile: edited since deploysmith wrote it; "
        "the new version is already in Dockerfile.deploysmith-new\n"
        "--- a/Dockerfile\n"
        "+++ b/Dockerfile\n"
        "@@ -1 +1 @@\n"
        "-FROM mine\n"
        "+FROM b\n"
        "# update: run.sh: file mode becomes 755\n"
    )


def test_diff_shows_an_empty_new_file(repo: Path) -> None:
    changes = plan_changes(repo, (RenderedFile("deploy/.keep", ""),), None)

    assert render_diff(repo, changes) == "--- /dev/null\n+++ b/deploy/.keep\n"
