"""docs/deploy/COMPLIANCE.md and CODEOWNERS: a compliance profile's controls, each mapped to
the file and line of the rendered kit that implements it.

COMPLIANCE.md is rendered in a second pass (`render_after`): it reads the other rendered
files and cites where each control's marker is, so a control whose implementation is
missing shows as missing instead of being claimed. CODEOWNERS is an ordinary first-pass file.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from deploysmith import __version__
from deploysmith.model import Plan, RenderedFile
from deploysmith.plan.compliance import (
    CI_FILE,
    CODEOWNERS_FILE,
    CODEOWNERS_MARKER,
    TICKET_PATTERN,
    TICKET_TRAILER,
    Control,
    Evidence,
    Profile,
    profile_of,
)
from deploysmith.render.common import DOCS_DIR

COMPLIANCE_DOC = f"{DOCS_DIR}/COMPLIANCE.md"
CI_FILES = {
    "github": ".github/workflows/ci-cd.yml",
    "gitlab": ".gitlab-ci.yml",
    "azure": "azure-pipelines.yml",
    "jenkins": "Jenkinsfile",
    "circleci": ".circleci/config.yml",
}
CODEOWNERS_PATHS = {"github": ".github/CODEOWNERS", "gitlab": ".gitlab/CODEOWNERS"}

# What each platform cannot be made to do from a file in the repository.
PLATFORM_SETTINGS = {
    "github": (
        "Settings > Environments > `production`: required reviewers (the release managers), "
        "**Prevent self-review** on, deployment branches limited to `main`. A workflow cannot set these.",
        "Settings > Branches (or Rulesets) on `main`: require pull requests, **Require review from Code "
        "Owners**, dismiss stale approvals, no bypass for administrators.",
        "Settings > Actions > General: artifact and log retention at its maximum (400 days for private "
        "repositories in an organisation); export the deployment records before they expire.",
    ),
    "gitlab": (
        "Settings > CI/CD > Protected environments: `production` deployable only by the release managers, "
        "with required approvals (Premium) and **prevent self-approval**; `deployment_tier: production` "
        "marks the environment.",
        "Settings > Repository > Protected branches: `main` requires Code Owner approval "
        "(.gitlab/CODEOWNERS); merge request approvals: prevent approval by the author and by committers.",
        "Admin Area > CI/CD: the instance's default and maximum artifact expiry must allow the "
        "deployment records' `expire_in`.",
    ),
    "azure": (
        "Pipelines > Environments > `production` > Approvals and checks: an approval by the release "
        "managers with **Allow approvers to approve their own runs** off; a Business hours or "
        "ServiceNow change check if you use one.",
        "Repos > Branch policies on `main`: minimum reviewers with **Allow requestors to approve their own "
        "changes** off; automatically included reviewers for `deploy/` and `azure-pipelines.yml`.",
        "Project settings > Pipelines > Settings > Retention: keep runs and artifacts as long as allowed, "
        "and retain production runs (a retention lease) or export their records.",
    ),
    "jenkins": (
        "The `deployers` group answers the approval input; the pipeline refuses an answer from the commit's "
        "author (matched by the Jenkins user id against the author's e-mail and name: keep them aligned).",
        "Branch protection on `main` in the Git host, with review required for `deploy/` and the Jenkinsfile.",
        "Discard old builds only after the retention period, and archive the deployment records to "
        "write-once storage (the job's build history is not immutable).",
    ),
    "circleci": (
        "Organization Settings > Contexts: the `production` context restricted to the release managers' "
        "security group; only they can approve the `approval` job.",
        "Branch protection on `main` in the Git host, with Code Owner review for `deploy/` and .circleci/.",
        "Plan > Usage controls: artifact retention is at most 30 days; export the deployment records.",
    ),
}


def ci_file(plan: Plan) -> str:
    return CI_FILES[plan.requirements.ci]


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    """First pass: CODEOWNERS (GitHub and GitLab read it; other platforms use branch policies)."""
    profile = profile_of(plan.requirements)
    path = CODEOWNERS_PATHS.get(plan.requirements.ci)
    if profile is None or path is None:
        return ()
    return (RenderedFile(path, _codeowners(plan, profile)),)


def _owners(plan: Plan) -> str:
    remote = plan.stack.git_remote or ""
    parts = remote.split("/")
    owner = parts[1] if len(parts) >= 3 and parts[0] in ("github.com", "gitlab.com") else "<org>"
    return f"@{owner}/release-managers"


def _owned_paths(plan: Plan) -> tuple[str, ...]:
    ci = ("/.github/",) if plan.requirements.ci == "github" else ("/.gitlab-ci.yml", "/.gitlab/")
    return (*ci, "/deploy/", "/docs/deploy/", "Dockerfile")


def _codeowners(plan: Plan, profile: Profile) -> str:
    owners = _owners(plan)
    lines = [
        f"# Generated by deploysmith {__version__}: code owners of the deployment kit.",
        f"# {CODEOWNERS_MARKER}: {profile.title} separates duties, so changes to how the app is built,",
        "# checked and deployed need a review by the release managers (not only by any teammate).",
        "# Turn on \"Require review from Code Owners\" for main; replace the team if yours differs.",
        *(f"{path} {owners}" for path in _owned_paths(plan)),
        "",
    ]
    return "\n".join(lines)


# -- second pass: COMPLIANCE.md ------------------------------------------------------------


def render_after(plan: Plan, files: Sequence[RenderedFile]) -> tuple[RenderedFile, ...]:
    profile = profile_of(plan.requirements)
    if profile is None:
        return ()
    return (RenderedFile(COMPLIANCE_DOC, compliance_markdown(plan, profile, files)),)


def locate(plan: Plan, evidence: Evidence, files: Sequence[RenderedFile]) -> tuple[str, int] | None:
    """The first file (in path order) matching the evidence's path whose line holds its marker."""
    if evidence.path == CI_FILE:
        pattern = ci_file(plan)
    elif evidence.path == CODEOWNERS_FILE:
        pattern = CODEOWNERS_PATHS.get(plan.requirements.ci, "")
    else:
        pattern = evidence.path
    for rendered in sorted(files, key=lambda f: f.path):
        if not fnmatch.fnmatchcase(rendered.path, pattern):
            continue
        for number, line in enumerate(rendered.content.splitlines(), start=1):
            if evidence.marker in line:
                return rendered.path, number
    return None


def _where(plan: Plan, control: Control, files: Sequence[RenderedFile]) -> tuple[list[str], list[str]]:
    found: list[str] = []
    missing: list[str] = []
    for evidence in control.evidence:
        if evidence.path == CODEOWNERS_FILE and plan.requirements.ci not in CODEOWNERS_PATHS:
            continue  # no CODEOWNERS on this platform: its branch policies are listed below instead
        hit = locate(plan, evidence, files)
        if hit is None:
            missing.append(f"`{evidence.marker}` in {_pattern_words(plan, evidence)}")
        else:
            found.append(f"[{hit[0]}:{hit[1]}](../../{hit[0]}#L{hit[1]})")
    return found, missing


def _pattern_words(plan: Plan, evidence: Evidence) -> str:
    if evidence.path == CI_FILE:
        return ci_file(plan)
    if evidence.path == CODEOWNERS_FILE:
        return CODEOWNERS_PATHS.get(plan.requirements.ci, "a CODEOWNERS file (not read by this CI platform)")
    return evidence.path


def compliance_markdown(plan: Plan, profile: Profile, files: Sequence[RenderedFile]) -> str:
    requirements = plan.requirements
    lines = [
        f"<!-- Generated by deploysmith {__version__}: compliance map. Edit freely: regeneration never "
        "overwrites your edits silently. -->",
        f"# Compliance: {profile.title}",
        "",
        f"This kit implements the controls below for **{plan.app_name}**. Each row cites the file and line "
        "that implements the control, found in the rendered kit when it was generated; a control "
        "without a citation is not implemented by this kit and is listed under what remains.",
        "",
        f"- Vulnerabilities at or above **{requirements.fail_on}** block the pipeline.",
        f"- Cluster admission: **{requirements.admission}** (deploy/policies/<env>/; audit in dev, "
        "enforce in staging and prod).",
        f"- Deployment records are kept **{profile.retention_days} days** ({profile.retention_reason}).",
        f"- A production deploy names its change ticket: the `CHANGE_TICKET` variable, or a "
        f"`{TICKET_TRAILER}:` trailer in the commit message, matching `{TICKET_PATTERN}` (override with "
        "`CHANGE_TICKET_PATTERN`).",
        "",
        "## Controls",
        "",
        "| Control | Requirement | What the kit does | Where |",
        "|---|---|---|---|",
    ]
    gaps: list[str] = []
    for control in profile.controls:
        found, missing = _where(plan, control, files)
        where = "<br>".join(found) if found else "**not in this kit**"
        lines.append(f"| {control.id} | {control.title} | {control.implementation} | {where} |")
        for item in missing:
            gaps.append(f"{control.id}: {item} was not rendered: this kit does not implement it.")
    lines += ["", "## What remains the organisation's job", ""]
    lines += [f"- {item}" for item in profile.organisation]
    lines += [f"- {gap}" for gap in gaps]
    lines += ["", f"## Settings on {requirements.ci} the pipeline cannot set", ""]
    lines += [f"- {item}" for item in PLATFORM_SETTINGS[requirements.ci]]
    lines += [
        "",
        "## Who applies the cluster guardrails",
        "",
        "`deploy/policies/<env>/` holds cluster-scoped admission policies and the namespace's default-deny "
        "NetworkPolicies. Platform admins apply them (`kubectl apply -k deploy/policies/<env>`), or a "
        "platform-owned Argo CD Application or Flux Kustomization syncs the folder. The app's pipeline "
        "never does: its cluster identity may change only its own namespace's objects, so it cannot "
        "loosen the rules that check it.",
        "",
    ]
    return "\n".join(lines)


__all__ = ["COMPLIANCE_DOC", "compliance_markdown", "locate", "render", "render_after"]
