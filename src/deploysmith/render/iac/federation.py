"""Who CI is to a cloud: each platform's OIDC token issuer, the claim that names the
repository and branch (or environment), and the audience the cloud expects.

Jenkins has no token issuer of its own: its roles trust the principal the agents already
run as (an instance profile, a workload identity), passed as a variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deploysmith.model import Plan
from deploysmith.render.iac.hcl import Call, Ref, Template
from deploysmith.render.iac.model import Validation, Variable

AUDIENCE = {"aws": "sts.amazonaws.com", "azure": "api://AzureADTokenExchange", "gcp": None}


@dataclass(frozen=True)
class Federation:
    platform: str
    issuer: Any  # str or Template; None: no OIDC issuer (Jenkins)
    issuer_host: Any  # the issuer without https://, as condition keys spell it
    audience: Any  # str, or a reference to a module variable
    push_subjects: tuple[Any, ...]  # the token subjects allowed to push images (main branch)
    subject_operator: str  # StringEquals, or StringLike when the subject holds a wildcard
    variables: tuple[Variable, ...]  # module inputs the issuer or subjects need

    def claim(self, name: str) -> Any:
        if isinstance(self.issuer_host, str):
            return f"{self.issuer_host}:{name}"
        return Template(*self.issuer_host.parts, f":{name}")


def repository_slug(plan: Plan) -> str | None:
    remote = plan.stack.git_remote or ""
    host, _, path = remote.partition("/")
    return path if host and "/" in path else None


def _repository_variable(what: str) -> Variable:
    return Variable(
        "repository", "string", f"The {what} path (owner/name) whose pipeline may assume the roles.",
        validations=(Validation(Call("can", Call("regex", "^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$",
                                                 Ref("var", "repository"))),
                                "repository must look like owner/name."),),
    )


def of(plan: Plan, cloud: str = "aws") -> Federation:
    ci = plan.requirements.ci
    audience = AUDIENCE.get(cloud) or "https://iam.googleapis.com"
    # The repository path is written out when the git remote names it; otherwise it is an input.
    slug = repository_slug(plan)
    var: Any = slug or Ref("var", "repository")
    if ci == "github":
        return Federation(
            "GitHub Actions", "https://token.actions.githubusercontent.com", "token.actions.githubusercontent.com",
            audience, (Template("repo:", var, ":ref:refs/heads/main"),), "StringEquals",
            () if slug else (_repository_variable("GitHub repository"),),
        )
    if ci == "gitlab":
        return Federation(
            "GitLab CI", "https://gitlab.com", "gitlab.com", audience,
            (Template("project_path:", var, ":ref_type:branch:ref:main"),), "StringEquals",
            () if slug else (_repository_variable("GitLab project"),),
        )
    if ci == "circleci":
        org = Ref("var", "circleci_org_id")
        return Federation(
            "CircleCI", Template("https://oidc.circleci.com/org/", org), Template("oidc.circleci.com/org/", org),
            org,  # CircleCI tokens carry the organization ID as their audience
            (Template("org/", org, "/project/", Ref("var", "circleci_project_id"), "/user/*"),), "StringLike",
            (
                Variable("circleci_org_id", "string", "CircleCI organization ID (Organization Settings → Overview).",
                         validations=(Validation(Call("can", Call("regex", "^[0-9a-f-]{36}$", org)),
                                                 "circleci_org_id must be a UUID."),)),
                Variable("circleci_project_id", "string", "CircleCI project ID (Project Settings → Overview).",
                         validations=(Validation(Call("can", Call("regex", "^[0-9a-f-]{36}$",
                                                                  Ref("var", "circleci_project_id"))),
                                                 "circleci_project_id must be a UUID."),)),
            ),
        )
    if ci == "azure":
        org = Ref("var", "azure_devops_org_id")
        return Federation(
            "Azure Pipelines", Template("https://vstoken.dev.azure.com/", org), Template("vstoken.dev.azure.com/", org),
            "api://AzureADTokenExchange",
            (Template("sc://", Ref("var", "azure_devops_org"), "/", Ref("var", "azure_devops_project"),
                      "/container-registry"),), "StringEquals",
            (
                Variable("azure_devops_org_id", "string", "Azure DevOps organization ID (a GUID).",
                         validations=(Validation(Call("can", Call("regex", "^[0-9a-f-]{36}$", org)),
                                                 "azure_devops_org_id must be a GUID."),)),
                Variable("azure_devops_org", "string", "Azure DevOps organization name."),
                Variable("azure_devops_project", "string", "Azure DevOps project name."),
            ),
        )
    return Federation("Jenkins", None, None, audience, (), "StringEquals", ())
