"""The contract between the audit engine and the rule families.

A family is a module with:
  RULES: tuple[Rule, ...]        its rules, in id order
  applies_to(path: str) -> bool  the files it reads (the engine reads and parses each
                                 file once, whichever families want it)

A Rule is a record, not a class to subclass: its `check` takes the parsed FileSet (the
whole set, so rules that relate files — a Service and its Deployment, a Dockerfile and its
.dockerignore — need nothing else) and yields Hits. The engine turns hits into Findings
with the rule's id and its (configured) severity, applies suppressions and sorts them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from deploysmith.audit.ci.model import Pipeline
from deploysmith.audit.ci.summary import PipelineSummary
from deploysmith.audit.kustomize import Kustomization, Unit
from deploysmith.audit.parse import Dockerfile, K8sObject, Workflow
from deploysmith.model import Severity

Mode = Literal["verify", "audit"]  # verify: rendered files in memory; audit: a repository


@dataclass(frozen=True)
class Hit:
    path: str
    line: int | None  # None: the file as a whole
    message: str
    column: int | None = None


@dataclass(frozen=True)
class TextFile:
    path: str
    text: str


@dataclass(frozen=True)
class Suppression:
    """An inline `deploysmith: ignore[<rule ids>] <reason>` comment on `line`; covers that line and the next,
    and findings about the whole file when it sits in the file's leading comment block."""

    path: str
    line: int
    rules: tuple[str, ...]
    reason: str
    in_header: bool


@dataclass(frozen=True)
class FileSet:
    """Everything the rules look at, parsed once."""

    mode: Mode
    paths: frozenset[str]  # every file of the set or repository, read or not
    texts: tuple[TextFile, ...]  # every file read as text
    dockerfiles: tuple[Dockerfile, ...]
    workflows: tuple[Workflow, ...]
    objects: tuple[K8sObject, ...]  # Kubernetes documents (apiVersion + kind), as written
    patches: tuple[K8sObject, ...]  # documents of kustomize patch files (fragments)
    kustomizations: tuple[Kustomization, ...]
    units: tuple[Unit, ...]  # what each kustomize build applies, and the loose manifests
    kustomize_images: frozenset[str]  # images[].name of every kustomization
    suppressions: tuple[Suppression, ...]
    problems: tuple[Hit, ...]  # files that could not be read or parsed
    known_rules: frozenset[str]
    pipelines: tuple[Pipeline, ...] = ()  # CI/CD pipelines of every platform (GitHub included)
    summaries: tuple[PipelineSummary, ...] = ()  # their coverage and duration, in the same order
    chart_notices: tuple[Hit, ...] = ()  # Helm charts left unrendered (helm-python-sdk not installed)


Check = Callable[[FileSet], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str  # DS-DOCKER-001
    slug: str  # dockerfile-user-root
    severity: Severity
    summary: str  # one line, what is wrong
    check: Check
