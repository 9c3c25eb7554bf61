"""Infrastructure as code: `--iac terraform|pulumi|cloudformation`.

One renderer per tool in IAC_RENDERERS; `render(plan)` runs the one the requirements name.
Terraform and Pulumi render the same data (`layout.build` → `model.Infra`); CloudFormation
is AWS-only and builds its templates directly. An Ansible playbook is only meaningful for VM
targets, and no VM target exists, so none is rendered.
"""

from __future__ import annotations

from types import ModuleType

from deploysmith.model import Plan, RenderedFile
from deploysmith.render.iac import cloudformation, pulumi, terraform

IAC_RENDERERS: dict[str, ModuleType] = {
    "terraform": terraform,
    "pulumi": pulumi,
    "cloudformation": cloudformation,
}


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    renderer = IAC_RENDERERS.get(plan.requirements.iac)
    return renderer.render(plan) if renderer is not None else ()
