"""Backups and disaster recovery (render/backups): golden files, the schedule the RPO asks
for, which services a managed database covers, and the field's judges on what is rendered —
`kubectl kustomize` + `kubernetes-validate --strict` of deploy/backup, shellcheck of the
restore test, actionlint and zizmor of its workflow, check-jsonschema of the Azure pipeline
— plus the kit's own verify.

Regenerate the golden files with `DEPLOYSMITH_UPDATE_GOLDEN=1 pytest tests/render/test_backups.py`.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.audit import verify
from deploysmith.model import Plan, RenderedFile
from deploysmith.plan.infra import backup_interval_minutes, backup_schedule, dumped_services
from deploysmith.render import backups, render_kit, targets_for
from tests.sample_plans import sample_plan

GOLDEN = Path(__file__).parent / "golden" / "backups"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"
KUBERNETES_VERSION = "1.34.0"

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "django-celery": ("django-celery", {}),
    "fastapi-postgres-terraform-rpo15": ("fastapi-postgres", {"iac": "terraform", "rpo_minutes": 15}),
}


@functools.cache
def plan_for(name: str, **requirements: Any) -> Plan:
    return sample_plan(name, **requirements)


def rendered(name: str, **requirements: Any) -> dict[str, RenderedFile]:
    return {file.path: file for file in backups.render(plan_for(name, **requirements))}


def write(files: dict[str, RenderedFile], root: Path) -> None:
    for path, file in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content, encoding="utf-8")
        if file.executable:
            target.chmod(0o755)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    name, requirements = CASES[case]
    files = {path: file.content for path, file in rendered(name, **requirements).items()}
    folder = GOLDEN / case
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        for path, content in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(content, encoding="utf-8")
    expected = {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*")) if path.is_file()
    }
    assert sorted(files) == sorted(expected), "set DEPLOYSMITH_UPDATE_GOLDEN=1 to regenerate"
    for path, content in files.items():
        assert content == expected[path], f"{case}: {path} differs from its golden file"


@pytest.mark.parametrize(("rpo", "interval", "schedule"), [
    (1, 5, "*/5 * * * *"),
    (15, 15, "*/15 * * * *"),
    (45, 30, "*/30 * * * *"),
    (60, 60, "7 * * * *"),
    (240, 240, "7 */4 * * *"),
    (1000, 720, "7 */12 * * *"),
    (1440, 1440, "7 3 * * *"),
    (43200, 1440, "7 3 * * *"),
])
def test_schedule_follows_the_rpo(rpo: int, interval: int, schedule: str) -> None:
    assert backup_interval_minutes(rpo) == interval
    assert backup_schedule(rpo) == schedule


def test_which_services_are_dumped() -> None:
    assert dumped_services(plan_for("django-celery")) == ("postgres", "redis")
    # A managed database (with its own snapshots and PITR) replaces the postgres dump.
    assert dumped_services(plan_for("django-celery", iac="terraform")) == ("redis",)
    assert dumped_services(plan_for("django-celery", target="ecs-fargate")) == ()
    assert dumped_services(plan_for("express")) == ()


def test_registered_only_for_stateful_stacks() -> None:
    assert "backups" in targets_for(plan_for("django-celery"))
    assert "backups" not in targets_for(plan_for("express"))
    ecs = {path for path in rendered("django-celery", target="ecs-fargate")}
    assert ecs == {backups.DOC}


def test_cronjob_shape() -> None:
    files = rendered("django-celery")
    (job,) = yaml.safe_load_all(files["deploy/backup/postgres.yaml"].content)
    spec = job["spec"]
    assert spec["schedule"] == "7 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["dump"]
    assert [c["name"] for c in pod["containers"]] == ["upload"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert "--sse aws:kms" in pod["containers"][0]["command"][2]
    assert pod["initContainers"][0]["env"][0]["valueFrom"]["secretKeyRef"] == {
        "name": "django-celery-backup", "key": "POSTGRES_URL"}


def test_disaster_recovery_doc() -> None:
    doc = rendered("django-celery")[backups.DOC].content
    assert ("| RPO (data a loss may cost) | 60 minutes | the default (60 minutes unless set with "
            "`--rpo-minutes`) |") in doc
    assert "| RTO (time to serve again) | 240 minutes | the default" in doc
    assert "### postgres (from the dumps)" in doc and "### redis (from the dumps)" in doc
    managed = rendered("fastapi-postgres", iac="terraform", rpo_minutes=15)[backups.DOC].content
    assert "| 15 minutes | from the requirements" in managed
    assert "point-in-time recovery" in managed and "aws rds restore-db-instance-to-point-in-time" in managed
    express = backups.disaster_recovery(plan_for("express"))
    assert "No stateful backing service was detected" in express


def test_restore_test_per_ci_platform() -> None:
    assert backups.GITHUB_WORKFLOW in rendered("django-celery")
    assert backups.AZURE_PIPELINE in rendered("django-celery", ci="azure")
    assert backups.JENKINSFILE in rendered("django-celery", ci="jenkins")
    kit = {f.path: f.content for f in render_kit(plan_for("django-celery", ci="gitlab"))}
    assert "\nrestore-test:\n  stage: test\n" in kit[".gitlab-ci.yml"]
    assert "    - bash deploy/backup/restore-test.sh\n" in kit[".gitlab-ci.yml"]
    config = yaml.safe_load(_circleci("django-celery"))
    scheduled = {"equal": ["scheduled_pipeline", "<< pipeline.trigger_source >>"]}
    assert config["workflows"]["restore-test"] == {"when": scheduled,
                                                   "jobs": [{"restore-test": {"context": ["backups"]}}]}
    assert config["workflows"]["ci-cd"]["when"] == {"not": scheduled}
    # No backups to test, no job.
    assert "restore-test" not in _circleci("express")


def _circleci(name: str) -> str:
    return next(f.content for f in render_kit(plan_for(name, ci="circleci")) if f.path == ".circleci/config.yml")


def test_the_kits_own_verify_is_clean_on_backup_files() -> None:
    mine = {backups.DOC, backups.SCRIPT, backups.GITHUB_WORKFLOW, backups.AZURE_PIPELINE, backups.JENKINSFILE}
    for ci in ("github", "azure", "jenkins", "gitlab", "circleci"):
        files = render_kit(plan_for("django-celery", ci=ci))
        findings = [f for f in verify(files) if f.path in mine or f.path.startswith(backups.DIR)
                    or (f.path in (".gitlab-ci.yml", ".circleci/config.yml") and "restore" in f.message)]
        assert findings == []


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.skip(f"{name} is not installed (pip install '.[test]')")
    return found


@pytest.mark.judges
def test_judges(tmp_path: Path) -> None:
    files = rendered("django-celery")
    write(files, tmp_path)
    built = subprocess.run([_tool("kubectl"), "kustomize", str(tmp_path / backups.DIR)],
                           capture_output=True, text=True, check=True, timeout=60).stdout
    (tmp_path / "built.yaml").write_text(built, encoding="utf-8")
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(built) if doc)
    assert kinds == ["ConfigMap", "CronJob", "CronJob", "NetworkPolicy", "ServiceAccount"]
    result = subprocess.run(
        [_tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBERNETES_VERSION,
         str(tmp_path / "built.yaml")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run([_tool("shellcheck"), str(tmp_path / backups.SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    workflow = str(tmp_path / backups.GITHUB_WORKFLOW)
    result = subprocess.run([_tool("actionlint"), workflow], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    result = subprocess.run([_tool("zizmor"), "--offline", "--min-severity", "low", workflow],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    azure = rendered("django-celery", ci="azure")[backups.AZURE_PIPELINE]
    (tmp_path / "azure.yml").write_text(azure.content, encoding="utf-8")
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.azure-pipelines",
                             "--regex-variant", "python", str(tmp_path / "azure.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
