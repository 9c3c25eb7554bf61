"""The pieces the GitLab, Azure Pipelines, Jenkins and CircleCI renderers swap in for a
non-Kubernetes target where they would connect kubectl: the job image, the sign-in shell,
the credentials the job binds. The deploy, check and rollback shell itself comes from
render/ci_common.py like every other platform's."""

from __future__ import annotations

from typing import Any

from deploysmith.model import Plan
from deploysmith.render.ci_common import DIND_IMAGE
from deploysmith.render.targets.login import IMAGES, SECRETS, login
from deploysmith.render.yamlout import Commented, comment

# Variables the AWS sign-in exports, which a later shell (CircleCI's next step, GitLab's
# after_script) needs again.
_AWS_EXPORTS = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME", "AWS_ROLE_ARN", "AWS_REGION",
                "AWS_DEFAULT_REGION")


def deploy_image(plan: Plan) -> str:
    return login(plan, "gitlab").image


def gitlab_template(plan: Plan) -> Commented:
    """The hidden job every deploy, check and rollback job extends (instead of `.kubectl`)."""
    how = login(plan, "gitlab")
    job: dict[str, Any] = {"image": {"name": how.image, "entrypoint": [""]}, "interruptible": False}
    if how.image == IMAGES["docker"]:
        # Lambda and Heroku build and push an image in the deploy job: a Docker-in-Docker service,
        # reached over TLS with the certificates it shares through /certs.
        job["services"] = [DIND_IMAGE]
        job["variables"] = {
            "DOCKER_HOST": "tcp://docker:2376",
            "DOCKER_TLS_CERTDIR": "/certs",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": "/certs/client",
        }
    if how.id_token:
        variable, audience = how.id_token
        job["id_tokens"] = {variable: {"aud": audience}}
    if how.lines:
        job["before_script"] = ["\n".join(how.lines) + "\n"]
    words = (
        "`id_tokens` gives the job a GitLab OIDC token the cloud CLI exchanges for short-lived credentials "
        "(no stored key); the cloud trusts the GitLab issuer for this project and environment."
        if how.oidc else
        f"No OIDC login for this target: the job reads {', '.join(how.secrets)} from masked, protected CI/CD "
        "variables scoped to each environment (docs/deploy/DEPLOYMENT.md)."
    )
    return comment(job, f"Every job that deploys, checks or rolls back extends this. {words}")


def gitlab_after_lines(plan: Plan, undo: list[str]) -> list[str]:
    """after_script runs in a new shell: sign in again before rolling back."""
    how = login(plan, "gitlab")
    return [
        'if [[ "${CI_JOB_STATUS}" == "failed" ]]; then',
        '  echo "The deploy failed: rolling back to the previous release."',
        *(f"  {line}" for line in how.lines),
        *(f"  {line}" for line in undo),
        "fi",
    ]


def circleci_connect_lines(plan: Plan) -> list[str]:
    how = login(plan, "circleci")
    lines = list(how.lines)
    if any("AWS_WEB_IDENTITY_TOKEN_FILE" in line for line in lines):
        lines += [f'echo "export {name}=${{{name}}}" >> "${{BASH_ENV}}"' for name in _AWS_EXPORTS]
    return lines or ['echo "No sign-in step: the deploy reads its token from the context."']


def jenkins_credentials(plan: Plan) -> str:
    """The withCredentials binding of the target's secrets (Jenkins has no OIDC issuer)."""
    target = plan.requirements.target
    how = login(plan, "jenkins")
    names = how.secrets or SECRETS.get(target, ())
    bindings = ", ".join(f"string(credentialsId: '{name.lower().replace('_', '-')}', variable: '{name}')"
                         for name in names)
    return f"withCredentials([{bindings}])"


def jenkins_sign_in(plan: Plan) -> list[str]:
    return list(login(plan, "jenkins").lines)


def azure_sign_in(plan: Plan) -> list[str]:
    return list(login(plan, "azure").lines)


def circleci_command(plan: Plan) -> Commented:
    """The `kube-connect` command's body for a target: its sign-in (the name stays, so every
    job that runs it is unchanged)."""
    how = login(plan, "circleci")
    words = (
        "CIRCLE_OIDC_TOKEN_V2 exists in jobs that use a context; the cloud CLI exchanges it for short-lived "
        "credentials (the cloud trusts https://oidc.circleci.com/org/<organization id>)."
        if how.oidc else
        f"No OIDC login for this target: {', '.join(how.secrets)} come from the environment's context."
    )
    steps: list[Any] = [{"run": {"name": "Sign in to the deploy target", "no_output_timeout": "5m",
                                 "command": "\n".join(circleci_connect_lines(plan)) + "\n"}}]
    if how.image == IMAGES["docker"]:
        # Lambda and Heroku build and push an image in the deploy job: a remote Docker engine.
        steps.insert(0, {"setup_remote_docker": {"docker_layer_caching": False}})
    return comment({"description": "Sign in to the deploy target.", "steps": steps}, words)
