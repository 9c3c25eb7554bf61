"""Argument parsing and dispatch only: each command wires the stages together."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deploysmith import __version__, output
from deploysmith.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, DeploysmithError, run_guarded
from deploysmith.model import ENVIRONMENTS, Plan, Stack


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become one line and exit 2 through our handler."""

    def error(self, message: str) -> Any:
        raise DeploysmithError(f"{message} (see `deploysmith {self.prog.split()[-1]} --help`)"
                               if " " in self.prog else f"{message} (see `deploysmith --help`)")


def build_parser(requirement_options: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(prog="deploysmith", description="An automated deployment engineer.")
    parser.add_argument("--version", action="version", version=f"deploysmith {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    detect = commands.add_parser("detect", help="show the detected stack with evidence")
    detect.add_argument("path", nargs="?", default=".")
    detect.add_argument("--json", action="store_true", help="print the Stack as JSON (DESIGN.md §3)")

    plan = commands.add_parser("plan", help="show the deployment plan; writes nothing")
    plan.add_argument("path", nargs="?", default=".")
    if requirement_options:
        _add_requirement_options(plan)
    plan.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    plan.add_argument("--yes", "-y", action="store_true", help="never prompt; take defaults")

    init = commands.add_parser("init", help="render, verify and write the deployment kit")
    init.add_argument("path", nargs="?", default=".")
    if requirement_options:
        _add_requirement_options(init)
    init.add_argument("--dry-run", action="store_true", help="print the diff of what would change")
    init.add_argument("--yes", "-y", action="store_true", help="never prompt; take defaults")
    init.add_argument("--force", action="store_true",
                      help="write even when verification finds errors (not recommended)")

    audit = commands.add_parser("audit", help="check a repository's deployment files against the quality gates")
    audit.add_argument("path", nargs="?", default=".")
    audit.add_argument("--format", choices=("text", "json", "sarif", "markdown"), default="text")
    audit.add_argument("--fail-on", choices=("error", "warning", "info"), default="error",
                       help="exit 1 when a finding is at or above this severity (default: error)")
    audit.add_argument("--color", action=argparse.BooleanOptionalAction, default=None,
                       help="colour the text report (default: when stdout is a terminal)")

    rules = commands.add_parser("rules", help="list the audit rules, or print one rule's page")
    rules.add_argument("rule", nargs="?", help="a rule id (DS-K8S-003) or slug")

    smoke = commands.add_parser("smoke", help="build, run and probe the kit's images with a local engine")
    smoke.add_argument("path", nargs="?", default=".")
    smoke.add_argument("--engine", choices=("docker", "podman", "buildah"),
                       help="container engine (default: the first of docker, podman, buildah that works)")
    smoke.add_argument("--format", choices=("text", "json"), default="text")
    smoke.add_argument("--image", action="append", metavar="NAME",
                       help="only this image of the plan (repeatable; default: every image)")
    smoke.add_argument("--env", dest="environment", choices=ENVIRONMENTS,
                       help="the overlay whose APP_ENV the containers get (default: the plan's first)")
    smoke.add_argument("--timeout", type=int, default=60, metavar="SECONDS",
                       help="how long to wait for a healthy probe (default: 60)")
    smoke.add_argument("--pull", choices=("always", "missing", "never"),
                       help="base image pull policy of the builds (default: the engine's)")
    smoke.add_argument("--no-rebuild", action="store_true",
                       help="skip the rebuild that checks a source-only change reuses the dependency layer")
    smoke.add_argument("--host-config", action="store_true",
                       help="mount the host's CA bundle and pip/uv/npm index settings into build steps "
                            "(podman, buildah; for networks that intercept TLS)")
    smoke.add_argument("--keep-images", action="store_true",
                       help="keep the built images (their ids are printed)")
    smoke.add_argument("--compose", action="store_true",
                       help="also bring up compose.yaml with its backing services and probe the app")
    smoke.add_argument("--kube-play", action="store_true",
                       help="also run the rendered Deployments with `podman kube play` and probe them")

    dora = commands.add_parser("dora", help="measure delivery performance (the four DORA keys) from history")
    dora.add_argument("path", nargs="?", default=".")
    dora.add_argument("--since", help="start of the period: an ISO date or date-time, UTC "
                                      "(default: 90 days before --until)")
    dora.add_argument("--until", help="end of the period; a date includes its whole day (default: now)")
    dora.add_argument("--tag-pattern", default="v*",
                      help="glob of the git tags that mark deployments (default: v*)")
    dora.add_argument("--deployments", metavar="FILE",
                      help="deployment log (JSON lines) or a GitHub deployments / workflow-runs export; "
                           "used instead of tags")
    dora.add_argument("--environment", action="append",
                      help="environment to measure in --deployments (repeatable; default: production, prod)")
    dora.add_argument("--incidents", metavar="FILE",
                      help="JSON export of issues (gh issue list --state all --json number,title,body,labels,"
                           "createdAt,closedAt)")
    dora.add_argument("--incident-label", default="incident",
                      help="glob of the labels that mark incidents (default: incident)")
    dora.add_argument("--thresholds", choices=("2023", "2021"), default="2023",
                      help="the DORA report whose performance levels to use (default: 2023)")
    dora.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    dora.add_argument("--chart", metavar="FILE",
                      help="also write an SVG of the weekly trend (the Markdown links it by file name)")
    return parser


def _add_requirement_options(parser: argparse.ArgumentParser) -> None:
    from deploysmith.plan.requirements import SETTINGS

    group = parser.add_argument_group("requirements (override deploysmith.yaml)")
    for setting in SETTINGS:
        flag = "--" + setting.name.replace("_", "-")
        if setting.kind == "envs":
            group.add_argument("--env", dest="environments", action="append", choices=setting.choices,
                               help="an environment to deploy to (repeatable; default: dev, staging, prod)")
        elif setting.kind == "gitops":
            delivery = group.add_mutually_exclusive_group()
            delivery.add_argument("--gitops", dest="gitops", nargs="?", const="argocd", default=None,
                                  choices=setting.choices,
                                  help="a GitOps controller deploys what CI commits (default controller: argocd)")
            delivery.add_argument("--imperative", dest="gitops", action="store_const", const=False,
                                  help="CI deploys to the cluster (default)")
        elif setting.kind == "bool":
            group.add_argument(flag, dest=setting.name, action=argparse.BooleanOptionalAction, default=None,
                               help=setting.help)
        elif setting.kind == "choice":
            group.add_argument(flag, dest=setting.name, choices=setting.choices, help=setting.help)
        elif setting.kind == "minutes":
            group.add_argument(flag, dest=setting.name, type=int, metavar="MINUTES", help=setting.help)
        else:
            group.add_argument(flag, dest=setting.name, help=setting.help)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    return run_guarded(lambda: _dispatch(args_list))


def main_entry() -> None:
    sys.exit(main())


def _dispatch(argv: list[str]) -> int:
    # audit and rules never parse the requirement flags of plan and init, which load the whole
    # plan package: leaving them out keeps that import off every audit run.
    parser = build_parser(requirement_options=argv[:1] not in (["audit"], ["rules"]))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    handler = {"detect": _detect, "plan": _plan, "init": _init, "audit": _audit, "rules": _rules,
               "dora": _dora, "smoke": _smoke}[args.command]
    return handler(args)


def _detect_stack(path: str) -> Stack:
    from deploysmith.detect import detect_path

    return detect_path(path)


def _detect(args: argparse.Namespace) -> int:
    from deploysmith.describe import stack_json, stack_text

    stack = _detect_stack(args.path)
    output.out(stack_json(stack) if args.json else stack_text(stack))
    return EXIT_OK


def _make_plan(args: argparse.Namespace) -> Plan:
    from deploysmith.plan import build_plan
    from deploysmith.plan.requirements import CONFIG_KEYS, Question, gather, load_config

    stack = _detect_stack(args.path)
    config = load_config(Path(args.path))
    flags = {name: getattr(args, name) for name in CONFIG_KEYS}
    interactive = not args.yes and sys.stdin is not None and sys.stdin.isatty()

    def ask(question: Question, default: str) -> str:
        return output.ask(question.prompt, default, question.choices)

    requirements = gather(stack, flags, config, ask if interactive else None)
    plan = build_plan(stack, requirements)
    return plan


def _plan(args: argparse.Namespace) -> int:
    from deploysmith.describe import plan_json, plan_markdown, plan_text

    plan = _make_plan(args)
    render = {"text": plan_text, "json": plan_json, "markdown": plan_markdown}[args.format]
    output.out(render(plan))
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from deploysmith.audit import verify
    from deploysmith.render import render_kit
    from deploysmith.report import format_text
    from deploysmith.write import apply_changes, plan_changes, read_lock, render_diff

    plan = _make_plan(args)
    for note in plan.notes:
        output.warn(note)
    files = render_kit(plan)
    findings = verify(files)
    errors = [finding for finding in findings if finding.severity == "error"]
    if findings:
        output.info(format_text(findings))
    if errors and not args.force:
        output.info(
            f"deploysmith: the rendered kit failed verification ({len(errors)} error(s)); nothing was "
            "written. This is a deploysmith bug unless your inputs forced it: please report it, "
            "or pass --force to write anyway."
        )
        return EXIT_FINDINGS
    root = Path(args.path)
    changes = plan_changes(root, files, read_lock(root))
    if args.dry_run:
        output.out(render_diff(root, changes))
        return EXIT_OK
    result = apply_changes(root, changes, _lock_inputs(plan))
    for change in changes:
        if change.kind == "conflict":
            output.warn(f"{change.path}: {change.reason}; the new version is in {change.side_path}")
        elif change.kind == "stale":
            output.warn(f"{change.path}: {change.reason}")
    output.info(f"deploysmith: {result.summary.headline()} ({root})")
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    from deploysmith.audit import AuditConfig, audit_report, exit_code
    from deploysmith.repo import Repo
    from deploysmith.report import render

    repo = Repo.open(args.path)
    config = AuditConfig.load(Path(args.path))
    report = audit_report(repo, config)
    findings = report.findings
    for warning in repo.warnings:
        output.warn(warning)
    color = sys.stdout.isatty() if args.color is None else args.color
    output.out(render(args.format, findings, color=color, pipelines=report.pipelines))
    return exit_code(findings, args.fail_on)


def _rules(args: argparse.Namespace) -> int:
    from deploysmith.audit import all_rules, rule_page

    if args.rule:
        output.out(rule_page(args.rule))
        return EXIT_OK
    output.out("\n".join(f"{rule.id}  {rule.severity:<7}  {rule.slug}: {rule.summary}" for rule in all_rules()))
    return EXIT_OK


def _smoke(args: argparse.Namespace) -> int:
    from deploysmith.smoke import smoke_command

    return smoke_command(args)


def _dora(args: argparse.Namespace) -> int:
    from deploysmith.dora import dora_command

    return dora_command(args)


def _lock_inputs(plan: Plan) -> dict[str, Any]:
    """What the kit was generated from: the requirements and a digest of the detected facts
    that shape it. Left out: the absolute root (another checkout gives the same lock), the
    existing files (they include the kit itself after the first run), warnings and evidence."""
    import hashlib  # init only: not on the start-up of every command

    components = [component.to_json() for component in plan.stack.components]
    for component in components:
        component.pop("evidence", None)
    facts = {"components": components, "ci_platform": plan.stack.ci_platform, "git_remote": plan.stack.git_remote}
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
    return {"requirements": plan.requirements.to_json(), "stack_sha256": digest}


if __name__ == "__main__":
    main_entry()
