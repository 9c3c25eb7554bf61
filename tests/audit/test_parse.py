from __future__ import annotations

import pytest

from deploysmith.audit.parse import (
    YamlError,
    YMap,
    env_pairs,
    k8s_objects,
    load_yaml,
    parse_dockerfile,
    parse_workflow,
    split_image,
    substitute,
)


def test_dockerfile_joins_continuations_and_drops_comment_lines() -> None:
    df = parse_dockerfile(
        "Dockerfile",
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.13-slim AS base\n"
        "\n"
        "RUN apt-get update \\\n"
        "    # a comment inside the continuation\n"
        "    && apt-get install -y curl\n"
        "USER 10001\n",
    )
    assert [(i.keyword, i.line, i.end_line) for i in df.instructions] == [
        ("FROM", 2, 2),
        ("RUN", 4, 6),
        ("USER", 7, 7),
    ]
    assert df.instructions[1].args == "apt-get update && apt-get install -y curl"
    assert df.stages[0].name == "base"


def test_dockerfile_escape_directive_and_flags() -> None:
    df = parse_dockerfile(
        "Dockerfile",
        "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
        "RUN --mount=type=cache,target=/root/.cache --network=none echo a `\n  b\n",
    )
    run = df.instructions[1]
    assert run.args == "echo a b"
    assert run.flag_values("mount") == ("type=cache,target=/root/.cache",)
    assert run.flag("network") == "none"


def test_dockerfile_heredoc_body_belongs_to_its_instruction() -> None:
    df = parse_dockerfile(
        "Dockerfile",
        "FROM debian:trixie-slim\nRUN <<EOF\napt-get install -y curl\nEOF\nUSER 1000\n",
    )
    assert [(i.keyword, i.line, i.end_line) for i in df.instructions] == [
        ("FROM", 1, 1),
        ("RUN", 2, 4),
        ("USER", 5, 5),
    ]
    assert "apt-get install -y curl" in df.instructions[1].args


def test_dockerfile_stages_resolve_global_args_and_parents() -> None:
    df = parse_dockerfile(
        "Dockerfile",
        "ARG PY=3.13\nARG VARIANT\nFROM python:${PY}-slim AS build\nFROM build AS test\n"
        "FROM gcr.io/distroless/python3-debian13:${TAG:-nonroot}\n",
    )
    assert [s.base for s in df.stages] == [
        "python:3.13-slim",
        "build",
        "gcr.io/distroless/python3-debian13:nonroot",
    ]
    assert [s.parent for s in df.stages] == [None, 0, None]
    assert [s.index for s in df.final_lineage()] == [2]
    test_stage = parse_dockerfile("Dockerfile", "FROM a:1 AS one\nFROM one AS two\nFROM two\n")
    assert [s.index for s in test_stage.final_lineage()] == [0, 1, 2]


def test_exec_form() -> None:
    df = parse_dockerfile("Dockerfile", 'FROM a:1\nCMD ["python", "-m", "app"]\nENTRYPOINT python app.py\n')
    assert df.instructions[1].exec_form() == ["python", "-m", "app"]
    assert df.instructions[2].exec_form() is None


def test_env_pairs() -> None:
    assert env_pairs('A=1 B="two words" C') == [("A", "1"), ("B", "two words"), ("C", None)]
    assert env_pairs("LEGACY value with spaces") == [("LEGACY", "value with spaces")]
    assert env_pairs("ONLY") == [("ONLY", None)]


def test_substitute() -> None:
    env: dict[str, str | None] = {"A": "1", "EMPTY": ""}
    assert substitute("x:$A-${A}-${EMPTY:-d}-${B:-e}-${A:+f}-$B", env) == "x:1-1-d-e-f-$B"


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("python", ("python", None, None)),
        ("python:3.13", ("python", "3.13", None)),
        ("localhost:5000/app", ("localhost:5000/app", None, None)),
        ("localhost:5000/app:1", ("localhost:5000/app", "1", None)),
        ("app@sha256:abc", ("app", None, "sha256:abc")),
        ("app:1@sha256:abc", ("app", "1", "sha256:abc")),
    ],
)
def test_split_image(ref: str, parts: tuple[str, str | None, str | None]) -> None:
    assert split_image(ref) == parts


def test_yaml_remembers_key_item_and_block_value_lines() -> None:
    docs = load_yaml("a: 1\nlist:\n  - x\n  - y\nrun: |\n  echo one\n  echo two\n---\nb: 2\n")
    first = docs[0]
    assert isinstance(first, YMap)
    assert first.key_lines == {"a": 1, "list": 2, "run": 5}
    assert first.value_line("run") == 6
    assert first["list"].item_lines == [3, 4]
    assert docs[1].line == 9


def test_yaml_unknown_tags_are_plain_data_and_aliases_are_shared() -> None:
    docs = load_yaml(
        "a: !reference [x, y]\nb: !!python/object/apply:os.system [ls]\n"
        "base: &b {k: 1}\nc:\n  <<: *b\n  j: 2\n"
    )
    assert docs[0]["a"] == ["x", "y"]
    assert docs[0]["b"] == ["ls"]
    assert docs[0]["c"] == {"k": 1, "j": 2}


def test_yaml_alias_bomb_is_cheap() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    docs = load_yaml("\n".join(lines) + "\n")
    assert docs[0]["a11"][0] is docs[0]["a10"]


def test_yaml_errors_carry_the_line() -> None:
    with pytest.raises(YamlError) as error:
        load_yaml("a: 1\nb: [1, 2\nc: 3\n")
    assert error.value.line == 3
    assert error.value.problem.startswith("malformed YAML (")


def test_k8s_objects_and_pod_templates() -> None:
    docs = load_yaml(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: ops}\n"
        "spec:\n  jobTemplate:\n    spec:\n      template:\n"
        "        metadata: {labels: {app: n, enabled: true}}\n"
        "        spec:\n          containers: [{name: c, image: 'x:1'}]\n"
        "---\nkind: NotKubernetes\n---\napiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: v1, kind: Service, metadata: {name: s}}\n"
    )
    objects = k8s_objects("a.yaml", docs)
    assert [(o.kind, o.name, o.namespace) for o in objects] == [
        ("CronJob", "nightly", "ops"),
        ("Service", "s", None),
    ]
    pod = objects[0].pod
    assert pod is not None
    assert pod.labels == {"app": "n", "enabled": "true"}
    assert [c["name"] for c in pod.containers] == ["c"]


def test_workflow_on_key_read_as_true_is_understood() -> None:
    docs = load_yaml("on:\n  push:\n  pull_request_target:\njobs:\n  a:\n    steps: [{run: x}]\n")
    workflow = parse_workflow(".github/workflows/x.yml", docs[0])
    assert workflow is not None
    assert workflow.triggers == {"push", "pull_request_target"}
    assert [job.id for job in workflow.jobs] == ["a"]
    assert workflow.jobs[0].line == 5
    assert parse_workflow("x", ["not", "a", "mapping"]) is None
