"""Google Cloud Run: one Knative `serving.knative.dev/v1` Service per web component and
environment, `deploy/cloud-run/<env>/<component>.yaml`, applied with
`gcloud run services replace`.

The revision is named after the image digest (`<service>-<12 hex>`), so traffic can name
it before it exists. Rolling: the new revision takes 100% once its startup probe passes.
Canary and blue/green: the file gives the new revision 0% under the tag `candidate` and
keeps 100% on the revision that served before (tag `stable`); the deploy checks the
candidate's own tag URL, then shifts traffic (10% first for canary), and rollback sends
100% back to the previous revision. The container runs as the image's non-root USER
(Cloud Run has no securityContext; the Dockerfile sets it).
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.plan.targets import target_strategy
from deploysmith.render.targets.base import (
    DEPLOY_DIR,
    TargetCommands,
    health_path,
    image_var,
    image_vars,
    memory_mib,
    placeholder,
    quote,
    service_name,
    substitute_lines,
    web,
    yaml_file,
)
from deploysmith.render.yamlout import comment

FOLDER = f"{DEPLOY_DIR}/cloud-run"
CONCURRENCY = 80
CANARY_PERCENT = 10
CANARY_BAKE_SECONDS = 300
REVISION = "${REVISION}"
PREVIOUS = "${PREVIOUS_REVISION}"
LOCATION = '--region "${GCP_REGION}" --project "${GCP_PROJECT_ID}"'


def path(env: EnvironmentPlan, workload: Workload) -> str:
    return f"{FOLDER}/{env.name}/{workload.component.name}.yaml"


def secret_id(plan: Plan, env: EnvironmentPlan, key: str) -> str:
    """Secret Manager secret holding `key` for one environment."""
    return f"{plan.app_name}-{env.name}-{key.lower().replace('_', '-')}"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    strategy = target_strategy(plan.requirements, plan.strategy.choice)
    return tuple(
        yaml_file(path(env, w), service(plan, env, w, strategy), f"the Cloud Run service of {w.component.name} "
                  f"in {env.name} ({strategy}; apply with gcloud run services replace, see docs/deploy/RUNBOOK.md)")
        for env in plan.environments
        for w in web(plan)
    )


def service(plan: Plan, env: EnvironmentPlan, workload: Workload, strategy: str) -> dict[str, Any]:
    name = service_name(plan, workload, env)
    port = workload.container_port or 8080
    probe_path = health_path(workload)
    action: dict[str, Any] = {"httpGet": {"path": probe_path, "port": port}} if probe_path else {
        "tcpSocket": {"port": port}
    }
    env_vars: list[Any] = [{"name": "APP_ENV", "value": env.name}]
    env_vars += [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret_id(plan, env, key), "key": "latest"}}}
        for key in sorted(workload.secret_env)
    ]
    container: dict[str, Any] = {
        "name": workload.component.name,
        "image": placeholder(workload.image),
        "ports": [{"name": "http1", "containerPort": port}],
        "env": comment(
            env_vars,
            "Secrets come from Secret Manager (version `latest`); the service account needs\n"
            "roles/secretmanager.secretAccessor on each.",
        ) if workload.secret_env else env_vars,
        "resources": {"limits": {"cpu": "1", "memory": f"{max(memory_mib(env.memory_limit), 512)}Mi"}},
        "startupProbe": {**action, "periodSeconds": 2, "timeoutSeconds": 2, "failureThreshold": 30},
    }
    if probe_path:
        container["livenessProbe"] = {**action, "periodSeconds": 15, "timeoutSeconds": 3, "failureThreshold": 3}
    template: dict[str, Any] = {
        "metadata": {
            "name": f"{name}-{REVISION}",
            "annotations": {
                "autoscaling.knative.dev/minScale": str(1 if env.name == "prod" else 0),
                "autoscaling.knative.dev/maxScale": str(env.max_replicas),
                "run.googleapis.com/execution-environment": "gen2",
                "run.googleapis.com/startup-cpu-boost": "true",
            },
        },
        "spec": {
            "containerConcurrency": CONCURRENCY,
            "timeoutSeconds": 300,
            # The runtime identity (not the deployer): only the secrets and services the app reads.
            "serviceAccountName": f"{name[:30].rstrip('-')}@${{GCP_PROJECT_ID}}.iam.gserviceaccount.com",
            "containers": [container],
        },
    }
    if strategy == "rolling":
        traffic: list[Any] = [{"revisionName": f"{name}-{REVISION}", "percent": 100}]
        why = "Rolling: the new revision takes all traffic once its startup probe passes."
    else:
        traffic = [
            {"revisionName": PREVIOUS, "percent": 100, "tag": "stable"},
            {"revisionName": f"{name}-{REVISION}", "percent": 0, "tag": "candidate"},
        ]
        why = (
            f"{strategy}: the new revision starts with no traffic under the tag `candidate`; the deploy checks "
            "it at its tag URL, then shifts traffic. PREVIOUS_REVISION is the revision serving before."
        )
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "labels": {"app": plan.app_name, "environment": env.name},
            "annotations": {"run.googleapis.com/ingress": "all"},
        },
        "spec": {"template": template, "traffic": comment(traffic, why)},
    }


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    strategy = target_strategy(plan.requirements, plan.strategy.choice)
    first = _first_var(plan)
    deploy: list[str] = [f'REVISION="$(printf \'%s\' "${{{first}##*sha256:}}" | cut -c1-12)"']
    verify: list[str] = []
    rollback: list[str] = []
    for workload in web(plan):
        name = service_name(plan, workload, env)
        rendered = f"/tmp/{name}.yaml"
        deploy += [
            f"# {workload.component.name}: {name}",
            f'PREVIOUS_REVISION="$(gcloud run services describe {name} {LOCATION} \\',
            "  --format='value(status.latestReadyRevisionName)' 2>/dev/null || true)\"",
            f'PREVIOUS_REVISION="${{PREVIOUS_REVISION:-{name}-${{REVISION}}}}"  # first deploy: none before',
            "export REVISION PREVIOUS_REVISION",
            *substitute_lines(path(env, workload), rendered, (*image_vars(plan), "REVISION", "PREVIOUS_REVISION",
                                                                     "GCP_PROJECT_ID")),
            f"gcloud run services replace {quote(rendered)} {LOCATION}",
        ]
        if strategy != "rolling":
            probe = health_path(workload) or "/"
            deploy += [
                f'url="$(gcloud run services describe {name} {LOCATION} --format=\'value(status.url)\')"',
                "# The candidate answers at its tag URL before it takes any traffic.",
                'curl --fail --silent --show-error --retry 10 --retry-delay 6 --retry-all-errors --max-time 10 \\',
                f'  --output /dev/null "https://candidate---${{url#https://}}{probe}"',
            ]
            if strategy == "canary":
                deploy += [
                    f"gcloud run services update-traffic {name} {LOCATION} --to-tags candidate={CANARY_PERCENT}",
                    f"sleep {CANARY_BAKE_SECONDS}  # watch the candidate's errors in Cloud Monitoring meanwhile",
                ]
            deploy.append(f"gcloud run services update-traffic {name} {LOCATION} --to-tags candidate=100")
        verify += [
            f'ready="$(gcloud run services describe {name} {LOCATION} '
            "--format='value(status.conditions[0].status)')\"",
            f'[[ "${{ready}}" == "True" ]] || {{ echo "{name} is not ready" >&2; exit 1; }}',
        ]
        rollback += [
            f'previous="$(gcloud run revisions list --service {name} {LOCATION} \\',
            "  --sort-by='~metadata.creationTimestamp' --format='value(metadata.name)' --limit 2 | tail -n 1)\"",
            f'gcloud run services update-traffic {name} {LOCATION} --to-revisions "${{previous}}=100"',
        ]
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def _first_var(plan: Plan) -> str:
    return image_var(web(plan)[0].image)


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """The last hour of each service's logs (Cloud Logging; `gcloud run services logs` is beta)."""
    lines: list[str] = []
    for workload in plan.workloads:
        name = service_name(plan, workload, env)
        query = f'resource.type="cloud_run_revision" AND resource.labels.service_name="{name}"'
        lines.append(f'gcloud logging read {quote(query)} --project "${{GCP_PROJECT_ID}}" --freshness=1h --limit=100')
    return tuple(lines)
