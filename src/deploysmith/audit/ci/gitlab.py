"""GitLab CI: .gitlab-ci.yml (and *.gitlab-ci.yml, .gitlab/ci/*.yml, and the local files
it includes) as one Pipeline.

Resolved like GitLab does, without evaluating anything: `extends` (deep merge, arrays
replaced), `default:` and the old top-level globals, `!reference [job, key]` in scripts,
stage order (`stages:`, default build/test/deploy) or `needs:` for the order of jobs,
`rules: when:` and `when:` for manual and on_failure jobs. Remote, project, template and
component includes are not fetched: they become References (and a note); the security
templates among them (SAST, Secret-Detection, Dependency-Scanning, Container-Scanning,
DAST) still count as a Security Scan job.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from deploysmith.audit.ci.common import parse_minutes, seq_script, text_of, truthy
from deploysmith.audit.ci.model import Condition, Job, Pipeline, Reference, Step
from deploysmith.audit.parse import YMap, YSeq

GLOBAL_KEYS = frozenset(
    {
        "stages",
        "variables",
        "default",
        "include",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "spec",
        "types",
    }
)
_DEFAULT_KEYS = ("image", "services", "cache", "before_script", "after_script", "timeout", "interruptible")
DEFAULT_STAGES = (".pre", "build", "test", "deploy", ".post")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_SECURITY_TEMPLATE = re.compile(
    r"sast|secret[-_]detection|dependency[-_]scanning|container[-_]scanning|dast|license[-_]scanning|"
    r"security|iac[-_]scanning|api[-_]security|fuzz",
    re.IGNORECASE,
)

Loader = Callable[[str], "list[Any] | None"]


def config_document(docs: Sequence[Any]) -> YMap | None:
    """The configuration mapping of a file: the last document (a `spec:` header comes first)."""
    maps = [doc for doc in docs if isinstance(doc, YMap)]
    if not maps:
        return None
    return maps[-1]


def pipeline(
    root: str,
    files: Sequence[tuple[str, YMap]],
    load: Loader,
    lines_of: Callable[[str], list[str]],
    paths: frozenset[str] = frozenset(),
) -> Pipeline:
    """`files`: the GitLab files of one project, the main one first. `load(path)` parses a
    local include (None when the repository has no such file); `paths` lists the repository
    for wildcard includes."""
    documents: list[tuple[str, YMap]] = list(files)
    references: list[Reference] = []
    notes: list[str] = []
    security_includes: list[tuple[str, int, str]] = []
    seen = {path for path, _ in documents}
    index = 0
    while index < len(documents):
        path, doc = documents[index]
        index += 1
        for kind, target, line, pinned, advice in _includes(doc):
            if kind == "local":
                for included in _local_paths(root, target, seen, paths):
                    parsed = load(included)
                    config = config_document(parsed or [])
                    if config is not None:
                        seen.add(included)
                        documents.append((included, config))
                continue
            references.append(Reference(path, line, f"{kind} include", target, pinned, advice))
            notes.append(f"{kind} include {target} is not read")
            if _SECURITY_TEMPLATE.search(target):
                security_includes.append((path, line, target))
    merged = YMap(1, documents[0][0])
    origin: dict[str, str] = {}
    for path, doc in documents:
        for key, value in doc.items():
            merged[key] = value
            merged.key_lines[key] = doc.line_of(key)
            merged.value_lines[key] = doc.value_line(key)
            origin[str(key)] = path
    stages = merged.get("stages")
    stage_order = list(DEFAULT_STAGES)
    if isinstance(stages, list) and stages:
        stage_order = [".pre", *(str(s) for s in stages if s not in (".pre", ".post")), ".post"]
    defaults = merged.mapping("default")
    inherited: dict[str, tuple[Any, YMap]] = {}
    for key in _DEFAULT_KEYS:
        if key in defaults:
            inherited[key] = (defaults[key], defaults)
        elif key in merged:
            inherited[key] = (merged[key], merged)
    jobs: list[Job] = []
    raw: dict[str, YMap] = {}
    for key, value in merged.items():
        name = str(key)
        if name in GLOBAL_KEYS or name.startswith(".") or not isinstance(value, YMap):
            continue
        if "script" not in value and "trigger" not in value and "extends" not in value:
            continue
        raw[name] = _resolve(value, merged)
    for name, data in raw.items():
        jobs.append(
            _job(
                name,
                data,
                origin.get(name, documents[0][0]),
                merged.line_of(name),
                inherited,
                merged,
                lines_of,
            )
        )
    for path, line, target in security_includes:
        short = posixpath.basename(target.split("@")[0]).removesuffix(".gitlab-ci.yml").removesuffix(".yml")
        jobs.append(
            Job(
                id=f"{short} (included)",
                name=short,
                path=path,
                line=line,
                stage="test",
                steps=(Step(line, short, "action", target),),
            )
        )
    jobs = _order(jobs, raw, stage_order)
    secret_names = frozenset(str(name) for data in raw.values() for name in data.mapping("secrets"))
    return Pipeline(
        "gitlab",
        root,
        documents[0][0],
        tuple(path for path, _ in documents),
        tuple(jobs),
        cache=bool(inherited.get("cache", (None, None))[0]),
        notes=tuple(notes),
        references=tuple(references),
        secret_names=secret_names,
        sources=tuple(documents),
    )


def _includes(doc: YMap) -> list[tuple[str, str, int, bool, str]]:
    include = doc.get("include")
    if include is None:
        return []
    items = include if isinstance(include, list) else [include]
    lines = getattr(include, "item_lines", None) or [doc.line_of("include")] * len(items)
    found: list[tuple[str, str, int, bool, str]] = []
    for item, line in zip(items, lines, strict=False):
        if isinstance(item, str):
            if item.startswith(("http://", "https://")):
                found.append(
                    ("remote", item, line, False, "use integrity: sha256-… or a project include at a SHA")
                )
            else:
                found.append(("local", item, line, True, ""))
            continue
        if not isinstance(item, YMap):
            continue
        if "local" in item:
            found.append(("local", text_of(item["local"]), line, True, ""))
        elif "remote" in item:
            pinned = isinstance(item.get("integrity"), str)
            found.append(
                (
                    "remote",
                    text_of(item["remote"]),
                    item.line_of("remote"),
                    pinned,
                    "add `integrity: sha256-…` (the file's hash) or include it from a project at a SHA",
                )
            )
        elif "project" in item:
            ref = item.get("ref")
            files = item.get("file")
            target = f"{item['project']}:{text_of(files)}" + (f"@{ref}" if ref else "")
            pinned = isinstance(ref, str) and bool(_SHA.match(ref))
            found.append(
                (
                    "project",
                    target,
                    item.line_of("project"),
                    pinned,
                    "set `ref:` to a full commit SHA (a branch or tag can move)",
                )
            )
        elif "template" in item:
            found.append(("template", text_of(item["template"]), item.line_of("template"), True, ""))
        elif "component" in item:
            target = text_of(item["component"])
            version = target.rpartition("@")[2] if "@" in target else ""
            pinned = bool(_SHA.match(version) or re.fullmatch(r"v?\d+\.\d+\.\d+", version))
            found.append(
                (
                    "component",
                    target,
                    item.line_of("component"),
                    pinned,
                    "pin a full version (1.2.3) or a commit SHA, not ~latest, a branch or a partial version",
                )
            )
    return found


def _local_paths(root: str, target: str, seen: set[str], paths: frozenset[str]) -> list[str]:
    path = posixpath.normpath(posixpath.join(root, target.lstrip("/")))
    if "*" not in path:
        return [] if path in seen else [path]
    return sorted(c for c in paths if fnmatch.fnmatchcase(c, path) and c not in seen)


def _resolve(data: YMap, everything: YMap, depth: int = 0) -> YMap:
    """`extends`, deep-merged like GitLab (mappings merge, everything else is replaced)."""
    parents = data.get("extends")
    if parents is None or depth > 10:
        return data
    names = [parents] if isinstance(parents, str) else [p for p in parents if isinstance(p, str)]
    result = YMap(data.line, data.source)
    for name in names:
        parent = everything.get(name)
        if isinstance(parent, YMap):
            result = _merge(result, _resolve(parent, everything, depth + 1))
    return _merge(result, data)


def _merge(base: YMap, over: YMap) -> YMap:
    merged = YMap(over.line if over else base.line, over.source or base.source)
    for source in (base, over):
        for key, value in source.items():
            old = merged.get(key)
            merged[key] = _merge(old, value) if isinstance(old, YMap) and isinstance(value, YMap) else value
            merged.key_lines[key] = source.line_of(key)
            merged.value_lines[key] = source.value_line(key)
            if source.path_of(key) != merged.source:
                merged.key_paths[key] = source.path_of(key)
    return merged


def _expand_references(value: Any, everything: YMap, depth: int = 0) -> Any:
    """`!reference [.job, key]` items (read as plain lists) replaced by what they name."""
    if not isinstance(value, list) or depth > 10:
        return value
    out: Any = YSeq(value.line) if isinstance(value, YSeq) else []
    lines = list(value.item_lines) if isinstance(value, YSeq) else []
    new_lines: list[int] = []
    for position, item in enumerate(value):
        line = lines[position] if position < len(lines) else 0
        target = _reference_target(item, everything)
        if target is not None:
            expanded = _expand_references(target, everything, depth + 1)
            if isinstance(expanded, list):
                out.extend(expanded)
                new_lines.extend(getattr(expanded, "item_lines", [line] * len(expanded)))
                continue
            item = expanded
        out.append(item)
        new_lines.append(line)
    if hasattr(out, "item_lines"):
        out.item_lines = new_lines
    return out


def _reference_target(item: Any, everything: YMap) -> Any:
    if not (isinstance(item, list) and 2 <= len(item) <= 3 and all(isinstance(p, str) for p in item)):
        return None
    node: Any = everything.get(item[0])
    for key in item[1:]:
        if not isinstance(node, YMap):
            return None
        node = node.get(key)
    return node


def _when(data: YMap) -> tuple[bool, Condition]:
    manual, condition = False, ""
    whens = [data.get("when")] + [rule.get("when") for rule in data.maps("rules")]
    values = [w for w in whens if isinstance(w, str)]
    if "manual" in values:
        manual = True
    if values and all(w == "on_failure" for w in values if w != "never"):
        condition = "failure"
    elif "always" in values:
        condition = "always"
    return manual, condition  # type: ignore[return-value]


def _job(
    name: str,
    data: YMap,
    path: str,
    line: int,
    inherited: dict[str, tuple[Any, YMap]],
    everything: YMap,
    lines_of: Callable[[str], list[str]],
) -> Job:
    def get(key: str) -> tuple[Any, YMap]:
        if key in data:
            return data[key], data
        return inherited.get(key, (None, data))

    steps: list[Step] = []
    phases: tuple[tuple[str, Condition], ...] = (
        ("before_script", ""),
        ("script", ""),
        ("after_script", "always"),
    )
    for key, condition in phases:
        value, holder = get(key)
        if value is None:
            continue
        value = _expand_references(value, everything)
        source = holder.path_of(key) if key in holder else holder.source
        script = seq_script(value, holder.value_line(key), lines_of(source or path))
        steps.append(
            Step(
                holder.line_of(key),
                key,
                "script",
                "",
                tuple(script),
                condition=condition,
                path=source if source and source != path else "",
            )
        )
    trigger = data.get("trigger")
    if trigger is not None:
        steps.append(Step(data.line_of("trigger"), "trigger", "action", text_of(trigger)))
    environment = data.get("environment")
    action = None
    if isinstance(environment, YMap):
        action = environment.get("action")
        environment = environment.get("name")
    if action in ("stop", "access", "prepare", "verify"):
        environment = None
    manual, condition = _when(data)
    images: list[tuple[int, str]] = []
    image, holder = get("image")
    if isinstance(image, YMap):
        image = image.get("name")
    if isinstance(image, str):
        images.append((holder.line_of("image"), image))
    services, holder = get("services")
    if isinstance(services, list):
        item_lines = getattr(services, "item_lines", [holder.line_of("services")] * len(services))
        for item, item_line in zip(services, item_lines, strict=False):
            service = item.get("name") if isinstance(item, YMap) else item
            if isinstance(service, str):
                images.append((item_line, service))
    timeout, _ = get("timeout")
    cache, _ = get("cache")
    stage = data.get("stage")
    return Job(
        id=name,
        name=name,
        path=path,
        line=line,
        stage=str(stage) if isinstance(stage, str) else "test",
        steps=tuple(steps),
        environment=str(environment) if isinstance(environment, (str, int)) else None,
        manual=manual,
        allow_failure=truthy(data.get("allow_failure")),
        condition=condition,
        timeout_minutes=parse_minutes(timeout),
        cache=bool(cache),
        images=tuple(images),
    )


def _order(jobs: list[Job], raw: dict[str, YMap], stage_order: list[str]) -> list[Job]:
    """Direct predecessors: `needs:` when given, else every job of the earlier stages."""
    position = {stage: i for i, stage in enumerate(stage_order)}
    by_stage: dict[int, list[str]] = {}
    for job in jobs:
        by_stage.setdefault(position.get(job.stage, len(stage_order)), []).append(job.id)
    ordered: list[Job] = []
    names = {job.id for job in jobs}
    for job in jobs:
        data = raw.get(job.id)
        needs_value = data.get("needs") if data is not None else None
        if isinstance(needs_value, list):
            needs = [
                item if isinstance(item, str) else text_of(item.get("job"))
                for item in needs_value
                if isinstance(item, (str, YMap))
            ]
            needs = [need for need in needs if need in names]
        else:
            mine = position.get(job.stage, len(stage_order))
            earlier = [index for index in by_stage if index < mine]
            needs = by_stage[max(earlier)] if earlier else []
        ordered.append(_replace_needs(job, tuple(needs)))
    return ordered


def _replace_needs(job: Job, needs: tuple[str, ...]) -> Job:
    return replace(job, needs=needs)
