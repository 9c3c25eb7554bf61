"""Terraform: `infra/terraform/modules/<concern>/` and one root per environment
(`infra/terraform/envs/<env>/`, plus `envs/shared/`), every file emitted by `hcl.dump`.

Roots pin Terraform and the provider; modules state the lowest provider version they need.
State is remote and locked (see `layout`); what differs per account (the state bucket)
sits in each root's `backend.hcl`, passed with `terraform init -backend-config=backend.hcl`.
Provider lock files (.terraform.lock.hcl) come from the first `terraform init`: commit them.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import Plan, RenderedFile
from deploysmith.render.common import header
from deploysmith.render.iac import hcl, layout
from deploysmith.render.iac.hcl import Block, Note, Ref, TopBlock, Type
from deploysmith.render.iac.model import REQUIRED, Infra, Output, Resource, Root, Variable

DIR = "infra/terraform"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    infra = layout.build(plan)
    if infra is None:
        return ()
    files: list[RenderedFile] = [RenderedFile(f"{DIR}/README.md", _readme(plan, infra))]
    for module in infra.modules:
        folder = f"{DIR}/modules/{module.name}"
        files += [
            _file(f"{folder}/versions.tf", [_terraform_block(infra, module=True)], f"module {module.name}: versions"),
            _file(f"{folder}/variables.tf", [_variable(v) for v in module.variables], f"module {module.name}: inputs"),
            _file(f"{folder}/main.tf", [_resource(r) for r in module.resources], module.purpose.rstrip(".")),
            _file(f"{folder}/outputs.tf", [_output(o) for o in module.outputs], f"module {module.name}: outputs"),
        ]
    for root in infra.roots:
        folder = f"{DIR}/envs/{root.name}"
        files += [
            _file(f"{folder}/versions.tf", [_terraform_block(infra, root=root, app=plan.app_name)],
                  f"root {root.name}: Terraform, provider and state backend"),
            _file(f"{folder}/providers.tf", [_provider(infra, plan, root)], f"root {root.name}: provider"),
            _file(f"{folder}/main.tf", [_module_call(infra, call) for call in root.calls],
                  f"root {root.name}: the modules this " + ("account shares" if root.name == layout.SHARED
                                                            else "environment owns")),
            _file(f"{folder}/variables.tf", [_variable(v) for v in root.variables], f"root {root.name}: inputs"),
            _file(f"{folder}/outputs.tf", [_output(o) for o in root.outputs], f"root {root.name}: outputs"),
            RenderedFile(f"{folder}/backend.hcl", _attributes(
                infra.backend.partial,
                f"State backend settings for `terraform init -backend-config=backend.hcl`.\n{infra.backend.why}",
            )),
        ]
        if root.tfvars:
            known = f"Values of root {root.name} known from the repository."
            files.append(RenderedFile(f"{folder}/terraform.tfvars", _attributes(root.tfvars, known)))
    return tuple(files)


def _file(path: str, blocks: list[TopBlock], what: str) -> RenderedFile:
    return RenderedFile(path, hcl.dump(blocks, header(f"Terraform, {what}")))


def _attributes(values: Any, comment: str) -> str:
    """A file of plain `name = value` lines (tfvars, backend config)."""
    text = hcl.dump([TopBlock("locals", (), values)], comment)
    # The same lines, one level up: a tfvars file has no enclosing block.
    lines = text.split("\n")
    start = next(index for index, line in enumerate(lines) if line == "locals {")
    body = [line[len(hcl.INDENT):] for line in lines[start + 1:] if line and line != "}"]
    return "\n".join(lines[:start] + body) + "\n"


def _terraform_block(infra: Infra, *, module: bool = False, root: Root | None = None, app: str = "") -> TopBlock:
    provider = infra.provider
    body: dict[str, Any] = {
        "required_version": layout.TERRAFORM_VERSION,
        "required_providers": Block({
            provider.name: {"source": provider.source, "version": provider.minimum if module else provider.version},
        }),
    }
    if root is not None:
        settings = dict(infra.backend.settings)
        if infra.backend.type == "s3":
            settings = {"key": f"{app}/{root.name}/terraform.tfstate", **settings}
        elif infra.backend.type == "gcs":
            settings = {"prefix": f"{app}/{root.name}", **settings}
        else:
            settings = {"key": f"{app}/{root.name}.tfstate", **settings}
        body["backend"] = Note(Block(settings, (infra.backend.type,)), infra.backend.why)
    return TopBlock("terraform", (), body)


def _provider(infra: Infra, plan: Plan, root: Root) -> TopBlock:
    body: dict[str, Any] = dict(infra.provider.config)
    tags = {"app": plan.app_name, "environment": root.name, "managed-by": "terraform"}
    if infra.cloud == "aws":
        body["default_tags"] = Block({"tags": tags})
    elif infra.cloud == "gcp":
        body["default_labels"] = tags
    else:
        body = {"features": Block({}), **body}
    return TopBlock("provider", (infra.provider.name,), body)


def _module_call(infra: Infra, call: Any) -> TopBlock:
    body: dict[str, Any] = {"source": f"../../modules/{call.module}"}
    body.update(call.args)
    module = infra.module(call.module)
    return TopBlock("module", (call.module,), body, comment=module.purpose)


def _variable(variable: Variable) -> TopBlock:
    body: dict[str, Any] = {"type": Type(variable.type), "description": variable.description}
    if variable.default is not REQUIRED:
        body["default"] = variable.default
    if variable.sensitive:
        body["sensitive"] = True
    if variable.validations:
        body["validation"] = [
            Block({"condition": validation.condition, "error_message": validation.message})
            for validation in variable.validations
        ]
    return TopBlock("variable", (variable.name,), body)


def _output(output: Output) -> TopBlock:
    body: dict[str, Any] = {"description": output.description, "value": output.value}
    if output.sensitive:
        body["sensitive"] = True
    return TopBlock("output", (output.name,), body)


def _resource(resource: Resource) -> TopBlock:
    body = dict(resource.args)
    if resource.skips and body:
        first = next(iter(body))
        skips = "\n".join(f"checkov:skip={check}:{reason}" for check, reason in resource.skips)
        body[first] = Note(body[first], skips)
    return TopBlock("data" if resource.data else "resource", (resource.type, resource.name), body,
                    comment=resource.note)


def _readme(plan: Plan, infra: Infra) -> str:
    roots = ", ".join(f"`envs/{root.name}/`" for root in infra.roots)
    lines = [
        f"<!-- {header('Terraform layout').splitlines()[0]} -->",
        f"# Infrastructure of {plan.app_name} ({infra.cloud})",
        "",
        "One module per concern under `modules/`, one root configuration per environment under `envs/` "
        f"({roots}). `envs/{layout.SHARED}/` holds what every environment shares: the image registry "
        "(one image is promoted from staging to prod) and the CI identity.",
        "",
        "| Module | What |",
        "|---|---|",
        *(f"| `{module.name}` | {module.purpose} |" for module in infra.modules),
        "",
        "## Apply",
        "",
        "```sh",
        f"cd infra/terraform/envs/{layout.SHARED}",
        "terraform init -backend-config=backend.hcl",
        "terraform plan -out=tfplan && terraform apply tfplan",
        "```",
        "",
        f"Then the same in each environment folder, dev first. State: {infra.backend.why}",
        "Commit the `.terraform.lock.hcl` each `init` writes: it pins the provider's checksums.",
        "",
    ]
    if infra.notes:
        lines += ["## Not declared here", ""] + [f"- {note}" for note in infra.notes] + [""]
    return "\n".join(lines)


__all__ = ["render", "Ref"]
