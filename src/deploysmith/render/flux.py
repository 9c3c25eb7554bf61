"""Flux: a GitRepository and, per environment, the Kustomizations (or a HelmRelease) that
apply the overlay, under deploy/gitops/ (`--gitops flux`).

Per environment, in the order Flux reconciles them (`dependsOn`):

    <app>-<env>-secrets   deploy/overlays/<env>/secrets   (when the kit manages the Secret)
    <app>-<env>-migrate   deploy/overlays/<env>/migrate   (when a workload migrates)
    <app>-<env>           deploy/overlays/<env>           the app; Ready when its workloads are

- The migration is its own Kustomization with `force: true` (a Job's template is immutable:
  Flux recreates it when the image changes, which runs the migration) and `wait: true` (Ready
  only once the Job completed); the app waits for it, so a failed migration stops the rollout
  while the previous version keeps serving.
- Environments depend on each other in promotion order (staging on dev, prod on staging):
  prod is never reconciled while staging is broken. Promotion is still CI's commit of the
  digests to prod's overlay after the approval; dependsOn only adds the safety of order.
  It assumes one cluster runs every environment (see the comment in each file).
- `prune: true` deletes what leaves Git; the Namespace is exempt (it holds out-of-band
  Secrets), by a patch that marks it `kustomize.toolkit.fluxcd.io/prune: disabled`.
- With `--secrets sops` every Kustomization has `decryption: {provider: sops}` with that
  environment's age key (never one without it: an encrypted file applied as is fails).
- With Helm packaging a HelmRelease replaces the app Kustomization (remediation: retries,
  rollback on a failed upgrade).

Bootstrap once, as a cluster admin: `kubectl apply -k deploy/gitops` (Flux installed).
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Image, Plan, RenderedFile
from deploysmith.render import gitops, secrets
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import GITOPS_DIR, header, image_prefix, image_repository, overlay_dir
from deploysmith.render.yamlout import LineComment, comment, dump, dump_all, line_comment

FLUX_NAMESPACE = "flux-system"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"
CHART_DIR = "deploy/chart"
SOURCE_INTERVAL = "1m"
INTERVAL = "10m"
RETRY_INTERVAL = "1m"
TIMEOUT = "10m"
PRUNE_DISABLED = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
IMAGE_API = "image.toolkit.fluxcd.io/v1"
AUTOMATED_ENV = "dev"
# The tag CI adds for image automation: main-<commit>-<unix time>, sortable by its time.
TAG_PATTERN = r"^main-[a-f0-9]+-(?P<ts>[0-9]+)$"
UNPINNED_DIGEST = "sha256:" + "0" * 64  # until the automation's first commit


def enabled(plan: Plan) -> bool:
    return gitops.tool(plan) == "flux"


def source_name(plan: Plan) -> str:
    return plan.app_name


def git_secret_name(plan: Plan) -> str:
    return f"{plan.app_name}-git"


def app_name(plan: Plan, env: EnvironmentPlan) -> str:
    """The Kustomization (or HelmRelease) that applies the environment's app."""
    return f"{plan.app_name}-{env.name}"


def migrate_name(plan: Plan, env: EnvironmentPlan) -> str:
    return f"{plan.app_name}-{env.name}-migrate"


def secrets_name(plan: Plan, env: EnvironmentPlan) -> str:
    return f"{plan.app_name}-{env.name}-secrets"


def helm(plan: Plan) -> bool:
    return plan.requirements.packaging == "helm"


def migrates(plan: Plan) -> bool:
    return any(workload.migrate_command for workload in plan.workloads) and not helm(plan)


def image_automation(plan: Plan) -> bool:
    """Flux image automation promotes every main build to dev, without CI, when CI does not
    deploy dev anyway: with a staging environment, CI deploys staging and prod (approved),
    and dev was left to manual deploys. One writer per overlay: never CI and Flux on one.
    (A Requirements setting could extend this to other environments; see the report.)"""
    return (
        enabled(plan)
        and not helm(plan)
        and plan.environment(AUTOMATED_ENV) is not None
        and plan.environment("staging") is not None
    )


def automated(plan: Plan, env_name: str) -> bool:
    return image_automation(plan) and env_name == AUTOMATED_ENV


def policy_name(plan: Plan, image: Image) -> str:
    return f"{plan.app_name}-{image.name}"


def digest_setter(plan: Plan, image: Image) -> LineComment:
    """The overlay's `digest` of an image, marked for the automation's Setters strategy."""
    marker = '{"$imagepolicy": "' + f"{FLUX_NAMESPACE}:{policy_name(plan, image)}:digest" + '"}'
    return line_comment(UNPINNED_DIGEST, marker)


def _used_images(plan: Plan) -> list[Image]:
    return [image for image in plan.images if any(w.image == image.name for w in plan.workloads)]


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    if not enabled(plan):
        return ()
    files = [
        RenderedFile(
            f"{GITOPS_DIR}/source.yaml",
            dump(git_repository(plan), header(f"Flux source of {plan.app_name}")),
        )
    ]
    previous: EnvironmentPlan | None = None
    for env in plan.environments:
        files.append(
            RenderedFile(
                f"{GITOPS_DIR}/{env.name}.yaml",
                dump_all(environment(plan, env, previous), header(f"Flux resources of {plan.app_name} {env.name}")),
            )
        )
        previous = env
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["source.yaml", *(f"{env.name}.yaml" for env in plan.environments)],
    }
    files.append(
        RenderedFile(
            f"{GITOPS_DIR}/kustomization.yaml",
            dump(
                kustomization,
                header(f"Flux resources of {plan.app_name}")
                + "\n\nApply once, as a cluster admin (Flux installed): kubectl apply -k "
                + GITOPS_DIR,
            ),
        )
    )
    return tuple(files)


def _metadata(plan: Plan, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": FLUX_NAMESPACE,
        "labels": {k8s.PART_OF: plan.app_name, k8s.MANAGED_BY: "deploysmith"},
    }


def git_repository(plan: Plan) -> dict[str, Any]:
    return {
        "apiVersion": SOURCE_API,
        "kind": "GitRepository",
        "metadata": _metadata(plan, source_name(plan)),
        "spec": {
            "interval": comment(SOURCE_INTERVAL, "How soon a pushed digest commit is seen."),
            "url": gitops.source_url(plan),
            "ref": {"branch": gitops.BRANCH},
            "secretRef": comment(
                {"name": git_secret_name(plan)},
                "Read access for a private repository (a deploy key or read-only token), created once:\n"
                f"flux create secret git {git_secret_name(plan)} --url=<this URL> --username=git "
                "--password=<token>\n"
                "Delete secretRef for a public repository.",
            ),
            "ignore": comment(
                "/*\n!/deploy/\n",
                "Only deploy/ is fetched: a change elsewhere (code, docs) triggers no reconciliation.",
            ),
        },
    }


def _source_ref(plan: Plan) -> dict[str, str]:
    return {"kind": "GitRepository", "name": source_name(plan)}


def _decryption(plan: Plan, env: EnvironmentPlan) -> Any:
    return comment(
        {"provider": "sops", "secretRef": {"name": secrets.sops_key_secret(env.name)}},
        f"SOPS-encrypted files are decrypted with {env.name}'s age key (see docs/deploy/RUNBOOK.md).",
    )


def _namespace_patch() -> dict[str, Any]:
    patch = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "any", "annotations": PRUNE_DISABLED}}
    return {"target": {"kind": "Namespace"}, "patch": dump(patch)}


def _health_checks(plan: Plan, env: EnvironmentPlan) -> list[dict[str, str]]:
    checks = []
    for workload in plan.workloads:
        api, kind = gitops.workload_kind(plan, workload)
        checks.append({"apiVersion": api, "kind": kind, "name": k8s.name(workload), "namespace": env.namespace})
    return checks


def _kustomization(plan: Plan, name: str, path: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": _metadata(plan, name),
        "spec": {
            "interval": comment(INTERVAL, "Drift (a manual change in the cluster) is reverted within this."),
            "retryInterval": comment(RETRY_INTERVAL, "A failed reconciliation is retried every minute."),
            "timeout": TIMEOUT,
            "sourceRef": _source_ref(plan),
            "path": f"./{path}",
            "prune": True,
            **spec,
        },
    }


def environment(plan: Plan, env: EnvironmentPlan, previous: EnvironmentPlan | None) -> list[Any]:
    """The Flux objects of one environment, first reconciled first."""
    chain: list[dict[str, Any]] = []
    sops = secrets.mode(plan) == "sops" and secrets.managed(plan)
    if secrets.managed(plan):
        spec: dict[str, Any] = {
            "wait": comment(True, "Ready once the Secret's source is applied and healthy."),
        }
        chain.append(_kustomization(plan, secrets_name(plan, env), secrets.secrets_dir(env.name), spec))
    if migrates(plan):
        wait_seconds = k8s.MIGRATION_DEADLINE_SECONDS + 60
        spec = {
            "force": comment(
                True,
                "A Job's template is immutable: Flux deletes and recreates the Job when the image\n"
                "changes, and the new Job runs the migration.",
            ),
            "wait": comment(True, "Ready only when the migration Job has completed; a failed Job fails it."),
            "timeout": comment(f"{wait_seconds}s", "Longer than the Job's activeDeadlineSeconds."),
            "patches": comment(
                [
                    {
                        "target": {"kind": "Job"},
                        "patch": dump([{"op": "remove", "path": "/spec/ttlSecondsAfterFinished"}]),
                    }
                ],
                "Keep the finished Job: once garbage-collected, Flux would recreate it and run the\n"
                "migration again at every reconciliation.",
            ),
        }
        chain.append(
            _kustomization(plan, migrate_name(plan, env), f"{overlay_dir(env.name)}/migrate", spec)
        )
    chain.append(_helm_release(plan, env) if helm(plan) else _app(plan, env))
    for before, after in zip(chain, chain[1:], strict=False):
        if after["kind"] == "Kustomization":
            after["spec"]["dependsOn"] = [{"name": before["metadata"]["name"]}]
    if previous is not None:
        # dependsOn names an object of the same kind: the first Kustomization, or the HelmRelease.
        entry = next(item for item in chain if item["kind"] == chain[-1]["kind"])
        earlier = {"name": app_name(plan, previous)}
        entry["spec"]["dependsOn"] = comment(
            [*entry["spec"].get("dependsOn", []), earlier],
            f"{env.name} is reconciled only while {previous.name} is Ready (one cluster runs every\n"
            f"environment; with a cluster per environment, delete the {previous.name} entry). The\n"
            f"digests still reach {env.name} only through CI's commit.",
        )
    if sops:
        for item in chain:
            if item["kind"] == "Kustomization":
                item["spec"]["decryption"] = _decryption(plan, env)
    if automated(plan, env.name):
        return [*chain, *automation(plan, env)]
    return chain


def automation(plan: Plan, env: EnvironmentPlan) -> list[Any]:
    """ImageRepository + ImagePolicy per image, and the ImageUpdateAutomation that commits the
    newest build's digest into the environment's overlay (its `# {"$imagepolicy": …}` markers)."""
    objects: list[Any] = []
    for image in _used_images(plan):
        repository: Any = image_repository(plan, image)
        if image_prefix(plan) is None:
            repository = comment(
                f"registry.example.invalid/{plan.app_name}/{image.name}",
                "PLACEHOLDER: the image's repository, as CI pushes it (the registry is only known in CI).",
            )
        objects.append(
            {
                "apiVersion": IMAGE_API,
                "kind": "ImageRepository",
                "metadata": _metadata(plan, policy_name(plan, image)),
                "spec": {
                    "image": comment(
                        repository, "A private registry needs `secretRef` (a docker-registry Secret) here."
                    ),
                    "interval": "5m",
                },
            }
        )
        objects.append(
            {
                "apiVersion": IMAGE_API,
                "kind": "ImagePolicy",
                "metadata": _metadata(plan, policy_name(plan, image)),
                "spec": {
                    "imageRepositoryRef": {"name": policy_name(plan, image)},
                    "filterTags": comment(
                        {"pattern": TAG_PATTERN, "extract": "$ts"},
                        "Only main builds (CI tags them main-<commit>-<unix time>); newest by time.",
                    ),
                    "policy": {"numerical": {"order": "asc"}},
                    "digestReflectionPolicy": comment(
                        "IfNotPresent", "The digest of the chosen tag goes into Git: dev runs what was scanned."
                    ),
                },
            }
        )
    objects.append(
        {
            "apiVersion": IMAGE_API,
            "kind": "ImageUpdateAutomation",
            "metadata": _metadata(plan, f"{app_name(plan, env)}-images"),
            "spec": {
                "interval": "5m",
                "sourceRef": comment(
                    _source_ref(plan),
                    "Pushes with the GitRepository's credentials: they need write access to main.",
                ),
                "git": {
                    "checkout": {"ref": {"branch": gitops.BRANCH}},
                    "commit": {
                        "author": {"name": "fluxcdbot", "email": "fluxcdbot@users.noreply.github.com"},
                        "messageTemplate": comment(
                            f"deploy({env.name}): pin images chosen by Flux image automation [skip ci]",
                            "[skip ci]: the commit moves digests only; it must not start a pipeline.",
                        ),
                    },
                    "push": {"branch": gitops.BRANCH},
                },
                "update": comment(
                    {"path": f"./{overlay_dir(env.name)}", "strategy": "Setters"},
                    f"Only {env.name}'s overlay: staging and prod are promoted by CI after their gates.",
                ),
                "policySelector": {"matchLabels": {k8s.PART_OF: plan.app_name}},
            },
        }
    )
    return objects


def _app(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "wait": comment(
            False,
            "Not every object: the health checks below say when the release serves (wait: true\n"
            "would make Flux ignore them).",
        ),
        "healthChecks": _health_checks(plan, env),
        "patches": comment(
            [_namespace_patch()],
            "Never prune the Namespace: it also holds Secrets created out of band.",
        ),
    }
    return _kustomization(plan, app_name(plan, env), overlay_dir(env.name), spec)


def _helm_release(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "apiVersion": HELM_API,
        "kind": "HelmRelease",
        "metadata": _metadata(plan, app_name(plan, env)),
        "spec": {
            "interval": INTERVAL,
            "releaseName": plan.app_name,
            "targetNamespace": env.namespace,
            "storageNamespace": env.namespace,
            "chart": {
                "spec": {
                    "chart": f"./{CHART_DIR}",
                    "sourceRef": _source_ref(plan),
                    "reconcileStrategy": comment(
                        "Revision", "A new commit is a new release, even when the chart version is unchanged."
                    ),
                    "valuesFiles": [f"{CHART_DIR}/values.yaml", f"{CHART_DIR}/values-{env.name}.yaml"],
                }
            },
            "timeout": TIMEOUT,
            "install": {"remediation": comment({"retries": 3}, "A failed first install is retried 3 times.")},
            "upgrade": {
                "cleanupOnFail": True,
                "remediation": comment(
                    {"retries": 3, "strategy": "rollback", "remediateLastFailure": True},
                    "A failed upgrade rolls back to the last release that worked, then retries.",
                ),
            },
            "rollback": {"cleanupOnFail": True},
        },
    }


# -- runbook ----------------------------------------------------------------------------------


def runbook_section(plan: Plan) -> str:
    lines = ["## Flux\n"]
    lines.append(
        "Flux applies what `main` says. Look before acting, and let every change go through Git: a "
        "manual change in the cluster is reverted at the next reconciliation.\n"
    )
    lines.append("```sh")
    lines.append("flux get sources git -A; flux get kustomizations -A; flux get helmreleases -A")
    lines.append(f"flux reconcile source git {source_name(plan)} -n {FLUX_NAMESPACE}   # fetch main now")
    for env in plan.environments:
        kind = "helmrelease" if helm(plan) else "kustomization"
        lines.append(
            f"flux reconcile {kind} {app_name(plan, env)} -n {FLUX_NAMESPACE} --with-source   # apply {env.name} now"
        )
    lines.append("```\n")
    prod = plan.environment("prod") or plan.environments[-1]
    kind = "helmrelease" if helm(plan) else "kustomization"
    name = app_name(plan, prod)
    lines.append(
        f"Pause {prod.name} (an incident: stop Flux from applying anything there; CI commits still land "
        "in Git and wait):\n"
    )
    lines.append("```sh")
    lines.append(f"flux suspend {kind} {name} -n {FLUX_NAMESPACE}")
    lines.append(f"flux resume {kind} {name} -n {FLUX_NAMESPACE}   # applies main's current state")
    lines.append("```\n")
    lines.append(
        "Roll back: revert the digest commit in Git; Flux applies the previous digests (migrations "
        "are not reversed):\n"
    )
    lines.append("```sh")
    lines.append("git fetch origin main && git checkout main && git pull --ff-only")
    from deploysmith.render import packaging  # it imports this module's importers

    lines.append(f"git log --oneline -- {packaging.pinned_file(plan, prod.name)}   # find the deploy commit")
    lines.append("git revert --no-edit <deploy commit>")
    lines.append("git push origin main")
    lines.append(f"flux reconcile {kind} {name} -n {FLUX_NAMESPACE} --with-source")
    lines.append("```\n")
    lines.append(
        "In an emergency, `flux suspend` first, then `kubectl rollout undo`; make the same `git revert` "
        "before `flux resume`, or Flux re-applies the bad version.\n"
    )
    return "\n".join(lines) + "\n"
