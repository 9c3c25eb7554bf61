"""render: Plan → [RenderedFile]. Pure: never reads the repository.

Each target is a module with `render(plan: Plan) -> tuple[RenderedFile, ...]`, listed in
RENDERERS. Which targets a plan gets is decided by `targets_for`, from the requirements.
"""

from __future__ import annotations

from types import ModuleType

from deploysmith.model import Plan, RenderedFile
from deploysmith.render import (
    azure_pipelines,
    circleci,
    compose,
    dockerfile,
    docs,
    github_actions,
    gitlab_ci,
    jenkins,
    kustomize,
    monitoring,
)

RENDERERS: dict[str, ModuleType] = {
    "dockerfile": dockerfile,
    "compose": compose,
    "github_actions": github_actions,
    "gitlab_ci": gitlab_ci,
    "azure_pipelines": azure_pipelines,
    "jenkins": jenkins,
    "circleci": circleci,
    "kustomize": kustomize,
    "monitoring": monitoring,
    "docs": docs,
}

CI_RENDERERS = {
    "github": "github_actions",
    "gitlab": "gitlab_ci",
    "azure": "azure_pipelines",
    "jenkins": "jenkins",
    "circleci": "circleci",
}
PACKAGING_RENDERERS = {"kustomize": "kustomize"}


def targets_for(plan: Plan) -> tuple[str, ...]:
    requirements = plan.requirements
    return (
        "dockerfile",
        "compose",
        CI_RENDERERS[requirements.ci],
        PACKAGING_RENDERERS[requirements.packaging],
        *(("monitoring",) if requirements.target == "kubernetes" else ()),
        "docs",
    )


def render_kit(plan: Plan) -> tuple[RenderedFile, ...]:
    files: dict[str, RenderedFile] = {}
    for target in targets_for(plan):
        for rendered in RENDERERS[target].render(plan):
            if rendered.path in files:
                raise AssertionError(f"two renderers produced {rendered.path}")
            files[rendered.path] = rendered
    return tuple(files[path] for path in sorted(files))
