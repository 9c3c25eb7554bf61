"""CircleCI: .circleci/config.yml as one Pipeline.

A job of the Pipeline is one entry of a workflow (`- build`, `- deploy: {requires: [...]}`,
`- hold: {type: approval}`), with the steps of the job it runs: reusable `commands:` are
inlined, orb commands and orb jobs stay action steps (`node/install-packages`). Steps with
`when: on_fail` run only after a failure. Orbs become References.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from deploysmith.audit.ci.common import inputs_of, script_lines, text_of
from deploysmith.audit.ci.model import Condition, Job, Pipeline, Reference, Step
from deploysmith.audit.parse import YMap

_EXACT = re.compile(r"^\d+\.\d+\.\d+$")
_BUILTIN_STEPS = frozenset(
    {
        "checkout",
        "setup_remote_docker",
        "save_cache",
        "restore_cache",
        "store_artifacts",
        "store_test_results",
        "persist_to_workspace",
        "attach_workspace",
        "add_ssh_keys",
        "when",
        "unless",
    }
)


def root_of(path: str) -> str:
    """The project folder of .circleci/config.yml."""
    return posixpath.dirname(posixpath.dirname(path))


def pipeline(path: str, doc: YMap) -> Pipeline:
    commands = doc.mapping("commands")
    executors = doc.mapping("executors")
    definitions = doc.mapping("jobs")
    entries: list[tuple[str, str, YMap, int]] = []  # (workflow, job name, entry options, line)
    for workflow_name, workflow in doc.mapping("workflows").items():
        if not isinstance(workflow, YMap):
            continue
        listing = workflow.get("jobs")
        if not isinstance(listing, list):
            continue
        item_lines = getattr(listing, "item_lines", [workflow.line] * len(listing))
        for item, line in zip(listing, item_lines, strict=False):
            if isinstance(item, str):
                entries.append((str(workflow_name), item, YMap(line, path), line))
            elif isinstance(item, YMap) and len(item) == 1:
                ((name, options),) = item.items()
                entries.append(
                    (
                        str(workflow_name),
                        str(name),
                        options if isinstance(options, YMap) else YMap(line, path),
                        line,
                    )
                )
    if not entries:  # version 2.0 without workflows: a job called build runs
        entries = [
            ("", str(name), YMap(definitions.line_of(name), path), definitions.line_of(name))
            for name in definitions
        ]
    aliases = [str(options.get("name") or name) for _, name, options, _ in entries]
    duplicated = {alias for alias in aliases if aliases.count(alias) > 1}
    ids = [
        f"{wf}/{alias}" if alias in duplicated else alias
        for (wf, _, _, _), alias in zip(entries, aliases, strict=True)
    ]
    by_workflow_alias = {
        (wf, alias): job_id for (wf, _, _, _), alias, job_id in zip(entries, aliases, ids, strict=True)
    }
    jobs: list[Job] = []
    for (workflow_name, name, options, line), alias, job_id in zip(entries, aliases, ids, strict=True):
        requires = options.get("requires")
        needs = tuple(
            by_workflow_alias.get((workflow_name, str(r)), str(r))
            for r in (requires if isinstance(requires, list) else [])
        )
        if options.get("type") == "approval":
            jobs.append(
                Job(
                    job_id,
                    alias,
                    path,
                    line,
                    stage=workflow_name,
                    needs=needs,
                    steps=(Step(line, alias, "approval", "type: approval"),),
                    manual=True,
                )
            )
            continue
        definition = definitions.get(name)
        steps: list[Step] = []
        images: list[tuple[int, str]] = []
        if isinstance(definition, YMap):
            steps = _steps(definition.get("steps"), commands, path, 0)
            images = _images(definition, executors)
        else:  # an orb's job
            steps = [Step(line, name, "action", name, inputs=inputs_of(options))]
        context = options.get("context")
        environment = text_of(context) if context else None
        cache = any(
            step.ref in ("restore_cache",)
            or step.ref.endswith("/install-packages")
            or "docker_layer_caching: true" in step.text
            for step in steps
        )
        jobs.append(
            Job(
                id=job_id,
                name=alias,
                path=path,
                line=line,
                stage=workflow_name,
                needs=needs,
                steps=tuple(steps),
                environment=environment,
                cache=cache,
                images=tuple(images),
            )
        )
    references: list[Reference] = []
    for alias, orb in doc.mapping("orbs").items():
        if not isinstance(orb, str):
            continue
        _, _, version = orb.partition("@")
        pinned = bool(_EXACT.match(version))
        references.append(
            Reference(
                path,
                doc.mapping("orbs").line_of(alias),
                "orb",
                orb,
                pinned,
                "pin the exact version (namespace/orb@1.2.3); orb versions are immutable",
            )
        )
    return Pipeline(
        "circleci",
        root_of(path),
        path,
        (path,),
        tuple(jobs),
        references=tuple(references),
        sources=((path, doc),),
    )


def _steps(items: Any, commands: YMap, path: str, depth: int, condition: Condition = "") -> list[Step]:
    if not isinstance(items, list) or depth > 5:
        return []
    found: list[Step] = []
    item_lines = getattr(items, "item_lines", [0] * len(items))
    for item, line in zip(items, item_lines, strict=False):
        if isinstance(item, str):
            name, options = item, None
        elif isinstance(item, YMap) and len(item) == 1:
            ((name, options),) = item.items()
            name = str(name)
        else:
            continue
        if name == "run":
            found.append(_run(options, line, condition))
            continue
        if name in ("when", "unless") and isinstance(options, YMap):
            found.extend(_steps(options.get("steps"), commands, path, depth + 1, condition))
            continue
        command = commands.get(name)
        if isinstance(command, YMap) and name not in _BUILTIN_STEPS:
            found.extend(_steps(command.get("steps"), commands, path, depth + 1, condition))
            continue
        inputs = inputs_of(options) if isinstance(options, YMap) else ()
        found.append(Step(line, name, "action", name, inputs=inputs, condition=condition))
    return found


def _run(options: Any, line: int, condition: Condition) -> Step:
    if isinstance(options, str):
        return Step(
            line,
            "",
            "script",
            "",
            tuple(script_lines(options, line + (1 if "\n" in options else 0))),
            condition=condition,
        )
    if not isinstance(options, YMap):
        return Step(line, "", "script", "")
    command = options.get("command")
    script = script_lines(command, options.value_line("command")) if isinstance(command, str) else []
    when = options.get("when")
    step_condition: Condition = {"on_fail": "failure", "always": "always"}.get(str(when), condition)  # type: ignore[assignment]
    name = options.get("name")
    return Step(
        line, name if isinstance(name, str) else "", "script", "", tuple(script), condition=step_condition
    )


def _images(definition: YMap, executors: YMap) -> list[tuple[int, str]]:
    holders = [definition]
    executor = definition.get("executor")
    if isinstance(executor, YMap):
        executor = executor.get("name")
    if isinstance(executor, str) and isinstance(executors.get(executor), YMap):
        holders.append(executors[executor])
    images: list[tuple[int, str]] = []
    for holder in holders:
        for container in holder.maps("docker"):
            if isinstance(container.get("image"), str):
                images.append((container.line_of("image"), container["image"]))
    return images
