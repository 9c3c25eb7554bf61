"""Azure Pipelines: azure-pipelines.yml (stages → jobs → steps, or jobs, or steps alone) as
one Pipeline.

Resolved without evaluating anything: local `template:` files at stage, job and step level
(parameters stay `${{ }}` text), `${{ if }}` / `${{ each }}` blocks (their content counts as
if the condition held), stage and job `dependsOn` (a stage depends on the previous one by
default), deployment jobs with their strategy hooks (`on: failure` steps run only after a
failure). Templates from other repositories (`x.yml@repo`) are not fetched: the repository
resource becomes a Reference.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from typing import Any

from deploysmith.audit.ci.common import condition_of, inputs_of, parse_minutes, script_lines, text_of, truthy
from deploysmith.audit.ci.model import Condition, Job, Pipeline, Reference, Step
from deploysmith.audit.parse import YMap

_SCRIPT_KEYS = ("script", "bash", "pwsh", "powershell")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_HOOKS = ("preDeploy", "deploy", "routeTraffic", "postRouteTraffic")

Loader = Callable[[str], "YMap | None"]


def pipeline(path: str, doc: YMap, load: Loader) -> Pipeline:
    reader = _Reader(path, load)
    stages = list(reader.expand(doc.get("stages"), "stages", path))
    jobs: list[Job] = []
    if stages:
        names = [str(stage.get("stage", f"stage{i}")) for i, (stage, _) in enumerate(stages)]
        stage_jobs: dict[str, list[str]] = {}
        for number, (stage, source) in enumerate(stages):
            name = names[number]
            depends = stage.get("dependsOn", None)
            if depends is None:
                upstream = [names[number - 1]] if number else []
            else:
                upstream = [depends] if isinstance(depends, str) else [str(d) for d in depends or []]
            before = [job_id for stage_name in upstream for job_id in stage_jobs.get(stage_name, [])]
            condition = condition_of(stage.get("condition"))
            made = reader.jobs(stage.get("jobs"), source, name, before, condition)
            stage_jobs[name] = [job.id for job in made]
            jobs.extend(made)
    elif "jobs" in doc:
        jobs = reader.jobs(doc.get("jobs"), path, "", [], "")
    elif "steps" in doc:
        jobs = [reader.job(doc, path, "", [], "", implicit=True)]
    references: list[Reference] = []
    resources = doc.mapping("resources")
    for repo in resources.maps("repositories"):
        ref = repo.get("ref")
        pinned = isinstance(ref, str) and (bool(_SHA.match(ref)) or ref.startswith("refs/tags/"))
        target = f"{text_of(repo.get('name'))}@{ref}" if ref else text_of(repo.get("name"))
        references.append(
            Reference(
                path,
                repo.line,
                "template repository",
                target,
                pinned,
                "set `ref:` to a protected tag (refs/tags/…) or a commit",
            )
        )
    notes = [f"template {t} is not read" for t in reader.remote]
    return Pipeline(
        "azure",
        posixpath.dirname(path),
        path,
        tuple(dict.fromkeys([path, *reader.files])),
        tuple(jobs),
        notes=tuple(notes),
        references=tuple(references),
        sources=((path, doc),),
    )


class _Reader:
    def __init__(self, path: str, load: Loader) -> None:
        self.path = path
        self.load = load
        self.files: list[str] = []
        self.remote: list[str] = []
        self.seen_ids: set[str] = set()

    def expand(self, items: Any, key: str, source: str, depth: int = 0) -> Iterator[tuple[YMap, str]]:
        """The mappings of a stages/jobs/steps list, with local templates and ${{ }} blocks inlined."""
        if not isinstance(items, list) or depth > 10:
            return
        for item in items:
            if not isinstance(item, YMap):
                continue
            keys = list(item)
            if len(keys) == 1 and isinstance(keys[0], str) and keys[0].startswith("${{"):
                yield from self.expand(item[keys[0]], key, source, depth + 1)
                continue
            template = item.get("template")
            if isinstance(template, str) and len(keys) <= 2 + ("parameters" in item):
                if "@" in template:
                    self.remote.append(template)
                    continue
                target = posixpath.normpath(posixpath.join(posixpath.dirname(source), template.lstrip("/")))
                if template.startswith("/"):
                    target = template.lstrip("/")
                loaded = self.load(target)
                if loaded is None:
                    self.remote.append(template)
                    continue
                self.files.append(target)
                yield from self.expand(loaded.get(key), key, target, depth + 1)
                continue
            yield item, source

    def jobs(self, items: Any, source: str, stage: str, before: list[str], condition: Condition) -> list[Job]:
        made: list[Job] = []
        entries = list(self.expand(items, "jobs", source))
        local: dict[str, str] = {}
        for entry, _ in entries:
            name = str(entry.get("job") or entry.get("deployment") or "job")
            local[name] = self._unique(f"{stage}.{name}" if stage else name)
        for entry, entry_source in entries:
            name = str(entry.get("job") or entry.get("deployment") or "job")
            depends = entry.get("dependsOn")
            within = [depends] if isinstance(depends, str) else [str(d) for d in depends or []]
            needs = [local[d] for d in within if d in local] + before
            made.append(self.job(entry, entry_source, stage, needs, condition, job_id=local[name]))
        return made

    def _unique(self, wanted: str) -> str:
        candidate, count = wanted, 2
        while candidate in self.seen_ids:
            candidate, count = f"{wanted}-{count}", count + 1
        self.seen_ids.add(candidate)
        return candidate

    def job(
        self,
        data: YMap,
        source: str,
        stage: str,
        needs: list[str],
        condition: Condition,
        implicit: bool = False,
        job_id: str | None = None,
    ) -> Job:
        name = str(data.get("job") or data.get("deployment") or "job")
        steps: list[Step] = []
        deployment = "deployment" in data
        if deployment:
            strategy = data.mapping("strategy")
            for kind in strategy.values():
                if not isinstance(kind, YMap):
                    continue
                for hook in _HOOKS:
                    steps.extend(self.steps(kind.mapping(hook).get("steps"), source, ""))
                on = kind.mapping("on") if "on" in kind else kind.mapping(True)  # YAML 1.1 reads `on` as true
                steps.extend(self.steps(on.mapping("failure").get("steps"), source, "failure"))
                steps.extend(self.steps(on.mapping("success").get("steps"), source, ""))
        steps.extend(self.steps(data.get("steps"), source, ""))
        environment = data.get("environment")
        if isinstance(environment, YMap):
            environment = environment.get("name")
        images: list[tuple[int, str]] = []
        container = data.get("container")
        if isinstance(container, YMap):
            container = container.get("image")
        if isinstance(container, str):
            images.append((data.line_of("container"), container))
        pool = data.get("pool")
        display = data.get("displayName")
        job_condition = condition_of(data.get("condition")) or condition
        cache = any(step.ref.lower().startswith("cache@") for step in steps) or any(
            "--cache-from" in step.text for step in steps
        )
        return Job(
            id=job_id or (name if implicit else self._unique(f"{stage}.{name}" if stage else name)),
            name=display if isinstance(display, str) else name,
            path=source,
            line=data.line,
            stage=stage,
            needs=tuple(needs),
            steps=tuple(steps),
            environment=str(environment) if isinstance(environment, (str, int)) and environment else None,
            allow_failure=truthy(data.get("continueOnError")),
            condition=job_condition,
            timeout_minutes=parse_minutes(data.get("timeoutInMinutes")),
            cache=cache,
            images=tuple(images),
            deployment_job=deployment,
            agentless=pool == "server" or (isinstance(pool, str) and pool.lower() == "server"),
        )

    def steps(self, items: Any, source: str, condition: Condition) -> list[Step]:
        found: list[Step] = []
        for step, step_source in self.expand(items, "steps", source):
            display = step.get("displayName")
            common: dict[str, Any] = {
                "name": display if isinstance(display, str) else "",
                "condition": condition_of(step.get("condition")) or condition,
                "allow_failure": truthy(step.get("continueOnError")),
                "path": step_source if step_source != source else "",
            }
            key = next((k for k in _SCRIPT_KEYS if k in step), None)
            if key is not None:
                value = step.get(key)
                script = script_lines(value, step.value_line(key)) if isinstance(value, str) else []
                found.append(Step(step.line, kind="script", ref="", script=tuple(script), **common))
            elif "task" in step:
                ref = text_of(step.get("task"))
                inputs = inputs_of(step.get("inputs"))
                if ref.lower().startswith("manualvalidation@"):
                    found.append(Step(step.line, kind="approval", ref=ref, inputs=inputs, **common))
                else:
                    found.append(Step(step.line, kind="action", ref=ref, inputs=inputs, **common))
            elif "checkout" in step:
                inputs = tuple((str(k), text_of(v)) for k, v in step.items() if k != "checkout")
                found.append(
                    Step(
                        step.line,
                        kind="action",
                        ref=f"checkout {text_of(step['checkout'])}",
                        inputs=inputs,
                        **common,
                    )
                )
        return found
