"""How the application Secret reaches each namespace (`--secrets`), under the overlays.

The workloads read one Secret per environment, `<app>-secrets` (render.common.secret_name),
with the keys of every Workload.secret_env; its values never enter this repository in
clear. What manages that Secret:

- `none`: an operator creates it by hand (`kubectl create secret generic`, see the runbook);
- `external-secrets`: a SecretStore and an ExternalSecret per environment (External Secrets
  Operator, API external-secrets.io/v1) copy the keys from a secret manager;
- `sealed-secrets`: a SealedSecret per environment (bitnami.com/v1alpha1), committed
  encrypted for the cluster's controller; the kit renders a placeholder and the runbook
  has the exact `kubeseal` command that replaces it;
- `sops`: a Secret per environment encrypted with SOPS (age), decrypted in the cluster by
  Flux's kustomize-controller (`decryption: {provider: sops}` on every Kustomization).
  Only Flux decrypts SOPS natively, so `sops` requires `--gitops flux`.

Layout: `deploy/overlays/<env>/secrets/` is its own kustomization, because the migration
Job needs the Secret before the app is rolled out: Argo CD creates it in wave -2 (before
the Job's wave -1), Flux reconciles it as a Kustomization the migrations depend on, and
imperative delivery applies it once at bootstrap and again with every overlay.
"""

from __future__ import annotations

from typing import Any

from deploysmith.errors import DeploysmithError
from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import header, overlay_dir, secret_name
from deploysmith.render.yamlout import comment, dump

SECRETS_DIR_NAME = "secrets"  # deploy/overlays/<env>/secrets
ESO_API = "external-secrets.io/v1"
SEALED_API = "bitnami.com/v1alpha1"
SEALED_CONTROLLER = ("kube-system", "sealed-secrets-controller")  # kubeseal's defaults
SOPS_KEY_PREFIX = "sops-age"  # sops-age-<env>: the Secret in flux-system holding that env's age key
SOPS_FILE = "secret.sops.yaml"
SOPS_CONFIG = ".sops.yaml"
AGE_PLACEHOLDER = "age1replacewithyourpublickey"  # `age-keygen` prints the real one
VAULT_PLACEHOLDER = "https://vault.example.invalid"
REFRESH = "1h"


def mode(plan: Plan) -> str:
    return plan.requirements.secrets


def keys(plan: Plan) -> tuple[str, ...]:
    return tuple(sorted({key for workload in plan.workloads for key in workload.secret_env}))


def managed(plan: Plan) -> bool:
    """True when the kit renders the Secret's source (anything but `none`, and keys to hold)."""
    return mode(plan) != "none" and bool(keys(plan))


def secrets_dir(env_name: str) -> str:
    return f"{overlay_dir(env_name)}/{SECRETS_DIR_NAME}"


def store_name(plan: Plan) -> str:
    return f"{plan.app_name}-secret-store"


def check(plan: Plan) -> None:
    """Refuse combinations that cannot work, with what to choose instead."""
    if mode(plan) != "sops":
        return
    requirements = plan.requirements
    if not requirements.gitops:
        raise DeploysmithError(
            "--secrets sops needs a controller that decrypts in the cluster: use --gitops flux "
            "(or --secrets sealed-secrets / external-secrets with CI deploys)"
        )
    if requirements.gitops_tool != "flux":
        raise DeploysmithError(
            "--secrets sops with Argo CD needs a config management plugin (e.g. helm-secrets or "
            "ksops installed in argocd-repo-server), which this kit does not set up: use --gitops flux, "
            "or --secrets sealed-secrets / external-secrets with Argo CD"
        )


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    check(plan)
    if not managed(plan):
        return ()
    files: list[RenderedFile] = []
    for env in plan.environments:
        files.extend(_environment(plan, env))
    if mode(plan) == "sops":
        files.append(RenderedFile(SOPS_CONFIG, dump(sops_config(plan), header("SOPS creation rules"))))
    return tuple(files)


def _argo(plan: Plan) -> bool:
    return plan.requirements.gitops and plan.requirements.gitops_tool == "argocd"


def _environment(plan: Plan, env: EnvironmentPlan) -> list[RenderedFile]:
    folder = secrets_dir(env.name)
    kind = mode(plan)
    documents: list[tuple[str, Any, str]]
    if kind == "external-secrets":
        documents = [
            ("serviceaccount.yaml", _store_account(plan), f"identity the {env.name} SecretStore signs in with"),
            ("secretstore.yaml", secret_store(plan, env), f"SecretStore of {env.name}"),
            ("externalsecret.yaml", external_secret(plan, env), f"ExternalSecret of {env.name}"),
        ]
    elif kind == "sealed-secrets":
        documents = [
            (
                "sealedsecret.yaml",
                sealed_secret(plan, env),
                f"SealedSecret of {env.name}: a placeholder until you run the kubeseal command in "
                "docs/deploy/RUNBOOK.md",
            )
        ]
    else:
        documents = [
            (
                SOPS_FILE,
                sops_secret(plan, env),
                f"Secret of {env.name}, to be encrypted with SOPS before it is committed:\n"
                f"  sops --encrypt --in-place {folder}/{SOPS_FILE}\n"
                "(the runbook has the command that writes it encrypted from the start)",
            )
        ]
    files = [RenderedFile(f"{folder}/{name}", dump(data, header(what))) for name, data, what in documents]
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": env.namespace,
        "resources": [name for name, _, _ in documents],
    }
    if _argo(plan):
        kustomization["commonAnnotations"] = comment(
            {k8s.ARGO_WAVE: k8s.WAVE_PREREQUISITES},
            "Argo CD: the Secret exists before the migration Job (wave -1) and the Deployments.",
        )
    files.append(
        RenderedFile(
            f"{folder}/kustomization.yaml",
            dump(kustomization, header(f"{env.name} secrets of {plan.app_name} ({kind})")),
        )
    )
    return files


def _labels(plan: Plan) -> dict[str, str]:
    return {k8s.PART_OF: plan.app_name, k8s.MANAGED_BY: "deploysmith"}


def _store_account(plan: Plan) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": store_name(plan), "labels": _labels(plan)},
        "automountServiceAccountToken": comment(
            False, "No pod runs as it: External Secrets requests short-lived tokens for it (TokenRequest)."
        ),
    }


def remote_key(plan: Plan, env: EnvironmentPlan) -> str:
    """Where the secret manager holds this environment's keys."""
    return f"{plan.app_name}/{env.name}"


def secret_store(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "apiVersion": ESO_API,
        "kind": "SecretStore",
        "metadata": {"name": store_name(plan), "labels": _labels(plan)},
        "spec": {
            "provider": comment(
                {
                    "vault": {
                        "server": comment(
                            VAULT_PLACEHOLDER,
                            "PLACEHOLDER: your Vault's address. Another manager (AWS Secrets Manager,\n"
                            "GCP Secret Manager, Azure Key Vault…) replaces this whole `vault` block.",
                        ),
                        "path": "secret",
                        "version": "v2",
                        "auth": {
                            "kubernetes": {
                                "mountPath": "kubernetes",
                                "role": comment(
                                    f"{plan.app_name}-{env.name}",
                                    f"A Vault role bound to this ServiceAccount in {env.namespace}, allowed\n"
                                    f"to read {remote_key(plan, env)} only.",
                                ),
                                "serviceAccountRef": {"name": store_name(plan)},
                            }
                        },
                    }
                },
                "Namespaced store: each environment reads only its own path, with its own identity.",
            )
        },
    }


def external_secret(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "apiVersion": ESO_API,
        "kind": "ExternalSecret",
        "metadata": {"name": secret_name(plan), "labels": _labels(plan)},
        "spec": {
            "refreshInterval": comment(REFRESH, "A rotated value reaches the Secret within an hour."),
            "secretStoreRef": {"kind": "SecretStore", "name": store_name(plan)},
            "target": comment(
                {"name": secret_name(plan), "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                "The Secret the pods read. Retain: a missing remote value never deletes it.\n"
                "Pods read values at start: `kubectl rollout restart` after a rotation.",
            ),
            "data": [
                {"secretKey": key, "remoteRef": {"key": remote_key(plan, env), "property": key}}
                for key in keys(plan)
            ],
        },
    }


def sealed_secret(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "apiVersion": SEALED_API,
        "kind": "SealedSecret",
        "metadata": {
            "name": secret_name(plan),
            "namespace": comment(env.namespace, "Sealed for this name and namespace (strict scope)."),
        },
        "spec": {
            "encryptedData": comment(
                {key: "<sealed value: run the kubeseal command in the runbook>" for key in keys(plan)},
                "PLACEHOLDER: the controller cannot decrypt these; replace this file with kubeseal's output.",
            ),
            "template": {
                "metadata": {"name": secret_name(plan), "namespace": env.namespace, "labels": _labels(plan)},
                "type": "Opaque",
            },
        },
    }


def sops_secret(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(plan), "labels": _labels(plan)},
        "type": "Opaque",
        "stringData": comment(
            {key: "<set the value, then encrypt this file>" for key in keys(plan)},
            "PLACEHOLDER values. Never commit this file before `sops --encrypt --in-place`:\n"
            ".sops.yaml encrypts data and stringData with the environment's age key.",
        ),
    }


def sops_config(plan: Plan) -> dict[str, Any]:
    return {
        "creation_rules": comment(
            [
                {
                    "path_regex": rf"deploy/overlays/{env.name}/{SECRETS_DIR_NAME}/.*\.sops\.yaml$",
                    "encrypted_regex": "^(data|stringData)$",
                    "age": comment(
                        AGE_PLACEHOLDER,
                        f"PLACEHOLDER: the age public key of {env.name} (`age-keygen -o {env.name}.agekey`\n"
                        "prints it); its private key goes only into the cluster's flux-system namespace.",
                    ),
                }
                for env in plan.environments
            ],
            "One key per environment: a dev key cannot decrypt production. Only data/stringData\n"
            "are encrypted, so reviews still see which Secret and keys changed.",
        )
    }


def sops_key_secret(env_name: str) -> str:
    """One key Secret per environment, so a shared cluster still keeps dev from decrypting prod."""
    return f"{SOPS_KEY_PREFIX}-{env_name}"


def bootstrap_command(plan: Plan, env: EnvironmentPlan) -> str:
    """What an operator runs once per environment, instead of `kubectl create secret`: the
    secrets folder (the migration's first run needs the Secret), or with SOPS the age key
    Flux decrypts it with (the encrypted file itself only Flux can apply)."""
    if mode(plan) == "sops":
        return (
            f"kubectl -n flux-system create secret generic {sops_key_secret(env.name)} "
            f"--from-file=age.agekey={env.name}.agekey"
        )
    return f"kubectl apply -k {secrets_dir(env.name)}"


def runbook_section(plan: Plan) -> str:
    """The RUNBOOK.md section that creates, rotates and checks the application Secret."""
    if not managed(plan):
        return ""
    kind = mode(plan)
    lines = ["## Secrets\n"]
    name = secret_name(plan)
    literals = " ".join(f"--from-literal={key}='…'" for key in keys(plan))
    if kind == "external-secrets":
        lines.append(
            f"External Secrets Operator copies `{name}` from the secret manager into each namespace "
            f"(`{secrets_dir('<env>')}/`). Store the keys {', '.join(f'`{k}`' for k in keys(plan))} under "
            f"`{plan.app_name}/<env>`, and replace the placeholder Vault address in each SecretStore.\n"
        )
        lines.append("```sh")
        for env in plan.environments:
            lines.append(f"kubectl -n {env.namespace} get externalsecret {name}   # Ready=True, SecretSynced")
            lines.append(
                f"kubectl -n {env.namespace} annotate externalsecret {name} force-sync=\"$(date +%s)\" --overwrite"
                "   # fetch now after a rotation"
            )
        lines.append("```\n")
    elif kind == "sealed-secrets":
        controller_ns, controller = SEALED_CONTROLLER
        lines.append(
            "Each `sealedsecret.yaml` is a placeholder until you seal the real values for that "
            "environment's cluster (kubeseal fetches the controller's public certificate; the values "
            "never touch disk in clear):\n"
        )
        lines.append("```sh")
        for env in plan.environments:
            lines.append(
                f"kubectl -n {env.namespace} create secret generic {name} {literals} --dry-run=client -o yaml \\\n"
                f"  | kubeseal --controller-namespace {controller_ns} --controller-name {controller} "
                f"--format yaml \\\n  > {secrets_dir(env.name)}/sealedsecret.yaml"
            )
        lines.append("```\n")
        lines.append("Commit the sealed files; rotate by sealing new values the same way.\n")
    else:
        lines.append(
            "Each environment has an age key pair: the public key goes into `.sops.yaml`, the private key "
            "into the cluster as `flux-system/sops-age-<env>`, which that environment's Flux Kustomizations "
            "decrypt with:\n"
        )
        lines.append("```sh")
        for env in plan.environments:
            lines.append(f"age-keygen -o {env.name}.agekey   # keep it out of Git; its public key goes into .sops.yaml")
            lines.append(
                f"kubectl -n flux-system create secret generic {sops_key_secret(env.name)} "
                f"--from-file=age.agekey={env.name}.agekey"
            )
            lines.append(
                f"kubectl -n {env.namespace} create secret generic {name} {literals} --dry-run=client -o yaml \\\n"
                f"  | sops --encrypt --filename-override {secrets_dir(env.name)}/{SOPS_FILE} /dev/stdin \\\n"
                f"  > {secrets_dir(env.name)}/{SOPS_FILE}"
            )
        lines.append("```\n")
        lines.append(
            "Edit later with `sops <file>` (decrypts in your editor, re-encrypts on save); a Kustomization "
            "without its key fails with a decryption error in `flux get kustomizations`.\n"
        )
    return "\n".join(lines) + "\n"
