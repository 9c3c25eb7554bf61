"""Deploy notifications, deployment markers and the error-budget bake on the five CI platforms.

- Golden files of what each platform gets for one event (tests/render/golden/notify/).
- The field's judges over whole pipelines with `--notify slack --apm grafana`, `--notify teams
  --apm datadog` and `--notify email --apm newrelic`: actionlint with shellcheck and zizmor
  (GitHub), check-jsonschema's vendor schemas (GitLab, Azure, CircleCI), shellcheck over every
  extracted script (GitLab, Azure, CircleCI, Jenkins), and the project's audit.
- The generated scripts run for real against a local HTTP server: the payloads are JSON with
  the values intact, whatever characters those values hold.
- The Grafana annotation's tags are what the kit's dashboard asks for.

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.model import Plan
from deploysmith.plan.observability import slo_of
from deploysmith.render import (
    azure_pipelines,
    bake,
    circleci,
    github_actions,
    gitlab_ci,
    jenkins,
    markers,
    monitoring_dashboard,
    notify,
)
from deploysmith.render import ci_common as ci
from deploysmith.render.yamlout import dump
from tests.render.ci_cases import UPDATE, audit_problems, check_jsonschema, only, shellcheck, tool
from tests.render.test_azure_pipelines import _script as _azure_script
from tests.render.test_azure_pipelines import _steps as _azure_steps
from tests.render.test_circleci import _runs as _circleci_runs
from tests.render.test_gitlab_ci import _scripts as _gitlab_scripts
from tests.render.test_jenkins import _scripts as _jenkins_scripts
from tests.sample_plans import sample_plan

GOLDEN = Path(__file__).parent / "golden" / "notify"
COMBOS = (("slack", "grafana"), ("teams", "datadog"), ("email", "newrelic"))
CASES = {
    f"{kind}-{apm}-{'gitops' if gitops else 'imperative'}": (kind, apm, gitops)
    for kind, apm in COMBOS
    for gitops in (False, True)
}

# The judges' cases: each combination once, both delivery modes among them.
JUDGED = ("slack-grafana-imperative", "teams-datadog-gitops", "email-newrelic-imperative")


def _plan(case: str) -> Plan:
    kind, apm, gitops = CASES[case]
    return sample_plan("fastapi-postgres", notify=kind, apm=apm, gitops=gitops)


def _prod(plan: Plan) -> Any:
    env = plan.environment("prod")
    assert env is not None
    return env


# -- golden files --------------------------------------------------------------------------------------


def _golden_text(plan: Plan) -> str:
    """What every platform adds for each event of prod, in the platform's own syntax."""
    env = _prod(plan)
    parts: list[str] = []
    for event in notify.EVENTS:
        condition = "failure()" if event in ("failure", "rollback") else "success()"
        parts.append(f"### GitHub Actions: {event}\n")
        parts.append(dump(notify.github_steps(plan, env, event, condition, github_actions.GITHUB)))
        azure_condition = "failed()" if event in ("failure", "rollback") else "succeeded()"
        parts.append(f"### Azure Pipelines: {event}\n")
        parts.append(dump(notify.azure_steps(plan, env, event, azure_condition, azure_pipelines.AZURE)))
        when = {"start": None, "success": "on_success"}.get(event, "on_fail")
        parts.append(f"### CircleCI: {event}\n")
        parts.append(dump(notify.circleci_steps(plan, env, event, when)))
        parts.append(f"### Jenkins: {event}\n")
        nodes = notify.jenkins_nodes(plan, env, event)
        parts.append("\n".join(line for node in nodes for line in jenkins._lines(node, 0)) + "\n")
    parts.append("### GitLab CI: script (start)\n")
    parts.append(dump(notify.gitlab_script(plan, env, "start")))
    parts.append("### GitLab CI: after_script (deploy)\n")
    parts.append(dump(notify.gitlab_after_script(plan, env, {"success": "success", "failed": "failure"})))
    parts.append("### GitLab CI: after_script (rollback-prod)\n")
    parts.append(dump(notify.gitlab_after_script(plan, env, {"failed": "rollback"})))
    return "".join(parts)


@pytest.mark.parametrize("combo", [f"{kind}-{apm}" for kind, apm in COMBOS])
def test_golden(combo: str) -> None:
    text = _golden_text(_plan(f"{combo}-imperative"))
    path = GOLDEN / f"{combo}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with DEPLOYSMITH_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_nothing_by_default() -> None:
    plan = sample_plan("fastapi-postgres")
    env = _prod(plan)
    for event in notify.EVENTS:
        assert notify.lines(plan, env, event, notify.GITHUB, ci.PLAIN) == []
        assert notify.github_steps(plan, env, event, "success()", github_actions.GITHUB) == []
        assert notify.jenkins_nodes(plan, env, event) == []
    workflow = only(github_actions, plan).content
    assert "Announce" not in workflow and "SLACK" not in workflow


def test_markers_only_after_a_deploy_and_a_rollback() -> None:
    plan = sample_plan("fastapi-postgres", apm="grafana")
    env = _prod(plan)
    assert [e for e in notify.EVENTS if notify.sends(plan, e)] == ["success", "rollback"]
    assert notify.lines(plan, env, "start", notify.GITHUB, ci.PLAIN) == []
    assert notify.secrets(plan, "success") == ("GRAFANA_TOKEN",)
    assert notify.variables(plan, "success") == ("GRAFANA_URL",)


def test_jenkins_mails_natively() -> None:
    plan = sample_plan("fastapi-postgres", notify="email")
    env = _prod(plan)
    assert notify.lines(plan, env, "failure", notify.JENKINS, ci.PLAIN) == []
    source = only(jenkins, plan).content
    assert (
        "mail(to: env.NOTIFY_EMAIL_TO, subject: 'fastapi-postgres prod: deploy of ' + env.GIT_COMMIT.take(12)"
        " + ' failed', body: 'Run: ' + env.BUILD_URL)"
    ) in source
    assert "SMTP_URL" not in source


def test_every_platform_hooks_each_event() -> None:
    plan = _plan("slack-grafana-imperative")
    github = yaml.safe_load(only(github_actions, plan).content)["jobs"]
    conditions = {
        job: {step["name"]: step["if"] for step in github[job]["steps"] if step["name"].startswith("Announce")}
        for job in ("deploy-staging", "deploy-prod", "verify")
    }
    assert conditions["deploy-prod"] == {
        "Announce the deploy": "success()",
        "Announce the deploy: done": "success()",
        "Announce the deploy: failed": "failure()",
    }
    assert conditions["verify"] == {"Announce the rollback": "failure() && steps.connect.outcome == 'success'"}
    assert github["deploy-prod"]["steps"][-1]["env"] == {
        "SLACK_WEBHOOK_URL": "${{ secrets.SLACK_WEBHOOK_URL }}",
    }
    gitlab = yaml.safe_load(only(gitlab_ci, plan).content)
    assert gitlab["deploy-prod"]["script"][0].startswith("# Values reach the JSON")
    assert gitlab["deploy-prod"]["after_script"][-1].startswith('case "${CI_JOB_STATUS}" in\n  success)')
    assert gitlab["rollback-prod"]["after_script"][0].startswith('case "${CI_JOB_STATUS}" in\n  failed)')
    circle = yaml.safe_load(only(circleci, plan).content)["jobs"]
    whens = [(s["run"]["name"], s["run"].get("when")) for s in circle["deploy-prod"]["steps"] if "run" in s]
    assert whens[0] == ("Announce the deploy", None)
    assert whens[-2:] == [("Announce the deploy: done", "on_success"), ("Announce the deploy: failed", "on_fail")]
    assert circle["verify"]["steps"][-1]["run"]["when"] == "on_fail"
    source = only(jenkins, plan).content
    assert source.count("            post {\n                success {\n") == 2  # both deploy stages


# -- the bake on every platform ------------------------------------------------------------------------

BREACH = 'if [[ "${result}" != "[]" ]]; then'


@pytest.mark.parametrize("module", [github_actions, gitlab_ci, azure_pipelines, jenkins, circleci])
def test_every_platform_bakes_and_rolls_back(module: Any) -> None:
    for gitops in (False, True):
        content = only(module, sample_plan("fastapi-postgres", gitops=gitops)).content
        assert "Watch the error budget for 10 minutes" in content or "PROMETHEUS_URL" in content, module
        assert BREACH in content, module
        assert "/api/v1/query" in content, module


def test_the_bake_is_one_script_everywhere() -> None:
    plan = sample_plan("express")
    lines = bake.bake_lines(plan, _prod(plan), ci.PLAIN, "(a CI/CD variable scoped to production)")
    assert lines is not None
    gitlab = yaml.safe_load(only(gitlab_ci, plan).content)
    assert gitlab["verify"]["script"][-1] == ci.script(lines)
    circle = yaml.safe_load(only(circleci, plan).content)["jobs"]["verify"]["steps"]
    (run,) = [s["run"] for s in circle if "run" in s and s["run"]["name"] == bake.TITLE]
    assert run["command"].splitlines()[4:] == ci.script(lines).splitlines()[4:]


# -- the dashboard shows the markers -------------------------------------------------------------------


def test_dashboard_annotation_matches_the_tags_sent() -> None:
    plan = sample_plan("fastapi-postgres", apm="grafana")
    board = monitoring_dashboard.dashboard(plan, slo_of(plan))
    (deploys,) = [a for a in board["annotations"]["list"] if a["name"] == "Deploys"]
    wanted = deploys["target"]["tags"]
    assert deploys["target"]["matchAny"] is False  # Grafana then shows annotations carrying all of them
    for event in markers.EVENTS:
        sent = markers.tags(plan.app_name, "prod", "0123456789ab", event)
        assert set(wanted) <= set(sent), event


# -- the scripts run -----------------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.received.append((self.path, headers, json.loads(body)))
        answer = b'{"data": {"changeTrackingCreateDeployment": {"deploymentId": "1"}}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture()
def server() -> Iterator[tuple[str, list[tuple[str, dict[str, str], Any]]]]:
    received: list[tuple[str, dict[str, str], Any]] = []
    handler = type("Handler", (_Recorder,), {"received": received})
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    finally:
        httpd.shutdown()
        httpd.server_close()


HOSTILE = 'abc"},{"x":"\\n$(touch /tmp/pwned)`id`'


def _run(plan: Plan, event: str, env_vars: dict[str, str]) -> subprocess.CompletedProcess[str]:
    tool("jq")
    tool("curl")
    lines = notify.lines(plan, _prod(plan), event, notify.GITHUB, github_actions.GITHUB)
    environment = {
        "PATH": os.environ["PATH"],
        "GITHUB_SHA": HOSTILE,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "42",
        **env_vars,
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", ci.script(lines)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_slack_and_grafana_payloads(server: tuple[str, list[Any]]) -> None:
    url, received = server
    plan = sample_plan("fastapi-postgres", notify="slack", apm="grafana")
    done = _run(plan, "rollback", {"SLACK_WEBHOOK_URL": f"{url}/slack", "GRAFANA_URL": f"{url}/", "GRAFANA_TOKEN": "t"})
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == ""
    (slack_path, _, slack), (grafana_path, headers, grafana) = received
    text = f"fastapi-postgres prod: {HOSTILE[:12]} failed verification; rolled back"
    assert slack_path == "/slack"
    assert slack == {"text": f"{text} (<https://github.example/acme/shop/actions/runs/42|run>)"}
    assert grafana_path == "/api/annotations"
    assert headers["authorization"] == "Bearer t"
    assert grafana == {
        "tags": ["deploy", "fastapi-postgres", "env:prod", f"version:{HOSTILE}", "rollback"],
        "text": f"{text} https://github.example/acme/shop/actions/runs/42",
    }
    assert not Path("/tmp/pwned").exists()


def test_teams_and_new_relic_payloads(server: tuple[str, list[Any]]) -> None:
    url, received = server
    plan = sample_plan("fastapi-postgres", notify="teams", apm="newrelic")
    done = _run(
        plan,
        "success",
        {
            "TEAMS_WEBHOOK_URL": f"{url}/teams",
            "NEW_RELIC_API_KEY": "k",
            "NEW_RELIC_ENTITY_GUID": "GUID",
            "NEW_RELIC_API_URL": f"{url}/graphql",
        },
    )
    assert done.returncode == 0, done.stderr
    (_, _, teams), (_, headers, nerdgraph) = received
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][0]["text"] == f"fastapi-postgres prod: deployed {HOSTILE[:12]}"
    assert headers["api-key"] == "k"
    assert nerdgraph["variables"]["deployment"] == {
        "entityGuid": "GUID",
        "version": HOSTILE,
        "commit": HOSTILE,
        "deepLink": "https://github.example/acme/shop/actions/runs/42",
        "deploymentType": "BASIC",
        "description": f"fastapi-postgres prod: deployed {HOSTILE[:12]}",
    }
    assert "changeTrackingCreateDeployment(deployment: $deployment)" in nerdgraph["query"]


def test_a_service_down_or_not_set_up_never_fails_the_job() -> None:
    plan = sample_plan("fastapi-postgres", notify="slack", apm="datadog")
    done = _run(plan, "success", {"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/nothing"})
    assert done.returncode == 0, done.stderr
    assert "::warning::Slack did not take the message; the pipeline goes on." in done.stdout
    assert "DD_API_KEY is not set: no Datadog event." in done.stdout


# -- the field's judges over whole pipelines -----------------------------------------------------------


@pytest.mark.judges
def test_github_judges(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    for case in JUDGED:
        (folder / f"{case}.yml").write_text(only(github_actions, _plan(case)).content, encoding="utf-8")
    actionlint = subprocess.run(
        [tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), *map(str, sorted(folder.iterdir()))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert actionlint.returncode == 0, actionlint.stdout + actionlint.stderr
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--no-progress", "--format", "json", ".github/workflows"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(zizmor.stdout or "[]") == [], zizmor.stdout


@pytest.mark.judges
@pytest.mark.parametrize(
    ("module", "schema", "extra"),
    [
        (gitlab_ci, "vendor.gitlab-ci", ()),
        (azure_pipelines, "vendor.azure-pipelines", ("--regex-variant", "python")),
        (circleci, "vendor.circle-ci", ()),
    ],
)
def test_schemas(tmp_path: Path, module: Any, schema: str, extra: tuple[str, ...]) -> None:
    files = []
    for case in JUDGED:
        path = tmp_path / f"{case}.yml"
        path.write_text(only(module, _plan(case)).content, encoding="utf-8")
        files.append(path)
    result = check_jsonschema(schema, files, *extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.judges
def test_shellcheck_every_script(tmp_path: Path) -> None:
    scripts: dict[str, str] = {}
    for case in JUDGED:
        plan = _plan(case)
        gitlab = yaml.safe_load(only(gitlab_ci, plan).content)
        scripts.update({f"gitlab {case} {name}": text for name, text in _gitlab_scripts(gitlab).items()})
        azure = yaml.safe_load(only(azure_pipelines, plan).content)
        for index, step in enumerate(_azure_steps(azure)):
            text = _azure_script(step)
            if text is not None:
                scripts[f"azure {case} {index}"] = "#!/usr/bin/env bash\n" + text
        for index, run in enumerate(_circleci_runs(yaml.safe_load(only(circleci, plan).content))):
            scripts[f"circleci {case} {index}"] = "#!/usr/bin/env bash\nset -eo pipefail\n" + run["command"]
        for index, text in enumerate(_jenkins_scripts(only(jenkins, plan).content)):
            scripts[f"jenkins {case} {index}"] = text
    # Only the scripts with a notice, a marker or the bake: each platform's own test checks the rest.
    ours = {name: text for name, text in scripts.items() if "# Values reach the JSON" in text or BREACH in text}
    assert len(ours) > 30
    assert shellcheck(ours, tmp_path) == {}


@pytest.mark.parametrize("case", sorted(CASES))
def test_audit_finds_nothing(case: str) -> None:
    plan = _plan(case)
    for module in (github_actions, gitlab_ci, azure_pipelines, jenkins, circleci):
        assert audit_problems(module.render(plan), True) == [], module.__name__
