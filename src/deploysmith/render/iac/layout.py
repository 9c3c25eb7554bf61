"""Plan → Infra: which modules a kit gets and how each root configuration calls them.

Roots: `shared` holds what exists once per account and is shared by every environment
(the registry, since one image is promoted from staging to prod, and the CI identity);
`<env>` holds what each environment owns (its secrets, database, runtime, DNS), so a
change to dev is planned and applied without touching prod's state.
"""

from __future__ import annotations

import re
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan
from deploysmith.plan.infra import cloud_for, managed_database
from deploysmith.render.iac import aws, azure, federation, gcp
from deploysmith.render.iac.hcl import Call, Ref
from deploysmith.render.iac.model import Backend, Infra, Module, Output, Provider, Root, Validation, Variable
from deploysmith.render.iac.naming import Naming

SHARED = "shared"
TERRAFORM_VERSION = ">= 1.11, < 2.0"  # S3 native state locking (use_lockfile) is GA from 1.11
AWS_PROVIDER = Provider(
    "aws", "hashicorp/aws", "~> 6.0", ">= 6.0",
    {"region": Ref("var", "region")}, "pulumi-aws", ">=7.0.0,<8.0.0",
)
GOOGLE_PROVIDER = Provider(
    "google", "hashicorp/google", "~> 7.0", ">= 7.0",
    {"project": Ref("var", "project_id"), "region": Ref("var", "region")}, "pulumi-gcp", ">=9.0.0,<10.0.0",
)
AZURERM_PROVIDER = Provider(
    "azurerm", "hashicorp/azurerm", "~> 4.0", ">= 4.0",
    {"subscription_id": Ref("var", "subscription_id"), "storage_use_azuread": True}, "pulumi-azure",
    ">=6.0.0,<7.0.0",
)
DEFAULT_REGION = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
REGION_PATTERN = {"aws": "^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", "gcp": "^[a-z]+-[a-z]+[0-9]$", "azure": "^[a-z0-9]+$"}


def build(plan: Plan) -> Infra | None:
    """The infrastructure of the plan, or None when no IaC is rendered for its target."""
    cloud = cloud_for(plan.requirements)
    if plan.requirements.iac == "none" or cloud is None:
        return None
    if cloud == "aws":
        return _aws(plan)
    if cloud == "gcp":
        return _gcp(plan)
    return _azure(plan)


def _region_variable(cloud: str) -> Variable:
    name = "location" if cloud == "azure" else "region"
    return Variable(
        name, "string", "Region the resources live in.", default=DEFAULT_REGION[cloud],
        validations=(Validation(Call("can", Call("regex", REGION_PATTERN[cloud], Ref("var", name))),
                                "region must be a region code such as " + DEFAULT_REGION[cloud] + "."),),
    )


def _pass(variables: tuple[Variable, ...]) -> dict[str, Any]:
    return {variable.name: Ref("var", variable.name) for variable in variables}


def _outputs_of(module: Module, *names: str) -> tuple[Output, ...]:
    wanted = [output for output in module.outputs if not names or output.name in names]
    return tuple(Output(f"{module.name}_{output.name}", Ref("module", module.name, output.name),
                        output.description, output.sensitive) for output in wanted)


def _aws(plan: Plan) -> Infra:
    naming = Naming()
    ci = federation.of(plan, "aws")
    registry = aws.registry(plan, naming)
    identity = aws.ci_identity(plan)
    secrets = aws.secrets(plan)
    engine = managed_database(plan)
    database = aws.database(plan, engine) if engine else None
    runtime = aws.runtime(plan)
    dns = aws.dns(plan) if plan.requirements.domain else None
    modules = tuple(m for m in (registry, identity, secrets, database, runtime, dns) if m is not None)

    region = _region_variable("aws")
    shared_vars: tuple[Variable, ...] = (region, *ci.variables)
    if ci.issuer is None:
        shared_vars += tuple(v for v in identity.variables if v.name == "ci_principal_arn")
    slug = federation.repository_slug(plan)
    shared = Root(
        SHARED,
        shared_vars,
        (
            _call(registry, name=plan.app_name),
            _call(identity, name=plan.app_name, repository_arns=Ref("module", "registry", "repository_arns"),
                  **_pass(shared_vars[1:])),
        ),
        _outputs_of(registry) + _outputs_of(identity),
        {"repository": slug} if slug and ci.variables else {},
    )
    roots = [shared]
    for env in plan.environments:
        roots.append(_aws_env(plan, env, secrets, database, runtime, dns))
    notes = (
        "Kubernetes target: the cluster itself is not declared (an existing EKS cluster, or any other, runs the "
        "kit's manifests; its namespaces, quotas and policies are in deploy/). This code declares what the "
        "application needs around it." if plan.requirements.target == "kubernetes" else "",
    )
    backend = Backend(
        "s3",
        {"encrypt": True, "use_lockfile": True},
        {"bucket": f"{plan.app_name}-terraform-state", "region": DEFAULT_REGION["aws"]},
        "S3 with native locking (use_lockfile: a lock object beside the state, no DynamoDB table), "
        "encrypted; create the versioned bucket once and name it in backend.hcl.",
    )
    return Infra("aws", AWS_PROVIDER, backend, modules, tuple(roots), tuple(n for n in notes if n))


def _call(module: Module, **args: Any) -> Any:
    from deploysmith.render.iac.model import Call as ModuleCall

    return ModuleCall(module.name, args)


def _aws_env(
    plan: Plan, env: EnvironmentPlan, secrets: Module, database: Module | None, runtime: Module | None,
    dns: Module | None,
) -> Root:
    name = f"{plan.app_name}-{env.name}"
    variables: list[Variable] = [_region_variable("aws")]
    calls = [_call(secrets, name=name)]
    outputs = list(_outputs_of(secrets, "secret_arn"))
    if database is not None:
        network = tuple(v for v in database.variables if v.name in ("vpc_id", "subnet_ids", "client_cidr_blocks"))
        variables.extend(network)
        calls.append(_call(database, name=name, **aws.database_args(env.name), **_pass(network)))
        outputs.extend(_outputs_of(database, "endpoint", "port", "admin_secret_arn"))
    if runtime is not None:
        calls.append(_call(runtime, name=name, secret_arn=Ref("module", "secrets", "secret_arn"),
                           secret_kms_key_arn=Ref("module", "secrets", "kms_key_arn")))
        outputs.extend(_outputs_of(runtime))
    if dns is not None and env.host:
        target = next(v for v in dns.variables if v.name == "target_hostname")
        variables.append(target)
        calls.append(_call(dns, zone_name=plan.requirements.domain, host=env.host,
                           target_hostname=Ref("var", "target_hostname")))
        outputs.extend(_outputs_of(dns))
    return Root(env.name, tuple(variables), tuple(calls), tuple(outputs))


def _project_variable() -> Variable:
    return Variable(
        "project_id", "string", "The Google Cloud project the resources live in.",
        validations=(Validation(Call("can", Call("regex", "^[a-z][a-z0-9-]{4,28}[a-z0-9]$", Ref("var", "project_id"))),
                                "project_id must be a project ID."),),
    )


def _gcp(plan: Plan) -> Infra:
    ci = federation.of(plan, "gcp")
    registry = gcp.registry(plan)
    identity = gcp.ci_identity(plan)
    secrets = gcp.secrets(plan)
    engine = managed_database(plan)
    database = gcp.database(plan, engine) if engine else None
    runtime = gcp.runtime(plan)
    dns = gcp.dns(plan) if plan.requirements.domain else None
    modules = tuple(m for m in (registry, identity, secrets, database, runtime, dns) if m is not None)
    location = (_project_variable(), _region_variable("gcp"))
    extra = tuple(v for v in identity.variables if v.name == "ci_member") if ci.issuer is None else ci.variables
    slug = federation.repository_slug(plan)
    shared = Root(
        SHARED,
        (*location, *extra),
        (
            _call(registry, name=plan.app_name, **_pass(location)),
            _call(identity, name=plan.app_name[:20].rstrip("-"), repository_id=Ref("module", "registry",
                                                                                  "repository_id"),
                  **_pass(location), **_pass(extra)),
        ),
        _outputs_of(registry) + _outputs_of(identity),
        {"repository": slug} if slug and ci.variables else {},
    )
    roots = [shared]
    for env in plan.environments:
        name = f"{plan.app_name[:30]}-{env.name}"
        variables: list[Variable] = list(location)
        calls = [_call(secrets, name=name)]
        outputs = list(_outputs_of(secrets))
        if database is not None:
            network = next(v for v in database.variables if v.name == "network_id")
            variables.append(network)
            calls.append(_call(database, name=name, region=Ref("var", "region"), **gcp.database_args(env.name),
                               network_id=Ref("var", "network_id")))
            outputs.extend(_outputs_of(database))
        if runtime is not None:
            calls.append(_call(runtime, name=f"{plan.app_name[:18].rstrip('-')}-{env.name}",
                               secret_id=Ref("module", "secrets", "secret_id")))
            outputs.extend(_outputs_of(runtime))
        if dns is not None and env.host and plan.requirements.domain:
            target = next(v for v in dns.variables if v.name == "target_hostname")
            variables.append(target)
            calls.append(_call(dns, zone_name=plan.requirements.domain.replace(".", "-"), host=env.host,
                               target_hostname=Ref("var", "target_hostname")))
            outputs.extend(_outputs_of(dns))
        roots.append(Root(env.name, tuple(variables), tuple(calls), tuple(outputs)))
    notes = (
        "Kubernetes target: the GKE cluster itself is not declared; this code declares what the application "
        "needs around it." if plan.requirements.target == "kubernetes" else "",
    )
    backend = Backend(
        "gcs", {}, {"bucket": f"{plan.app_name}-terraform-state"},
        "Cloud Storage, which locks the state natively; create the versioned bucket once and name it in "
        "backend.hcl.",
    )
    return Infra("gcp", GOOGLE_PROVIDER, backend, modules, tuple(roots), tuple(n for n in notes if n))


def _alnum(text: str, length: int) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())[:length]


def _azure(plan: Plan) -> Infra:
    registry = azure.registry(plan)
    identity = azure.ci_identity(plan)
    secrets = azure.secrets(plan)
    engine = managed_database(plan)
    database = azure.database(plan, engine) if engine else None
    runtime = azure.runtime(plan)
    dns = azure.dns(plan) if plan.requirements.domain else None
    modules = tuple(m for m in (registry, identity, secrets, database, runtime, dns) if m is not None)
    subscription = Variable(
        "subscription_id", "string", "The Azure subscription the resources live in.",
        validations=(Validation(Call("can", Call("regex", "^[0-9a-f-]{36}$", Ref("var", "subscription_id"))),
                                "subscription_id must be a subscription GUID."),),
    )
    location = _region_variable("azure")
    extra = tuple(v for v in identity.variables
                  if v.name not in ("name", "resource_group_name", "location", "registry_id"))
    shared = Root(
        SHARED,
        (subscription, location, *extra),
        (
            _call(registry, name=f"{plan.app_name}-shared", location=Ref("var", "location"),
                  registry_name=_alnum(plan.app_name, 47) + "acr"),
            _call(identity, name=plan.app_name, location=Ref("var", "location"),
                  resource_group_name=Ref("module", "registry", "resource_group_name"),
                  registry_id=Ref("module", "registry", "registry_id"), **_pass(extra)),
        ),
        _outputs_of(registry) + _outputs_of(identity),
    )
    roots = [shared]
    for env in plan.environments:
        name = f"{plan.app_name}-{env.name}"
        variables: list[Variable] = [subscription, location]
        group = Ref("module", "secrets", "resource_group_name")
        calls = [_call(secrets, name=name, location=Ref("var", "location"),
                       key_vault_name=f"{plan.app_name[:24 - len(env.name) - 4].rstrip('-')}-{env.name}-kv")]
        outputs = list(_outputs_of(secrets, "key_vault_id"))
        if database is not None:
            network = tuple(v for v in database.variables
                            if v.name in ("subnet_id", "private_dns_zone_id", "admin_password"))
            variables.extend(network)
            calls.append(_call(database, name=name, resource_group_name=group, location=Ref("var", "location"),
                               **azure.database_args(env.name), **_pass(network)))
            outputs.extend(_outputs_of(database, "fqdn"))
        if runtime is not None:
            registry_id = next(v for v in runtime.variables if v.name == "registry_id")
            variables.append(registry_id)
            calls.append(_call(runtime, name=name, resource_group_name=group, location=Ref("var", "location"),
                               key_vault_id=Ref("module", "secrets", "key_vault_id"),
                               registry_id=Ref("var", "registry_id")))
            outputs.extend(_outputs_of(runtime))
        domain = plan.requirements.domain
        if dns is not None and env.host and domain:
            dns_inputs = tuple(v for v in dns.variables if v.name in ("dns_resource_group_name", "target_hostname"))
            variables.extend(dns_inputs)
            calls.append(_call(dns, zone_name=domain, record_name=env.host.removesuffix("." + domain),
                               **_pass(dns_inputs)))
            outputs.extend(_outputs_of(dns))
        roots.append(Root(env.name, tuple(variables), tuple(calls), tuple(outputs)))
    notes = (
        "Kubernetes target: the AKS cluster itself is not declared; this code declares what the application "
        "needs around it." if plan.requirements.target == "kubernetes" else "",
    )
    backend = Backend(
        "azurerm", {"use_azuread_auth": True},
        {"resource_group_name": f"{plan.app_name}-tfstate",
         "storage_account_name": _alnum(plan.app_name, 17) + "tfstate",  # 3-24 letters and digits
         "container_name": "tfstate"},
        "Azure Blob Storage, which locks the state with a blob lease; create the storage account once "
        "and name it in backend.hcl.",
    )
    return Infra("azure", AZURERM_PROVIDER, backend, modules, tuple(roots), tuple(n for n in notes if n))
