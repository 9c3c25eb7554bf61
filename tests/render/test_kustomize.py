"""Kustomize base/overlays and Argo CD resources: golden files, unit checks on the rendered
files, and the field's own judges (`kubectl kustomize`, `kubernetes-validate --strict`,
the Argo CD CRD schemas) on the built output.

Regenerate the golden files with `DEPLOYSMITH_UPDATE_GOLDEN=1 pytest tests/render/test_kustomize.py`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.model import Plan, Workload
from deploysmith.render import argocd, kustomize
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import image_repository, secret_name
from tests.sample_plans import sample_plan

GOLDEN = Path(__file__).parent / "golden" / "kustomize"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"
CRDS = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "crds" / "argoproj.io"
# The first version where everything the kit uses is GA (the preStop sleep action, 1.34).
KUBERNETES_VERSION = "1.34.0"
WORKERS = max(2, os.cpu_count() or 2)

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "fastapi-postgres": ("fastapi-postgres", {}),
    "django-celery": ("django-celery", {}),
    "express": ("express", {}),
    "nextjs": ("nextjs", {}),
    "go-api": ("go-api", {}),
    "spring-boot-maven": ("spring-boot-maven", {}),
    "monorepo": ("monorepo", {}),
    "fastapi-postgres-gitops": ("fastapi-postgres", {"gitops": True}),
    "monorepo-gitops": ("monorepo", {"gitops": True}),
    "express-gitops-dev-prod": ("express", {"gitops": True, "environments": ("dev", "prod")}),
    "django-celery-dev-prod": ("django-celery", {"environments": ("dev", "prod")}),
}


@functools.cache
def plan_for(case: str) -> Plan:
    name, overrides = CASES[case]
    return sample_plan(name, **overrides)


@functools.cache
def rendered(case: str) -> Mapping[str, str]:
    return {file.path: file.content for file in kustomize.render(plan_for(case))}


def docs(content: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(content) if doc is not None]


def all_docs(files: Mapping[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, content in sorted(files.items()):
        for doc in docs(content):
            yield path, doc


def base(files: Mapping[str, str], workload: Workload, name: str) -> dict[str, Any]:
    (doc,) = docs(files[f"deploy/base/{k8s.name(workload)}/{name}"])
    return doc


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


# -- golden files ------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    files = rendered(case)
    folder = GOLDEN / case
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        for path, content in files.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
    expected = {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    assert sorted(files) == sorted(expected), "set DEPLOYSMITH_UPDATE_GOLDEN=1 to regenerate"
    for path, content in files.items():
        assert content == expected[path], f"{case}: {path} differs from its golden file"


def test_second_render_is_identical() -> None:
    for case in ("django-celery", "monorepo-gitops"):
        first = kustomize.render(sample_plan(*CASES[case][:1], **CASES[case][1]))
        assert first == kustomize.render(sample_plan(*CASES[case][:1], **CASES[case][1]))


def test_layout_of_a_migrating_app() -> None:
    paths = sorted(rendered("fastapi-postgres"))
    assert paths == [
        "deploy/base/fastapi-postgres/deployment.yaml",
        "deploy/base/fastapi-postgres/hpa.yaml",
        "deploy/base/fastapi-postgres/ingress.yaml",
        "deploy/base/fastapi-postgres/kustomization.yaml",
        "deploy/base/fastapi-postgres/migrate/job.yaml",
        "deploy/base/fastapi-postgres/migrate/kustomization.yaml",
        "deploy/base/fastapi-postgres/migrate/serviceaccount.yaml",
        "deploy/base/fastapi-postgres/networkpolicy.yaml",
        "deploy/base/fastapi-postgres/pdb.yaml",
        "deploy/base/fastapi-postgres/service.yaml",
        "deploy/base/fastapi-postgres/serviceaccount.yaml",
        "deploy/base/kustomization.yaml",
        *(
            f"deploy/overlays/{env}/{name}"
            for env in ("dev", "prod", "staging")
            for name in (
                "fastapi-postgres.yaml",
                "kustomization.yaml",
                "migrate/fastapi-postgres.yaml",
                "migrate/kustomization.yaml",
                "namespace.yaml",
            )
        ),
    ]


# -- unit checks on the rendered files ---------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_replicas_where_an_hpa_owns_them(case: str) -> None:
    plan = plan_for(case)
    files = rendered(case)
    for workload in plan.workloads:
        deployment = base(files, workload, "deployment.yaml")
        has_hpa = f"deploy/base/{k8s.name(workload)}/hpa.yaml" in files
        assert has_hpa == (workload.component.kind in ("web", "static"))
        for env in plan.environments:
            patch = next(
                doc
                for doc in docs(files[f"deploy/overlays/{env.name}/{k8s.name(workload)}.yaml"])
                if doc["kind"] == "Deployment"
            )
            if has_hpa:
                assert "replicas" not in deployment["spec"]
                assert "replicas" not in patch["spec"]
                hpa = next(
                    doc
                    for doc in docs(files[f"deploy/overlays/{env.name}/{k8s.name(workload)}.yaml"])
                    if doc["kind"] == "HorizontalPodAutoscaler"
                )
                assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
                    env.min_replicas,
                    env.max_replicas,
                )
            else:
                assert patch["spec"]["replicas"] == env.min_replicas


@pytest.mark.parametrize("case", sorted(CASES))
def test_security_context(case: str) -> None:
    plan = plan_for(case)
    files = rendered(case)
    for workload in plan.workloads:
        pods = [base(files, workload, "deployment.yaml")["spec"]["template"]["spec"]]
        if workload.migrate_command:
            pods.append(base(files, workload, "migrate/job.yaml")["spec"]["template"]["spec"])
        for pod in pods:
            assert pod["securityContext"] == {
                "runAsNonRoot": True,
                "runAsUser": workload.uid,
                "runAsGroup": workload.uid,
                "fsGroup": workload.uid,
                "seccompProfile": {"type": "RuntimeDefault"},
            }
            assert pod["automountServiceAccountToken"] is False
            (container,) = pod["containers"]
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": workload.read_only_root,
                "capabilities": {"drop": ["ALL"]},
            }
            mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
            assert sorted(mounts) == sorted(workload.writable_paths)
            volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
            assert sorted(volumes) == sorted(mounts.values())
            assert all("emptyDir" in volume for volume in volumes.values())
        assert base(files, workload, "serviceaccount.yaml")["automountServiceAccountToken"] is False


@pytest.mark.parametrize("case", sorted(CASES))
def test_probes_follow_the_plan(case: str) -> None:
    plan = plan_for(case)
    files = rendered(case)
    for workload in plan.workloads:
        deployment = base(files, workload, "deployment.yaml")
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        probes = ("startupProbe", "readinessProbe", "livenessProbe")
        if workload.probe.kind == "none":
            assert not any(probe in container for probe in probes)
            assert "lifecycle" not in container
            continue
        assert container["ports"] == [
            {"name": "http", "containerPort": workload.container_port, "protocol": "TCP"}
        ]
        for probe in probes:
            if workload.probe.kind == "http":
                assert container[probe]["httpGet"] == {"path": workload.probe.path, "port": "http"}
            else:
                assert container[probe]["tcpSocket"] == {"port": "http"}
        startup = container["startupProbe"]
        budget = startup["periodSeconds"] * startup["failureThreshold"]
        assert budget >= (300 if workload.component.language == "java" else 120)
        sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pod["terminationGracePeriodSeconds"] > sleep


@pytest.mark.parametrize("case", sorted(CASES))
def test_selectors_match_the_pods(case: str) -> None:
    plan = plan_for(case)
    files = rendered(case)
    for workload in plan.workloads:
        deployment = base(files, workload, "deployment.yaml")
        labels = pod_labels(deployment)
        assert deployment["spec"]["selector"]["matchLabels"] == labels
        assert selects(base(files, workload, "pdb.yaml")["spec"]["selector"]["matchLabels"], labels)
        policy = base(files, workload, "networkpolicy.yaml")
        assert selects(policy["spec"]["podSelector"]["matchLabels"], labels)
        if k8s.serves_http(workload):
            assert selects(base(files, workload, "service.yaml")["spec"]["selector"], labels)
            assert policy["spec"]["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
        else:
            assert policy["spec"]["ingress"] == []
        if workload.migrate_command:
            job_labels = base(files, workload, "migrate/job.yaml")["spec"]["template"]["metadata"]["labels"]
            assert not selects(deployment["spec"]["selector"]["matchLabels"], job_labels)


@pytest.mark.parametrize("case", sorted(CASES))
def test_secrets_are_referenced_never_inlined(case: str) -> None:
    plan = plan_for(case)
    files = rendered(case)
    assert not [path for path, doc in all_docs(files) if doc.get("kind") == "Secret"]
    for workload in plan.workloads:
        (container,) = base(files, workload, "deployment.yaml")["spec"]["template"]["spec"]["containers"]
        refs = [item["valueFrom"]["secretKeyRef"] for item in container.get("env", [])]
        assert refs == [
            {"name": secret_name(plan), "key": key, "optional": False} for key in workload.secret_env
        ]


@pytest.mark.parametrize("case", sorted(CASES))
def test_overlays(case: str) -> None:
    plan = plan_for(case)
    files = rendered(case)
    for env in plan.environments:
        folder = f"deploy/overlays/{env.name}"
        (namespace,) = docs(files[f"{folder}/namespace.yaml"])
        assert namespace["metadata"]["name"] == env.namespace
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        (kustomization,) = docs(files[f"{folder}/kustomization.yaml"])
        assert kustomization["namespace"] == env.namespace
        assert "commonLabels" not in kustomization
        images = kustomization["images"]
        assert images == [
            {"name": image.name, "newName": image_repository(plan, image)}
            for image in plan.images
            if any(workload.image == image.name for workload in plan.workloads)
        ]
        assert all("newTag" not in image and "digest" not in image for image in images)
        if any(workload.migrate_command for workload in plan.workloads):
            (migrate,) = docs(files[f"{folder}/migrate/kustomization.yaml"])
            assert migrate["images"] == images
            assert migrate["namespace"] == env.namespace
            assert ("migrate" in kustomization["resources"]) == plan.requirements.gitops
        for workload in plan.workloads:
            patches = docs(files[f"{folder}/{k8s.name(workload)}.yaml"])
            deployment = next(doc for doc in patches if doc["kind"] == "Deployment")
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["resources"] == {
                "requests": {"cpu": env.cpu_request, "memory": env.memory_request},
                "limits": {"cpu": env.cpu_limit, "memory": env.memory_limit},
            }
            ingress = [doc for doc in patches if doc["kind"] == "Ingress"]
            if k8s.serves_http(workload):
                (ingress_patch,) = ingress
                host = kustomize.ingress_host(plan, workload, env)
                assert [rule["host"] for rule in ingress_patch["spec"]["rules"]] == [host]
                assert ingress_patch["spec"]["tls"] == [
                    {"hosts": [host], "secretName": f"{k8s.name(workload)}-tls"}
                ]
            else:
                assert ingress == []


def test_monorepo_gets_one_host_per_web_component() -> None:
    plan = plan_for("monorepo")
    prod = plan.environment("prod")
    assert prod is not None
    hosts = {k8s.name(w): kustomize.ingress_host(plan, w, prod) for w in plan.workloads}
    assert hosts == {"web": "monorepo.example.com", "api": "api.monorepo.example.com"}
    (ingress,) = docs(rendered("monorepo")["deploy/base/web/ingress.yaml"])
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}


def test_worker_of_a_shared_image_runs_its_own_command() -> None:
    plan = plan_for("django-celery")
    files = rendered("django-celery")
    web, worker = plan.workloads
    (web_container,) = base(files, web, "deployment.yaml")["spec"]["template"]["spec"]["containers"]
    (worker_container,) = base(files, worker, "deployment.yaml")["spec"]["template"]["spec"]["containers"]
    assert "command" not in web_container
    assert worker_container["command"] == ["celery", "-A", "shop", "worker", "--loglevel=INFO"]
    assert worker_container["image"] == web_container["image"] == "django-celery"


def test_migration_job() -> None:
    plan = plan_for("django-celery")
    files = rendered("django-celery")
    job = base(files, plan.workloads[0], "migrate/job.yaml")
    assert job["metadata"] == {"name": "django-celery-migrate"}
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (
        1,
        600,
        86400,
    )
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "django-celery-migrate"
    (container,) = pod["containers"]
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert container["image"] == "django-celery"
    gitops_job = base(
        rendered("fastapi-postgres-gitops"), plan_for("fastapi-postgres").workloads[0], "migrate/job.yaml"
    )
    assert gitops_job["metadata"]["annotations"] == {
        "argocd.argoproj.io/hook": "Sync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
        "argocd.argoproj.io/sync-wave": "-1",
    }


def test_an_environment_without_host_drops_the_ingress() -> None:
    plan = plan_for("express")
    plan = dataclasses.replace(
        plan, environments=tuple(dataclasses.replace(env, host=None) for env in plan.environments)
    )
    files = {file.path: file.content for file in kustomize.render(plan)}
    patch = next(doc for doc in docs(files["deploy/overlays/dev/express.yaml"]) if doc["kind"] == "Ingress")
    assert patch == {
        "$patch": "delete",
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "express"},
    }


# -- CI commands -------------------------------------------------------------------------


def test_deploy_commands_imperative() -> None:
    commands = kustomize.deploy_commands(plan_for("fastapi-postgres"), "prod")
    ns = "fastapi-postgres-prod"
    ref = "ghcr.io/acme/fastapi-postgres/fastapi-postgres@${DIGEST_FASTAPI_POSTGRES}"
    assert commands == kustomize.DeployCommands(
        bootstrap=(
            "kubectl apply -f deploy/overlays/prod/namespace.yaml",
            f"kubectl -n {ns} create secret generic fastapi-postgres-secrets --from-literal=DATABASE_URL=…",
        ),
        set_image=(
            f"(cd deploy/overlays/prod && kustomize edit set image fastapi-postgres={ref})",
            f"(cd deploy/overlays/prod/migrate && kustomize edit set image fastapi-postgres={ref})",
        ),
        publish=(),
        migrate=(
            f"kubectl -n {ns} delete job fastapi-postgres-migrate --ignore-not-found --wait=true",
            "kubectl apply -k deploy/overlays/prod/migrate",
            f"kubectl -n {ns} wait --for=condition=Complete job/fastapi-postgres-migrate --timeout=660s"
            f" || {{ kubectl -n {ns} logs job/fastapi-postgres-migrate --tail=200; exit 1; }}",
        ),
        apply=("kubectl apply -k deploy/overlays/prod",),
        rollout=(f"kubectl -n {ns} rollout status deployment/fastapi-postgres --timeout=10m",),
        rollback=(
            f"kubectl -n {ns} rollout undo deployment/fastapi-postgres",
            f"kubectl -n {ns} rollout status deployment/fastapi-postgres --timeout=10m",
        ),
    )


def test_deploy_commands_without_migrations_and_with_given_refs() -> None:
    commands = kustomize.deploy_commands(plan_for("go-api"), "dev", {"api": "registry.local/api@sha256:abc"})
    assert commands.set_image == (
        "(cd deploy/overlays/dev && kustomize edit set image api=registry.local/api@sha256:abc)",
    )
    assert commands.bootstrap == ("kubectl apply -f deploy/overlays/dev/namespace.yaml",)
    assert commands.migrate == ()
    assert commands.rollout == (
        "kubectl -n go-api-dev rollout status deployment/api --timeout=10m",
        "kubectl -n go-api-dev rollout status deployment/worker --timeout=10m",
    )


def test_deploy_commands_gitops() -> None:
    plan = plan_for("fastapi-postgres-gitops")
    prod = kustomize.deploy_commands(plan, "prod")
    assert prod.migrate == ()
    assert prod.publish[0] == (
        "git add deploy/overlays/prod/kustomization.yaml deploy/overlays/prod/migrate/kustomization.yaml"
    )
    assert prod.apply == ("argocd app sync fastapi-postgres-prod",)
    assert prod.rollout == ("argocd app wait fastapi-postgres-prod --sync --health --timeout 900",)
    assert kustomize.deploy_commands(plan, "dev").apply == ()


# -- Argo CD -----------------------------------------------------------------------------


def test_argocd_only_with_gitops() -> None:
    assert not [path for path in rendered("express") if path.startswith("deploy/gitops/")]
    assert sorted(
        path for path in rendered("express-gitops-dev-prod") if path.startswith("deploy/gitops/")
    ) == [
        "deploy/gitops/appproject.yaml",
        "deploy/gitops/dev.yaml",
        "deploy/gitops/kustomization.yaml",
        "deploy/gitops/prod.yaml",
    ]


def test_argocd_sync_policies() -> None:
    plan = plan_for("monorepo-gitops")
    files = rendered("monorepo-gitops")
    for env in plan.environments:
        (app,) = docs(files[f"deploy/gitops/{env.name}.yaml"])
        spec = app["spec"]
        assert spec["source"] == {
            "repoURL": "https://github.com/acme/monorepo.git",
            "targetRevision": "HEAD",
            "path": f"deploy/overlays/{env.name}",
        }
        assert spec["destination"]["namespace"] == env.namespace
        policy = spec["syncPolicy"]
        if env.name == "prod":
            assert "automated" not in policy
        else:
            assert policy["automated"] == {"prune": True, "selfHeal": True}
        assert policy["retry"]["backoff"] == {"duration": "10s", "factor": 2, "maxDuration": "5m"}
        assert "RespectIgnoreDifferences=true" in policy["syncOptions"]
        assert spec["ignoreDifferences"] == [
            {"group": "apps", "kind": "Deployment", "name": name, "jsonPointers": ["/spec/replicas"]}
            for name in ("api", "web")
        ]


def test_argocd_repo_url() -> None:
    plan = plan_for("express-gitops-dev-prod")

    def url(remote: str | None) -> str | None:
        return argocd.repo_url(
            dataclasses.replace(plan, stack=dataclasses.replace(plan.stack, git_remote=remote))
        )

    assert url("github.com/acme/shop") == "https://github.com/acme/shop.git"
    assert url("https://gitlab.com/group/sub/shop.git") == "https://gitlab.com/group/sub/shop.git"
    assert url("git@github.com:acme/shop.git") == "https://github.com/acme/shop.git"
    assert url(None) is None
    unknown = dataclasses.replace(plan, stack=dataclasses.replace(plan.stack, git_remote=None))
    files = {file.path: file.content for file in kustomize.render(unknown)}
    assert "# PLACEHOLDER: the repository's remote is unknown." in files["deploy/gitops/dev.yaml"]
    (app,) = docs(files["deploy/gitops/dev.yaml"])
    assert app["spec"]["source"]["repoURL"] == "https://git.example.invalid/REPLACE-ME/express.git"


# -- the field's own judges --------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], Path]:
    """Every case written to disk and every overlay built with `kubectl kustomize`:
    (case, env, "app" | "migrate" | "gitops") → the built YAML."""
    kubectl = _tool("kubectl")
    root = tmp_path_factory.mktemp("kustomize")
    jobs: list[tuple[tuple[str, str, str], Path, str]] = []
    for case in sorted(CASES):
        plan = plan_for(case)
        repo = root / case
        for path, content in rendered(case).items():
            target = repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        for env in plan.environments:
            jobs.append(((case, env.name, "app"), repo, f"deploy/overlays/{env.name}"))
            if (repo / f"deploy/overlays/{env.name}/migrate").is_dir():
                jobs.append(((case, env.name, "migrate"), repo, f"deploy/overlays/{env.name}/migrate"))
        if plan.requirements.gitops:
            jobs.append(((case, "-", "gitops"), repo, "deploy/gitops"))

    def build(job: tuple[tuple[str, str, str], Path, str]) -> tuple[tuple[str, str, str], Path]:
        key, repo, folder = job
        result = subprocess.run(
            [kubectl, "kustomize", folder], cwd=repo, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{key[0]}: kubectl kustomize {folder}: {result.stderr}"
        target = root / ("__".join(key) + ".yaml")
        target.write_text(result.stdout, encoding="utf-8")
        return key, target

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(pool.map(build, jobs))


def _objects(path: Path) -> list[dict[str, Any]]:
    return docs(path.read_text(encoding="utf-8"))


@pytest.mark.judges
def test_kubernetes_validate_strict(built: dict[tuple[str, str, str], Path], tmp_path: Path) -> None:
    """Every object of every built overlay, each distinct object once, against the
    Kubernetes schemas with unknown fields rejected."""
    validate = _tool("kubernetes-validate")
    unique: dict[str, dict[str, Any]] = {}
    for key, path in sorted(built.items()):
        if key[2] == "gitops":
            continue
        for obj in _objects(path):
            unique.setdefault(json.dumps(obj, sort_keys=True), obj)
    objects = list(unique.values())
    chunks = [objects[index::WORKERS] for index in range(WORKERS)]
    paths = []
    for index, chunk in enumerate(chunks):
        path = tmp_path / f"objects-{index}.yaml"
        path.write_text(yaml.safe_dump_all(chunk, sort_keys=False), encoding="utf-8")
        paths.append(path)

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [validate, "--strict", "--kubernetes-version", KUBERNETES_VERSION, "--quiet", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(run, paths))
    assert len(objects) > 100
    for result in results:
        assert result.returncode == 0 and "ERROR" not in result.stdout, result.stdout + result.stderr


@pytest.mark.judges
@pytest.mark.parametrize("case", sorted(CASES))
def test_built_overlays(built: dict[tuple[str, str, str], Path], case: str) -> None:
    plan = plan_for(case)
    for env in plan.environments:
        objects = _objects(built[(case, env.name, "app")])
        migration = (
            _objects(built[(case, env.name, "migrate")]) if (case, env.name, "migrate") in built else []
        )
        everything = objects + [obj for obj in migration if obj not in objects]
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for obj in everything:
            by_kind.setdefault(obj["kind"], []).append(obj)
        assert "Secret" not in by_kind
        (namespace,) = by_kind["Namespace"]
        assert namespace["metadata"]["name"] == env.namespace
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert all(
            obj["metadata"].get("namespace") == env.namespace
            for obj in everything
            if obj["kind"] != "Namespace"
        )
        config_maps = {obj["metadata"]["name"] for obj in by_kind["ConfigMap"]}
        owned_by_hpa = {
            obj["spec"]["scaleTargetRef"]["name"] for obj in by_kind.get("HorizontalPodAutoscaler", [])
        }
        pods: list[tuple[str, dict[str, Any]]] = [
            (obj["kind"], obj["spec"]["template"]) for obj in by_kind["Deployment"] + by_kind.get("Job", [])
        ]
        for _kind, template in pods:
            labels = template["metadata"]["labels"]
            assert labels[k8s.PART_OF] == plan.app_name and labels[k8s.MANAGED_BY] == "deploysmith"
            for container in template["spec"]["containers"]:
                resources = container["resources"]
                assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
                assert "@" not in container["image"] and ":" not in container["image"].rsplit("/", 1)[-1]
                assert container["image"] in {image_repository(plan, image) for image in plan.images}
                for source in container.get("envFrom", []):
                    assert source["configMapRef"]["name"] in config_maps  # hashed names resolved
        for deployment in by_kind["Deployment"]:
            name = deployment["metadata"]["name"]
            labels = pod_labels(deployment)
            assert ("replicas" in deployment["spec"]) == (name not in owned_by_hpa)
            pdbs = [
                p
                for p in by_kind["PodDisruptionBudget"]
                if selects(p["spec"]["selector"]["matchLabels"], labels)
            ]
            assert len(pdbs) == 1 and pdbs[0]["spec"]["maxUnavailable"] == 1
            policies = [
                p
                for p in by_kind["NetworkPolicy"]
                if selects(p["spec"]["podSelector"]["matchLabels"], labels)
            ]
            assert len(policies) == 1
        for svc in by_kind.get("Service", []):
            targets = [d for d in by_kind["Deployment"] if selects(svc["spec"]["selector"], pod_labels(d))]
            assert [d["metadata"]["name"] for d in targets] == [svc["metadata"]["name"]]
            for job in by_kind.get("Job", []):
                assert not selects(svc["spec"]["selector"], job["spec"]["template"]["metadata"]["labels"])
        for ingress in by_kind.get("Ingress", []):
            assert ingress["spec"]["ingressClassName"] == "nginx"
            (rule,) = ingress["spec"]["rules"]
            assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
            backend = rule["http"]["paths"][0]["backend"]["service"]
            assert backend["name"] in {svc["metadata"]["name"] for svc in by_kind["Service"]}
        if migration:
            assert {obj["metadata"]["labels"][k8s.COMPONENT] for obj in migration} == {k8s.MIGRATION}
            if plan.requirements.gitops:
                # Argo CD syncs the overlay alone: it must carry the very same migration objects,
                # the Job in wave -1 after what it needs (wave -2), before the Deployments (wave 0).
                assert all(obj in objects for obj in migration)
                waves = {
                    (obj["kind"], obj["metadata"]["name"]): obj["metadata"]
                    .get("annotations", {})
                    .get("argocd.argoproj.io/sync-wave", "0")
                    for obj in everything
                }
                for obj in migration:
                    expected = "-1" if obj["kind"] == "Job" else "-2"
                    assert waves[(obj["kind"], obj["metadata"]["name"])] == expected
                assert waves[("Namespace", env.namespace)] == "-2"
                assert {waves[("Deployment", d["metadata"]["name"])] for d in by_kind["Deployment"]} == {"0"}
            else:
                assert not [obj for obj in objects if obj["kind"] == "Job"]


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    strict = copy.deepcopy(schema)
    strict["additionalProperties"] = False
    strict["properties"]["metadata"] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "finalizers": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name"],
        "additionalProperties": False,
    }
    return strict


@pytest.mark.judges
@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c][1].get("gitops")))
def test_argocd_resources_match_the_crd_schemas(built: dict[tuple[str, str, str], Path], case: str) -> None:
    import jsonschema  # type: ignore[import-untyped]

    if not CRDS.is_dir():
        pytest.skip(f"CRD schemas not found at {CRDS}")
    schemas = {
        kind: _strict(json.loads((CRDS / f"{kind.lower()}_v1alpha1.json").read_text(encoding="utf-8")))
        for kind in ("Application", "AppProject")
    }
    plan = plan_for(case)
    objects = _objects(built[(case, "-", "gitops")])
    assert sorted(obj["kind"] for obj in objects) == ["AppProject"] + ["Application"] * len(plan.environments)
    for obj in objects:
        assert obj["apiVersion"] == "argoproj.io/v1alpha1"
        validator = jsonschema.Draft7Validator(schemas[obj["kind"]])
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
        assert errors == [], f"{obj['kind']} {obj['metadata']['name']}: {errors}"


@pytest.mark.judges
def test_an_environment_without_host_builds_without_ingress(tmp_path: Path) -> None:
    kubectl = _tool("kubectl")
    plan = plan_for("express")
    plan = dataclasses.replace(
        plan, environments=tuple(dataclasses.replace(env, host=None) for env in plan.environments)
    )
    for file in kustomize.render(plan):
        target = tmp_path / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content, encoding="utf-8")
    result = subprocess.run(
        [kubectl, "kustomize", "deploy/overlays/dev"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    kinds = [obj["kind"] for obj in docs(result.stdout)]
    assert "Ingress" not in kinds and "Service" in kinds
