"""GitHub Actions: the root workflows (.github/workflows/*.yml), already parsed by the
engine into `Workflow`s, as one Pipeline. Jobs of different files are ordered only by their
`needs`; a workflow started by `workflow_run` runs after the workflows it names."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any

from deploysmith.audit.ci.common import condition_of, inputs_of, script_lines, truthy
from deploysmith.audit.ci.model import Job, Pipeline, Step
from deploysmith.audit.parse import Workflow, YMap

_CACHING_SETUP = (
    "actions/setup-python@",
    "actions/setup-node@",
    "actions/setup-java@",
    "actions/setup-dotnet@",
)
_CACHING_BY_DEFAULT = (
    "actions/setup-go@",
    "gradle/actions/setup-gradle@",
    "gradle/gradle-build-action@",
    "Swatinem/rust-cache@",
    "actions/cache@",
    "actions/cache/restore@",
)


def pipeline(workflows: Sequence[Workflow]) -> Pipeline | None:
    if not workflows:
        return None
    counts: dict[str, int] = {}
    for workflow in workflows:
        for job in workflow.jobs:
            counts[job.id] = counts.get(job.id, 0) + 1
    jobs: list[Job] = []
    for workflow in workflows:
        stem = posixpath.splitext(posixpath.basename(workflow.path))[0]

        def key(job_id: str, stem: str = stem) -> str:
            return job_id if counts.get(job_id, 0) <= 1 else f"{stem}/{job_id}"

        after_others: tuple[str, ...] = ()
        if "workflow_run" in workflow.triggers:
            after_others = tuple(
                key(job.id, posixpath.splitext(posixpath.basename(other.path))[0])
                for other in workflows
                if other is not workflow
                for job in other.jobs
            )
        for job in workflow.jobs:
            jobs.append(_job(workflow, job.id, job.data, job.line, key, after_others))
    main = max(workflows, key=lambda w: (len(w.jobs), -workflows.index(w)))
    return Pipeline("github", "", main.path, tuple(w.path for w in workflows), tuple(jobs))


def _job(workflow: Workflow, job_id: str, data: YMap, line: int, key: Any, after: tuple[str, ...]) -> Job:
    needs_value = data.get("needs")
    needs = [needs_value] if isinstance(needs_value, str) else [str(n) for n in needs_value or [] if n]
    environment = data.get("environment")
    if isinstance(environment, YMap):
        environment = environment.get("name")
    steps = tuple(_step(step) for step in data.maps("steps"))
    if isinstance(data.get("uses"), str):  # a reusable workflow call
        steps = (Step(data.line_of("uses"), "", "action", data["uses"], inputs=inputs_of(data.get("with"))),)
    images: list[tuple[int, str]] = []
    container = data.get("container")
    if isinstance(container, str):
        images.append((data.line_of("container"), container))
    elif isinstance(container, YMap) and isinstance(container.get("image"), str):
        images.append((container.line_of("image"), container["image"]))
    for service in data.mapping("services").values():
        if isinstance(service, YMap) and isinstance(service.get("image"), str):
            images.append((service.line_of("image"), service["image"]))
    timeout = data.get("timeout-minutes")
    name = data.get("name")
    return Job(
        id=key(job_id),
        name=name if isinstance(name, str) else job_id,
        path=workflow.path,
        line=line,
        needs=tuple(key(n) for n in needs) + after,
        steps=steps,
        environment=str(environment) if isinstance(environment, (str, int)) else None,
        allow_failure=truthy(data.get("continue-on-error")),
        condition=condition_of(data.get("if")),
        timeout_minutes=float(timeout)
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
        else None,
        cache=any(_caches(step) for step in steps),
        images=tuple(images),
    )


def _step(step: YMap) -> Step:
    name = step.get("name")
    common: dict[str, Any] = {
        "name": name if isinstance(name, str) else "",
        "condition": condition_of(step.get("if")),
        "allow_failure": truthy(step.get("continue-on-error")),
    }
    if isinstance(step.get("uses"), str):
        return Step(
            step.line, kind="action", ref=step["uses"].strip(), inputs=inputs_of(step.get("with")), **common
        )
    run = step.get("run")
    script = script_lines(run, step.value_line("run")) if isinstance(run, str) else []
    return Step(step.line, kind="script", ref="", script=tuple(script), **common)


def _caches(step: Step) -> bool:
    ref = step.ref
    if ref.startswith(_CACHING_BY_DEFAULT):
        return step.input("cache") not in ("false",)
    if ref.startswith(_CACHING_SETUP):
        return bool(step.input("cache"))
    if ref.startswith("ruby/setup-ruby@"):
        return step.input("bundler-cache") == "true"
    if ref.startswith("docker/build-push-action@"):
        return bool(step.input("cache-from"))
    return any("--cache-from" in text for _, text in step.script)
