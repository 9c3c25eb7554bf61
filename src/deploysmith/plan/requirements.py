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
STRATEGIES = ("auto", "rolling")
TARGETS = ("kubernetes",)
PACKAGING = ("kustomize",)
CONTAINER = ("dockerfile",)
_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$")
_IMAGE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class Question:
    name: str
    prompt: str
    choices: tuple[str, ...]  # empty: free text
    kind: str  # "choice" | "text" | "bool" | "envs"


QUESTIONS: tuple[Question, ...] = (
    Question("environments", "Environments (comma-separated from dev, staging, prod)", ENVIRONMENTS, "envs"),
    Question("ci", "CI platform", CI_PLATFORMS, "choice"),
    Question("registry", "Container registry (empty: the CI platform's registry)", (), "text"),
    Question("domain", "Public domain for the ingress hosts (empty: none yet)", (), "text"),
    Question("zero_downtime", "Zero-downtime deploys", (), "bool"),
    Question("migrations", "Database migrations (auto, none, or the command)", (), "text"),
    Question("compliance", "Compliance profile", COMPLIANCE, "choice"),
    Question("gitops", "GitOps (a controller syncs from Git) rather than deploys from CI", (), "bool"),
    Question("strategy", "Deployment strategy", STRATEGIES, "choice"),
)

# Keys accepted in deploysmith.yaml (besides sections owned by other commands, e.g. audit).
CONFIG_KEYS = (
    "environments", "ci", "registry", "image", "domain", "zero_downtime", "migrations",
    "compliance", "gitops", "strategy", "target", "packaging", "container",
)
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
    return replace(requirements, **values, sources=sources)


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
    if name == "ci":
        return choice(CI_PLATFORMS)
    if name == "compliance":
        return choice(COMPLIANCE)
    if name == "strategy":
        return choice(STRATEGIES)
    if name == "target":
        return choice(TARGETS)
    if name == "packaging":
        return choice(PACKAGING)
    if name == "container":
        return choice(CONTAINER)
    if name in ("zero_downtime", "gitops"):
        if not isinstance(value, bool):
            raise DeploysmithError(f"{where}: expected true or false, got {value!r}")
        return value
    if not isinstance(value, str):
        raise DeploysmithError(f"{where}: expected text, got {value!r}")
    value = value.strip()
    if name == "registry":
        if not value:
            return None
        if not _REGISTRY.match(value):
            raise DeploysmithError(
                f"{where}: {value!r} is not a registry reference like ghcr.io/acme or 123.dkr.ecr.eu-west-1.amazonaws.com"
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
