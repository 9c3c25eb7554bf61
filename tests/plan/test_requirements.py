from __future__ import annotations

from pathlib import Path

import pytest

from deploysmith.errors import DeploysmithError
from deploysmith.model import Requirements, Stack
from deploysmith.plan.requirements import CONFIG_KEYS, Question, gather, load_config

STACK = Stack(root="/repo", components=())


def test_defaults_when_nothing_is_said() -> None:
    requirements = gather(STACK, {}, {}, None)
    assert requirements == Requirements(sources={name: "default" for name in CONFIG_KEYS})


def test_flags_win_over_config_and_config_over_defaults() -> None:
    requirements = gather(
        STACK,
        {"domain": "shop.example.org", "environments": ["prod", "dev"]},
        {"domain": "ignored.example.org", "gitops": True, "environments": ["staging"]},
        None,
    )
    assert requirements.domain == "shop.example.org"
    assert requirements.environments == ("dev", "prod")  # promotion order, whatever the flag order
    assert requirements.gitops is True
    assert requirements.sources["domain"] == "flag"
    assert requirements.sources["environments"] == "flag"
    assert requirements.sources["gitops"] == "deploysmith.yaml"
    assert requirements.sources["strategy"] == "default"


def test_detected_ci_platform_is_the_default() -> None:
    requirements = gather(Stack(root="/r", components=(), ci_platform="github"), {}, {}, None)
    assert (requirements.ci, requirements.sources["ci"]) == ("github", "detected")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"environments": ["qa"]}, "--environments: 'qa' is not one of dev, staging, prod"),
        ({"registry": "Not A Registry"}, "--registry: 'Not A Registry' is not a registry reference"),
        ({"domain": "no_domain"}, "--domain: 'no_domain' is not a domain name like example.org"),
        ({"migrations": "a\nb"}, "--migrations: the migration command must be one line"),
    ],
)
def test_bad_flag_values_say_what_to_check(flags: dict[str, object], message: str) -> None:
    with pytest.raises(DeploysmithError) as error:
        gather(STACK, flags, {}, None)
    assert str(error.value).startswith(message)


def test_config_type_errors_name_the_file() -> None:
    expected = r"^deploysmith.yaml: gitops: expected true, false, argocd, flux or none, got 'yes please'$"
    with pytest.raises(DeploysmithError, match=expected):
        gather(STACK, {}, {"gitops": "yes please"}, None)


def test_prompts_only_for_what_flags_and_config_left_open() -> None:
    asked: list[str] = []

    def ask(question: Question, default: str) -> str:
        asked.append(question.name)
        return {"domain": "app.example.org", "zero_downtime": "no"}.get(question.name, default)

    requirements = gather(STACK, {"ci": "github"}, {"strategy": "rolling"}, ask)
    assert asked == [
        "environments", "registry", "domain", "zero_downtime", "migrations", "compliance", "gitops",
        "criticality", "traffic", "double_capacity", "validation", "target",
    ]
    assert requirements.domain == "app.example.org"
    assert requirements.zero_downtime is False
    assert requirements.sources["domain"] == "prompt"
    assert requirements.sources["environments"] == "default"  # the default was accepted


def test_load_config_reads_yaml(tmp_path: Path) -> None:
    (tmp_path / "deploysmith.yaml").write_text("domain: shop.example.org\ngitops: true\naudit:\n  disable: []\n")
    assert load_config(tmp_path) == {"domain": "shop.example.org", "gitops": True}


def test_load_config_absent_is_empty(tmp_path: Path) -> None:
    assert load_config(tmp_path) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"domain: [unclosed\n", "deploysmith.yaml:2: malformed YAML"),
        (b"- a list\n", "deploysmith.yaml: expected a mapping of settings at the top level"),
        (b"domian: x\n", "deploysmith.yaml: unknown setting 'domian'"),
        (b"domain: \xff\xfe\n", "deploysmith.yaml: not UTF-8 text"),
    ],
)
def test_load_config_rejects_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "deploysmith.yaml").write_bytes(content)
    with pytest.raises(DeploysmithError) as error:
        load_config(tmp_path)
    assert str(error.value).startswith(message)


def test_schema_accepts_and_rejects_like_the_loader(tmp_path: Path) -> None:
    import json

    import jsonschema
    import yaml

    schema = json.loads(
        (Path(__file__).parents[2] / "src/deploysmith/schemas/deploysmith.schema.json").read_text()
    )
    good = yaml.safe_load("environments: [dev, prod]\ndomain: shop.example.org\nmigrations: none\ngitops: false\n")
    jsonschema.validate(good, schema)
    (tmp_path / "deploysmith.yaml").write_text(yaml.safe_dump(good))
    gather(STACK, {}, load_config(tmp_path), None)
    for bad in ({"environments": ["qa"]}, {"gitops": "yes"}, {"unknown": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


@pytest.mark.parametrize(
    ("given", "gitops", "tool"),
    [(True, True, "argocd"), (False, False, "argocd"), ("flux", True, "flux"), ("argocd", True, "argocd"),
     ("none", False, "argocd")],
)
def test_gitops_names_the_controller_or_says_yes_or_no(given: object, gitops: bool, tool: str) -> None:
    requirements = gather(STACK, {}, {"gitops": given}, None)
    assert (requirements.gitops, requirements.gitops_tool) == (gitops, tool)


def test_a_compliance_profile_tightens_what_the_user_left_at_default() -> None:
    requirements = gather(STACK, {"compliance": "pci-dss"}, {"fail_on": "critical"}, None)
    assert (requirements.admission, requirements.fail_on) == ("kyverno", "critical")
    assert requirements.sources["admission"] == "compliance profile pci-dss"
    assert requirements.sources["fail_on"] == "deploysmith.yaml"


@pytest.mark.parametrize("minutes", [0, -5, 50000, True, "15"])
def test_recovery_objectives_are_whole_minutes(minutes: object) -> None:
    with pytest.raises(DeploysmithError, match=r"^--rpo-minutes: expected whole minutes between 1 and 43200"):
        gather(STACK, {"rpo_minutes": minutes}, {}, None)
