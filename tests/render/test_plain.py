"""Plain manifests: every file of every example app and environment validates with
`kubernetes-validate --strict`, passes the kit's own audit, and the deploy commands pin the
digest into the files with `kubectl set image --local` (run here, offline)."""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from deploysmith.audit import audit_files
from deploysmith.model import Plan
from deploysmith.render import plain
from tests.sample_plans import sample_plan

KUBERNETES_VERSION = "1.34.0"
APPS = ["fastapi-postgres", "django-celery", "express", "nextjs", "go-api", "spring-boot-maven", "monorepo"]
DIGEST = "sha256:" + "cd" * 32


@functools.cache
def plan_for(app: str) -> Plan:
    return sample_plan(app, packaging="plain", domain="shop.example.org")


@functools.cache
def rendered(app: str) -> Mapping[str, str]:
    return {file.path: file.content for file in plain.render(plan_for(app))}


def test_layout_of_one_environment() -> None:
    files = rendered("django-celery")
    prod = sorted(path for path in files if path.startswith("deploy/manifests/prod/"))
    assert prod == [
        "deploy/manifests/prod/app/django-celery-configmap.yaml",
        "deploy/manifests/prod/app/django-celery-deployment.yaml",
        "deploy/manifests/prod/app/django-celery-hpa.yaml",
        "deploy/manifests/prod/app/django-celery-ingress.yaml",
        "deploy/manifests/prod/app/django-celery-networkpolicy.yaml",
        "deploy/manifests/prod/app/django-celery-pdb.yaml",
        "deploy/manifests/prod/app/django-celery-service.yaml",
        "deploy/manifests/prod/app/django-celery-serviceaccount.yaml",
        "deploy/manifests/prod/app/django-celery-worker-configmap.yaml",
        "deploy/manifests/prod/app/django-celery-worker-deployment.yaml",
        "deploy/manifests/prod/app/django-celery-worker-networkpolicy.yaml",
        "deploy/manifests/prod/app/django-celery-worker-pdb.yaml",
        "deploy/manifests/prod/app/django-celery-worker-serviceaccount.yaml",
        "deploy/manifests/prod/migrate/django-celery-configmap.yaml",
        "deploy/manifests/prod/migrate/django-celery-job.yaml",
        "deploy/manifests/prod/migrate/django-celery-serviceaccount.yaml",
        "deploy/manifests/prod/namespace.yaml",
    ]


def test_config_map_names_follow_their_content() -> None:
    files = rendered("django-celery")
    for env in ("staging", "prod"):
        config = yaml.safe_load(files[f"deploy/manifests/{env}/app/django-celery-configmap.yaml"])
        deployment = yaml.safe_load(files[f"deploy/manifests/{env}/app/django-celery-deployment.yaml"])
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
        assert config["data"]["APP_ENV"] == env
    names = {yaml.safe_load(files[f"deploy/manifests/{env}/app/django-celery-configmap.yaml"])["metadata"]["name"]
             for env in ("staging", "prod")}
    assert len(names) == 2


@pytest.mark.parametrize("app", APPS)
def test_the_kits_own_audit_is_clean(app: str) -> None:
    assert audit_files(list(plain.render(plan_for(app))), mode="verify") == ()


def test_deploy_commands() -> None:
    commands = plain.deploy_commands(plan_for("django-celery"), "prod",
                                     image_refs={"django-celery": '"${IMAGE_DJANGO_CELERY}"'})
    assert commands.set_image == (
        "pin() {  # file, container=image: the digest into the file, no cluster involved",
        '  kubectl set image --local --filename "$1" "$2" --output yaml > "$1.pinned" && mv "$1.pinned" "$1"',
        "}",
        'pin deploy/manifests/prod/app/django-celery-deployment.yaml django-celery="${IMAGE_DJANGO_CELERY}"',
        "pin deploy/manifests/prod/app/django-celery-worker-deployment.yaml"
        ' django-celery-worker="${IMAGE_DJANGO_CELERY}"',
        'pin deploy/manifests/prod/migrate/django-celery-job.yaml migrate="${IMAGE_DJANGO_CELERY}"',
    )
    assert commands.migrate == (
        "kubectl -n django-celery-prod delete job django-celery-migrate --ignore-not-found --wait=true",
        "kubectl apply -f deploy/manifests/prod/migrate",
        "kubectl -n django-celery-prod wait --for=condition=Complete job/django-celery-migrate --timeout=660s"
        " || { kubectl -n django-celery-prod logs job/django-celery-migrate --tail=200; exit 1; }",
    )
    assert commands.apply == ("kubectl apply -f deploy/manifests/prod/app",)


@pytest.mark.judges
def test_pinning_and_strict_validation(tmp_path: Path) -> None:
    kubectl, validate = shutil.which("kubectl"), shutil.which("kubernetes-validate")
    if kubectl is None or validate is None:
        pytest.skip("kubectl or kubernetes-validate is not installed (pip install -e '.[test]')")
    for app in APPS:
        for path, content in rendered(app).items():
            target = tmp_path / app / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
    # Pin every environment of one app exactly as CI does, then validate everything.
    plan = plan_for("django-celery")
    for env in plan.environments:
        commands = plain.deploy_commands(plan, env.name, image_refs={"django-celery": f"ghcr.io/acme/shop@{DIGEST}"})
        script = "\n".join(["set -euo pipefail", *commands.set_image])
        result = subprocess.run(["bash", "-c", script], cwd=tmp_path / "django-celery", capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, result.stderr
        deployment = yaml.safe_load((tmp_path / "django-celery" / plain.app_dir(env.name)
                                     / "django-celery-deployment.yaml").read_text())
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"ghcr.io/acme/shop@{DIGEST}"
    # One stream per app: kubernetes-validate loads its schemas once per file.
    files = []
    for app in APPS:
        stream = tmp_path / f"{app}.all"
        stream.write_text("\n---\n".join(p.read_text() for p in sorted((tmp_path / app).rglob("*.yaml"))))
        files.append(str(stream))
    result = subprocess.run([validate, "--strict", "--kubernetes-version", KUBERNETES_VERSION, "--quiet", *files],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "ERROR" not in result.stdout, result.stdout + result.stderr
