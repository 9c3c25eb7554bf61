"""Helm packaging (`--packaging helm`): a chart with values per environment.

Layout::

    deploy/chart/Chart.yaml                 apiVersion v2, type application
    deploy/chart/values.yaml                defaults (the first environment's sizing, no host)
    deploy/chart/values-<env>.yaml          replicas or HPA bounds, resources, host, APP_ENV
    deploy/chart/values.schema.json         JSON Schema (draft-07) Helm enforces on every install
    deploy/chart/templates/_helpers.tpl     name, fullname, labels, selectorLabels, image
    deploy/chart/templates/NOTES.txt        what to check after an install
    deploy/chart/templates/<wl>/…           the Kustomize base's resources (see chart.py)
    deploy/chart/templates/<wl>/migrate/…   the migration Job, a pre-install/pre-upgrade hook
    deploy/namespaces/<env>.yaml            the Namespace (Pod Security `restricted`), applied once

The Namespace is not in the chart: a release lives in its namespace, so it cannot create
(or, on uninstall, delete) it. Each deploy (CI; `deploy_commands` returns exactly these)::

    helm upgrade --install <app> deploy/chart --namespace <ns> \\
      --values deploy/chart/values-<env>.yaml \\
      --set-string image.<image>.repository=… --set-string image.<image>.digest=sha256:… \\
      --atomic --cleanup-on-fail --wait --timeout 15m --history-max 10
    kubectl -n <ns> rollout status deployment/<wl> --timeout=10m

`--atomic` rolls a failed upgrade back by itself (a failed migration hook, pods that never
become ready); after a deploy that succeeded but failed verification, `helm rollback <app>`
returns to the previous revision: image, configuration and all. Migrations are not
reversed; keep them backward compatible (expand, deploy, contract).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.render import kubernetes as k8s
from deploysmith.render import kustomize
from deploysmith.render import progressive as delivery  # not `progressive`: that is render.helm.progressive
from deploysmith.render.common import header
from deploysmith.render.helm import chart as templates
from deploysmith.render.helm import values
from deploysmith.render.helm.gotmpl import render as render_template
from deploysmith.render.kustomize import ROLLOUT_TIMEOUT, DeployCommands
from deploysmith.render.yamlout import comment, dump

CHART_DIR = "deploy/chart"
NAMESPACES_DIR = "deploy/namespaces"
CHART_VERSION = "0.1.0"
APP_VERSION = "0.1.0"
HELM_TIMEOUT = "15m"  # the migration hook (at most 10 minutes) plus the rollout
HISTORY_MAX = 10  # release revisions kept for `helm rollback`


def release_name(plan: Plan) -> str:
    return plan.app_name


def values_file(env_name: str) -> str:
    return f"{CHART_DIR}/values-{env_name}.yaml"


def namespace_file(env_name: str) -> str:
    return f"{NAMESPACES_DIR}/{env_name}.yaml"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    name = plan.app_name
    files = [
        RenderedFile(f"{CHART_DIR}/Chart.yaml", dump(_chart_yaml(plan), header(f"Helm chart of {name}"))),
        RenderedFile(
            f"{CHART_DIR}/values.yaml",
            dump(values.defaults(plan), header(f"default values of the {name} chart") + "\n\n" + _values_note()),
        ),
        RenderedFile(f"{CHART_DIR}/values.schema.json", json.dumps(values.schema(plan), indent=2) + "\n"),
        RenderedFile(f"{CHART_DIR}/templates/_helpers.tpl", helpers(name)),
        RenderedFile(f"{CHART_DIR}/templates/NOTES.txt", notes(plan)),
    ]
    for env in plan.environments:
        files.append(
            RenderedFile(
                values_file(env.name),
                dump(values.environment(plan, env), header(f"{env.name} values of the {name} chart")
                     + "\n\n" + _environment_note(env)),
            )
        )
        files.append(
            RenderedFile(
                namespace_file(env.name),
                dump(
                    k8s.namespace(plan, env, gitops=False),
                    header(f"namespace of the {env.name} environment; apply it once by hand before the first deploy"),
                ),
            )
        )
    for workload in plan.workloads:
        for path, template in templates.workload_templates(plan, name, workload).items():
            files.append(
                RenderedFile(
                    f"{CHART_DIR}/templates/{templates.template_dir(workload)}/{path}",
                    render_template(template),
                )
            )
    return tuple(sorted(files, key=lambda rendered: rendered.path))


def _chart_yaml(plan: Plan) -> dict[str, object]:
    return {
        "apiVersion": "v2",
        "name": plan.app_name,
        "description": f"{plan.app_name}, as planned by deploysmith",
        "type": "application",
        "version": comment(CHART_VERSION, "The chart's own version; bump it when the templates change."),
        "appVersion": comment(
            APP_VERSION,
            "The image tag used only when neither a digest nor a tag is set; CI deploys by digest.",
        ),
        "kubeVersion": comment(
            f">={k8s.MIN_KUBERNETES}.0-0",
            f"preStop sleep and PDB unhealthyPodEvictionPolicy need Kubernetes {k8s.MIN_KUBERNETES} or newer.",
        ),
    }


def _values_note() -> str:
    return (
        "Each deploy adds values-<env>.yaml and the image digests:\n"
        "helm upgrade --install … -f values-<env>.yaml --set-string image.<name>.digest=sha256:…\n"
        "values.schema.json rejects unknown keys and malformed quantities, hosts and digests."
    )


def _environment_note(env: EnvironmentPlan) -> str:
    gate = "deployed automatically" if env.auto_deploy else "deployed after the approval gate"
    return f"{env.name}: namespace {env.namespace}, {gate}."


def helpers(chart: str) -> str:
    """templates/_helpers.tpl: named templates (Go template code, not YAML)."""
    q = json.dumps
    return "\n".join(
        [
            f"{{{{/* {header('named templates of the ' + chart + ' chart').replace(chr(10), ' ')} */}}}}",
            "",
            "{{/* The chart name, within the 63 characters of a label value. */}}",
            f"{{{{- define {q(chart + '.name')} -}}}}",
            '{{- .Chart.Name | trunc 63 | trimSuffix "-" }}',
            "{{- end }}",
            "",
            "{{/* The release's name, within the 63 characters of an object name. */}}",
            f"{{{{- define {q(chart + '.fullname')} -}}}}",
            '{{- .Release.Name | trunc 63 | trimSuffix "-" }}',
            "{{- end }}",
            "",
            "{{/* Labels on every object (never in selectors: a Deployment's selector is immutable). */}}",
            f"{{{{- define {q(chart + '.labels')} -}}}}",
            'helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 '
            '| trimSuffix "-" }}',
            f"{k8s.PART_OF}: {{{{ include {q(chart + '.name')} . }}}}",
            f"{templates.INSTANCE}: {{{{ include {q(chart + '.fullname')} . }}}}",
            "app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}",
            f"{k8s.MANAGED_BY}: {{{{ .Release.Service }}}}",
            "{{- end }}",
            "",
            "{{/* A workload's selector labels; call with (dict \"name\" … \"component\" …). */}}",
            f"{{{{- define {q(chart + '.selectorLabels')} -}}}}",
            f"{k8s.NAME}: {{{{ .name | quote }}}}",
            f"{k8s.COMPONENT}: {{{{ .component | quote }}}}",
            "{{- end }}",
            "",
            "{{/* An image reference: repository@digest, else repository:tag (tag: the appVersion).",
            "     Call with (dict \"image\" (index .Values.image \"<name>\") \"chart\" .Chart). */}}",
            f"{{{{- define {q(chart + '.image')} -}}}}",
            "{{- if .image.digest -}}",
            '{{- printf "%s@%s" .image.repository .image.digest -}}',
            "{{- else -}}",
            '{{- printf "%s:%s" .image.repository (.image.tag | default .chart.AppVersion) -}}',
            "{{- end -}}",
            "{{- end }}",
            "",
        ]
    )


def notes(plan: Plan) -> str:
    """templates/NOTES.txt: printed by helm after an install or upgrade."""
    lines = [
        "{{ .Release.Name }} revision {{ .Release.Revision }} is deployed to namespace "
        "{{ .Release.Namespace }} ({{ .Values.appEnv }}).",
        "",
        "Check the rollout:",
    ]
    for workload in plan.workloads:
        lines.append(
            f"  kubectl -n {{{{ .Release.Namespace }}}} rollout status deployment/{k8s.name(workload)} "
            f"--timeout={ROLLOUT_TIMEOUT}"
        )
    for workload in plan.workloads:
        if not k8s.serves_http(workload):
            continue
        path = workload.probe.path if workload.probe.kind == "http" and workload.probe.path else "/"
        lines += [
            f"{{{{- with (index .Values.workloads {json.dumps(k8s.name(workload))}).ingress.host }}}}",
            f"  curl -fsS https://{{{{ . }}}}{path}",
            "{{- end }}",
        ]
    lines += [
        "",
        "History and rollback (image, configuration and all; migrations are not reversed):",
        "  helm history {{ .Release.Name }} -n {{ .Release.Namespace }}",
        f"  helm rollback {{{{ .Release.Name }}}} -n {{{{ .Release.Namespace }}}} --wait --timeout {ROLLOUT_TIMEOUT}",
        "",
    ]
    return "\n".join(lines)


# -- CI and runbook commands ----------------------------------------------------------------------


def _variable(prefix: str, image: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9]+", "_", image).upper().strip("_")


def deploy_commands(plan: Plan, env_name: str, image_refs: Mapping[str, str] | None = None) -> DeployCommands:
    """The exact commands to deploy `env_name` with Helm. `image_refs` maps a logical image
    name to a shell word for the reference CI pushed (`repository@sha256:…`); without it the
    digest comes from `${DIGEST_<IMAGE>}` and the repository from values.yaml."""
    env = plan.environment(env_name)
    if env is None:
        raise KeyError(env_name)
    ns = env.namespace
    release = release_name(plan)
    assign: list[str] = []
    sets: list[str] = []
    for image in values.used_images(plan):
        if image_refs is not None and image in image_refs:
            variable = _variable("REF_", image)
            assign.append(f"{variable}={image_refs[image]}")
            sets.append(f'--set-string "image.{image}.repository=${{{variable}%@*}}"')
            sets.append(f'--set-string "image.{image}.digest=${{{variable}#*@}}"')
        else:
            sets.append(f'--set-string "image.{image}.digest=${{{_variable("DIGEST_", image)}}}"')
    upgrade = " \\\n  ".join(
        [
            f"helm upgrade --install {release} {CHART_DIR} --namespace {ns}",
            f"--values {values_file(env.name)}",
            *sets,
            f"--atomic --cleanup-on-fail --wait --timeout {HELM_TIMEOUT} --history-max {HISTORY_MAX}",
        ]
    )
    deployments = [k8s.name(w) for w in plan.workloads]
    rollout = kustomize.rollout_lines(ns, deployments)
    back = f"helm rollback {release} --namespace {ns} --wait --timeout {ROLLOUT_TIMEOUT}"
    deploy = DeployCommands(
        bootstrap=(f"kubectl apply -f {namespace_file(env.name)}", *kustomize.secret_lines(plan, ns)),
        set_image=(),
        publish=(),
        migrate=(),
        apply=(*assign, upgrade),
        rollout=rollout,
        rollback=(back, *rollout),
    )
    if plan.requirements.gitops:
        return _gitops_commands(plan, env, deploy, image_refs)
    if not delivery.active(plan):
        return deploy
    # Canary / blue-green: wait through the controller; roll back by aborting the release in
    # progress (traffic to stable at once) and `helm rollback`, which puts the previous pod
    # template back (within the Rollout's rollbackWindow: no steps, no analysis) and keeps
    # Helm's history the truth, unlike `kubectl argo rollouts undo`.
    waited = delivery.commands(plan, env.name, ns, deploy)
    waits = tuple(line for line in waited.rollout if line != delivery.PLUGIN_CHECK)
    return dataclasses.replace(waited, rollback=(*_aborts(plan, ns), back, *waits))


# mikefarah's yq v4 edits the values file in place and keeps its comments; GitHub's runners
# and the deploy image carry it.
YQ_CHECK = (
    "command -v yq > /dev/null || { echo 'yq v4 (github.com/mikefarah/yq) is needed to pin the digests "
    "in the values file' >&2; exit 1; }"
)


def _gitops_commands(
    plan: Plan, env: EnvironmentPlan, deploy: DeployCommands, image_refs: Mapping[str, str] | None
) -> DeployCommands:
    """GitOps: CI pins the digests in values-<env>.yaml and commits it; Argo CD or Flux runs
    the Helm release. The controller's waits and Git-revert rollback are the Kustomize ones."""
    controller = kustomize.deploy_commands(plan, env.name, image_refs)
    target = values_file(env.name)
    pins: list[str] = [YQ_CHECK]
    for image in values.used_images(plan):
        ref = (image_refs or {}).get(image)
        key = f'.image["{image}"]'
        if ref is None:
            digest = _variable("DIGEST_", image)
            pins.append(f"yq --inplace '{key}.digest = strenv({digest})' {target}")
            continue
        variable = _variable("REF_", image)
        pins += [
            f"{variable}={ref}",
            f'REPOSITORY="${{{variable}%@*}}" DIGEST="${{{variable}#*@}}" \\\n'
            f"  yq --inplace '{key}.repository = strenv(REPOSITORY) | {key}.digest = strenv(DIGEST)' {target}",
        ]
    return dataclasses.replace(
        controller,
        bootstrap=deploy.bootstrap,
        set_image=tuple(pins),
        publish=kustomize.publish_commands(env.name, [target]),
    )


def _aborts(plan: Plan, ns: str) -> tuple[str, ...]:
    if not delivery.argo(plan):
        return ()
    names = [k8s.name(w) for w in plan.workloads if delivery.applies(plan, w)]
    return (delivery.PLUGIN_CHECK, *(f"kubectl argo rollouts abort {name} -n {ns}" for name in names))


def history_commands(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """What the runbook shows before a rollback: the release's revisions."""
    return (f"helm history {release_name(plan)} --namespace {env.namespace} --max 10",)


def undo_lines(plan: Plan, image_variables: Mapping[str, str]) -> list[str]:
    """CI's rollback after a failed check: `helm rollback` when the release runs this run's
    images (a failed `--atomic` upgrade has already rolled itself back). `image_variables`
    maps each image to the shell variable holding its reference; the namespace is in
    ${NAMESPACE}."""
    release = release_name(plan)
    patterns = " ".join(f'-e "${{{image_variables[name]}}}"' for name in values.used_images(plan))
    aborts = ["  " + line for line in _aborts(plan, '"${NAMESPACE}"')]
    return [
        "# Only a release that runs this run's images is rolled back; a failed --atomic upgrade",
        "# has already returned to the previous revision by itself.",
        f'if helm get manifest {release} --namespace "${{NAMESPACE}}" \\',
        f"    | grep --quiet --fixed-strings {patterns}; then",
        *aborts,
        f'  helm rollback {release} --namespace "${{NAMESPACE}}" --wait --timeout {ROLLOUT_TIMEOUT}',
        "fi",
    ]
