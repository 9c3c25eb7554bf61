"""Kustomize: a base plus one overlay per environment (and Argo CD resources for GitOps).

Layout (one folder per workload, one file per resource)::

    deploy/base/kustomization.yaml            part-of / managed-by labels on every object
    deploy/base/<wl>/kustomization.yaml       name / component labels, the <wl>-config generator
    deploy/base/<wl>/deployment.yaml          serviceaccount.yaml pdb.yaml networkpolicy.yaml
    deploy/base/<wl>/service.yaml             hpa.yaml ingress.yaml (web and static workloads)
    deploy/base/<wl>/migrate/…                the migration: Job, its ServiceAccount and
                                              ConfigMap (workloads with a migration command)
    deploy/overlays/<env>/kustomization.yaml  namespace, image repositories, APP_ENV, patches
    deploy/overlays/<env>/namespace.yaml      the Namespace, Pod Security `restricted`
    deploy/overlays/<env>/<wl>.yaml           this environment's sizing, replicas or HPA bounds, host
    deploy/overlays/<env>/migrate/…           the migrations alone, for this environment
    deploy/gitops/…                           Argo CD AppProject + Applications (gitops only)

`deploy/overlays/<env>` holds the app without its migrations (with GitOps it includes
`migrate/`, because Argo CD syncs one folder). Migration objects carry
`app.kubernetes.io/component=migration`, so the app's Service, PDB and NetworkPolicy
never select a migration pod.

Once per environment, before the first deploy (an operator, out of band)::

    kubectl apply -f deploy/overlays/<env>/namespace.yaml
    kubectl -n <namespace> create secret generic <app>-secrets \\
        --from-literal=DATABASE_URL=…   # one --from-literal per key in Workload.secret_env

The Secret is never written to this repository (rotate it with `kubectl create secret …
--dry-run=client -o yaml | kubectl apply -f -` and `kubectl rollout restart`, or manage it
with External Secrets). Pods reference its keys with `optional: false`: without them a pod
does not start, and `kubectl describe pod` names the missing key.

Each deploy, imperative delivery (CI; `deploy_commands(plan, env)` returns exactly these)::

    # 1. pin the digest just built, in the overlay and in its migrate/ folder (kustomize >= 5)
    (cd deploy/overlays/<env> && kustomize edit set image <image>=<repository>@sha256:…)
    (cd deploy/overlays/<env>/migrate && kustomize edit set image <image>=<repository>@sha256:…)
    # 2. migrate: replace the previous Job (a Job's template is immutable), run it, wait
    kubectl -n <namespace> delete job <wl>-migrate --ignore-not-found --wait=true
    kubectl apply -k deploy/overlays/<env>/migrate
    kubectl -n <namespace> wait --for=condition=Complete job/<wl>-migrate --timeout=660s \\
        || { kubectl -n <namespace> logs job/<wl>-migrate --tail=200; exit 1; }
    # 3. roll out, and wait until the new pods serve
    kubectl apply -k deploy/overlays/<env>
    kubectl -n <namespace> rollout status deployment/<wl> --timeout=10m

The wait outlasts the Job's activeDeadlineSeconds (600 s), so a hung migration fails the
deploy rather than the CI job's own timeout. A failed migration stops the deploy before
the Deployment changes: the previous version keeps serving.

Rollback, imperative::

    kubectl -n <namespace> rollout undo deployment/<wl>
    kubectl -n <namespace> rollout status deployment/<wl> --timeout=10m

The previous ReplicaSet names the previous hashed ConfigMap, which `kubectl apply`
(without --prune) never deletes, so configuration rolls back with the code. Migrations
are not reversed: keep them backward compatible (expand, deploy, contract) so the
previous release runs on the new schema.

GitOps delivery: CI pins the digests the same way, then commits and pushes both
kustomization files; Argo CD syncs dev and staging automatically and prod when someone
presses Sync (`argocd app sync <app>-prod`) after the approval. The migration Job is a
Sync hook in wave -1: Argo CD waits for it to complete before wave 0 (the Deployments),
and a failed migration fails the sync. Roll back with `git revert` of the deploy commit
(plus a sync for prod): self-heal would undo a `kubectl rollout undo`. Bootstrap once, as
a cluster admin: `kubectl apply -k deploy/gitops`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.render import argocd, flux, progressive, secrets
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import (
    BASE_DIR,
    header,
    image_repository,
    overlay_dir,
    secret_name,
)
from deploysmith.render.yamlout import comment, dump, dump_all

KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
MIGRATE_DIR_NAME = "migrate"  # deploy/overlays/<env>/migrate: the migration Jobs alone
ROLLOUT_TIMEOUT = "10m"
MIGRATION_WAIT_SECONDS = k8s.MIGRATION_DEADLINE_SECONDS + 60


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    # Argo CD's sync waves and hooks; Flux orders migrations with Kustomizations instead.
    gitops = plan.requirements.gitops and plan.requirements.gitops_tool == "argocd"
    files: list[RenderedFile] = []
    files.extend(_base(plan, gitops))
    for env in plan.environments:
        files.extend(_overlay(plan, env, gitops))
    files.extend(secrets.render(plan))
    files.extend(argocd.render(plan) if gitops else flux.render(plan))
    return tuple(sorted(files, key=lambda rendered: rendered.path))


# -- base --------------------------------------------------------------------------------


def _workload_dir(workload: Workload) -> str:
    return f"{BASE_DIR}/{k8s.name(workload)}"


def _base(plan: Plan, gitops: bool) -> list[RenderedFile]:
    files: list[RenderedFile] = []
    resources: list[str] = []
    for workload in plan.workloads:
        resources.append(k8s.name(workload))
        files.extend(_base_workload(plan, workload))
        if workload.migrate_command:
            files.extend(_base_migration(plan, workload, gitops))
    kustomization = {
        **KUSTOMIZATION,
        "resources": comment(
            resources,
            "One folder per workload. Migrations (<workload>/migrate/) are not listed: each overlay's\n"
            f"{MIGRATE_DIR_NAME}/ folder applies them before the rollout.",
        ),
        "labels": comment(
            [
                {
                    "pairs": {k8s.PART_OF: plan.app_name, k8s.MANAGED_BY: "deploysmith"},
                    "includeTemplates": True,
                }
            ],
            "On every object and pod; never in selectors (a Deployment's selector is immutable).",
        ),
    }
    files.append(_file(f"{BASE_DIR}/kustomization.yaml", kustomization, f"Kustomize base of {plan.app_name}"))
    return files


def _base_workload(plan: Plan, workload: Workload) -> list[RenderedFile]:
    folder = _workload_dir(workload)
    wl = k8s.name(workload)
    secret = secret_name(plan)
    resources: list[tuple[str, dict[str, Any], str]] = [
        ("deployment.yaml", k8s.deployment(plan, workload, secret), f"Deployment of {wl}"),
        ("serviceaccount.yaml", k8s.service_account(wl), f"ServiceAccount of {wl}"),
    ]
    if k8s.serves_http(workload):
        resources.append(("service.yaml", k8s.service(workload), f"Service of {wl}"))
        resources.append(("hpa.yaml", k8s.hpa(workload), f"HorizontalPodAutoscaler of {wl}"))
    resources.append(("pdb.yaml", k8s.pdb(workload), f"PodDisruptionBudget of {wl}"))
    resources.append(("networkpolicy.yaml", k8s.network_policy(workload), f"NetworkPolicy of {wl}"))
    if k8s.serves_http(workload):
        resources.append(("ingress.yaml", k8s.ingress(workload), f"Ingress of {wl}"))
    resources = progressive.base_resources(plan, workload, resources)  # Rollout / Canary, routing
    files = [_file(f"{folder}/{path}", data, what) for path, data, what in resources]
    generator: dict[str, Any] = {"name": k8s.config_name(workload)}
    literals = _config_literals(workload)
    if literals:
        generator["literals"] = literals
    kustomization = {
        **KUSTOMIZATION,
        "resources": [path for path, _, _ in resources],
        "labels": comment(
            [{"pairs": k8s.selector_labels(workload), "includeTemplates": True}],
            "Selectors are written out in each resource; these label the objects themselves.",
        ),
        "configMapGenerator": comment(
            [generator],
            "Non-secret settings. The generated name carries a hash of the content: a change\n"
            "rolls the pods, and a rollback returns to the previous ConfigMap. Each overlay adds APP_ENV.",
        ),
    }
    files.append(_file(f"{folder}/kustomization.yaml", kustomization, f"Kustomize base of workload {wl}"))
    return files


def _config_literals(workload: Workload) -> list[Any]:
    literals: list[Any] = []
    if workload.container_port is not None:
        literals.append(f"PORT={workload.container_port}")
    if workload.component.framework == "nextjs":
        literals.append(
            comment(
                "HOSTNAME=0.0.0.0",
                "Next.js standalone listens on $HOSTNAME, which Kubernetes sets to the pod name.",
            )
        )
    return literals


def _base_migration(plan: Plan, workload: Workload, gitops: bool) -> list[RenderedFile]:
    folder = f"{_workload_dir(workload)}/migrate"
    wl = k8s.name(workload)
    wave = k8s.WAVE_PREREQUISITES if gitops else None
    files = [
        _file(
            f"{folder}/job.yaml",
            k8s.migration_job(plan, workload, secret_name(plan), gitops),
            f"migration Job of {wl}, run before each rollout (see deploysmith.render.kustomize)",
        ),
        _file(
            f"{folder}/serviceaccount.yaml",
            k8s.service_account(k8s.migration_name(workload), wave),
            f"ServiceAccount of the migration Job of {wl}",
        ),
    ]
    generator: dict[str, Any] = {"name": k8s.migration_config_name(workload)}
    if gitops:
        generator["options"] = {"annotations": {k8s.ARGO_WAVE: k8s.WAVE_PREREQUISITES}}
    kustomization = {
        **KUSTOMIZATION,
        "resources": ["serviceaccount.yaml", "job.yaml"],
        "labels": comment(
            [
                {
                    "pairs": {
                        **k8s.migration_selector_labels(workload),
                        k8s.PART_OF: plan.app_name,
                        k8s.MANAGED_BY: "deploysmith",
                    },
                    "includeTemplates": True,
                }
            ],
            f"component={k8s.MIGRATION}: the app's Service, PodDisruptionBudget and NetworkPolicy\n"
            "never select the migration's pod.",
        ),
        "configMapGenerator": comment(
            [generator],
            "The migration's own settings (each overlay adds APP_ENV), so it never waits for\n"
            "the app's ConfigMap, which is applied with the rollout.",
        ),
    }
    files.append(_file(f"{folder}/kustomization.yaml", kustomization, f"migration of {wl}"))
    return files


# -- overlays ----------------------------------------------------------------------------


def migrate_dir(env_name: str) -> str:
    return f"{overlay_dir(env_name)}/{MIGRATE_DIR_NAME}"


def migrate_job_name(workload: Workload) -> str:
    return k8s.migration_name(workload)


def _images(plan: Plan, env_name: str | None = None) -> Any:
    if env_name is not None and flux.automated(plan, env_name):
        return comment(
            [
                {
                    "name": image.name,
                    "newName": image_repository(plan, image),
                    "digest": flux.digest_setter(plan, image),
                }
                for image in plan.images
                if any(workload.image == image.name for workload in plan.workloads)
            ],
            "Flux image automation commits the newest main build's digest at each marker (CI does not\n"
            "deploy this environment); the zero digest stands until its first commit.",
        )
    return comment(
        [
            {"name": image.name, "newName": image_repository(plan, image)}
            for image in plan.images
            if any(workload.image == image.name for workload in plan.workloads)
        ],
        "No tag: CI pins the digest it built with\n"
        "`kustomize edit set image <name>=<repository>@sha256:…` in this folder.",
    )


def _app_env(name: str, env: EnvironmentPlan) -> dict[str, Any]:
    return {"name": name, "behavior": "merge", "literals": [f"APP_ENV={env.name}"]}


def _overlay(plan: Plan, env: EnvironmentPlan, gitops: bool) -> list[RenderedFile]:
    folder = overlay_dir(env.name)
    files = [
        _file(
            f"{folder}/namespace.yaml",
            k8s.namespace(plan, env, gitops),
            f"namespace of the {env.name} environment; apply it once by hand before the first deploy",
        )
    ]
    patches: list[dict[str, Any]] = []
    for workload in plan.workloads:
        patch_path = f"{k8s.name(workload)}.yaml"
        patches.append({"path": patch_path})
        files.append(
            RenderedFile(
                f"{folder}/{patch_path}",
                dump_all(
                    _patches(plan, workload, env),
                    header(
                        f"{env.name} settings of {k8s.name(workload)}: "
                        + (
                            "sizing, replica bounds, host"
                            if k8s.serves_http(workload)
                            else "sizing, replicas"
                        )
                    ),
                ),
            )
        )
    migrating = [workload for workload in plan.workloads if workload.migrate_command]
    resources: list[Any] = ["namespace.yaml", "../../base"]
    if secrets.managed(plan) and not flux.enabled(plan):
        resources.append(
            comment(secrets.SECRETS_DIR_NAME, "The application Secret's source (see docs/deploy/RUNBOOK.md).")
        )
    if gitops and migrating:
        resources.append(
            comment(
                MIGRATE_DIR_NAME,
                "Argo CD syncs this folder only, so it includes the migration Jobs (Sync hooks that\n"
                "run before the Deployments). Pin image digests in both folders.",
            )
        )
    kustomization = {
        **KUSTOMIZATION,
        "namespace": env.namespace,
        "resources": resources,
        "images": _images(plan, env.name),
        "configMapGenerator": comment(
            [_app_env(k8s.config_name(workload), env) for workload in plan.workloads],
            "Added to each workload's generated ConfigMap from the base.",
        ),
        "patches": patches,
    }
    files.append(
        RenderedFile(
            f"{folder}/kustomization.yaml",
            dump(
                kustomization, header(f"{env.name} overlay of {plan.app_name}") + "\n\n" + _overlay_notes(env)
            ),
        )
    )
    if migrating:
        files.extend(_migrate_overlay(plan, env, migrating))
    return files


def _migrate_overlay(plan: Plan, env: EnvironmentPlan, migrating: list[Workload]) -> list[RenderedFile]:
    folder = migrate_dir(env.name)
    files: list[RenderedFile] = []
    patches: list[dict[str, Any]] = []
    for workload in migrating:
        patch_path = f"{k8s.name(workload)}.yaml"
        patches.append({"path": patch_path})
        job_patch = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": k8s.migration_name(workload)},
            "spec": {
                "template": {"spec": {"containers": [{"name": "migrate", "resources": _resources(env)}]}}
            },
        }
        files.append(
            _file(
                f"{folder}/{patch_path}",
                job_patch,
                f"{env.name} sizing of the migration of {k8s.name(workload)}",
            )
        )
    kustomization = {
        **KUSTOMIZATION,
        "namespace": env.namespace,
        "resources": [f"../../../base/{k8s.name(workload)}/migrate" for workload in migrating],
        "images": _images(plan, env.name),
        "configMapGenerator": [_app_env(k8s.migration_config_name(workload), env) for workload in migrating],
        "patches": patches,
    }
    what = (
        f"{env.name} migrations of {plan.app_name}, applied and awaited before the rollout:\n"
        f"kubectl apply -k {folder}, then kubectl apply -k {overlay_dir(env.name)}"
    )
    files.append(RenderedFile(f"{folder}/kustomization.yaml", dump(kustomization, header(what))))
    return files


def _resources(env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "requests": {"cpu": env.cpu_request, "memory": env.memory_request},
        "limits": {"cpu": env.cpu_limit, "memory": env.memory_limit},
    }


def _overlay_notes(env: EnvironmentPlan) -> str:
    replicas = f"{env.min_replicas} replica" if env.min_replicas == 1 else f"{env.min_replicas} replicas"
    if env.min_replicas < 2:
        pdb = (
            f"PodDisruptionBudget: maxUnavailable 1 (from the base). {env.name} runs {replicas} at minimum,\n"
            "so a node drain may take it down briefly; minAvailable 1 would block the drain instead."
        )
    else:
        pdb = (
            f"PodDisruptionBudget: maxUnavailable 1 (from the base). {env.name} runs {replicas} at minimum,\n"
            "so a drain always leaves at least one serving."
        )
    gate = "deployed automatically" if env.auto_deploy else "deployed after the approval gate"
    return f"{env.name}: namespace {env.namespace}, {gate}.\n{pdb}"


def _patches(plan: Plan, workload: Workload, env: EnvironmentPlan) -> list[Any]:
    wl = k8s.name(workload)
    resources = _resources(env)
    deployment_spec: dict[str, Any] = {}
    if not k8s.autoscaled(workload):
        deployment_spec["replicas"] = comment(
            env.min_replicas, f"Fixed replicas in {env.name} (no autoscaler)."
        )
    deployment_spec["template"] = {
        "spec": {
            "containers": [
                {
                    "name": wl,
                    "resources": comment(
                        resources,
                        "Requests size scheduling and the autoscaler's CPU target; limits cap a runaway pod."
                        if k8s.autoscaled(workload)
                        else "Requests size scheduling; limits cap a runaway pod.",
                    ),
                }
            ]
        }
    }
    documents: list[Any] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": wl}, "spec": deployment_spec}
    ]
    if k8s.autoscaled(workload):
        documents.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": wl},
                "spec": {
                    "minReplicas": comment(
                        env.min_replicas, f"{env.name}: {env.min_replicas} to {env.max_replicas} replicas."
                    ),
                    "maxReplicas": env.max_replicas,
                },
            }
        )
    if k8s.serves_http(workload):
        documents.append(_ingress_patch(plan, workload, env))
    return progressive.overlay_documents(plan, workload, env, ingress_host(plan, workload, env), documents)


def ingress_host(plan: Plan, workload: Workload, env: EnvironmentPlan) -> str | None:
    """The primary web workload (the static site if there is one, else the first web
    workload) answers on the environment's host; each other web workload on
    `<component>.<host>`. One host per component rather than one host with path prefixes:
    a prefix would need the app to serve under it, or a controller-specific rewrite."""
    if env.host is None:
        return None
    serving = [w for w in plan.workloads if k8s.serves_http(w)]
    primary = next((w for w in serving if w.component.kind == "static"), serving[0] if serving else None)
    if primary is None or primary.component.name == workload.component.name:
        return env.host
    return f"{workload.component.name}.{env.host}"


def _ingress_patch(plan: Plan, workload: Workload, env: EnvironmentPlan) -> dict[str, Any]:
    wl = k8s.name(workload)
    host = ingress_host(plan, workload, env)
    if host is None:
        return {
            "$patch": comment(
                "delete", f"No host planned for {env.name}: no Ingress; the Service is reachable in-cluster."
            ),
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": wl},
        }
    serving = [w for w in plan.workloads if k8s.serves_http(w)]
    why = "Host from the plan."
    if len(serving) > 1:
        why = (
            "One host per web component (not path prefixes on one host, which would need the app\n"
            "to serve under the prefix or a controller-specific rewrite)."
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": wl},
        "spec": {
            "tls": comment(
                [{"hosts": [host], "secretName": k8s.tls_secret_name(workload)}],
                "cert-manager writes the certificate into this Secret.",
            ),
            "rules": comment([k8s.ingress_rule(workload, host)], why),
        },
    }


# -- CI commands -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployCommands:
    """Shell commands for one environment, each step in order (see the module docstring).

    `publish` and the Argo CD commands are used with GitOps delivery, `migrate` and `apply`
    with imperative delivery; a step that does not apply to the delivery mode is empty.
    """

    bootstrap: tuple[str, ...]  # once per environment, by an operator
    set_image: tuple[str, ...]  # pin the digests just built into the overlay
    publish: tuple[str, ...]  # GitOps: commit and push the pinned overlay
    migrate: tuple[str, ...]
    apply: tuple[str, ...]
    rollout: tuple[str, ...]  # wait until the new version is serving
    rollback: tuple[str, ...]


def publish_commands(env_name: str, pinned_files: list[str]) -> tuple[str, ...]:
    """GitOps: commit the files the digests were pinned in; the controller deploys them."""
    return (
        "git add " + " ".join(pinned_files),
        f'git commit -m "deploy({env_name}): pin image digests"',
        "git push",
    )


def _digest_variable(image: str) -> str:
    return "DIGEST_" + re.sub(r"[^A-Za-z0-9]+", "_", image).upper().strip("_")


def secret_lines(plan: Plan, ns: str) -> tuple[str, ...]:
    """The by-hand command creating the app's Secret, when the app reads keys from one."""
    keys = sorted({key for workload in plan.workloads for key in workload.secret_env})
    if not keys:
        return ()
    return (f"kubectl -n {ns} create secret generic {secret_name(plan)}" + "".join(
        f" --from-literal={key}=…" for key in keys
    ),)


def migration_lines(ns: str, jobs: list[str], apply: str) -> tuple[str, ...]:
    """Run the migration Jobs of `apply` and wait: the previous run is deleted first (a Job's
    template cannot change), and a failure prints the Job's log."""
    if not jobs:
        return ()
    return (
        *(f"kubectl -n {ns} delete job {job} --ignore-not-found --wait=true" for job in jobs),
        apply,
        *(
            f"kubectl -n {ns} wait --for=condition=Complete job/{job} --timeout={MIGRATION_WAIT_SECONDS}s"
            f" || {{ kubectl -n {ns} logs job/{job} --tail=200; exit 1; }}"
            for job in jobs
        ),
    )


def rollout_lines(ns: str, deployments: list[str]) -> tuple[str, ...]:
    return tuple(
        f"kubectl -n {ns} rollout status deployment/{name} --timeout={ROLLOUT_TIMEOUT}" for name in deployments
    )


def undo_lines(ns: str, deployments: list[str]) -> tuple[str, ...]:
    """Each Deployment back to its previous ReplicaSet, waiting until it serves."""
    return tuple(
        command
        for name in deployments
        for command in (f"kubectl -n {ns} rollout undo deployment/{name}", *rollout_lines(ns, [name]))
    )


def deploy_commands(
    plan: Plan,
    env_name: str,
    image_refs: Mapping[str, str] | None = None,
) -> DeployCommands:
    """The exact commands to deploy `env_name`. `image_refs` maps a logical image name to
    the reference CI pushed (`repository@sha256:…`); by default `<repository>@${DIGEST_<IMAGE>}`."""
    env = plan.environment(env_name)
    if env is None:
        raise KeyError(env_name)
    folder = overlay_dir(env.name)
    ns = env.namespace
    used = [image for image in plan.images if any(w.image == image.name for w in plan.workloads)]
    refs = {
        image.name: (image_refs or {}).get(image.name)
        or f"{image_repository(plan, image)}@${{{_digest_variable(image.name)}}}"
        for image in used
    }
    migrations = [k8s.migration_name(w) for w in plan.workloads if w.migrate_command]
    pinned = [folder, migrate_dir(env.name)] if migrations else [folder]
    edit = "kustomize edit set image " + " ".join(f"{name}={ref}" for name, ref in refs.items())
    set_image = tuple(f"(cd {path} && {edit})" for path in pinned)
    secret = secret_lines(plan, ns)
    if secret and secrets.managed(plan):
        secret = (secrets.bootstrap_command(plan, env),)
    bootstrap = (f"kubectl apply -f {folder}/namespace.yaml", *secret)
    deployments = [k8s.name(w) for w in plan.workloads]
    publish = publish_commands(env.name, [f"{path}/kustomization.yaml" for path in pinned])
    if flux.enabled(plan):
        kind = "helmrelease" if flux.helm(plan) else "kustomization"
        name = flux.app_name(plan, env)
        return DeployCommands(
            bootstrap=bootstrap,
            set_image=set_image,
            publish=publish,
            migrate=(),
            apply=(f"flux reconcile {kind} {name} -n {flux.FLUX_NAMESPACE} --with-source",),
            rollout=(f"kubectl -n {flux.FLUX_NAMESPACE} wait {kind}/{name} --for=condition=Ready --timeout=15m",),
            rollback=(
                'git revert --no-edit "$DEPLOY_COMMIT"',
                "git push",
                f"flux reconcile {kind} {name} -n {flux.FLUX_NAMESPACE} --with-source",
            ),
        )
    if plan.requirements.gitops:
        app = argocd.application_name(plan, env)
        manual = () if env.auto_deploy else (f"argocd app sync {app}",)
        return DeployCommands(
            bootstrap=bootstrap,
            set_image=set_image,
            publish=publish,
            migrate=(),
            apply=manual,
            rollout=(f"argocd app wait {app} --sync --health --timeout 900",),
            rollback=('git revert --no-edit "$DEPLOY_COMMIT"', "git push", *manual),
        )
    migrate = migration_lines(ns, migrations, f"kubectl apply -k {migrate_dir(env.name)}")
    return progressive.commands(plan, env.name, ns, DeployCommands(  # Argo Rollouts / Flagger waits
        bootstrap=bootstrap,
        set_image=set_image,
        publish=(),
        migrate=migrate,
        apply=(f"kubectl apply -k {folder}",),
        rollout=rollout_lines(ns, deployments),
        rollback=undo_lines(ns, deployments),
    ))


# -- helpers -----------------------------------------------------------------------------


def _file(path: str, data: Any, what: str) -> RenderedFile:
    return RenderedFile(path, dump(data, header(what)))
