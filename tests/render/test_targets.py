"""The non-Kubernetes targets (render/targets/): golden files for each target × a fitting
example app, the field's own schemas and service models, the CI judges on the pipelines
that deploy them, verify() on the whole kit, and one-line refusals for stacks a target
cannot run.

Judges:
- Cloud Run: the SchemaStore Knative v1 schema (cloud-run-v1.json).
- Azure Container Apps: the SchemaStore template schema, on `properties.template`.
- fly.toml: the SchemaStore fly.json, after a tomllib parse.
- ECS (task definition, service, CodeDeploy deployment), Lambda and App Runner: botocore's
  service models, the input shape of the API call the file feeds, checked recursively
  (member names, required members, types, enums).
- netlify.toml: SchemaStore's netlify.json describes Netlify CMS's config.yml, not
  netlify.toml (test_netlify_schema_is_not_for_netlify_toml proves it), so the file is
  checked against Netlify's documented file-based configuration keys instead.
- render.yaml, railway.json, vercel.json, Procfile, app.json: no schema here; goldens and
  the properties that matter are asserted.

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.audit.engine import verify
from deploysmith.cli import main
from deploysmith.model import Plan, RenderedFile
from deploysmith.plan.targets import TARGETS as FACTS
from deploysmith.plan.targets import managed_services, native_strategy
from deploysmith.render import render_kit, targets_for
from deploysmith.render import targets as target_renderers
from deploysmith.render.targets import ecs_fargate
from tests.sample_plans import sample_plan

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT.parent / "shared" / "schemas" / "schemastore"
GOLDEN = Path(__file__).parent / "golden" / "targets"
EXAMPLES = ROOT / "examples"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"

# case → (sample stack, requirement overrides): every target with an app that fits it.
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "cloud-run-fastapi-postgres": ("fastapi-postgres", {"target": "cloud-run"}),
    "cloud-run-express-canary": ("express", {"target": "cloud-run", "strategy": "canary"}),
    "ecs-fargate-django-celery": ("django-celery", {"target": "ecs-fargate"}),
    "ecs-fargate-express-blue-green": ("express", {"target": "ecs-fargate", "strategy": "blue-green"}),
    "lambda-express": ("express", {"target": "lambda"}),
    "app-runner-spring-boot-maven": ("spring-boot-maven", {"target": "app-runner"}),
    "azure-container-apps-go-api": ("go-api", {"target": "azure-container-apps"}),
    "fly-django-celery": ("django-celery", {"target": "fly"}),
    "railway-go-api": ("go-api", {"target": "railway"}),
    "render-django-celery": ("django-celery", {"target": "render"}),
    "heroku-fastapi-postgres": ("fastapi-postgres", {"target": "heroku"}),
    "vercel-nextjs": ("nextjs", {"target": "vercel", "domain": "shop.example.org"}),
    "netlify-nextjs": ("nextjs", {"target": "netlify", "domain": "shop.example.org"}),
}


@functools.cache
def plan_of(case: str) -> Plan:
    stack, requirements = CASES[case]
    return sample_plan(stack, **requirements)


@functools.cache
def files_of(case: str) -> tuple[RenderedFile, ...]:
    return target_renderers.render(plan_of(case))


def _by_suffix(case: str, suffix: str) -> list[RenderedFile]:
    return [f for f in files_of(case) if f.path.endswith(suffix)]


# -- goldens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    folder = GOLDEN / case
    rendered = {f.path: f.content for f in files_of(case)}
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        for path, content in rendered.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(content, encoding="utf-8")
        runbook = target_renderers.runbook_section(plan_of(case))
        (folder / "RUNBOOK-section.md").write_text(runbook, encoding="utf-8")
    assert folder.is_dir(), f"{folder} is missing: run with DEPLOYSMITH_UPDATE_GOLDEN=1"
    on_disk = {
        str(p.relative_to(folder)): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "RUNBOOK-section.md"
    }
    assert rendered == on_disk
    assert target_renderers.runbook_section(plan_of(case)) == (folder / "RUNBOOK-section.md").read_text("utf-8")


def test_rendering_is_deterministic() -> None:
    for case in CASES:
        assert target_renderers.render(plan_of(case)) == files_of(case)


# -- schemas -----------------------------------------------------------------------------------


def _schema(name: str) -> Any:
    import jsonschema

    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def _errors(validator: Any, data: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


@pytest.mark.parametrize("case", [c for c in sorted(CASES) if c.startswith("cloud-run")])
def test_cloud_run_services_match_the_knative_schema(case: str) -> None:
    validator = _schema("cloud-run-v1.json")
    services = _by_suffix(case, ".yaml")
    assert len(services) == len(plan_of(case).environments)
    for rendered in services:
        data = yaml.safe_load(rendered.content)
        assert data["kind"] == "Service" and data["apiVersion"] == "serving.knative.dev/v1"
        assert _errors(validator, data) == [], rendered.path
        container = data["spec"]["template"]["spec"]["containers"][0]
        assert container["startupProbe"]["httpGet"]["path"] == plan_of(case).workloads[0].probe.path
        assert container["livenessProbe"]["httpGet"]["path"] == plan_of(case).workloads[0].probe.path
        secrets = [e for e in container["env"] if "valueFrom" in e]
        assert all(e["valueFrom"]["secretKeyRef"]["key"] == "latest" for e in secrets)
        assert [e["name"] for e in secrets] == list(plan_of(case).workloads[0].secret_env)


def test_cloud_run_canary_starts_the_candidate_without_traffic() -> None:
    data = yaml.safe_load(_by_suffix("cloud-run-express-canary", "prod/express.yaml")[0].content)
    assert data["spec"]["traffic"] == [
        {"revisionName": "${PREVIOUS_REVISION}", "percent": 100, "tag": "stable"},
        {"revisionName": "express-prod-${REVISION}", "percent": 0, "tag": "candidate"},
    ]
    deploy = target_renderers.commands(plan_of("cloud-run-express-canary"), plan_of("cloud-run-express-canary")
                                       .environments[-1]).deploy
    assert any("--to-tags candidate=10" in line for line in deploy)
    assert any("--to-tags candidate=100" in line for line in deploy)


@pytest.mark.parametrize("case", ["azure-container-apps-go-api"])
def test_container_apps_templates_match_the_schema(case: str) -> None:
    validator = _schema("azure-containerapp-template.json")
    for rendered in _by_suffix(case, ".yaml"):
        data = yaml.safe_load(rendered.content)
        assert _errors(validator, data["properties"]["template"]) == [], rendered.path
        serving = "worker" not in rendered.path
        configuration = data["properties"]["configuration"]
        assert configuration["activeRevisionsMode"] == ("Multiple" if serving else "Single")
        if serving:
            assert [t["weight"] for t in configuration["ingress"]["traffic"]] == [100, 0]
            types = [p["type"] for p in data["properties"]["template"]["containers"][0]["probes"]]
            assert types == ["Startup", "Readiness", "Liveness"]


@pytest.mark.parametrize("case", ["fly-django-celery"])
def test_fly_toml_matches_the_schema(case: str) -> None:
    validator = _schema("fly.json")
    (rendered,) = _by_suffix(case, "fly.toml")
    data = tomllib.loads(rendered.content)
    assert _errors(validator, data) == []
    assert data["deploy"] == {"strategy": "rolling", "release_command": "python manage.py migrate --noinput"}
    assert data["processes"] == {
        "web": "gunicorn shop.wsgi:application --bind 0.0.0.0:8000",
        "django-celery-worker": "celery -A shop worker --loglevel=INFO",
    }
    assert data["http_service"]["checks"][0]["path"] == "/healthz/"


def test_netlify_schema_is_not_for_netlify_toml() -> None:
    schema = json.loads((SCHEMAS / "netlify.json").read_text(encoding="utf-8"))
    assert {"backend", "collections"} <= set(schema["required"])  # Netlify CMS's config.yml


# Netlify's documented file-based configuration: top-level sections and their keys.
NETLIFY_KEYS = {
    "build": {"base", "publish", "command", "functions", "edge_functions", "ignore", "environment", "processing"},
    "headers": {"for", "values"},
    "redirects": {"from", "to", "status", "force", "query", "conditions", "headers", "signed"},
}


@pytest.mark.parametrize("case", ["netlify-nextjs"])
def test_netlify_toml_uses_netlify_keys(case: str) -> None:
    (rendered,) = _by_suffix(case, "netlify.toml")
    data = tomllib.loads(rendered.content)
    assert set(data) <= {"build", "headers", "redirects", "plugins", "context", "functions", "dev"}
    assert set(data["build"]) <= NETLIFY_KEYS["build"]
    for section in ("headers", "redirects"):
        for entry in data[section]:
            assert set(entry) <= NETLIFY_KEYS[section]
    assert data["headers"][0]["values"]["X-Content-Type-Options"] == "nosniff"
    assert data["redirects"][0]["from"] == "https://www.shop.example.org/*"


def test_vercel_json_has_security_headers_and_the_www_redirect() -> None:
    (rendered,) = _by_suffix("vercel-nextjs", "vercel.json")
    data = json.loads(rendered.content)
    assert data["framework"] == "nextjs"
    keys = [h["key"] for h in data["headers"][0]["headers"]]
    assert {"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options"} <= set(keys)
    assert data["redirects"][0]["destination"] == "https://shop.example.org/:path*"


# -- botocore service models ---------------------------------------------------------------------


@functools.cache
def _input_shape(service: str, operation: str) -> Any:
    botocore_session = pytest.importorskip("botocore.session")
    model = botocore_session.get_session().get_service_model(service)
    return model.operation_model(operation).input_shape


def shape_problems(shape: Any, value: Any, where: str = "$") -> list[str]:
    """Check a value against a botocore shape: member names, required members, types, enums."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        problems = [f"{where}: missing {name}" for name in shape.required_members if name not in value]
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{where}: unknown member {key}")
            else:
                problems += shape_problems(shape.members[key], item, f"{where}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [p for i, item in enumerate(value) for p in shape_problems(shape.member, item, f"{where}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map"]
        return [p for k, item in value.items() for p in shape_problems(shape.value, item, f"{where}.{k}")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string"]
        if shape.enum and value not in shape.enum:
            return [f"{where}: {value!r} is not one of {shape.enum}"]
        return []
    if kind in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: expected an integer"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    return [f"{where}: unchecked type {kind}"]


def test_the_shape_checker_catches_mistakes() -> None:
    shape = _input_shape("ecs", "RegisterTaskDefinition")
    assert shape_problems(shape, {"family": "x", "containerDefinitions": [{"nmae": "a"}]}) == [
        "$.containerDefinitions[0]: unknown member nmae"
    ]
    assert shape_problems(shape, {"containerDefinitions": [], "networkMode": "bridged"}) == [
        "$: missing family", "$.networkMode: 'bridged' is not one of ['bridge', 'host', 'awsvpc', 'none']"
    ]


@pytest.mark.parametrize("case", ["ecs-fargate-django-celery", "ecs-fargate-express-blue-green"])
def test_ecs_files_match_the_ecs_service_model(case: str) -> None:
    for rendered in _by_suffix(case, ".task-definition.json"):
        data = json.loads(rendered.content)
        assert shape_problems(_input_shape("ecs", "RegisterTaskDefinition"), data) == [], rendered.path
        assert int(data["memory"]) in ecs_fargate.FARGATE[int(data["cpu"])]
        container = data["containerDefinitions"][0]
        assert container["user"] != "0" and not container["user"].startswith("0:")
        assert container["readonlyRootFilesystem"] is True
        assert container["logConfiguration"]["logDriver"] == "awslogs"
    for rendered in _by_suffix(case, ".service.json"):
        data = json.loads(rendered.content)
        assert shape_problems(_input_shape("ecs", "CreateService"), data) == [], rendered.path
    for rendered in _by_suffix(case, ".codedeploy.yaml"):
        data = yaml.safe_load(rendered.content)
        assert shape_problems(_input_shape("codedeploy", "CreateDeployment"), data) == [], rendered.path
        appspec = yaml.safe_load(data["revision"]["appSpecContent"]["content"])
        assert appspec["Resources"][0]["TargetService"]["Type"] == "AWS::ECS::Service"


def test_ecs_rolling_services_roll_back_by_circuit_breaker() -> None:
    data = json.loads(_by_suffix("ecs-fargate-django-celery", "prod/django-celery.service.json")[0].content)
    assert data["deploymentController"] == {"type": "ECS"}
    assert data["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    blue_green = json.loads(_by_suffix("ecs-fargate-express-blue-green", "prod/express.service.json")[0].content)
    assert blue_green["deploymentController"] == {"type": "CODE_DEPLOY"}


def test_fargate_sizes_are_valid_pairs() -> None:
    assert ecs_fargate.fargate_size("500m", "512Mi") == (512, 1024)
    assert ecs_fargate.fargate_size("1000m", "1Gi") == (1024, 2048)
    assert ecs_fargate.fargate_size("200m", "64Mi") == (256, 512)


def test_lambda_and_app_runner_match_their_service_models() -> None:
    for rendered in _by_suffix("lambda-express", "function.json"):
        data = json.loads(rendered.content)
        assert shape_problems(_input_shape("lambda", "UpdateFunctionConfiguration"), data) == [], rendered.path
    for rendered in _by_suffix("app-runner-spring-boot-maven", ".json"):
        data = json.loads(rendered.content)
        assert shape_problems(_input_shape("apprunner", "UpdateService"), data) == [], rendered.path


# -- plan facts ----------------------------------------------------------------------------------


def test_strategies_fall_back_with_a_reason() -> None:
    assert native_strategy("fly", "blue-green")[0] == "blue-green"
    choice, reason = native_strategy("app-runner", "canary")
    assert choice == "rolling"
    assert reason.startswith("canary was chosen for the service, but AWS App Runner does not do it natively")
    assert native_strategy("cloud-run", "ab-testing")[0] == "canary"
    assert native_strategy("lambda", "rolling")[0] == "blue-green"
    plan = plan_of("ecs-fargate-express-blue-green")
    decision = next(d for d in plan.decisions if d.topic == "target strategy")
    assert decision.choice == "blue-green"


def test_managed_services_per_target() -> None:
    assert managed_services("cloud-run", ("postgres", "redis")) == {
        "postgres": "Cloud SQL for PostgreSQL", "redis": "Memorystore for Redis",
    }
    assert managed_services("kubernetes", ("postgres",)) == {}
    assert set(FACTS) == set(target_renderers.TARGETS)


def test_other_targets_skip_manifests_and_cluster_monitoring() -> None:
    chosen = targets_for(plan_of("fly-django-celery"))
    assert {"dockerfile", "github_actions", "targets", "docs"} <= set(chosen)
    assert not {"kustomize", "helm", "plain", "monitoring", "admission"} & set(chosen)
    assert "kustomize" in targets_for(sample_plan("express"))


# -- the whole kit: verify() and the CI judges -----------------------------------------------


def new_findings(plan: Plan) -> list[tuple[str, str, str]]:
    """verify() findings of the kit that the same stack's Kubernetes kit does not have (the
    shared parts — Dockerfile, the pipeline's build and test jobs — are judged elsewhere)."""
    baseline = sample_plan(next(n for n, _ in CASES.values() if plan.stack.root.endswith("/" + n)),
                           ci=plan.requirements.ci)
    known = {(f.rule, f.path) for f in verify(render_kit(baseline))}
    return [(f.rule, f.path, f.message) for f in verify(render_kit(plan)) if (f.rule, f.path) not in known]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_kit_verifies_clean(case: str) -> None:
    assert new_findings(plan_of(case)) == []


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


# One case per sign-in and deploy path (the shellcheck test below covers every case's shell).
JUDGED = ("cloud-run-express-canary", "ecs-fargate-django-celery", "ecs-fargate-express-blue-green",
          "lambda-express", "azure-container-apps-go-api", "fly-django-celery", "render-django-celery",
          "vercel-nextjs")


@pytest.fixture(scope="module")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("target-workflows")
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)  # actionlint looks for the repository
    folder = root / ".github" / "workflows"
    folder.mkdir(parents=True)
    from deploysmith.render import github_actions

    for case in JUDGED:
        (rendered,) = github_actions.render(plan_of(case))
        (folder / f"{case}.yml").write_text(rendered.content, encoding="utf-8")
    return root


@pytest.mark.judges
def test_actionlint_and_zizmor_on_target_workflows(workflows: Path) -> None:
    lint = subprocess.run(
        [_tool("actionlint"), "-no-color", "-shellcheck", _tool("shellcheck")],
        capture_output=True, text=True, cwd=workflows, check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    zizmor = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-config", "--no-progress", "--format", "plain", ".github/workflows"],
        capture_output=True, text=True, cwd=workflows, check=False,
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr


PLATFORM_SCHEMAS = {
    "gitlab": ("vendor.gitlab-ci", ".gitlab-ci.yml", ()),
    "azure": ("vendor.azure-pipelines", "azure-pipelines.yml", ("--regex-variant", "python")),
    "circleci": ("vendor.circle-ci", ".circleci/config.yml", ()),
}


@pytest.mark.judges
@pytest.mark.parametrize("ci", sorted(PLATFORM_SCHEMAS))
def test_other_platforms_match_their_schemas(ci: str, tmp_path: Path) -> None:
    schema, path, extra = PLATFORM_SCHEMAS[ci]
    written = []
    cases = ("cloud-run-fastapi-postgres", "ecs-fargate-django-celery", "fly-django-celery", "netlify-nextjs",
             "lambda-express", "heroku-fastapi-postgres")
    for case in cases[:2] if ci == "azure" else cases:  # Azure's schema is 1.6 MB and slow to apply
        stack, requirements = CASES[case]
        files = render_kit(sample_plan(stack, **requirements, ci=ci))
        (pipeline,) = [f for f in files if f.path == path]
        target = tmp_path / case / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(pipeline.content, encoding="utf-8")
        written.append(str(target))
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", schema, *extra, *written],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("ci", ["github", "gitlab", "azure", "jenkins", "circleci"])
def test_every_platform_deploys_with_the_target_commands(ci: str) -> None:
    files = render_kit(sample_plan("express", target="cloud-run", ci=ci))
    pipeline = next(f for f in files if f.path in (
        ".github/workflows/ci-cd.yml", ".gitlab-ci.yml", "azure-pipelines.yml", "Jenkinsfile", ".circleci/config.yml"
    ))
    assert "gcloud run services replace" in pipeline.content
    assert "kubectl " not in pipeline.content
    assert new_findings(sample_plan("express", target="cloud-run", ci=ci)) == []


@pytest.mark.parametrize("case", ["lambda-express", "heroku-fastapi-postgres"])
def test_targets_that_push_an_image_at_deploy_get_a_docker_engine(case: str) -> None:
    stack, requirements = CASES[case]
    gitlab = yaml.safe_load(_pipeline(sample_plan(stack, **requirements, ci="gitlab"), ".gitlab-ci.yml"))
    assert gitlab[".kubectl"]["services"] == ["docker:28-dind"]
    assert gitlab[".kubectl"]["variables"]["DOCKER_HOST"] == "tcp://docker:2376"
    circleci = yaml.safe_load(_pipeline(sample_plan(stack, **requirements, ci="circleci"), ".circleci/config.yml"))
    assert circleci["commands"]["kube-connect"]["steps"][0] == {"setup_remote_docker": {"docker_layer_caching": False}}


def test_lambda_logs_in_to_ecr_and_has_the_aws_cli_on_alpine() -> None:
    plan = sample_plan("express", target="lambda", ci="gitlab")
    pipeline = _pipeline(plan, ".gitlab-ci.yml")
    assert "apk add --no-cache aws-cli bash" in pipeline
    assert '| docker login --username AWS --password-stdin "${LAMBDA_REPOSITORY%%/*}"' in pipeline


def _pipeline(plan: Plan, path: str) -> str:
    return next(f.content for f in render_kit(plan) if f.path == path)


# -- refusals: one line, exit 2, nothing written ---------------------------------------------------


@pytest.mark.parametrize(
    ("example", "target", "words"),
    [
        ("django-celery", "lambda", "component 'django-celery-worker' is a worker that serves no port"),
        ("go-api", "cloud-run", "component 'worker' is a worker that serves no port"),
        ("express", "vercel", "Vercel hosts static sites and Next.js front ends"),
        ("fastapi-postgres", "netlify", "Netlify hosts static sites and Next.js front ends"),
        ("django-celery", "app-runner", "App Runner runs web services"),
    ],
)
def test_unfitting_stacks_are_refused(
    example: str, target: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / example
    shutil.copytree(EXAMPLES / example, repo)
    before = {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()}
    assert main(["init", str(repo), "--yes", "--target", target]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("deploysmith: error:")]
    assert len(lines) == 1, err
    assert words in lines[0]
    assert f"--target {target}:" in lines[0]
    after = {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()}
    assert after == before


def test_gitops_is_for_kubernetes_only() -> None:
    from deploysmith.errors import DeploysmithError

    with pytest.raises(DeploysmithError, match=r"^--target fly: GitOps delivery syncs Kubernetes manifests"):
        sample_plan("express", target="fly", gitops=True)


@pytest.mark.judges
def test_shellcheck_the_target_shell(tmp_path: Path) -> None:
    """The deploy, check and rollback shell of every case, and each platform's sign-in, as
    every CI platform runs them (actionlint covers GitHub's scripts as a whole)."""
    from deploysmith.render.targets import login

    scripts: dict[str, str] = {}
    for case in CASES:
        plan = plan_of(case)
        scripts[f"{case}-check"] = "\n".join(target_renderers.ci_verify_lines(plan))
        scripts[f"{case}-rollback"] = "\n".join(target_renderers.ci_rollback_lines(plan))
        for env in plan.environments:
            scripts[f"{case}-{env.name}-deploy"] = "\n".join(target_renderers.ci_deploy_lines(plan, env))
        for platform in ("gitlab", "azure", "jenkins", "circleci"):
            scripts[f"{case}-{platform}-login"] = "\n".join(login(plan, platform).lines)
        logs = target_renderers.TARGETS[plan.requirements.target].logs(plan, plan.environments[-1])
        scripts[f"{case}-logs"] = "\n".join(logs)  # TROUBLESHOOTING.md's diagnosing commands
    paths = []
    for name, body in scripts.items():
        path = tmp_path / f"{name}.sh"
        path.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + body + "\n", encoding="utf-8")
        paths.append(str(path))
    result = subprocess.run([_tool("shellcheck"), "--severity=warning", *paths], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout[-4000:]


def test_github_requests_an_oidc_token_only_for_cloud_sign_in() -> None:
    from deploysmith.render import github_actions

    def jobs(case: str) -> dict[str, Any]:
        (rendered,) = github_actions.render(plan_of(case))
        data: dict[str, Any] = yaml.safe_load(rendered.content)["jobs"]
        return data

    cloud = jobs("cloud-run-fastapi-postgres")
    for job in ("deploy-prod", "verify"):
        assert cloud[job]["permissions"]["id-token"] == "write"
        assert cloud[job]["permissions"]["contents"] == "read"
    token = jobs("fly-django-celery")
    assert "id-token" not in token["deploy-prod"]["permissions"]
    assert "secrets.FLY_API_TOKEN" in token["deploy-prod"]["env"]["FLY_API_TOKEN"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_troubleshooting_uses_the_target_commands_not_kubectl(case: str) -> None:
    plan = plan_of(case)
    page = next(f.content for f in render_kit(plan) if f.path == "docs/deploy/TROUBLESHOOTING.md")
    assert "kubectl" not in page and "namespace" not in page
    logs = target_renderers.TARGETS[plan.requirements.target].logs(plan, plan.environment("prod"))
    assert "## The new release crashes or exits at start\n" in page
    assert "```sh\n" + "\n".join(logs) + "\n```" in page
    assert "```sh\n" + "\n".join(target_renderers.commands(plan, plan.environment("prod")).verify) + "\n```" in page


def test_each_target_reads_its_logs_the_platform_way() -> None:
    def logs(case: str) -> tuple[str, ...]:
        plan = plan_of(case)
        return tuple(target_renderers.TARGETS[plan.requirements.target].logs(plan, plan.environment("prod")))

    assert logs("cloud-run-fastapi-postgres") == (
        "gcloud logging read 'resource.type=\"cloud_run_revision\" AND "
        "resource.labels.service_name=\"fastapi-postgres-prod\"' --project \"${GCP_PROJECT_ID}\" "
        "--freshness=1h --limit=100",
    )
    assert logs("lambda-express") == ('aws logs tail /aws/lambda/express-prod --since 1h --region "${AWS_REGION}"',)
    assert logs("ecs-fargate-django-celery")[0] == (
        'aws logs tail /ecs/django-celery-prod --since 1h --region "${AWS_REGION}"'
    )
    assert logs("heroku-fastapi-postgres") == ("npx --yes heroku@11.10.0 logs --num 200 --app fastapi-postgres",)
    assert logs("railway-go-api") == (
        "npx --yes @railway/cli@5.63.1 logs --service api --environment prod --lines 100",
        "npx --yes @railway/cli@5.63.1 logs --service worker --environment prod --lines 100",
    )
    assert logs("azure-container-apps-go-api") == (
        'az containerapp logs show --name go-api-api-prod --resource-group "${AZURE_RESOURCE_GROUP}" --tail 100',
        'az containerapp logs show --name go-api-worker-prod --resource-group "${AZURE_RESOURCE_GROUP}" --tail 100',
    )
