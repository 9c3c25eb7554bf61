"""Pulumi (Python): the same modules and resources as the Terraform code, as one program.

`infra/pulumi/__main__.py` is built as a Python syntax tree (`ast`) and printed with
`ast.unparse`, so every value is a literal or an expression node, never pasted text. Each
module becomes a function returning its outputs; each Terraform root becomes a stack
(`shared`, `dev`, `staging`, `prod`) whose values sit in `Pulumi.<stack>.yaml`.

Resources come from the Terraform-bridged provider package (pulumi-aws), whose arguments
are the Terraform ones; list arguments take Pulumi's plural names (`client_id_lists`).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from deploysmith.model import Plan, RenderedFile
from deploysmith.render.common import header
from deploysmith.render.iac import layout
from deploysmith.render.iac.hcl import Block, Call, Cond, Get, Note, Op, Ref, Template
from deploysmith.render.iac.model import Infra, Module, Resource, Root
from deploysmith.render.yamlout import dump

DIR = "infra/pulumi"
RESOURCE_CLASSES = {
    "aws_kms_key": "kms.Key",
    "aws_ecr_repository": "ecr.Repository",
    "aws_ecr_lifecycle_policy": "ecr.LifecyclePolicy",
    "aws_iam_openid_connect_provider": "iam.OpenIdConnectProvider",
    "aws_iam_role": "iam.Role",
    "aws_iam_role_policy": "iam.RolePolicy",
    "aws_iam_role_policy_attachment": "iam.RolePolicyAttachment",
    "aws_secretsmanager_secret": "secretsmanager.Secret",
    "aws_db_subnet_group": "rds.SubnetGroup",
    "aws_security_group": "ec2.SecurityGroup",
    "aws_db_parameter_group": "rds.ParameterGroup",
    "aws_db_instance": "rds.Instance",
    "aws_cloudwatch_log_group": "cloudwatch.LogGroup",
    "aws_ecs_cluster": "ecs.Cluster",
    "aws_route53_record": "route53.Record",
    "aws_acm_certificate": "acm.Certificate",
    "aws_acm_certificate_validation": "acm.CertificateValidation",
}
RESOURCE_CLASSES.update({
    "google_artifact_registry_repository": "artifactregistry.Repository",
    "google_artifact_registry_repository_iam_member": "artifactregistry.RepositoryIamMember",
    "google_service_account": "serviceaccount.Account",
    "google_service_account_iam_member": "serviceaccount.IAMMember",
    "google_iam_workload_identity_pool": "iam.WorkloadIdentityPool",
    "google_iam_workload_identity_pool_provider": "iam.WorkloadIdentityPoolProvider",
    "google_secret_manager_secret": "secretmanager.Secret",
    "google_secret_manager_secret_iam_member": "secretmanager.SecretIamMember",
    "google_sql_database_instance": "sql.DatabaseInstance",
    "google_dns_record_set": "dns.RecordSet",
})
RESOURCE_CLASSES.update({
    "azurerm_resource_group": "core.ResourceGroup",
    "azurerm_container_registry": "containerservice.Registry",
    "azurerm_user_assigned_identity": "authorization.UserAssignedIdentity",
    "azurerm_federated_identity_credential": "armmsi.FederatedIdentityCredential",
    "azurerm_role_assignment": "authorization.Assignment",
    "azurerm_key_vault": "keyvault.KeyVault",
    "azurerm_postgresql_flexible_server": "postgresql.FlexibleServer",
    "azurerm_mysql_flexible_server": "mysql.FlexibleServer",
    "azurerm_log_analytics_workspace": "operationalinsights.AnalyticsWorkspace",
    "azurerm_container_app_environment": "containerapp.Environment",
    "azurerm_dns_cname_record": "dns.CNameRecord",
})
DATA_FUNCTIONS = {
    "azurerm_client_config": "core.get_client_config",
    "aws_caller_identity": "get_caller_identity",
    "aws_route53_zone": "route53.get_zone",
    "google_dns_managed_zone": "dns.get_managed_zone",
}
_SINGULAR_LISTS = {"ingress", "egress"}  # list arguments Pulumi does not pluralise
_TERRAFORM_ONLY = {"lifecycle"}  # meta-arguments with no Pulumi argument
_OPERATORS: Mapping[str, ast.operator | ast.cmpop | ast.boolop] = {
    "+": ast.Add(), "-": ast.Sub(), "*": ast.Mult(), "/": ast.Div(),
    "==": ast.Eq(), "!=": ast.NotEq(), "<": ast.Lt(), ">": ast.Gt(), "<=": ast.LtE(), ">=": ast.GtE(),
    "&&": ast.And(), "||": ast.Or(),
}


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    infra = layout.build(plan)
    if infra is None:
        return ()
    project = plan.app_name
    files = [
        RenderedFile(f"{DIR}/Pulumi.yaml", dump({
            "name": project,
            "description": f"Infrastructure of {project} ({infra.cloud}); the Terraform code in infra/terraform "
                           "describes the same resources.",
            "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}},
        }, header("Pulumi project"))),
        RenderedFile(f"{DIR}/requirements.txt",
                     f"pulumi>=3.0.0,<4.0.0\n{infra.provider.pulumi_package}{infra.provider.pulumi_version}\n"),
        RenderedFile(f"{DIR}/__main__.py", program(plan, infra)),
    ]
    for root in infra.roots:
        config = {f"{project}:{key}": value for key, value in _stack_config(root).items()}
        if infra.cloud == "azure":
            config["azure:location"] = layout.DEFAULT_REGION[infra.cloud]
        else:
            config[f"{_alias(infra)}:region"] = layout.DEFAULT_REGION[infra.cloud]
        files.append(RenderedFile(f"{DIR}/Pulumi.{root.name}.yaml", dump(
            {"config": dict(sorted(config.items()))},
            header(f"Pulumi stack {root.name}") + "\nValues left out (network IDs, host targets) are set with "
            "`pulumi config set`.",
        )))
    return tuple(files)


def _alias(infra: Infra) -> str:
    """The name the program imports the provider package as (pulumi-gcp → gcp)."""
    return infra.provider.pulumi_package.removeprefix("pulumi-")


def _stack_config(root: Root) -> dict[str, Any]:
    """Literal values of the root's module calls, keyed `<module>_<input>`, plus tfvars."""
    config: dict[str, Any] = {}
    for call in root.calls:
        for key, value in call.args.items():
            if isinstance(value, (str, int, bool)):
                config[f"{call.module}_{key}"] = value
    config.update({key: value for key, value in root.tfvars.items() if isinstance(value, (str, int, bool))})
    return config


# -- the program -------------------------------------------------------------------------


def program(plan: Plan, infra: Infra) -> str:
    body: list[ast.stmt] = [
        ast.Expr(ast.Constant(header(f"Pulumi program of {plan.app_name}") + "\n")),
        ast.Import([ast.alias("pulumi")]),
        ast.Import([ast.alias(infra.provider.pulumi_package.replace("-", "_"), _alias(infra))]),
        _assign("config", _call(_attr("pulumi", "Config"))),
        _assign("stack", _call(_attr("pulumi", "get_stack"))),
    ]
    body.extend(_module_function(module, _alias(infra)) for module in infra.modules)
    branches: list[tuple[ast.expr, list[ast.stmt]]] = []
    for root in infra.roots:
        test = ast.Compare(ast.Name("stack"), [ast.Eq()], [ast.Constant(root.name)])
        branches.append((test, _root_statements(root, infra)))
    orelse: list[ast.stmt] = [ast.Raise(_call(ast.Name("ValueError"), ast.JoinedStr([
        ast.Constant("unknown stack "), ast.FormattedValue(ast.Name("stack"), -1),
        ast.Constant(": expected " + ", ".join(root.name for root in infra.roots)),
    ])))]
    for condition, statements in reversed(branches):
        orelse = [ast.If(condition, statements, orelse)]
    body.extend(orelse)
    tree = ast.Module(body, [])
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


def _root_statements(root: Root, infra: Infra) -> list[ast.stmt]:
    statements: list[ast.stmt] = []
    variables = {variable.name: variable for variable in root.variables}
    for call in root.calls:
        module = infra.module(call.module)
        keywords = []
        for key, value in call.args.items():
            if isinstance(value, (str, int, bool)):
                value_node = _config_read(f"{call.module}_{key}", value)
            elif isinstance(value, Ref) and value.parts[0] == "var":
                variable = variables[str(value.parts[1])]
                value_node = _config_variable(variable.name, variable.type)
            else:
                value_node = _expr(value, {})
            keywords.append(ast.keyword(key, value_node))
        statements.append(_assign(f"{module.name}_outputs", _call(ast.Name(module.name), keywords=keywords)))
    for output in root.outputs:
        assert isinstance(output.value, Ref)
        _, module_name, name = output.value.parts
        statements.append(ast.Expr(_call(_attr("pulumi", "export"), ast.Constant(output.name), ast.Subscript(
            ast.Name(f"{module_name}_outputs"), ast.Constant(name)))))
    return statements


def _config_read(key: str, value: Any) -> ast.expr:
    method = "require_bool" if isinstance(value, bool) else "require_int" if isinstance(value, int) else "require"
    return _call(_attr("config", method), ast.Constant(key))


def _config_variable(name: str, type_: str) -> ast.expr:
    method = {"number": "require_int", "bool": "require_bool", "string": "require"}.get(type_, "require_object")
    return _call(_attr("config", method), ast.Constant(name))


def _module_function(module: Module, provider: str) -> ast.FunctionDef:
    names = {(r.type, r.name, r.data): _py_name(r) for r in module.resources}
    statements: list[ast.stmt] = [ast.Expr(ast.Constant(module.purpose))]
    prefix: ast.expr = (
        ast.Name("name") if any(v.name == "name" for v in module.variables) else ast.Constant(module.name)
    )
    for resource in module.resources:
        statements.append(_resource_statement(resource, names, provider, prefix))
    statements.append(ast.Return(ast.Dict(
        [ast.Constant(output.name) for output in module.outputs],
        [_expr(output.value, names) for output in module.outputs],
    )))
    statements = _unassign_unused(statements)
    args = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[ast.arg(v.name) for v in module.variables],
                         kw_defaults=[None for _ in module.variables], defaults=[])
    return ast.FunctionDef(name=module.name, args=args, body=statements, decorator_list=[], returns=None)


def _unassign_unused(statements: list[ast.stmt]) -> list[ast.stmt]:
    """A resource nothing refers to is created by its constructor call alone: binding it to a
    name nobody reads would be dead code a linter flags (F841) in the user's repository."""
    # The nodes are built without ctx, so "read" is every Name outside an assignment target.
    read = {
        node.id
        for statement in statements
        for node in ast.walk(statement.value if isinstance(statement, ast.Assign) else statement)
        if isinstance(node, ast.Name)
    }
    kept: list[ast.stmt] = []
    for statement in statements:
        target = statement.targets[0] if isinstance(statement, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id not in read and isinstance(statement, ast.Assign):
            kept.append(ast.Expr(statement.value))
        else:
            kept.append(statement)
    return kept


def _py_name(resource: Resource) -> str:
    kind = resource.type.split("_", 1)[1]
    return f"{kind}_{resource.name}"


def _resource_statement(
    resource: Resource, names: dict[tuple[str, str, bool], str], provider: str, prefix: ast.expr
) -> ast.stmt:
    target = names[(resource.type, resource.name, resource.data)]
    keywords = [
        _dynamic(value, names) if key == "dynamic" else ast.keyword(_argument(key, value), _expr(value, names))
        for key, value in resource.args.items() if key not in _TERRAFORM_ONLY
    ]
    if resource.data:
        function = _dotted(provider, DATA_FUNCTIONS[resource.type])
        return _assign(target, _call(function, keywords=keywords))
    # The Pulumi logical name: unique in the stack, stable across runs.
    logical = ast.BinOp(prefix, ast.Add(), ast.Constant(f"-{resource.name}-{resource.type.split('_', 1)[1]}"))
    return _assign(target, _call(_dotted(provider, RESOURCE_CLASSES[resource.type]), logical, keywords=keywords))


def _dynamic(block: Block, names: dict[tuple[str, str, bool], str]) -> ast.keyword:
    """A Terraform `dynamic` block that is present or not (for_each = cond ? [1] : []) is
    the block's argument or None."""
    condition = block.body["for_each"]
    assert isinstance(condition, Cond)
    content = block.body["content"]
    return ast.keyword(block.labels[0], ast.IfExp(_expr(condition.test, names), _expr(content, names),
                                                  ast.Constant(None)))


def _argument(key: str, value: Any) -> str:
    value = value.value if isinstance(value, Note) else value
    if isinstance(value, (list, tuple)) and not key.endswith("s") and key not in _SINGULAR_LISTS:
        return key + "s"
    return key


def _expr(value: Any, names: dict[tuple[str, str, bool], str]) -> ast.expr:
    if isinstance(value, Note):
        return _expr(value.value, names)
    if value is None or isinstance(value, (bool, int, float, str)):
        return ast.Constant(value)
    if isinstance(value, Block):
        return _dict({key: item for key, item in value.body.items() if key not in _TERRAFORM_ONLY}, names)
    if isinstance(value, Mapping):
        return _dict(value, names)
    if isinstance(value, (list, tuple)):
        return ast.List([_expr(item, names) for item in value])
    if isinstance(value, Ref):
        return _ref(value, names)
    if isinstance(value, Template):
        if all(isinstance(part, str) for part in value.parts):
            return ast.Constant("".join(value.parts))
        return _call(_attr("pulumi.Output", "concat"), *(_expr(part, names) for part in value.parts))
    if isinstance(value, Call):
        if value.name == "jsonencode":
            return _call(_attr("pulumi.Output", "json_dumps"), _expr(value.args[0], names))
        if value.name == "one":
            return ast.Subscript(_expr(value.args[0], names), ast.Constant(0))
        if value.name == "min":
            return _call(ast.Name("min"), *(_expr(arg, names) for arg in value.args))
        raise ValueError(f"no Pulumi equivalent for {value.name}()")
    if isinstance(value, Get):
        node = _expr(value.value, names)
        for part in value.parts:
            node = ast.Subscript(node, ast.Constant(part)) if isinstance(part, int) else ast.Attribute(node, part)
        return node
    if isinstance(value, Cond):
        return ast.IfExp(_expr(value.test, names), _expr(value.then, names), _expr(value.otherwise, names))
    if isinstance(value, Op):
        operator = _OPERATORS[value.operator]
        left, right = _expr(value.left, names), _expr(value.right, names)
        if isinstance(operator, ast.boolop):
            return ast.BoolOp(operator, [left, right])
        if isinstance(operator, ast.cmpop):
            return ast.Compare(left, [operator], [right])
        return ast.BinOp(left, operator, right)
    raise TypeError(f"cannot express {type(value).__name__} in Python")


def _dict(value: Mapping[Any, Any], names: dict[tuple[str, str, bool], str]) -> ast.Dict:
    keys: list[ast.expr | None] = [_expr(key, names) for key in value]
    return ast.Dict(keys, [_expr(item, names) for item in value.values()])


def _ref(ref: Ref, names: dict[tuple[str, str, bool], str]) -> ast.expr:
    parts = list(ref.parts)
    if parts[0] == "var":
        node: ast.expr = ast.Name(str(parts[1]))
        rest = parts[2:]
    elif parts[0] == "module":
        return ast.Subscript(ast.Name(f"{parts[1]}_outputs"), ast.Constant(parts[2]))
    elif parts[0] == "data":
        node = ast.Name(names[(str(parts[1]), str(parts[2]), True)])
        rest = parts[3:]
    else:
        node = ast.Name(names[(str(parts[0]), str(parts[1]), False)])
        rest = parts[2:]
    for part in rest:
        node = ast.Subscript(node, ast.Constant(part)) if isinstance(part, int) else ast.Attribute(node, part)
    return node


# -- ast helpers -------------------------------------------------------------------------


def _assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign([ast.Name(name)], value)


def _attr(base: str, name: str) -> ast.Attribute:
    return ast.Attribute(_dotted(*base.split(".")), name)


def _dotted(*parts: str) -> ast.expr:
    names = [piece for part in parts for piece in part.split(".")]
    node: ast.expr = ast.Name(names[0])
    for name in names[1:]:
        node = ast.Attribute(node, name)
    return node


def _call(function: ast.expr, *args: ast.expr, keywords: list[ast.keyword] | None = None) -> ast.Call:
    return ast.Call(function, list(args), keywords or [])
