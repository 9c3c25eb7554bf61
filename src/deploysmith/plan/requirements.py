"""Requirements: from flags, else deploysmith.yaml, else prompts (TTY only), else defaults.

Each question is a small record; `gather` is pure apart from the `ask` callback the
command layer passes in when (and only when) stdin is a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deploysmith.errors import DeploysmithError
from deploysmith.model import ENVIRONMENTS, Requirements, Stack

CONFIG_FILE = "deploysmith.yaml"
CI_PLATFORMS = ("github", "gitlab", "azure", "jenkins", "circleci")
COMPLIANCE = ("none", "sox", "pci-dss", "hipaa")
STRATEGIES = ("auto", "rolling", "blue-green", "canary", "ab-testing")
TARGETS = (
    "kubernetes", "cloud-run", "ecs-fargate", "lambda", "app-runner", "azure-container-apps",
    "fly", "railway", "render", "heroku", "vercel", "netlify",
)
PACKAGING = ("kustomize", "helm", "plain")
CONTAINER = ("dockerfile",)
GITOPS_TOOLS = ("argocd", "flux")
_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$")
_IMAGE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class Setting:
    """One requirement: its kind, its choices, and the words for --help and the schema."""

    name: str
    kind: str  # "choice" | "bool" | "text" | "envs" | "minutes" | "gitops"
    help: str
    choices: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting("environments", "envs", "environments to deploy to, in promotion order", ENVIRONMENTS),
    Setting("ci", "choice", "CI platform to render the pipeline for", CI_PLATFORMS),
    Setting("registry", "text", "container registry, e.g. ghcr.io/acme (default: the CI platform's)"),
    Setting("image", "text", "image name prefix under the registry (default: the repository name)"),
    Setting("domain", "text", "public domain for the ingress hosts"),
    Setting("zero_downtime", "bool", "require zero-downtime deploys (default: yes)"),
    Setting("migrations", "text", "auto (the detected command), none, or the migration command"),
    Setting("compliance", "choice", "compliance profile whose controls the kit implements", COMPLIANCE),
    Setting("gitops", "gitops", "a GitOps controller (argocd or flux) deploys what CI commits; "
            "false or none: CI deploys", ("argocd", "flux", "none")),
    Setting("gitops_repo", "choice", "same: deploy/ lives in this repository; separate: in an environment "
            "repository CI commits to", ("same", "separate")),
    Setting("secrets", "choice", "how application secrets reach the cluster",
            ("external-secrets", "sealed-secrets", "sops", "none")),
    Setting("strategy", "choice", "deployment strategy (auto: chosen from the inputs below)", STRATEGIES),
    Setting("criticality", "choice", "how costly an outage of this service is", ("low", "standard", "critical")),
    Setting("traffic", "choice", "request volume (canary analysis needs enough requests to judge)",
            ("low", "moderate", "high")),
    Setting("metrics", "bool", "a Prometheus the monitoring and rollout analyses can query (default: yes)"),
    Setting("double_capacity", "bool", "budget for twice the resources while a release runs (default: no)"),
    Setting("breaking_migrations", "bool", "schema changes the running version cannot work with (default: no)"),
    Setting("validation", "choice", "real-user validation before full rollout: gradual exposure or "
            "header/cookie experiments", ("none", "real-users", "experiments")),
    Setting("progressive_delivery", "choice", "controller for canary and blue/green",
            ("argo-rollouts", "flagger")),
    Setting("traffic_router", "choice", "what splits traffic for canary and A/B",
            ("nginx", "istio", "gateway-api")),
    Setting("fail_on", "choice", "lowest vulnerability severity that blocks the pipeline",
            ("critical", "high", "medium")),
    Setting("admission", "choice", "cluster admission policies that refuse what the pipeline did not approve",
            ("kyverno", "gatekeeper", "sigstore", "none")),
    Setting("target", "choice", "where the application runs", TARGETS),
    Setting("packaging", "choice", "how the Kubernetes manifests are packaged", PACKAGING),
    Setting("container", "choice", "how images are built", CONTAINER),
    Setting("iac", "choice", "infrastructure as code for the registry, runtime, database and CI identity",
            ("terraform", "pulumi", "cloudformation", "none")),
    Setting("notify", "choice", "where deploy start, success, failure and rollback are announced",
            ("slack", "teams", "email", "none")),
    Setting("apm", "choice", "where deployment markers are sent", ("grafana", "datadog", "newrelic", "none")),
    Setting("rpo_minutes", "minutes", "recovery point objective of production data, in minutes (default: 60)"),
    Setting("rto_minutes", "minutes", "recovery time objective of production, in minutes (default: 240)"),
)
SETTING = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Question:
    name: str
    prompt: str
    choices: tuple[str, ...]  # empty: free text
    kind: str  # "choice" | "text" | "bool" | "envs"


# Asked on a terminal, in this order: what detection cannot know.
QUESTIONS: tuple[Question, ...] = (
    Question("environments", "Environments (comma-separated from dev, staging, prod)", ENVIRONMENTS, "envs"),
    Question("ci", "CI platform", CI_PLATFORMS, "choice"),
    Question("registry", "Container registry (empty: the CI platform's registry)", (), "text"),
    Question("domain", "Public domain for the ingress hosts (empty: none yet)", (), "text"),
    Question("zero_downtime", "Zero-downtime deploys", (), "bool"),
    Question("migrations", "Database migrations (auto, none, or the command)", (), "text"),
    Question("compliance", "Compliance profile", COMPLIANCE, "choice"),
    Question("gitops", "GitOps (a controller syncs from Git) rather than deploys from CI", (), "bool"),
    Question("criticality", "How critical is the service", SETTING["criticality"].choices, "choice"),
    Question("traffic", "Traffic level", SETTING["traffic"].choices, "choice"),
    Question("double_capacity", "Budget for 2x resources during a release", (), "bool"),
    Question("validation", "Validate with real users before full rollout", SETTING["validation"].choices, "choice"),
    Question("strategy", "Deployment strategy", STRATEGIES, "choice"),
    Question("target", "Where the application runs", TARGETS, "choice"),
)

# Keys accepted in deploysmith.yaml (besides sections owned by other commands, e.g. audit).
CONFIG_KEYS = tuple(setting.name for setting in SETTINGS)
OTHER_SECTIONS = ("audit",)

Asker = Callable[[Question, str], str]


def load_config(root: Path) -> Mapping[str, Any]:
    """The requirement settings of the committed deploysmith.yaml ({} when absent)."""
    return {key: value for key, value in _read_config(root).items() if key in CONFIG_KEYS}


def load_config_section(root: Path, section: str) -> Any:
    """Another command's section of deploysmith.yaml (e.g. "audit"), None when absent."""
    return _read_config(root).get(section)


def _read_config(root: Path) -> dict[str, Any]:
    """The whole file, checked. Malformed is an error: the user committed it, so guessing
    around it would hide their intent."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return {}
    import yaml  # lazy: keeps startup fast

    try:
        raw = path.read_bytes()
        if len(raw) > 256 * 1024:
            raise DeploysmithError(f"{CONFIG_FILE}: larger than 256 KB; is this the right file?")
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise DeploysmithError(f"{CONFIG_FILE}: not UTF-8 text ({error.reason})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise DeploysmithError(
            f"{CONFIG_FILE}{where}: malformed YAML ({getattr(error, 'problem', None) or 'syntax error'})"
        ) from None
    except OSError as error:
        raise DeploysmithError(f"{CONFIG_FILE}: cannot read ({error.strerror})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DeploysmithError(f"{CONFIG_FILE}: expected a mapping of settings at the top level")
    unknown = sorted(str(key) for key in data if key not in CONFIG_KEYS and key not in OTHER_SECTIONS)
    if unknown:
        raise DeploysmithError(
            f"{CONFIG_FILE}: unknown setting {unknown[0]!r}; known: {', '.join(CONFIG_KEYS)}"
        )
    return data


def defaults(stack: Stack) -> tuple[Requirements, dict[str, str]]:
    """Requirements when nobody says otherwise, with where each default came from."""
    sources = {name: "default" for name in CONFIG_KEYS}
    requirements = Requirements()
    if stack.ci_platform in CI_PLATFORMS:
        requirements = replace(requirements, ci=stack.ci_platform)
        sources["ci"] = "detected"
    return requirements, sources


def gather(
    stack: Stack,
    flags: Mapping[str, Any],
    config: Mapping[str, Any],
    ask: Asker | None,
) -> Requirements:
    """Merge the sources in precedence order: flags, deploysmith.yaml, prompts, defaults."""
    requirements, sources = defaults(stack)
    values: dict[str, Any] = {}
    for name in CONFIG_KEYS:
        if flags.get(name) is not None:
            values[name] = _validate(name, flags[name], "--" + name.replace("_", "-"))
            sources[name] = "flag"
        elif name in config and config[name] is not None:
            values[name] = _validate(name, config[name], f"{CONFIG_FILE}: {name}")
            sources[name] = CONFIG_FILE
    if ask is not None:
        for question in QUESTIONS:
            if question.name in values:
                continue
            default = _show(getattr(requirements, question.name))
            answer = ask(question, default).strip()
            if answer and answer != default:
                values[question.name] = _validate(question.name, _parse_answer(question, answer), "answer")
                sources[question.name] = "prompt"
    _apply_profile_defaults(values, sources)
    if isinstance(values.get("gitops"), str):
        tool = values.pop("gitops")
        values["gitops"] = tool != "none"
        if tool != "none":
            values["gitops_tool"] = tool
            sources["gitops_tool"] = sources["gitops"]
    return replace(requirements, **values, sources=sources)


# What a compliance profile changes when the user left the setting at its default: the
# cluster must refuse unapproved images, and medium findings block (auditors ask why a
# known vulnerability shipped, whatever its score).
PROFILE_DEFAULTS: Mapping[str, Any] = {"admission": "kyverno", "fail_on": "medium"}


def _apply_profile_defaults(values: dict[str, Any], sources: dict[str, str]) -> None:
    profile = values.get("compliance", "none")
    if profile == "none":
        return
    for name, value in PROFILE_DEFAULTS.items():
        if name not in values:
            values[name] = value
            sources[name] = f"compliance profile {profile}"


def _parse_answer(question: Question, answer: str) -> Any:
    if question.kind == "bool":
        lowered = answer.lower()
        if lowered in ("y", "yes", "true", "1"):
            return True
        if lowered in ("n", "no", "false", "0"):
            return False
        raise DeploysmithError(f"{question.name}: answer yes or no (got {answer!r})")
    if question.kind == "envs":
        return [part.strip() for part in answer.split(",") if part.strip()]
    return answer


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ",".join(value)
    return "" if value is None else str(value)


def _validate(name: str, value: Any, where: str) -> Any:
    """Check one value's type and range; the error names where it came from."""
    def choice(options: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in options:
            raise DeploysmithError(f"{where}: {value!r} is not one of {', '.join(options)}")
        return value

    if name == "environments":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not items:
            raise DeploysmithError(f"{where}: expected a list from {', '.join(ENVIRONMENTS)}")
        for item in items:
            if item not in ENVIRONMENTS:
                raise DeploysmithError(f"{where}: {item!r} is not one of {', '.join(ENVIRONMENTS)}")
        # Keep the promotion order whatever order the user gave.
        return tuple(env for env in ENVIRONMENTS if env in items)
    setting = SETTING.get(name)
    if setting is None:
        raise DeploysmithError(f"{where}: unknown setting {name!r}")
    if setting.kind == "choice":
        return choice(setting.choices)
    if setting.kind == "gitops":
        # true/false, or the controller by name; gather() splits it into gitops + gitops_tool
        if isinstance(value, bool) or value in setting.choices:
            return value
        raise DeploysmithError(f"{where}: expected true, false, argocd, flux or none, got {value!r}")
    if setting.kind == "bool":
        if not isinstance(value, bool):
            raise DeploysmithError(f"{where}: expected true or false, got {value!r}")
        return value
    if setting.kind == "minutes":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60 * 24 * 30:
            raise DeploysmithError(f"{where}: expected whole minutes between 1 and 43200, got {value!r}")
        return value
    if not isinstance(value, str):
        raise DeploysmithError(f"{where}: expected text, got {value!r}")
    value = value.strip()
    if name == "registry":
        if not value:
            return None
        if not _REGISTRY.match(value):
            raise DeploysmithError(
                f"{where}: {value!r} is not a registry reference like ghcr.io/acme or "
                "123.dkr.ecr.eu-west-1.amazonaws.com"
            )
        return value
    if name == "image":
        if not value:
            return None
        if not _IMAGE.match(value):
            raise DeploysmithError(f"{where}: {value!r} is not an image name (lowercase, no tag)")
        return value
    if name == "domain":
        if not value:
            return None
        if not _DOMAIN.match(value.lower()):
            raise DeploysmithError(f"{where}: {value!r} is not a domain name like example.org")
        return value.lower()
    if name == "migrations":
        if not value:
            raise DeploysmithError(f"{where}: expected auto, none, or the migration command")
        if "\n" in value or "\x00" in value:
            raise DeploysmithError(f"{where}: the migration command must be one line")
        return value
    raise DeploysmithError(f"{where}: unknown setting {name!r}")
