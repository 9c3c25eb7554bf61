"""CI/CD pipelines of every platform in one form (model.Pipeline), one module per platform.

    platform_of(path)          which platform's file a path is (GitHub workflows excepted:
                               the workflows family reads those)
    READERS                    platform → its module
    build_pipelines(...)       the Pipelines of a file set, and the files that did not parse

The files of one platform in one project folder form one pipeline: a GitLab file and the
local files it includes, an Azure file and its local templates, all root GitHub workflows.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from deploysmith.audit.ci import azure, circleci, github, gitlab, jenkins
from deploysmith.audit.ci.model import PLATFORM_NAMES, Job, Pipeline, Platform, Reference, Step
from deploysmith.audit.parse import Workflow, YamlError, YMap, load_yaml

READERS: dict[str, ModuleType] = {
    "github": github,
    "gitlab": gitlab,
    "azure": azure,
    "jenkins": jenkins,
    "circleci": circleci,
}

_GITLAB = re.compile(r"(?:^|/)(?:[^/]*\.)?\.?gitlab-ci\.ya?ml$|(?:^|/)\.gitlab/ci/[^/]+\.ya?ml$")
_AZURE = re.compile(r"(?:^|/)(?:\.?azure-pipelines?(?:[.-][^/]*)?\.ya?ml|\.azure-pipelines/[^/]+\.ya?ml)$")
_JENKINS = re.compile(r"(?:^|/)(?:Jenkinsfile(?:\.[A-Za-z0-9_-]+)?|[^/]+\.jenkinsfile)$")
_CIRCLECI = re.compile(r"(?:^|/)\.circleci/config\.ya?ml$")


def platform_of(path: str) -> Platform | None:
    """The CI platform a file configures (not GitHub: see workflows.applies_to)."""
    if _CIRCLECI.search(path):
        return "circleci"
    if _GITLAB.search(path):
        return "gitlab"
    if _AZURE.search(path):
        return "azure"
    if _JENKINS.search(path):
        return "jenkins"
    return None


def project_root(path: str, platform: Platform) -> str:
    if platform == "circleci":
        return circleci.root_of(path)
    if platform == "gitlab" and "/.gitlab/ci/" in f"/{path}":
        return f"/{path}".split("/.gitlab/ci/")[0].lstrip("/")
    return posixpath.dirname(path)


def _is_main_gitlab(path: str) -> bool:
    return posixpath.basename(path) in (".gitlab-ci.yml", ".gitlab-ci.yaml")


def build_pipelines(
    workflows: Sequence[Workflow],
    ci_files: Mapping[str, tuple[Platform, Any]],
    texts: Mapping[str, str],
    paths: frozenset[str],
) -> tuple[list[Pipeline], list[tuple[str, int | None, str]]]:
    """`ci_files`: path → (platform, parsed form): the YAML documents of GitLab, Azure and
    CircleCI files, the statement tree of a Jenkinsfile. Returns the pipelines and the
    (path, line, problem) of files that parsed but are not what their name says."""
    pipelines: list[Pipeline] = []
    problems: list[tuple[str, int | None, str]] = []
    main = github.pipeline(workflows)
    if main is not None:
        pipelines.append(main)
    lines_cache: dict[str, list[str]] = {}

    def lines_of(path: str) -> list[str]:
        if path not in lines_cache:
            lines_cache[path] = texts.get(path, "").splitlines()
        return lines_cache[path]

    def load_any(path: str) -> list[Any] | None:
        if path in ci_files and isinstance(ci_files[path][1], list):
            return list(ci_files[path][1])
        text = texts.get(path)
        if text is None:
            return None
        try:
            return load_yaml(text, path)
        except YamlError:
            return None

    def load_map(path: str) -> YMap | None:
        docs = load_any(path)
        return docs[0] if docs and isinstance(docs[0], YMap) else None

    groups: dict[tuple[Platform, str], list[str]] = {}
    for path, (platform, _) in sorted(ci_files.items()):
        groups.setdefault((platform, project_root(path, platform)), []).append(path)
    for (platform, root), members in sorted(groups.items()):
        if platform == "gitlab":
            members.sort(key=lambda p: (not _is_main_gitlab(p), p))
            files: list[tuple[str, YMap]] = []
            for path in members:
                config = gitlab.config_document(ci_files[path][1])
                if config is None:
                    problems.append((path, None, "a GitLab CI file is a YAML mapping of jobs"))
                else:
                    files.append((path, config))
            if files:
                pipelines.append(gitlab.pipeline(root, files, load_any, lines_of, paths))
            continue
        for path in members:
            parsed = ci_files[path][1]
            made = _one(platform, path, parsed, load_map)
            if made is None:
                problems.append((path, None, f"not a {PLATFORM_NAMES[platform]} configuration"))
            else:
                pipelines.append(made)
    # A file another pipeline reads as a template is part of that pipeline, not one of its own.
    included = {path for p in pipelines for path in p.files if path != p.path}
    return [p for p in pipelines if p.path not in included], problems


def _one(
    platform: Platform, path: str, parsed: Any, load_map: Callable[[str], YMap | None]
) -> Pipeline | None:
    if platform == "jenkins":
        return jenkins.pipeline(path, parsed)
    docs = [doc for doc in parsed if isinstance(doc, YMap)]
    if len(docs) != 1:
        return None
    if platform == "azure":
        return azure.pipeline(path, docs[0], load_map)
    if platform == "circleci":
        if "jobs" not in docs[0] and "workflows" not in docs[0]:
            return None
        return circleci.pipeline(path, docs[0])
    return None


__all__ = [
    "READERS",
    "Job",
    "Pipeline",
    "Reference",
    "Step",
    "build_pipelines",
    "platform_of",
    "project_root",
]
