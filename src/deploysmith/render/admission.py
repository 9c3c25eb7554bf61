"""Cluster admission: the cluster refuses what the pipeline did not approve.

Layout (cluster-scoped policies, so they live apart from the app's overlays)::

    deploy/policies/<env>/kustomization.yaml   every guardrail of one environment
    deploy/policies/<env>/*.yaml               Kyverno ClusterPolicies, Gatekeeper Constraints,
                                               or a Sigstore ClusterImagePolicy; with a compliance
                                               profile, the namespace's default-deny NetworkPolicies
    deploy/policies/gatekeeper-templates/      Gatekeeper ConstraintTemplates (shared by every env)

Who applies them: platform admins (`kubectl apply -k deploy/policies/<env>`) or a
platform-owned Argo CD Application / Flux Kustomization pointed at the folder, never the
app's pipeline: a guardrail the deploy identity could edit would not guard against it. The
pipeline's cluster identity can change only its own namespace's objects.

Each policy matches only the environment's namespace, so one cluster can hold several
environments: dev audits (reports, admits), staging and prod enforce (refuse). The
policy-controller's ClusterImagePolicy cannot select namespaces, so its per-environment mode
holds when each environment has its own cluster (see the file's comment).

What is checked (Kyverno; Gatekeeper the same except signatures, see below):
  - images from the kit's repositories are signed keylessly by this pipeline's identity
    (OIDC issuer and subject of the CI platform), and carry a signed vulnerability-scan
    attestation (cosign `--type vuln`) whose scan finished at most SCAN_MAX_AGE ago;
  - pods run as non-root; every container sets CPU and memory requests and limits;
  - no image uses the `latest` tag or no tag at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.plan.compliance import DEFAULT_DENY_MARKER
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import header, image_prefix
from deploysmith.render.yamlout import comment, dump, dump_all

POLICIES_DIR = "deploy/policies"
TEMPLATES_DIR = f"{POLICIES_DIR}/gatekeeper-templates"
VULN_PREDICATE = "https://cosign.sigstore.dev/attestation/vuln/v1"
SCAN_MAX_AGE = "168h"  # a week: the Security Scan reruns on every release, and weekly on a schedule
SCAN_MAX_AGE_NS = 7 * 24 * 3600 * 10**9
SIGNED_MARKER = "compliance: signed images"
SCANNED_MARKER = "compliance: recent vulnerability scan"
SIGSTORE_INCLUDE = "policy.sigstore.dev/include"  # the namespace label policy-controller checks
GATEKEEPER_SIGNATURE_PROVIDER = "ratify-gatekeeper-provider"

KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}

# Ports the app's pods may open outbound under a compliance profile's default-deny, by backing service.
SERVICE_PORTS = {
    "postgres": 5432, "mysql": 3306, "mariadb": 3306, "sqlserver": 1433, "mongodb": 27017,
    "redis": 6379, "rabbitmq": 5672, "kafka": 9092, "elasticsearch": 9200, "memcached": 11211,
    "nats": 4222, "minio": 9000,
}


@dataclass(frozen=True)
class Identity:
    """Who signs: the OIDC issuer and the certificate subject of the pipeline's keyless signature."""

    issuer: str
    subject: str  # what the certificate says (may hold placeholders in <>)
    subject_regexp: str
    placeholder: bool  # True: replace the <...> parts before applying
    note: str


def identity(plan: Plan) -> Identity:
    """The keyless signing identity of the kit's pipeline, per CI platform."""
    ci = plan.requirements.ci
    remote = (plan.stack.git_remote or "").strip()
    if ci == "github":
        match = re.search(r"github\.com[/:]([^/\s]+/[^/\s]+?)(?:\.git)?/?$", remote)
        repo = match.group(1) if match else "<owner>/<repo>"
        subject = f"https://github.com/{repo}/.github/workflows/ci-cd.yml@refs/heads/main"
        return Identity(
            "https://token.actions.githubusercontent.com", subject, _exact(subject), match is None,
            "GitHub Actions OIDC: the workflow file on main signs (cosign keyless, public Fulcio).",
        )
    if ci == "gitlab":
        match = re.search(r"gitlab\.com[/:](\S+?)(?:\.git)?/?$", remote)
        project = match.group(1) if match else "<group>/<project>"
        subject = f"https://gitlab.com/{project}//.gitlab-ci.yml@refs/heads/main"
        return Identity(
            "https://gitlab.com", subject, _exact(subject), match is None,
            "GitLab CI ID token (SIGSTORE_ID_TOKEN, aud sigstore): the pipeline file on main signs. "
            "Self-managed GitLab: its own URL is the issuer.",
        )
    if ci == "circleci":
        subject = "https://circleci.com/api/v2/projects/<project-id>/pipeline-definitions/<pipeline-definition-id>"
        return Identity(
            "https://oidc.circleci.com/org/<organization-id>", subject,
            r"^https://circleci\.com/api/v2/projects/<project-id>/pipeline-definitions/[0-9a-f-]+$", True,
            "CircleCI OIDC: replace the organisation and project ids (Organization Settings > Overview).",
        )
    if ci == "azure":
        return Identity(
            "https://vstoken.dev.azure.com/<organization-id>", "sc://<organization>/<project>/<service-connection>",
            r"^sc://<organization>/<project>/<service-connection>$", True,
            "Azure Pipelines tokens are not accepted by the public Fulcio: run a Fulcio that trusts this "
            "issuer, or sign with a KMS key and replace the keyless attestor with a key.",
        )
    return Identity(
        "https://<jenkins-host>/oidc", "https://<jenkins-host>/job/<job>/",
        r"^https://<jenkins-host>/job/<job>/.*$", True,
        "Jenkins (OpenID Connect Provider plugin) is not accepted by the public Fulcio: run a Fulcio that "
        "trusts it, or sign with a KMS key and replace the keyless attestor with a key.",
    )


def _exact(text: str) -> str:
    return "^" + re.escape(text).replace("\\<", "<").replace("\\>", ">").replace("\\-", "-") + "$"


def image_globs(plan: Plan) -> list[str]:
    """The kit's image repositories as globs ("ghcr.io/acme/shop/*"); a placeholder when only CI knows."""
    prefix = image_prefix(plan)
    if prefix:
        return [f"{prefix}/*"]
    if plan.requirements.ci == "gitlab":
        return ["registry.gitlab.com/<group>/<project>/*"]
    return ["<registry>/<repository>/*"]


def enforcing(env: EnvironmentPlan) -> bool:
    """Dev audits (reports, admits) so a new policy never stops work there; staging and prod refuse."""
    return env.name != "dev"


def applies(plan: Plan) -> bool:
    """Whether the kit has deploy/policies/: an admission engine, or a compliance profile's
    default-deny networking."""
    requirements = plan.requirements
    return requirements.target == "kubernetes" and (
        requirements.admission != "none" or requirements.compliance != "none"
    )


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    if not applies(plan):
        return ()
    engine = plan.requirements.admission
    files: list[RenderedFile] = []
    if engine == "gatekeeper":
        files.extend(_gatekeeper_templates())
    for env in plan.environments:
        files.extend(_environment(plan, env, engine))
    return tuple(sorted(files, key=lambda rendered: rendered.path))


def policies_dir(env_name: str) -> str:
    return f"{POLICIES_DIR}/{env_name}"


def _environment(plan: Plan, env: EnvironmentPlan, engine: str) -> list[RenderedFile]:
    folder = policies_dir(env.name)
    documents: list[tuple[str, list[Any], str]] = []
    if engine == "kyverno":
        documents += _kyverno(plan, env)
    elif engine == "gatekeeper":
        documents += _gatekeeper_constraints(plan, env)
        documents.append(("gatekeeper-signatures.yaml", _gatekeeper_signatures(plan, env), ""))
    elif engine == "sigstore":
        documents.append(("clusterimagepolicy.yaml", [_sigstore(plan, env)],
                          f"Sigstore policy-controller ClusterImagePolicy for {env.name}"))
    if plan.requirements.compliance != "none":
        documents.append(("networkpolicy-default-deny.yaml", _default_deny(plan, env),
                          f"default-deny NetworkPolicies of namespace {env.namespace}"))
    files: list[RenderedFile] = []
    resources: list[Any] = []
    if engine == "gatekeeper":
        resources.append(comment("../gatekeeper-templates", "The ConstraintTemplates the Constraints below use."))
    for name, docs, what in documents:
        if name == "gatekeeper-signatures.yaml":
            files.append(RenderedFile(f"{folder}/{name}", dump_all(docs, _signature_header(plan))))
            continue
        resources.append(name)
        files.append(RenderedFile(f"{folder}/{name}", dump_all(docs, header(what))))
    mode = "enforced: a violating pod is refused" if enforcing(env) else "audited: violations are reported, not refused"
    kustomization = {**KUSTOMIZATION, "resources": resources}
    what = (
        f"admission guardrails of {env.name} (namespace {env.namespace}), {mode}.\n"
        f"Applied by platform admins (kubectl apply -k {folder}) or a platform-owned Argo CD Application or\n"
        "Flux Kustomization, never by the app's pipeline"
    )
    files.append(RenderedFile(f"{folder}/kustomization.yaml", dump(kustomization, header(what))))
    return files


# -- Kyverno ---------------------------------------------------------------------------------


def _kyverno_action(env: EnvironmentPlan) -> str:
    return "Enforce" if enforcing(env) else "Audit"


def _kyverno_policy(plan: Plan, env: EnvironmentPlan, name: str, title: str, rules: list[Any],
                    background: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": f"{plan.app_name}-{env.name}-{name}",
            "annotations": {"policies.kyverno.io/title": title, "policies.kyverno.io/category": "deploysmith"},
        },
        "spec": {
            "background": comment(
                background,
                "Re-checks running pods and reports in PolicyReports." if background else
                "Image verification runs at admission only (registry look-ups in the background would be\n"
                "repeated for every pod).",
            ),
            "rules": rules,
        },
    }


def _match_pods(env: EnvironmentPlan) -> dict[str, Any]:
    return {"any": [{"resources": {"kinds": ["Pod"], "namespaces": [env.namespace]}}]}


def _kyverno(plan: Plan, env: EnvironmentPlan) -> list[tuple[str, list[Any], str]]:
    action = _kyverno_action(env)
    signer = identity(plan)
    keyless = {"issuer": signer.issuer, "subjectRegExp": signer.subject_regexp, "rekor": {"url": "https://rekor.sigstore.dev"}}
    attestors = [{"count": 1, "entries": [{"keyless": keyless}]}]
    why_identity = signer.note + (
        "\nThe <...> parts are placeholders: replace them (see docs/deploy/COMPLIANCE.md or DEPLOYMENT.md)."
        if signer.placeholder else ""
    )
    verify = {
        "imageReferences": image_globs(plan),
        "failureAction": action,
        "mutateDigest": comment(False, "CI deploys by digest already; the policy does not rewrite pods."),
        "verifyDigest": comment(True, "An image without a digest is refused: a tag can move after signing."),
        "required": True,
        "attestors": comment(attestors, f"{SIGNED_MARKER}: {why_identity}"),
        "attestations": comment(
            [
                {
                    "type": VULN_PREDICATE,
                    "attestors": attestors,
                    "conditions": [
                        {
                            "all": [
                                {
                                    "key": "{{ time_since('', '{{ metadata.scanFinishedOn }}', '') }}",
                                    "operator": "DurationLessThanOrEquals",
                                    "value": SCAN_MAX_AGE,
                                    "message": f"the image's vulnerability scan is older than {SCAN_MAX_AGE}; "
                                    "rescan and re-attest it",
                                }
                            ]
                        }
                    ],
                }
            ],
            f"{SCANNED_MARKER}: the pipeline attests its Trivy scan (cosign attest --type vuln);\n"
            f"a scan older than {SCAN_MAX_AGE} no longer vouches for the image (new CVEs appear daily).",
        ),
    }
    signed = _kyverno_policy(
        plan, env, "verify-images", "Signed and scanned images",
        [{"name": "signed-and-scanned", "match": _match_pods(env), "verifyImages": [verify]}],
        background=False,
    )
    non_root = _kyverno_policy(plan, env, "require-non-root", "Run as non-root", [
        {
            "name": "run-as-non-root",
            "match": _match_pods(env),
            "validate": {
                "failureAction": action,
                "message": "Set runAsNonRoot: true on the pod or on every container.",
                "anyPattern": [
                    {
                        "spec": {
                            "securityContext": {"runAsNonRoot": True},
                            "=(initContainers)": [{"=(securityContext)": {"=(runAsNonRoot)": True}}],
                            "containers": [{"=(securityContext)": {"=(runAsNonRoot)": True}}],
                        }
                    },
                    {
                        "spec": {
                            "=(initContainers)": [{"securityContext": {"runAsNonRoot": True}}],
                            "containers": [{"securityContext": {"runAsNonRoot": True}}],
                        }
                    },
                ],
            },
        }
    ])
    resources = _kyverno_policy(plan, env, "require-requests-limits", "Requests and limits", [
        {
            "name": "requests-and-limits",
            "match": _match_pods(env),
            "validate": {
                "failureAction": action,
                "message": "Every container sets CPU and memory requests and limits.",
                "pattern": {
                    "spec": {
                        "containers": [
                            {
                                "resources": {
                                    "requests": {"cpu": "?*", "memory": "?*"},
                                    "limits": {"cpu": "?*", "memory": "?*"},
                                }
                            }
                        ]
                    }
                },
            },
        }
    ])
    latest = _kyverno_policy(plan, env, "disallow-latest-tag", "No latest or untagged images", [
        {
            "name": "require-tag-or-digest",
            "match": _match_pods(env),
            "validate": {
                "failureAction": action,
                "message": "Name a tag or a digest: an untagged image means latest.",
                "pattern": {"spec": {"containers": [{"image": "*:* | *@sha256:*"}]}},
            },
        },
        {
            "name": "disallow-latest",
            "match": _match_pods(env),
            "validate": {
                "failureAction": action,
                "message": "The latest tag moves; deploy a version tag or a digest.",
                "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}},
            },
        },
    ])
    what = f"Kyverno ClusterPolicy for {env.name} ({action})"
    return [
        ("kyverno-verify-images.yaml", [signed], what),
        ("kyverno-require-non-root.yaml", [non_root], what),
        ("kyverno-require-requests-limits.yaml", [resources], what),
        ("kyverno-disallow-latest-tag.yaml", [latest], what),
    ]


# -- Gatekeeper ------------------------------------------------------------------------------

# kind, file stem, Rego (Gatekeeper's Rego v0 dialect), parameters schema
GATEKEEPER_TEMPLATES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "DsRequireNonRoot": (
        "require-non-root",
        """package dsrequirenonroot

pod_non_root {
  input.review.object.spec.securityContext.runAsNonRoot == true
}

containers[c] {
  c := input.review.object.spec.containers[_]
}

containers[c] {
  c := input.review.object.spec.initContainers[_]
}

violation[{"msg": msg}] {
  c := containers[_]
  not pod_non_root
  not c.securityContext.runAsNonRoot == true
  msg := sprintf("container %v: set runAsNonRoot: true on the pod or the container", [c.name])
}
""",
        None,
    ),
    "DsRequireRequestsLimits": (
        "require-requests-limits",
        """package dsrequirerequestslimits

fields := [["requests", "cpu"], ["requests", "memory"], ["limits", "cpu"], ["limits", "memory"]]

violation[{"msg": msg}] {
  c := input.review.object.spec.containers[_]
  f := fields[_]
  not c.resources[f[0]][f[1]]
  msg := sprintf("container %v: set resources.%v.%v", [c.name, f[0], f[1]])
}
""",
        None,
    ),
    "DsDisallowLatestTag": (
        "disallow-latest-tag",
        """package dsdisallowlatesttag

containers[c] {
  c := input.review.object.spec.containers[_]
}

containers[c] {
  c := input.review.object.spec.initContainers[_]
}

untagged(image) {
  not contains(image, "@")
  name := split(image, "/")
  not contains(name[count(name) - 1], ":")
}

violation[{"msg": msg}] {
  c := containers[_]
  endswith(c.image, ":latest")
  msg := sprintf("container %v: the latest tag moves; deploy a version tag or a digest", [c.name])
}

violation[{"msg": msg}] {
  c := containers[_]
  untagged(c.image)
  msg := sprintf("container %v: name a tag or a digest (untagged means latest)", [c.name])
}
""",
        None,
    ),
    "DsRequireDigest": (
        "require-digest",
        """package dsrequiredigest

violation[{"msg": msg}] {
  c := input.review.object.spec.containers[_]
  repo := input.parameters.repositories[_]
  startswith(c.image, repo)
  not contains(c.image, "@sha256:")
  msg := sprintf("container %v: images of %v are deployed by digest, as the pipeline signed them", [c.name, repo])
}
""",
        {"type": "object", "properties": {"repositories": {"type": "array", "items": {"type": "string"}}}},
    ),
}

GATEKEEPER_SIGNATURE_KIND = "DsVerifySignatures"
GATEKEEPER_SIGNATURE_REGO = f"""package dsverifysignatures

# external_data asks the provider (cosign/Ratify) to verify each image; it answers per image.
violation[{{"msg": msg}}] {{
  images := [c.image | c := input.review.object.spec.containers[_]]
  response := external_data({{"provider": "{GATEKEEPER_SIGNATURE_PROVIDER}", "keys": images}})
  count(response.errors) > 0
  msg := sprintf("signature verification failed: %v", [response.errors])
}}

violation[{{"msg": msg}}] {{
  images := [c.image | c := input.review.object.spec.containers[_]]
  response := external_data({{"provider": "{GATEKEEPER_SIGNATURE_PROVIDER}", "keys": images}})
  response.system_error != ""
  msg := sprintf("the signature provider failed: %v", [response.system_error])
}}
"""


def _template(kind: str, rego: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    names: dict[str, Any] = {"kind": kind}
    crd: dict[str, Any] = {"spec": {"names": names}}
    if parameters is not None:
        crd["spec"]["validation"] = {"openAPIV3Schema": parameters}
    return {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": kind.lower()},
        "spec": {"crd": crd, "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": rego}]},
    }


def _gatekeeper_templates() -> list[RenderedFile]:
    files: list[RenderedFile] = []
    resources: list[str] = []
    for kind, (stem, rego, parameters) in GATEKEEPER_TEMPLATES.items():
        name = f"{stem}.yaml"
        resources.append(name)
        files.append(RenderedFile(
            f"{TEMPLATES_DIR}/{name}",
            dump(_template(kind, rego, parameters), header(f"Gatekeeper ConstraintTemplate {kind}")),
        ))
    files.append(RenderedFile(
        f"{TEMPLATES_DIR}/kustomization.yaml",
        dump({**KUSTOMIZATION, "resources": resources},
             header("Gatekeeper ConstraintTemplates shared by every environment's Constraints")),
    ))
    return files


def _gatekeeper_action(env: EnvironmentPlan) -> str:
    return "deny" if enforcing(env) else "dryrun"


def _constraint(plan: Plan, env: EnvironmentPlan, kind: str, parameters: dict[str, Any] | None = None) -> Any:
    spec: dict[str, Any] = {
        "enforcementAction": _gatekeeper_action(env),
        "match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], "namespaces": [env.namespace]},
    }
    if parameters is not None:
        spec["parameters"] = parameters
    stem = GATEKEEPER_TEMPLATES[kind][0] if kind in GATEKEEPER_TEMPLATES else "verify-signatures"
    return {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": kind,
        "metadata": {"name": f"{plan.app_name}-{env.name}-{stem}"},
        "spec": spec,
    }


def _repositories(plan: Plan) -> list[str]:
    return [glob[:-1] for glob in image_globs(plan)]  # "ghcr.io/acme/shop/*" → "ghcr.io/acme/shop/"


def _gatekeeper_constraints(plan: Plan, env: EnvironmentPlan) -> list[tuple[str, list[Any], str]]:
    action = _gatekeeper_action(env)
    what = f"Gatekeeper Constraints for {env.name} (enforcementAction {action})"
    docs = [
        _constraint(plan, env, "DsRequireNonRoot"),
        _constraint(plan, env, "DsRequireRequestsLimits"),
        _constraint(plan, env, "DsDisallowLatestTag"),
        _constraint(plan, env, "DsRequireDigest", {"repositories": _repositories(plan)}),
    ]
    return [("gatekeeper-constraints.yaml", docs, what)]


def _gatekeeper_signatures(plan: Plan, env: EnvironmentPlan) -> list[Any]:
    template = _template(GATEKEEPER_SIGNATURE_KIND, GATEKEEPER_SIGNATURE_REGO, None)
    return [template, _constraint(plan, env, GATEKEEPER_SIGNATURE_KIND)]


def _signature_header(plan: Plan) -> str:
    signer = identity(plan)
    return header(
        "Gatekeeper signature verification, NOT listed in kustomization.yaml.\n"
        "Gatekeeper's Rego cannot verify a cosign signature itself: it asks an external-data provider.\n"
        f"Install one (Ratify, or the cosign-gatekeeper-provider) as the Provider named\n"
        f"{GATEKEEPER_SIGNATURE_PROVIDER}, configured to accept keyless signatures from\n"
        f"issuer {signer.issuer} with subject {signer.subject}\n"
        f"and the {VULN_PREDICATE} attestation, then add this file to the kustomization.\n"
        f"{SIGNED_MARKER}: until then the Constraints check digests, tags, users and resources only"
    )


# -- Sigstore policy-controller ---------------------------------------------------------------


SIGSTORE_VULN_REGO = f"""package sigstore

default isCompliant = false

scan_age_ns := time.now_ns() - time.parse_rfc3339_ns(input.predicate.metadata.scanFinishedOn)

isCompliant {{
  input.predicateType == "{VULN_PREDICATE}"
  scan_age_ns <= {SCAN_MAX_AGE_NS}
}}
"""


def _sigstore(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    signer = identity(plan)
    mode = "enforce" if enforcing(env) else "warn"
    return {
        "apiVersion": "policy.sigstore.dev/v1beta1",
        "kind": "ClusterImagePolicy",
        "metadata": {"name": f"{plan.app_name}-{env.name}"},
        "spec": {
            "mode": comment(
                mode,
                "warn admits and warns (dev); enforce refuses. A ClusterImagePolicy cannot select namespaces:\n"
                f"it applies in every namespace labelled {SIGSTORE_INCLUDE}=true, so with several environments\n"
                "in one cluster apply only the strictest environment's folder there.",
            ),
            "images": [{"glob": glob} for glob in image_globs(plan)],
            "authorities": [
                {
                    "name": "pipeline",
                    "keyless": comment(
                        {
                            "url": "https://fulcio.sigstore.dev",
                            "identities": [{"issuer": signer.issuer, "subjectRegExp": signer.subject_regexp}],
                        },
                        f"{SIGNED_MARKER}: {signer.note}",
                    ),
                    "ctlog": {"url": "https://rekor.sigstore.dev"},
                    "attestations": comment(
                        [
                            {
                                "name": "vuln-scan",
                                "predicateType": "vuln",
                                "policy": {"type": "rego", "data": SIGSTORE_VULN_REGO},
                            }
                        ],
                        f"{SCANNED_MARKER}: a signed cosign vuln attestation whose scan finished within\n"
                        f"{SCAN_MAX_AGE}.",
                    ),
                }
            ],
        },
    }


# -- default-deny networking (compliance profiles) -------------------------------------------


def _default_deny(plan: Plan, env: EnvironmentPlan) -> list[Any]:
    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": env.namespace},
        "spec": {
            "podSelector": comment({}, f"{DEFAULT_DENY_MARKER}: every pod of the namespace, now and later."),
            "policyTypes": comment(
                ["Ingress", "Egress"],
                "Nothing in, nothing out unless another policy allows it. Each workload's own policy\n"
                "(deploy/base/<workload>/networkpolicy.yaml) lets the ingress controller in.",
            ),
        },
    }
    ports: list[Any] = [{"port": 443, "protocol": "TCP"}]
    services = sorted({s for w in plan.workloads for s in w.component.services if s in SERVICE_PORTS})
    ports += [{"port": SERVICE_PORTS[s], "protocol": "TCP"} for s in services]
    egress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-egress", "namespace": env.namespace},
        "spec": {
            "podSelector": {"matchLabels": {k8s.PART_OF: plan.app_name}},
            "policyTypes": ["Egress"],
            "egress": comment(
                [
                    {
                        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                    },
                    {"ports": ports},
                ],
                "DNS, HTTPS and the backing services' ports"
                + (f" ({', '.join(services)})" if services else "")
                + ", to any address: narrow `to`\n"
                "to your database's and APIs' CIDRs once known (PCI-DSS 1.3.2).",
            ),
        },
    }
    return [deny, egress]


__all__ = ["POLICIES_DIR", "applies", "identity", "image_globs", "render"]
