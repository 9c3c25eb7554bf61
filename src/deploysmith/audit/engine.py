"""The audit engine: read and parse each file once, run every enabled rule over the parsed
set, apply inline suppressions and configuration, and return sorted findings.

`verify` runs over rendered files in memory (the gate before anything is written);
`audit_repo` runs over a repository through its read-only Repo view. Both share `run`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from deploysmith.audit import ci_rules, dockerfile, docs, helm, kubernetes, meta, pipeline, secrets, workflows
from deploysmith.audit.base import FileSet, Hit, Mode, Rule, Suppression, TextFile
from deploysmith.audit.ci import build_pipelines, jenkins, platform_of
from deploysmith.audit.ci.model import Platform
from deploysmith.audit.ci.summary import PipelineSummary, summarize
from deploysmith.audit.kustomize import KUSTOMIZATION_NAMES, Kustomization, build_units
from deploysmith.audit.parse import (
    Dockerfile,
    K8sObject,
    Workflow,
    YamlError,
    YMap,
    k8s_objects,
    load_yaml,
    parse_dockerfile,
    parse_workflow,
)
from deploysmith.errors import DeploysmithError
from deploysmith.model import SEVERITY_RANK, Finding, RenderedFile, Severity
from deploysmith.repo import Repo

# The rule families, in the order their pages are listed. Adding a rule touches its
# family module and its docs/rules page; adding a family adds one line here.
FAMILIES: dict[str, ModuleType] = {
    "dockerfile": dockerfile,
    "kubernetes": kubernetes,
    "workflows": workflows,
    "ci": ci_rules,
    "pipeline": pipeline,
    "secrets": secrets,
    "docs": docs,
    "meta": meta,
}


def family_rules(families: Mapping[str, ModuleType] = FAMILIES) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for module in families.values():
        rules.extend(module.RULES)
    return tuple(rules)


_RULE_IDS = frozenset(rule.id for rule in family_rules())
_RULE_BY_SLUG = {rule.slug: rule.id for rule in family_rules()}


# -- configuration ---------------------------------------------------------------------------

CONFIG_FILE = "deploysmith.yaml"  # = plan.requirements.CONFIG_FILE (tests/audit/test_speed.py)


@dataclass(frozen=True)
class AuditConfig:
    """The `audit:` section of deploysmith.yaml:

        audit:
          disable: [DS-GHA-007]            # rule ids (or slugs) not to run
          severity: {DS-K8S-013: error}    # per-rule severity
          exclude: ["docs/examples/*"]     # paths not to audit (fnmatch; * also crosses /)
    """

    disable: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, source: str = "deploysmith.yaml") -> AuditConfig:
        if data is None:
            return cls()
        where = f"{source}: audit"
        if not isinstance(data, Mapping):
            raise DeploysmithError(f"{where}: expected a mapping with disable, severity or exclude")
        unknown = sorted(str(key) for key in data if key not in ("disable", "severity", "exclude"))
        if unknown:
            raise DeploysmithError(
                f"{where}: unknown key {', '.join(unknown)}; expected disable, severity or exclude"
            )
        disable = data.get("disable") or []
        if not isinstance(disable, list):
            raise DeploysmithError(f"{where}.disable: expected a list of rule ids")
        severity = data.get("severity") or {}
        if not isinstance(severity, Mapping):
            raise DeploysmithError(
                f"{where}.severity: expected a mapping of rule id to error, warning or info"
            )
        levels: dict[str, Severity] = {}
        for key, level in severity.items():
            if level not in SEVERITY_RANK:
                raise DeploysmithError(
                    f"{where}.severity.{key}: {level!r} is not a severity; use error, warning or info"
                )
            levels[_rule_id(key, f"{where}.severity")] = level
        exclude = data.get("exclude") or []
        if not isinstance(exclude, list) or not all(isinstance(item, str) for item in exclude):
            raise DeploysmithError(f"{where}.exclude: expected a list of path patterns")
        return cls(
            disable=frozenset(_rule_id(item, f"{where}.disable") for item in disable),
            severity=levels,
            exclude=tuple(exclude),
        )

    @classmethod
    def load(cls, root: Path) -> AuditConfig:
        """The `audit:` section of root/deploysmith.yaml, read and checked with the rest of the
        file by plan.requirements. That module brings the whole plan package (about 15 ms of
        an audit's start-up), so it is imported only when there is a file to read."""
        if not (root / CONFIG_FILE).is_file():
            return cls()
        from deploysmith.plan.requirements import load_config_section

        return cls.from_mapping(load_config_section(root, "audit"))

    def excludes(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.exclude)


def _rule_id(name: Any, where: str) -> str:
    text = str(name)
    if text in _RULE_IDS:
        return text
    if text in _RULE_BY_SLUG:
        return _RULE_BY_SLUG[text]
    raise DeploysmithError(f"{where}: unknown rule {text!r}; `deploysmith rules` lists the ids")


# -- entry points -----------------------------------------------------------------------------


def verify(files: Sequence[RenderedFile], config: AuditConfig | None = None) -> tuple[Finding, ...]:
    """The gate before any write: every rule over the rendered files, in memory."""
    return audit_files(files, mode="verify", config=config)


def audit_files(
    files: Sequence[RenderedFile],
    *,
    mode: Mode = "audit",
    config: AuditConfig | None = None,
    families: Mapping[str, ModuleType] = FAMILIES,
) -> tuple[Finding, ...]:
    """Every rule over in-memory files, as `verify` (mode="verify") or as if they were a
    repository (mode="audit": repository-level rules such as DS-DOCS-001 run too)."""
    config = config or AuditConfig()
    sources = [_Source(f.path, f.content) for f in files if not config.excludes(f.path)]
    paths = frozenset(f.path for f in files)
    return run(build(sources, paths, mode), config, families)


@dataclass(frozen=True)
class AuditReport:
    """What `deploysmith audit` reports: the findings, and each CI/CD pipeline's coverage of
    the nine stages and its duration estimate (the reports print both)."""

    findings: tuple[Finding, ...]
    pipelines: tuple[PipelineSummary, ...]


def audit_repo(repo: Repo, config: AuditConfig | None = None) -> tuple[Finding, ...]:
    """Every rule over a repository: Dockerfiles, workflows, Kubernetes YAML anywhere outside
    ignored folders, Markdown, and every text file for secrets."""
    return audit_report(repo, config).findings


def audit_report(repo: Repo, config: AuditConfig | None = None) -> AuditReport:
    """`audit_repo`, with the pipeline summaries."""
    with _without_cycle_collection():
        return _audit_report(repo, config or AuditConfig())


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """An audit allocates a few hundred thousand objects (parsed YAML, jobs, findings) that
    live until the report. The cycle collector would walk them again and again, for close
    to a tenth of the run, and free nothing: what the audit drops, reference counting frees."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _audit_report(repo: Repo, config: AuditConfig) -> AuditReport:
    sources: list[_Source] = []
    for rel in repo.files:
        if config.excludes(rel) or not any(module.applies_to(rel) for module in FAMILIES.values()):
            continue
        text = repo.read_text(rel)
        problem = ""
        if text is None:
            problem = next(
                (
                    w.split(": ", 1)[1].removesuffix("; skipped")
                    for w in reversed(repo.warnings)
                    if w.startswith(f"{rel}: ")
                ),
                "cannot read it as text",
            )
        sources.append(_Source(rel, text, problem))
    fs = build(sources, frozenset(repo.files), "audit")
    return AuditReport(run(fs, config, FAMILIES), fs.summaries)


def exit_code(findings: Iterable[Finding], fail_on: str) -> int:
    """0 when no finding is at or above `fail_on` (error, warning or info), else 1."""
    if fail_on not in SEVERITY_RANK:
        raise DeploysmithError(f"--fail-on {fail_on}: use error, warning or info")
    threshold = SEVERITY_RANK[fail_on]
    return 1 if any(SEVERITY_RANK[f.severity] >= threshold for f in findings) else 0


# -- reading and parsing, once per file ------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    path: str
    text: str | None
    problem: str = ""  # why text is None


_K8S_HINT = re.compile(r"^apiVersion:.*^kind:|^kind:.*^apiVersion:", re.MULTILINE | re.DOTALL)
_UNCHECKED = "; no rule checked this file"


def build(sources: Sequence[_Source], paths: frozenset[str], mode: Mode) -> FileSet:
    """Read and parse every source once; what cannot be read or parsed becomes a problem
    (DS-META-002) instead of an exception."""
    texts: list[TextFile] = []
    dockerfiles: list[Dockerfile] = []
    workflow_list: list[Workflow] = []
    documents: dict[str, list[K8sObject]] = {}
    kustomizations: list[Kustomization] = []
    found: list[Suppression] = []
    problems: list[Hit] = []
    ci_files: dict[str, tuple[Platform, Any]] = {}
    for source in sources:
        path = source.path
        is_dockerfile = dockerfile.applies_to(path)
        is_workflow = workflows.applies_to(path)
        platform = None if is_workflow else platform_of(path)
        is_yaml = kubernetes.applies_to(path) or posixpath.basename(path) in KUSTOMIZATION_NAMES
        if source.text is None:
            if is_dockerfile or is_workflow or is_yaml or platform:
                problems.append(Hit(path, None, f"cannot parse: {source.problem}{_UNCHECKED}"))
            continue
        text = source.text
        file = TextFile(path, text)
        texts.append(file)
        found.extend(meta.suppressions(file))
        if platform is not None:
            problem = _parse_ci(path, platform, text, ci_files)
            if problem is not None:
                problems.append(problem)
            continue
        if is_dockerfile:
            parsed = parse_dockerfile(path, text)
            if parsed.stages:
                dockerfiles.append(parsed)
            elif parsed.instructions:
                problems.append(Hit(path, None, f"cannot parse: no FROM instruction{_UNCHECKED}"))
        if not (is_workflow or is_yaml) or (_helm_template(path) and "{{" in text):
            continue
        kustomization = posixpath.basename(path) in KUSTOMIZATION_NAMES
        try:
            parsed_docs = load_yaml(text, path)
        except YamlError as error:
            if mode == "verify" or is_workflow or kustomization or _K8S_HINT.search(text):
                problems.append(Hit(path, error.line, f"cannot parse: {error.problem}{_UNCHECKED}"))
            continue
        if is_workflow:
            workflow = parse_workflow(path, parsed_docs[0] if len(parsed_docs) == 1 else None)
            if workflow is None:
                message = "cannot parse: a workflow is one YAML mapping with on and jobs"
                problems.append(Hit(path, None, message + _UNCHECKED))
            else:
                workflow_list.append(workflow)
            continue
        if kustomization:
            first = parsed_docs[0] if parsed_docs else None
            if isinstance(first, YMap):
                kustomizations.append(Kustomization(path, first))
        else:
            documents[path] = k8s_objects(path, parsed_docs)
    units, patch_files = build_units(documents, kustomizations)
    text_map = {file.path: file.text for file in texts}
    charts = helm.render_charts(text_map, paths)  # Helm charts, rendered: one unit per values file
    units = (*units, *charts.units)
    problems.extend(charts.problems)
    pipelines, ci_problems = build_pipelines(workflow_list, ci_files, text_map, paths)
    problems.extend(Hit(path, line, f"cannot parse: {what}{_UNCHECKED}") for path, line, what in ci_problems)
    summaries: list[PipelineSummary] = [summarize(p, paths) for p in pipelines]
    return FileSet(
        mode=mode,
        paths=paths,
        texts=tuple(texts),
        dockerfiles=tuple(dockerfiles),
        workflows=tuple(workflow_list),
        objects=(
            *(o for path, objs in documents.items() if path not in patch_files for o in objs),
            *(o for unit in charts.units for o in unit.objects),
        ),
        patches=tuple(o for path, objs in documents.items() if path in patch_files for o in objs),
        kustomizations=tuple(kustomizations),
        units=units,
        kustomize_images=frozenset(name for k in kustomizations for name in k.images()),
        suppressions=tuple(found),
        problems=tuple(problems),
        known_rules=_RULE_IDS,
        pipelines=tuple(pipelines),
        summaries=tuple(summaries),
        chart_notices=charts.notices,
    )


def _parse_ci(path: str, platform: Platform, text: str, into: dict[str, tuple[Platform, Any]]) -> Hit | None:
    """Parse a CI file of another platform than GitHub: YAML documents, or a Jenkinsfile's
    statement tree. A file that does not parse is a problem (DS-META-002), never an exception."""
    if platform == "jenkins":
        try:
            into[path] = (platform, jenkins.parse(text))
        except jenkins.JenkinsError as error:
            return Hit(path, error.line, f"cannot parse: {error.problem}{_UNCHECKED}")
        except RecursionError:
            return Hit(path, None, f"cannot parse: nested too deeply{_UNCHECKED}")
        return None
    try:
        into[path] = (platform, load_yaml(text, path))
    except YamlError as error:
        return Hit(path, error.line, f"cannot parse: {error.problem}{_UNCHECKED}")
    return None


def _helm_template(path: str) -> bool:
    return "/templates/" in f"/{path}"


# -- running the rules --------------------------------------------------------------------------------


def run(
    fs: FileSet, config: AuditConfig, families: Mapping[str, ModuleType] = FAMILIES
) -> tuple[Finding, ...]:
    findings: dict[Finding, None] = {}
    for rule in family_rules(families):
        if rule.id in config.disable:
            continue
        severity = config.severity.get(rule.id, rule.severity)
        for hit in rule.check(fs):
            finding = Finding(rule.id, severity, hit.path, hit.line, hit.message, hit.column)
            findings[finding] = None
    index: dict[str, list[Suppression]] = {}
    for item in fs.suppressions:
        index.setdefault(item.path, []).append(item)
    kept = [
        f
        for f in findings
        if not config.excludes(f.path)
        and (f.rule in meta.UNSUPPRESSIBLE or not _suppressed(f, index.get(f.path, ())))
    ]
    return tuple(sorted(kept, key=_order))


def _suppressed(finding: Finding, items: Iterable[Suppression]) -> bool:
    for item in items:
        if finding.rule not in item.rules:
            continue
        if finding.line is None and item.in_header:
            return True
        if finding.line is not None and finding.line in (item.line, item.line + 1):
            return True
    return False


def _order(finding: Finding) -> tuple[str, int, str, int, str]:
    return (finding.path, finding.line or 0, finding.rule, finding.column or 0, finding.message)
