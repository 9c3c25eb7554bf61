"""Words for people: the Stack and the Plan as text, Markdown and JSON (pure functions)."""

from __future__ import annotations

import json
from typing import Any

from deploysmith.model import Component, EnvironmentPlan, Plan, Stack

_FACTS = (
    "language", "language_version", "framework", "package_manager", "start_command", "port",
    "health_path", "test_command", "lint_command", "build_command", "build_output", "build_target",
    "services", "migration_tool", "migrate_command",
)


def stack_json(stack: Stack) -> str:
    return json.dumps(stack.to_json(), indent=2, sort_keys=False) + "\n"


def stack_text(stack: Stack) -> str:
    lines = [f"{stack.root}"]
    if not stack.components:
        lines.append("  no deployable component found")
    for component in stack.components:
        lines.append("")
        lines.extend(_component_text(component))
    if stack.existing:
        lines.append("")
        lines.append("existing deployment files: " + ", ".join(stack.existing))
    if stack.ci_platform:
        lines.append(f"CI platform: {stack.ci_platform}{_where(stack, 'ci_platform')}")
    for warning in stack.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"


def _component_text(component: Component) -> list[str]:
    lines = [f"{component.name} ({component.kind}) in {component.path}"]
    for fact in _FACTS:
        value = getattr(component, fact)
        if value in (None, ()):
            lines.append(f"  {fact}: unknown" if fact in ("port", "start_command") else "")
            continue
        shown = ", ".join(value) if isinstance(value, tuple) else str(value)
        evidence = component.evidence.get(fact, ())
        where = ""
        if evidence:
            first = evidence[0]
            where = f"  [{first.file}{':' + str(first.line) if first.line else ''}"
            where += " (convention default)]" if first.default else "]"
        lines.append(f"  {fact}: {shown}{where}")
    return [line for line in lines if line]


def _where(stack: Stack, key: str) -> str:
    evidence = stack.evidence.get(key, ())
    if not evidence:
        return ""
    first = evidence[0]
    return f"  [{first.file}{':' + str(first.line) if first.line else ''}]"


def plan_data(plan: Plan) -> dict[str, Any]:
    return {
        "app": plan.app_name,
        "requirements": plan.requirements.to_json(),
        "strategy": plan.strategy.to_json(),
        "stages": [stage.to_json() for stage in plan.stages],
        "images": [
            {
                "name": image.name,
                "context": image.context,
                "dockerfile": image.dockerfile,
                "build_base": image.build_base,
                "runtime_base": image.runtime_base,
                "uid": image.uid,
                "read_only_root": image.read_only_root,
                "components": list(image.components),
            }
            for image in plan.images
        ],
        "workloads": [
            {
                "component": w.component.name,
                "kind": w.component.kind,
                "image": w.image,
                "port": w.container_port,
                "probe": {"kind": w.probe.kind, "path": w.probe.path, "port": w.probe.port},
                "secret_env": list(w.secret_env),
                "migrate_command": w.migrate_command,
            }
            for w in plan.workloads
        ],
        "environments": [
            {
                "name": env.name,
                "namespace": env.namespace,
                "host": env.host,
                "replicas": {"min": env.min_replicas, "max": env.max_replicas},
                "resources": {
                    "requests": {"cpu": env.cpu_request, "memory": env.memory_request},
                    "limits": {"cpu": env.cpu_limit, "memory": env.memory_limit},
                },
                "auto_deploy": env.auto_deploy,
            }
            for env in plan.environments
        ],
        "decisions": [decision.to_json() for decision in plan.decisions],
        "notes": list(plan.notes),
    }


def plan_json(plan: Plan) -> str:
    return json.dumps(plan_data(plan), indent=2) + "\n"


def plan_text(plan: Plan) -> str:
    lines = [f"Plan for {plan.app_name}", ""]
    lines.append("Pipeline (pull requests run the stages marked PR; main runs all):")
    for number, stage in enumerate(plan.stages, start=1):
        scope = "main" if stage.main_only else "PR+main"
        lines.append(f"  {number}. {stage.name} [{scope}] on failure: {stage.failure_policy}")
        lines.append(f"     {stage.policy}")
    lines.append("")
    lines.append(f"Strategy: {plan.strategy.choice}")
    lines.append(f"  why: {plan.strategy.reason}")
    for rejected in plan.strategy.rejected:
        lines.append(f"  not {rejected}")
    lines.append("")
    lines.append("Environments:")
    for env in plan.environments:
        gate = _deploy_words(plan, env)
        lines.append(
            f"  {env.name}: namespace {env.namespace}, host {env.host}, replicas {env.min_replicas}-"
            f"{env.max_replicas}, requests {env.cpu_request}/{env.memory_request}, limits "
            f"{env.cpu_limit}/{env.memory_limit}, deploy {gate}"
        )
    lines.append("")
    lines.append("Decisions:")
    for decision in plan.decisions:
        lines.append(f"  {decision.topic}: {decision.choice}")
        lines.append(f"    why: {decision.reason}")
    if plan.notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  - {note}" for note in plan.notes)
    return "\n".join(lines) + "\n"


def plan_markdown(plan: Plan, heading_level: int = 1) -> str:
    h = "#" * heading_level
    lines = [f"{h} Deployment plan for {plan.app_name}", ""]
    lines.append(f"{h}# Pipeline")
    lines.append("")
    lines.append("| # | Stage | Runs on | On failure | Policy |")
    lines.append("|---|---|---|---|---|")
    for number, stage in enumerate(plan.stages, start=1):
        scope = "main" if stage.main_only else "pull requests and main"
        lines.append(f"| {number} | {stage.name} | {scope} | {stage.failure_policy} | {_cell(stage.policy)} |")
    lines.append("")
    lines.append(f"{h}# Strategy: {plan.strategy.choice}")
    lines.append("")
    lines.append(plan.strategy.reason)
    lines.append("")
    if plan.strategy.rejected:
        lines.append("Rejected alternatives:")
        lines.append("")
        lines.extend(f"- {rejected}" for rejected in plan.strategy.rejected)
        lines.append("")
    lines.append(f"{h}# Environments")
    lines.append("")
    lines.append("| Environment | Namespace | Host | Replicas | Requests | Limits | Deploy |")
    lines.append("|---|---|---|---|---|---|---|")
    for env in plan.environments:
        gate = _deploy_words(plan, env)
        lines.append(
            f"| {env.name} | `{env.namespace}` | `{env.host}` | {env.min_replicas}–{env.max_replicas} | "
            f"{env.cpu_request} / {env.memory_request} | {env.cpu_limit} / {env.memory_limit} | {gate} |"
        )
    lines.append("")
    lines.append(f"{h}# Decisions")
    lines.append("")
    lines.append("| Topic | Choice | Why |")
    lines.append("|---|---|---|")
    for decision in plan.decisions:
        lines.append(f"| {decision.topic} | `{_cell(decision.choice)}` | {_cell(decision.reason)} |")
    lines.append("")
    if plan.notes:
        lines.append(f"{h}# Notes")
        lines.append("")
        lines.extend(f"- {note}" for note in plan.notes)
        lines.append("")
    return "\n".join(lines)


def _deploy_words(plan: Plan, env: EnvironmentPlan) -> str:
    if env.name == "prod":
        return "by the pipeline, after approval"
    preprod = plan.preprod()
    if preprod is not None and preprod.name == env.name:
        return "by the pipeline, automatically"
    return "by hand (RUNBOOK.md)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
