from __future__ import annotations

import json as jsonlib
from pathlib import Path

import jsonschema
import pytest

from deploysmith.audit import all_rules, get_rule, verify
from deploysmith.errors import DeploysmithError
from deploysmith.model import Finding, RenderedFile
from deploysmith.report import (
    FORMATS,
    format_json,
    format_markdown,
    format_sarif,
    format_text,
    json,
    markdown,
    render,
    sarif,
    text,
)

SARIF_SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "schemastore" / "sarif-2.1.0.json"

FINDINGS = (
    Finding("DS-DOCKER-010", "warning", "Dockerfile", None, "no .dockerignore"),
    Finding("DS-DOCKER-001", "error", "Dockerfile", 1, "runs as root"),
    Finding("DS-K8S-013", "warning", "deploy/my app.yaml", 12, "no tls | plain http", column=3),
    Finding("DS-GHA-007", "info", "deploy/my app.yaml", 40, "no timeout"),
)
RULES = tuple(get_rule(rule_id) for rule_id in ("DS-DOCKER-001", "DS-DOCKER-010", "DS-K8S-013", "DS-GHA-007"))


def test_text() -> None:
    assert text.render(FINDINGS, RULES) == (
        "Dockerfile: warning: no .dockerignore [DS-DOCKER-010]\n"
        "Dockerfile:1: error: runs as root [DS-DOCKER-001]\n"
        "\n"
        "deploy/my app.yaml:12:3: warning: no tls | plain http [DS-K8S-013]\n"
        "deploy/my app.yaml:40: info: no timeout [DS-GHA-007]\n"
        "\n"
        "4 findings (1 error, 2 warnings, 1 info) in 2 files\n"
    )


def test_text_clean_and_singular() -> None:
    assert text.render(()) == "no findings\n"
    assert text.render(FINDINGS[1:2]).endswith("\n1 finding (1 error, 0 warnings, 0 info) in 1 file\n")


def test_text_colour_only_when_asked() -> None:
    plain = text.render(FINDINGS)
    assert "\033[" not in plain
    coloured = text.render(FINDINGS[1:2], color=True)
    assert coloured.startswith(
        "\033[1mDockerfile:1:\033[0m \033[1;31merror\033[0m: runs as root \033[2m[DS-DOCKER-001]"
    )


def test_json_matches_the_contract() -> None:
    document = jsonlib.loads(json.render(FINDINGS))
    assert document["findings"][1] == {
        "rule": "DS-DOCKER-001",
        "severity": "error",
        "path": "Dockerfile",
        "line": 1,
        "message": "runs as root",
    }
    assert document["findings"][2]["column"] == 3
    assert document["summary"] == {"total": 4, "error": 1, "warning": 2, "info": 1, "files": 2}
    assert list(document) == ["findings", "summary"]


def test_sarif_is_valid_and_complete() -> None:
    document = jsonlib.loads(sarif.render(FINDINGS, RULES))
    schema = jsonlib.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    run = document["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "deploysmith"
    assert [rule["id"] for rule in driver["rules"]] == [
        "DS-DOCKER-001",
        "DS-DOCKER-010",
        "DS-GHA-007",
        "DS-K8S-013",
    ]
    assert driver["rules"][0] == {
        "id": "DS-DOCKER-001",
        "name": "dockerfile-user-root",
        "shortDescription": {"text": "The final stage runs as root (no USER, or USER root)."},
        "helpUri": "docs/rules/DS-DOCKER-001.md",
        "defaultConfiguration": {"level": "error"},
    }
    assert run["results"][0] == {
        "ruleId": "DS-DOCKER-010",
        "ruleIndex": 1,
        "level": "warning",
        "message": {"text": "no .dockerignore"},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"}}}
        ],
    }
    assert run["results"][2]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "deploy/my%20app.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 12, "startColumn": 3},
    }
    assert run["results"][3]["level"] == "note"


def test_sarif_is_deterministic_and_describes_every_rule_by_default() -> None:
    first = sarif.render(FINDINGS)
    assert first == sarif.render(FINDINGS)
    document = jsonlib.loads(first)
    assert len(document["runs"][0]["tool"]["driver"]["rules"]) == len(all_rules())
    help_base = "https://example.com/deploysmith/blob/main/"
    linked = jsonlib.loads(sarif.render(FINDINGS, RULES, help_base=help_base))
    assert (
        linked["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"]
        == f"{help_base}docs/rules/DS-DOCKER-001.md"
    )


def test_sarif_of_a_real_verify_run_is_valid() -> None:
    findings = verify([RenderedFile("Dockerfile", "FROM python\nCMD python app.py\n")])
    schema = jsonlib.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(jsonlib.loads(sarif.render(findings)), schema)


def test_markdown() -> None:
    assert markdown.render(FINDINGS[1:3], RULES) == (
        "### deploysmith audit: 2 findings (1 error, 1 warning, 0 info) in 2 files\n"
        "\n"
        "| Severity | Rule | Location | Message |\n"
        "| --- | --- | --- | --- |\n"
        "| 🔴 error | [DS-DOCKER-001](docs/rules/DS-DOCKER-001.md) `dockerfile-user-root` | `Dockerfile:1` "
        "| runs as root |\n"
        "| 🟡 warning | [DS-K8S-013](docs/rules/DS-K8S-013.md) `k8s-ingress-no-tls` "
        "| `deploy/my app.yaml:12:3` | no tls \\| plain http |\n"
    )
    assert markdown.render(()) == "### deploysmith audit: no findings\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_dispatches(fmt: str) -> None:
    assert (
        render(fmt, FINDINGS)
        == {
            "text": text.render(FINDINGS),
            "json": json.render(FINDINGS),
            "sarif": sarif.render(FINDINGS),
            "markdown": markdown.render(FINDINGS, all_rules()),
        }[fmt]
    )


def test_render_rejects_unknown_format() -> None:
    with pytest.raises(DeploysmithError) as error:
        render("xml", FINDINGS)
    assert str(error.value) == "--format xml: use one of text, json, sarif, markdown"


def test_one_function_per_format() -> None:
    assert format_text(FINDINGS, color=True) == text.render(FINDINGS, color=True)
    assert format_json(FINDINGS) == json.render(FINDINGS)
    assert format_sarif(FINDINGS) == sarif.render(FINDINGS)
    assert format_markdown(FINDINGS) == markdown.render(FINDINGS, all_rules())
