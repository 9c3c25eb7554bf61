"""Azure: Container Registry, the Container Apps environment and runtime identity (none for
an existing AKS cluster), Azure Database flexible servers, Key Vault, Azure DNS, and the CI
identity (a user-assigned managed identity with a federated credential for the main branch,
allowed only to push to the registry)."""

from __future__ import annotations

from typing import Any

from deploysmith.model import Plan
from deploysmith.render.iac import federation
from deploysmith.render.iac.hcl import Block, Call, Cond, Op, Ref, Template
from deploysmith.render.iac.model import Module, Output, Resource, Validation, Variable

POSTGRES_VERSION = "17"
MYSQL_VERSION = "8.0.21"


def var(name: str) -> Ref:
    return Ref("var", name)


def _group_variables() -> tuple[Variable, ...]:
    return (
        Variable("resource_group_name", "string", "The resource group the resources live in."),
        Variable("location", "string", "Azure region, e.g. eastus."),
    )


def _name_variable(what: str, longest: int = 40) -> Variable:
    return Variable(
        "name", "string", f"Name prefix of the {what}.",
        validations=(Validation(Call("can", Call("regex", f"^[a-z][a-z0-9-]{{1,{longest - 2}}}[a-z0-9]$",
                                                 var("name"))),
                                f"name must be 3-{longest} lowercase letters, digits or hyphens."),),
    )


def _placed() -> dict[str, Any]:
    return {"resource_group_name": var("resource_group_name"), "location": var("location")}


def registry(plan: Plan) -> Module:
    variables = (
        _name_variable("registry's resource group"),
        Variable("location", "string", "Azure region, e.g. eastus."),
        Variable("registry_name", "string", "Globally unique registry name (5-50 letters and digits).",
                 validations=(Validation(Call("can", Call("regex", "^[a-zA-Z0-9]{5,50}$", var("registry_name"))),
                                         "registry_name must be 5-50 letters and digits."),)),
    )
    resources = (
        Resource("azurerm_resource_group", "this", {"name": var("name"), "location": var("location")}),
        Resource("azurerm_container_registry", "this", {
            "name": var("registry_name"),
            "resource_group_name": Ref("azurerm_resource_group", "this", "name"),
            "location": var("location"),
            "sku": "Premium",
            "admin_enabled": False,
            "anonymous_pull_enabled": False,
            "data_endpoint_enabled": True,
            "zone_redundancy_enabled": True,
            "quarantine_policy_enabled": True,
            "retention_policy_in_days": 7,
            "trust_policy_enabled": True,
        }, note="Premium: zone redundancy, retention of untagged manifests and quarantine. No admin user:\n"
                "CI pushes with its federated identity, the runtime pulls with its managed identity.",
            skips=(("CKV_AZURE_139", "hosted CI runners push over the internet; add network_rule_set rules for "
                    "fixed runner addresses"),
                   ("CKV_AZURE_165", "one region; add georeplications for a second"),
                   ("CKV_AZURE_163", "vulnerability scanning is Microsoft Defender for Containers, enabled per "
                    "subscription; the pipeline scans every image before pushing"))),
    )
    outputs = (
        Output("login_server", Ref("azurerm_container_registry", "this", "login_server"),
               "Where CI pushes images (append /<image>)."),
        Output("registry_id", Ref("azurerm_container_registry", "this", "id"), "The registry, for role assignments."),
        Output("resource_group_name", Ref("azurerm_resource_group", "this", "name"),
               "The shared resource group."),
    )
    return Module("registry", "Container registry: Azure Container Registry (Premium), no admin user.",
                  variables, resources, outputs)


def ci_identity(plan: Plan) -> Module:
    ci = federation.of(plan, "azure")
    exact = ci.issuer is not None and ci.subject_operator == "StringEquals"
    variables: list[Variable] = [
        _name_variable("CI identity"), *_group_variables(),
        Variable("registry_id", "string", "The registry CI pushes to."),
    ]
    resources: list[Resource] = []
    if exact:
        variables.extend(ci.variables)
        resources += [
            Resource("azurerm_user_assigned_identity", "ci", {"name": Template(var("name"), "-ci"), **_placed()}),
            Resource("azurerm_federated_identity_credential", "main", {
                "name": "main-branch",
                "resource_group_name": var("resource_group_name"),
                "parent_id": Ref("azurerm_user_assigned_identity", "ci", "id"),
                "issuer": ci.issuer,
                "subject": ci.push_subjects[0],
                "audience": ["api://AzureADTokenExchange"],
            }, note=f"{ci.platform} jobs of the main branch exchange their token for this identity: no secret."),
        ]
        principal: Any = Ref("azurerm_user_assigned_identity", "ci", "principal_id")
    else:
        variables.append(Variable(
            "ci_principal_id", "string",
            f"Object ID of the identity {ci.platform} agents run as (Azure federated credentials need an exact "
            "subject, which this CI's tokens do not have).",
            validations=(Validation(Call("can", Call("regex", "^[0-9a-f-]{36}$", var("ci_principal_id"))),
                                    "ci_principal_id must be an object ID."),),
        ))
        principal = var("ci_principal_id")
    resources.append(Resource("azurerm_role_assignment", "push", {
        "scope": var("registry_id"),
        "role_definition_name": "AcrPush",
        "principal_id": principal,
    }, note="Push to this registry only."))
    outputs = []
    if exact:
        outputs += [
            Output("client_id", Ref("azurerm_user_assigned_identity", "ci", "client_id"),
                   "Client ID for the CI login step (AZURE_CLIENT_ID)."),
        ]
    outputs.append(Output("push_role_assignment", Ref("azurerm_role_assignment", "push", "id"),
                          "The AcrPush assignment."))
    return Module("ci_identity", f"CI identity: {ci.platform} federated identity allowed to push images.",
                  tuple(variables), tuple(resources), tuple(outputs))


def secrets(plan: Plan) -> Module:
    keys = sorted({key for workload in plan.workloads for key in workload.secret_env})
    variables = (
        _name_variable("environment's resource group"),
        Variable("location", "string", "Azure region, e.g. eastus."),
        Variable("key_vault_name", "string", "Globally unique Key Vault name (3-24 characters).",
                 validations=(Validation(Call("can", Call("regex", "^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$",
                                                          var("key_vault_name"))),
                                         "key_vault_name must be 3-24 letters, digits or hyphens."),)),
    )
    resources = (
        Resource("azurerm_client_config", "current", {}, data=True),
        Resource("azurerm_resource_group", "this", {"name": var("name"), "location": var("location")}),
        Resource("azurerm_key_vault", "this", {
            "name": var("key_vault_name"),
            "resource_group_name": Ref("azurerm_resource_group", "this", "name"),
            "location": var("location"),
            "tenant_id": Ref("data", "azurerm_client_config", "current", "tenant_id"),
            "sku_name": "standard",
            "enable_rbac_authorization": True,
            "purge_protection_enabled": True,
            "soft_delete_retention_days": 90,
            "public_network_access_enabled": False,
            "network_acls": Block({"default_action": "Deny", "bypass": "AzureServices"}),
        }, note="Application settings (" + (", ".join(keys) or "none yet") + ") are added as secrets out of "
                "band; access is by RBAC role, never by access policy.",
            skips=(("CKV2_AZURE_32", "reached through the private endpoint of your network; its subnet is "
                    "not known here"),)),
    )
    outputs = (
        Output("key_vault_id", Ref("azurerm_key_vault", "this", "id"), "The Key Vault."),
        Output("resource_group_name", Ref("azurerm_resource_group", "this", "name"),
               "The environment's resource group."),
    )
    return Module("secrets", "Secrets: a Key Vault for the application's settings, RBAC only, purge-protected.",
                  variables, resources, outputs)


def database(plan: Plan, engine: str) -> Module:
    variables = (
        _name_variable("database server", 63), *_group_variables(),
        Variable("sku_name", "string", "Compute SKU, e.g. GP_Standard_D2ds_v5."),
        Variable("storage_gib", "number", "Storage in GiB.",
                 validations=(Validation(Op(var("storage_gib"), ">=", 32), "storage_gib must be at least 32."),)),
        Variable("high_availability", "bool", "A zone-redundant standby and geo-redundant backups (prod)."),
        Variable("backup_retention_days", "number", "Days of backups: the point-in-time restore window.",
                 validations=(Validation(Op(Op(var("backup_retention_days"), ">=", 7), "&&",
                                            Op(var("backup_retention_days"), "<=", 35)),
                                         "backup_retention_days must be between 7 and 35."),)),
        Variable("subnet_id", "string", "Subnet delegated to the flexible server."),
        Variable("private_dns_zone_id", "string", "Private DNS zone the server registers in."),
    )
    resources: list[Resource] = [Resource("azurerm_client_config", "current", {}, data=True)]
    common: dict[str, Any] = {
        "name": var("name"),
        **_placed(),
        "sku_name": var("sku_name"),
        "backup_retention_days": var("backup_retention_days"),
        "geo_redundant_backup_enabled": var("high_availability"),
        "delegated_subnet_id": var("subnet_id"),
        "private_dns_zone_id": var("private_dns_zone_id"),
        "public_network_access_enabled": False,
        "zone": "1",
        "dynamic": Block({
            "for_each": Cond(var("high_availability"), [1], []),
            "content": Block({"mode": "ZoneRedundant", "standby_availability_zone": "2"}),
        }, ("high_availability",)),
    }
    geo = "geo-redundant backups are var.high_availability: on in prod, off elsewhere to save cost"
    private = "private access by VNet integration (a delegated subnet), with public access disabled"
    skips = (
        (("CKV_AZURE_136", geo), ("CKV2_AZURE_57", private)) if engine == "postgres"
        else (("CKV_AZURE_94", geo), ("CKV2_AZURE_56", private))
    )
    if engine == "postgres":
        resources.append(Resource("azurerm_postgresql_flexible_server", "this", {
            **common,
            "version": POSTGRES_VERSION,
            "storage_mb": Op(var("storage_gib"), "*", 1024),
            "authentication": Block({
                "active_directory_auth_enabled": True,
                "password_auth_enabled": False,
                "tenant_id": Ref("data", "azurerm_client_config", "current", "tenant_id"),
            }),
        }, note="Entra ID sign-in only: no password to leak. Backups with point-in-time restore for the\n"
                "retention window; a zone-redundant standby and geo-redundant backups in prod.", skips=skips))
        server = "azurerm_postgresql_flexible_server"
    else:
        variables += (Variable("admin_password", "string", "Administrator password (pass it with "
                                                              "TF_VAR_admin_password from your secret store).",
                               sensitive=True),)
        resources.append(Resource("azurerm_mysql_flexible_server", "this", {
            **common,
            "version": MYSQL_VERSION,
            "administrator_login": "app_admin",
            "administrator_password": var("admin_password"),
            "storage": Block({"size_gb": var("storage_gib"), "auto_grow_enabled": True}),
        }, note="Backups with point-in-time restore for the retention window; a zone-redundant standby and\n"
                "geo-redundant backups in prod. TLS is required by default (require_secure_transport).",
            skips=skips))
        server = "azurerm_mysql_flexible_server"
    outputs = (
        Output("fqdn", Ref(server, "this", "fqdn"), "Host name of the database."),
        Output("server_id", Ref(server, "this", "id"), "The server."),
    )
    return Module("database", f"Managed {engine}: Azure Database flexible server, PITR, zone-redundant in prod.",
                  variables, tuple(resources), outputs)


def database_args(env: str) -> dict[str, Any]:
    from deploysmith.plan.infra import DATABASE_SIZES

    size = DATABASE_SIZES.get(env, DATABASE_SIZES["staging"])
    return {
        "sku_name": size.azure_sku,
        "storage_gib": max(size.storage_gib, 32),
        "high_availability": size.standby,
        "backup_retention_days": size.backup_retention_days,
    }


def runtime(plan: Plan) -> Module | None:
    if plan.requirements.target != "azure-container-apps":
        return None
    resources = (
        Resource("azurerm_log_analytics_workspace", "this", {
            "name": Template(var("name"), "-logs"), **_placed(), "sku": "PerGB2018", "retention_in_days": 90,
        }),
        Resource("azurerm_container_app_environment", "this", {
            "name": var("name"), **_placed(),
            "log_analytics_workspace_id": Ref("azurerm_log_analytics_workspace", "this", "id"),
        }),
        Resource("azurerm_user_assigned_identity", "app", {"name": Template(var("name"), "-app"), **_placed()},
                 note="The container app runs as this identity: it pulls images and reads its secrets."),
        Resource("azurerm_role_assignment", "app_secrets", {
            "scope": var("key_vault_id"),
            "role_definition_name": "Key Vault Secrets User",
            "principal_id": Ref("azurerm_user_assigned_identity", "app", "principal_id"),
        }),
        Resource("azurerm_role_assignment", "app_pull", {
            "scope": var("registry_id"),
            "role_definition_name": "AcrPull",
            "principal_id": Ref("azurerm_user_assigned_identity", "app", "principal_id"),
        }),
    )
    variables = (
        _name_variable("runtime"), *_group_variables(),
        Variable("key_vault_id", "string", "The Key Vault holding the application's settings."),
        Variable("registry_id", "string", "The registry the app pulls from."),
    )
    outputs = (
        Output("environment_id", Ref("azurerm_container_app_environment", "this", "id"),
               "The Container Apps environment."),
        Output("identity_id", Ref("azurerm_user_assigned_identity", "app", "id"), "The app's identity."),
    )
    return Module("runtime", "Runtime: the Container Apps environment, its logs and the app's identity.",
                  variables, resources, outputs)


def dns(plan: Plan) -> Module:
    variables = (
        Variable("zone_name", "string", "The Azure DNS zone (the domain)."),
        Variable("dns_resource_group_name", "string", "The resource group of the DNS zone."),
        Variable("record_name", "string", "The host's name relative to the zone."),
        Variable("target_hostname", "string", "Where the host points: the ingress or the app's host name."),
    )
    resources = (Resource("azurerm_dns_cname_record", "host", {
        "name": var("record_name"),
        "zone_name": var("zone_name"),
        "resource_group_name": var("dns_resource_group_name"),
        "ttl": 300,
        "record": var("target_hostname"),
    }),)
    return Module("dns", "DNS: the environment's host record (TLS: cert-manager in the cluster, or the "
                  "platform's managed certificate).", variables, resources,
                  (Output("fqdn", Ref("azurerm_dns_cname_record", "host", "fqdn"), "The public host name."),))
