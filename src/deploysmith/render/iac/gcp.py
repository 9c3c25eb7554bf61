"""Google Cloud: Artifact Registry, the Cloud Run runtime identity (none for an existing GKE
cluster), Cloud SQL, Secret Manager, Cloud DNS, and the CI identity (Workload Identity
Federation: a pool, an OIDC provider that admits only this repository's main branch, and a
service account that may only push images)."""

from __future__ import annotations

from typing import Any

from deploysmith.model import Plan
from deploysmith.render.iac import federation
from deploysmith.render.iac.hcl import Block, Call, Op, Ref, Template
from deploysmith.render.iac.model import Module, Output, Resource, Validation, Variable

DATABASE_VERSION = {"postgres": "POSTGRES_18", "mysql": "MYSQL_8_4"}  # the newest majors Cloud SQL offers
# Flags the CIS benchmark (and checkov) expect on Cloud SQL for PostgreSQL.
POSTGRES_FLAGS = (
    ("log_checkpoints", "on"), ("log_connections", "on"), ("log_disconnections", "on"), ("log_lock_waits", "on"),
    ("log_min_error_statement", "error"), ("log_temp_files", "0"), ("log_min_duration_statement", "-1"),
    ("log_min_messages", "warning"), ("cloudsql.enable_pgaudit", "on"), ("log_statement", "ddl"),
    ("log_duration", "on"), ("log_hostname", "on"),
)
MYSQL_FLAGS = (("local_infile", "off"), ("skip_show_database", "on"))


def var(name: str) -> Ref:
    return Ref("var", name)


def _name_variable(what: str, longest: int = 30) -> Variable:
    return Variable(
        "name", "string", f"Name prefix of the {what} (lowercase letters, digits and hyphens).",
        validations=(Validation(Call("can", Call("regex", f"^[a-z][a-z0-9-]{{1,{longest - 2}}}[a-z0-9]$",
                                                 var("name"))),
                                f"name must be 3-{longest} lowercase letters, digits or hyphens."),),
    )


def _location_variables() -> tuple[Variable, ...]:
    return (
        Variable("project_id", "string", "The Google Cloud project."),
        Variable("region", "string", "Region of the resources."),
    )


def registry(plan: Plan) -> Module:
    resources = [Resource("google_artifact_registry_repository", "images", {
        "repository_id": var("name"),
        "location": var("region"),
        "format": "DOCKER",
        "description": f"Images of {plan.app_name}: " + ", ".join(image.name for image in plan.images),
        "docker_config": Block({"immutable_tags": True}),
    }, note="Tags are immutable: CI pushes each commit's SHA once and deploys by digest.",
        skips=(("CKV_GCP_84", "encrypted at rest with Google-managed keys; a CMEK needs the Artifact Registry "
                "service agent granted on the key first"),))]
    outputs = (
        Output("repository_url", Template(var("region"), "-docker.pkg.dev/", var("project_id"), "/", var("name")),
               "Where CI pushes images (append /<image>)."),
        Output("repository_id", Ref("google_artifact_registry_repository", "images", "repository_id"),
               "The repository, for the CI push binding."),
    )
    return Module("registry", "Container registry: one Artifact Registry Docker repository, immutable tags.",
                  (_name_variable("repository", 63), *_location_variables()), tuple(resources), outputs)


def _cel(subject: Any, operator: str) -> Any:
    """The pool provider's attribute condition: only this subject (or subject prefix)."""
    parts = subject.parts if isinstance(subject, Template) else (subject,)
    if operator == "StringLike":
        last = parts[-1]
        assert isinstance(last, str) and last.endswith("*")
        return Template("assertion.sub.startsWith('", *parts[:-1], last[:-1], "')")
    return Template("assertion.sub == '", *parts, "'")


def ci_identity(plan: Plan) -> Module:
    ci = federation.of(plan, "gcp")
    variables: list[Variable] = [
        _name_variable("CI identity", 20), *_location_variables(),
        Variable("repository_id", "string", "The Artifact Registry repository CI pushes to."),
    ]
    resources: list[Resource] = [Resource("google_service_account", "push", {
        "account_id": Template(var("name"), "-ci-push"),
        "display_name": "CI image push",
        "description": "Impersonated by the pipeline's Package stage on the main branch to push images.",
    })]
    if ci.issuer is None:
        variables.append(Variable("ci_member", "string",
                                  f"The IAM member {ci.platform} agents run as, e.g. serviceAccount:jenkins@….",
                                  validations=(Validation(Call("can", Call("regex", "^(serviceAccount|user):.+$",
                                                                            var("ci_member"))),
                                                          "ci_member must be an IAM member."),)))
        resources.append(Resource("google_service_account_iam_member", "push_impersonation", {
            "service_account_id": Ref("google_service_account", "push", "name"),
            "role": "roles/iam.serviceAccountTokenCreator",
            "member": var("ci_member"),
        }))
    else:
        variables.extend(ci.variables)
        resources += [
            Resource("google_iam_workload_identity_pool", "ci", {
                "workload_identity_pool_id": Template(var("name"), "-ci"),
                "display_name": "CI",
                "description": f"{ci.platform} jobs of {plan.app_name}",
            }),
            Resource("google_iam_workload_identity_pool_provider", "ci", {
                "workload_identity_pool_id": Ref("google_iam_workload_identity_pool", "ci",
                                                 "workload_identity_pool_id"),
                "workload_identity_pool_provider_id": "ci-oidc",
                "display_name": ci.platform[:32],
                "attribute_mapping": {"google.subject": "assertion.sub"},
                "attribute_condition": _cel(ci.push_subjects[0], ci.subject_operator),
                "oidc": Block({"issuer_uri": ci.issuer}),
            }, note="Only tokens of this repository's main branch are exchanged (attribute_condition)."),
            Resource("google_service_account_iam_member", "push_federation", {
                "service_account_id": Ref("google_service_account", "push", "name"),
                "role": "roles/iam.workloadIdentityUser",
                "member": Template("principalSet://iam.googleapis.com/",
                                   Ref("google_iam_workload_identity_pool", "ci", "name"), "/*"),
            }),
        ]
    resources.append(Resource("google_artifact_registry_repository_iam_member", "push", {
        "project": var("project_id"),
        "location": var("region"),
        "repository": var("repository_id"),
        "role": "roles/artifactregistry.writer",
        "member": Template("serviceAccount:", Ref("google_service_account", "push", "email")),
    }, note="Write access to this repository only."))
    outputs = [Output("push_service_account", Ref("google_service_account", "push", "email"),
                      "Service account the Package stage impersonates.")]
    if ci.issuer is not None:
        outputs.append(Output("workload_identity_provider",
                              Ref("google_iam_workload_identity_pool_provider", "ci", "name"),
                              "Full name of the provider, for the CI authentication step."))
    return Module("ci_identity", f"CI identity: {ci.platform} workload identity federation and a push-only "
                  "service account.", tuple(variables), tuple(resources), tuple(outputs))


def secrets(plan: Plan) -> Module:
    keys = sorted({key for workload in plan.workloads for key in workload.secret_env})
    resources = (Resource("google_secret_manager_secret", "app", {
        "secret_id": Template(var("name"), "-app"),
        "labels": {"app": plan.app_name},
        "annotations": {"keys": ", ".join(keys) or "none yet"},
        "replication": Block({"auto": Block({})}),
    }, note="Only the secret is declared: its versions are added out of band (never in state or in Git)."),)
    outputs = (Output("secret_id", Ref("google_secret_manager_secret", "app", "secret_id"),
                      "The application secret."),)
    return Module("secrets", "Secrets: one Secret Manager secret for the application's settings.",
                  (_name_variable("secret", 200),), resources, outputs)


def database(plan: Plan, engine: str) -> Module:
    variables = (
        _name_variable("database instance", 98),
        Variable("region", "string", "Region of the instance."),
        Variable("tier", "string", "Machine tier, e.g. db-custom-2-7680.",
                 validations=(Validation(Call("startswith", var("tier"), "db-"), "tier must be a Cloud SQL tier."),)),
        Variable("disk_gib", "number", "Initial disk size in GiB (grows automatically).",
                 validations=(Validation(Op(var("disk_gib"), ">=", 10), "disk_gib must be at least 10."),)),
        Variable("availability_type", "string", "REGIONAL (a standby in another zone, prod) or ZONAL.",
                 validations=(Validation(Call("contains", ["REGIONAL", "ZONAL"], var("availability_type")),
                                         "availability_type must be REGIONAL or ZONAL."),)),
        Variable("backup_retention_days", "number", "Daily backups kept.",
                 validations=(Validation(Op(Op(var("backup_retention_days"), ">=", 1), "&&",
                                            Op(var("backup_retention_days"), "<=", 365)),
                                         "backup_retention_days must be between 1 and 365."),)),
        Variable("network_id", "string", "The VPC network with private services access.",
                 validations=(Validation(Call("startswith", var("network_id"), "projects/"),
                                         "network_id must be a network's full ID (projects/…)."),)),
    )
    flags = POSTGRES_FLAGS if engine == "postgres" else MYSQL_FLAGS
    backup: dict[str, Any] = {
        "enabled": True,
        "start_time": "02:00",
        ("point_in_time_recovery_enabled" if engine == "postgres" else "binary_log_enabled"): True,
        "transaction_log_retention_days": Call("min", 7, var("backup_retention_days")),
        "backup_retention_settings": Block({"retained_backups": var("backup_retention_days"),
                                            "retention_unit": "COUNT"}),
    }
    resources = (Resource("google_sql_database_instance", "this", {
        "name": var("name"),
        "database_version": DATABASE_VERSION[engine],
        "region": var("region"),
        "deletion_protection": True,
        "settings": Block({
            "tier": var("tier"),
            "edition": "ENTERPRISE",
            "availability_type": var("availability_type"),
            "disk_type": "PD_SSD",
            "disk_size": var("disk_gib"),
            "disk_autoresize": True,
            "deletion_protection_enabled": True,
            "backup_configuration": Block(backup),
            "ip_configuration": Block({"ipv4_enabled": False, "private_network": var("network_id"),
                                       "ssl_mode": "ENCRYPTED_ONLY"}),
            "insights_config": Block({"query_insights_enabled": True}),
            "maintenance_window": Block({"day": 7, "hour": 4}),
            "database_flags": [Block({"name": name, "value": value}) for name, value in flags],
        }),
    }, note="Daily backups plus transaction logs: point-in-time recovery within the log retention (7 days\n"
            "on the Enterprise edition). Private IP only, TLS required; a standby in another zone in prod.",
        skips=(("CKV_GCP_6", "ssl_mode = ENCRYPTED_ONLY requires TLS (the provider removed require_ssl)"),)),)
    outputs = (
        Output("connection_name", Ref("google_sql_database_instance", "this", "connection_name"),
               "project:region:instance, for the Cloud SQL connectors."),
        Output("private_ip", Ref("google_sql_database_instance", "this", "private_ip_address"),
               "Private address of the instance."),
    )
    return Module("database", f"Managed {engine}: Cloud SQL, backed up with PITR, regional standby in prod.",
                  variables, resources, outputs)


def database_args(env: str) -> dict[str, Any]:
    from deploysmith.plan.infra import DATABASE_SIZES

    size = DATABASE_SIZES.get(env, DATABASE_SIZES["staging"])
    return {
        "tier": size.gcp_tier,
        "disk_gib": size.storage_gib,
        "availability_type": "REGIONAL" if size.standby else "ZONAL",
        "backup_retention_days": size.backup_retention_days,
    }


def runtime(plan: Plan) -> Module | None:
    if plan.requirements.target != "cloud-run":
        return None
    resources = (
        Resource("google_service_account", "app", {
            "account_id": Template(var("name"), "-app"),
            "display_name": f"Runtime identity of {plan.app_name}",
        }, note="The Cloud Run service runs as this account, not the default compute account."),
        Resource("google_secret_manager_secret_iam_member", "app", {
            "secret_id": var("secret_id"),
            "role": "roles/secretmanager.secretAccessor",
            "member": Template("serviceAccount:", Ref("google_service_account", "app", "email")),
        }),
    )
    return Module("runtime", "Runtime: the identity the Cloud Run service runs as, reading its secret only.",
                  (_name_variable("runtime identity", 26),
                   Variable("secret_id", "string", "The application secret.")), resources,
                  (Output("service_account", Ref("google_service_account", "app", "email"),
                          "Set it as the Cloud Run service's serviceAccountName."),))


def dns(plan: Plan) -> Module:
    variables = (
        Variable("zone_name", "string", "The Cloud DNS managed zone (its resource name)."),
        Variable("host", "string", "The public host name of this environment."),
        Variable("target_hostname", "string", "Where the host points: the ingress or the service's host name."),
    )
    resources = (
        Resource("google_dns_managed_zone", "this", {"name": var("zone_name")}, data=True),
        Resource("google_dns_record_set", "host", {
            "managed_zone": Ref("data", "google_dns_managed_zone", "this", "name"),
            "name": Template(var("host"), "."),
            "type": "CNAME",
            "ttl": 300,
            "rrdatas": [Template(var("target_hostname"), ".")],
        }),
    )
    return Module("dns", "DNS: the environment's host record (TLS: cert-manager in the cluster, or the "
                  "platform's managed certificate).", variables, resources,
                  (Output("fqdn", Ref("google_dns_record_set", "host", "name"), "The public host name."),))
