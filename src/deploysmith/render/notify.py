"""Deploy notifications (`Requirements.notify`) and deployment markers (`Requirements.apm`),
as each CI platform sends them from its own mechanism.

Events: `start` (before a deploy job deploys), `success` and `failure` (after it), and
`rollback` (after Verify's rollback). Markers go with `success` and `rollback`
(render.markers). Where each platform hooks them:

    GitHub    steps with `if: success()` / `if: failure()`; secrets in the step's `env`
    GitLab    the start in `script`, success/failure in `after_script` by CI_JOB_STATUS,
              the rollback in rollback-prod's `after_script`; CI/CD variables (masked)
    Azure     steps with `condition: succeeded()` / `condition: failed()`; secret
              variables of the environment's variable group mapped into the step's `env`
    Jenkins   `post { success / failure }`; Jenkins credentials bound by withCredentials,
              each notice inside catchError so that it never changes the build result;
              email through the `mail` step (Mailer plugin, the SMTP server Jenkins has)
    CircleCI  steps with `when: on_success` / `when: on_fail`; variables of the context

Slack and Microsoft Teams take an incoming webhook (Teams: a Workflows "When a Teams webhook
request is received" flow, which takes an Adaptive Card message). Email: GitHub, GitLab,
Azure DevOps and CircleCI mail their users about failed runs as a personal setting, with
no way to address a team list or to announce a start, a success or a rollback, so the
pipeline sends through the team's SMTP relay with curl (SMTP_URL, smtps:// or smtp:// with
STARTTLS; TLS is required). Jenkins has a native mail step and uses it.

Every payload is built by `jq --null-input --arg …` from shell variables: values enter
JSON as string arguments, never spliced into JSON text. Sending is best effort: a webhook
that is down or not set up yet gives a warning (or a notice), never a failed deploy.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan
from deploysmith.render import markers
from deploysmith.render.ci_common import PLAIN, Dialect, script
from deploysmith.render.yamlout import comment

KINDS = ("slack", "teams", "email")
EVENTS = ("start", "success", "failure", "rollback")
TITLES = {
    "start": "Announce the deploy",
    "success": "Announce the deploy: done",
    "failure": "Announce the deploy: failed",
    "rollback": "Announce the rollback",
}
# What each event says after "<app> <environment>: ", with the commit's first 12 characters.
WORDS = {
    "start": "deploying ${version:0:12}",
    "success": "deployed ${version:0:12}",
    "failure": "deploy of ${version:0:12} failed",
    "rollback": "${version:0:12} failed verification; rolled back",
}

# kind → (secrets, plain variables) the notice reads
SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "slack": (("SLACK_WEBHOOK_URL",), ()),
    "teams": (("TEAMS_WEBHOOK_URL",), ()),
    "email": (("SMTP_PASSWORD",), ("SMTP_URL", "SMTP_USERNAME", "NOTIFY_EMAIL_FROM", "NOTIFY_EMAIL_TO")),
}


@dataclass(frozen=True)
class Platform:
    """What a platform's scripts know about the run, as shell expressions."""

    version: str  # the commit being deployed
    run_url: str  # the page of this run
    # Azure leaves `$(NAME)` in place when a mapped secret variable is not defined
    unset_literal: bool = False
    shell_email: bool = True  # False: the platform mails natively (Jenkins)


GITHUB = Platform("${GITHUB_SHA}", "${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}")
GITLAB = Platform("${CI_COMMIT_SHA}", "${CI_PIPELINE_URL}")
AZURE = Platform(
    "${BUILD_SOURCEVERSION}",
    "${SYSTEM_COLLECTIONURI}${SYSTEM_TEAMPROJECTID}/_build/results?buildId=${BUILD_BUILDID}",
    unset_literal=True,
)
JENKINS = Platform("${GIT_COMMIT}", "${BUILD_URL}", shell_email=False)
CIRCLECI = Platform("${CIRCLE_SHA1}", "${CIRCLE_BUILD_URL}")


# -- what a plan sends -------------------------------------------------------------------------


def kind(plan: Plan) -> str | None:
    value = plan.requirements.notify
    return value if value in KINDS else None


def apm(plan: Plan) -> str | None:
    value = plan.requirements.apm
    return value if value in markers.APMS else None


def sends(plan: Plan, event: str, platform: Platform | None = None) -> bool:
    """Whether anything goes out on this event (in shell, when `platform` is given)."""
    notice = kind(plan) is not None and (platform is None or platform.shell_email or kind(plan) != "email")
    return notice or (apm(plan) is not None and event in markers.EVENTS)


def secrets(plan: Plan, event: str, platform: Platform | None = None, part: str | None = None) -> tuple[str, ...]:
    return _names(plan, event, platform, 0, part)


def variables(plan: Plan, event: str, platform: Platform | None = None, part: str | None = None) -> tuple[str, ...]:
    return _names(plan, event, platform, 1, part)


def _names(plan: Plan, event: str, platform: Platform | None, which: int, part: str | None) -> tuple[str, ...]:
    """`part`: "notice" or "marker" alone; None: both."""
    names: list[str] = []
    notice = kind(plan)
    if notice and part != "marker" and (platform is None or platform.shell_email or notice != "email"):
        names += SETTINGS[notice][which]
    marker = apm(plan)
    if marker and part != "notice" and event in markers.EVENTS:
        names += markers.SETTINGS[marker][which]
    return tuple(names)


# -- the shell ---------------------------------------------------------------------------------

POST_FUNCTION = [
    "post() {  # service, URL, JSON payload, more curl arguments: best effort, never fails the job",
    '  local service="$1" url="$2" payload="$3" response',
    "  shift 3",
    '  if ! response="$(curl --fail --silent --show-error --max-time 20 --retry 3 \\',
    "      --header 'Content-Type: application/json' \"$@\" --data \"${payload}\" \"${url}\")\"; then",
    "    WARN",
    "  elif jq --exit-status '(.errors? // []) | length > 0' <<< \"${response}\" > /dev/null 2>&1; then",
    "    WARN_ERRORS",  # NerdGraph answers 200 with an errors list
    "  fi",
    "}",
]


def _post_function(dialect: Dialect) -> list[str]:
    out: list[str] = []
    for line in POST_FUNCTION:
        if line == "    WARN":
            out.append("    " + dialect.warning("${service} did not take the message; the pipeline goes on."))
        elif line == "    WARN_ERRORS":
            out.append("    " + dialect.warning("${service} refused the message: ${response}"))
        else:
            out.append(line)
    return out


def prelude(plan: Plan, env: EnvironmentPlan, event: str, platform: Platform) -> list[str]:
    """The shell variables every notice and marker reads."""
    return [
        "# Values reach the JSON through jq --arg, never spliced into JSON text.",
        f"app={shlex.quote(plan.app_name)}",
        f"target={shlex.quote(env.name)}",
        f'version="{platform.version}"',
        f'run_url="{platform.run_url}"',
        f'text="${{app}} ${{target}}: {WORDS[event]}"',
    ]


def notice_lines(notice: str, dialect: Dialect) -> list[str]:
    """Send the text (and a link to the run) to Slack, Teams or by email."""
    if notice == "slack":
        return [
            'if [[ -n "${SLACK_WEBHOOK_URL:-}" ]]; then',
            '  payload="$(jq --null-input --compact-output --arg text "${text}" --arg url "${run_url}" \\',
            "    '{text: \"\\($text) (<\\($url)|run>)\"}')\"",
            '  post Slack "${SLACK_WEBHOOK_URL}" "${payload}"',
            "else",
            "  " + dialect.notice("SLACK_WEBHOOK_URL is not set: no Slack message."),
            "fi",
        ]
    if notice == "teams":
        return [
            'if [[ -n "${TEAMS_WEBHOOK_URL:-}" ]]; then',
            '  payload="$(jq --null-input --compact-output --arg text "${text}" --arg url "${run_url}" \\',
            "    '{type: \"message\", attachments: [{contentType: \"application/vnd.microsoft.card.adaptive\", "
            'content: {type: "AdaptiveCard", version: "1.4", body: [{type: "TextBlock", text: $text, '
            'wrap: true, weight: "Bolder"}], actions: [{type: "Action.OpenUrl", title: "Open the run", '
            "url: $url}]}}]}')\"",
            '  post Teams "${TEAMS_WEBHOOK_URL}" "${payload}"',
            "else",
            "  " + dialect.notice("TEAMS_WEBHOOK_URL is not set: no Teams message."),
            "fi",
        ]
    return [
        'if [[ -n "${SMTP_URL:-}" && -n "${NOTIFY_EMAIL_FROM:-}" && -n "${NOTIFY_EMAIL_TO:-}" ]]; then',
        "  mail_args=()",
        '  IFS=, read -ra recipients <<< "${NOTIFY_EMAIL_TO}"',
        '  for recipient in "${recipients[@]}"; do',
        '    mail_args+=(--mail-rcpt "${recipient// /}")',
        "  done",
        '  if [[ -n "${SMTP_USERNAME:-}" ]]; then',
        '    mail_args+=(--user "${SMTP_USERNAME}:${SMTP_PASSWORD:-}")',
        "  fi",
        "  if ! printf 'From: %s\\r\\nTo: %s\\r\\nSubject: %s\\r\\n\\r\\n%s\\r\\n' \\",
        '      "${NOTIFY_EMAIL_FROM}" "${NOTIFY_EMAIL_TO}" "${text}" "Run: ${run_url}" \\',
        '    | curl --fail --silent --show-error --max-time 30 --ssl-reqd --url "${SMTP_URL}" \\',
        '      --mail-from "${NOTIFY_EMAIL_FROM}" "${mail_args[@]}" --upload-file -; then',
        "    " + dialect.warning("the SMTP relay did not take the message; the pipeline goes on."),
        "  fi",
        "else",
        "  " + dialect.notice("SMTP_URL, NOTIFY_EMAIL_FROM or NOTIFY_EMAIL_TO is not set: no email."),
        "fi",
    ]


def lines(
    plan: Plan, env: EnvironmentPlan, event: str, platform: Platform, dialect: Dialect, part: str | None = None
) -> list[str]:
    """The whole script of one event: the notice, then the marker (`part`: one of them)."""
    notice = kind(plan)
    body: list[str] = []
    if notice and part != "marker" and (platform.shell_email or notice != "email"):
        body += notice_lines(notice, dialect)
    marker = apm(plan)
    if marker and part != "notice":
        body += markers.marker_lines(marker, event, dialect)
    if not body:
        return []
    guard = [macro_guard(name) for name in secrets(plan, event, platform, part) if platform.unset_literal]
    return [*prelude(plan, env, event, platform), *guard, *_post_function(dialect), *body]


def macro_guard(name: str) -> str:
    """Azure Pipelines passes `$(NAME)` through as text when the variable is not defined."""
    return f'if [[ "${{{name}:-}}" == "\\$("* ]]; then {name}=""; fi  # not defined: Azure left the macro'


NAMES = {"slack": "a Slack message", "teams": "a Microsoft Teams message", "email": "an email",
         "grafana": "a Grafana annotation", "datadog": "a Datadog event", "newrelic": "a New Relic deployment"}


def _note(plan: Plan, event: str) -> str:
    what = [NAMES[name] for name in (kind(plan), apm(plan) if event in markers.EVENTS else None) if name]
    text = " and ".join(what)
    return f"{text[0].upper()}{text[1:]}, best effort: a service that is down never fails the pipeline."


# -- DEPLOYMENT.md ----------------------------------------------------------------------------

_STORES = {
    "github": ("repository secrets", "repository variables (Settings → Secrets and variables → Actions)"),
    "gitlab": ("masked, protected CI/CD variables", "CI/CD variables (Settings → CI/CD → Variables)"),
    "azure": (
        "secret variables of the `deploy-<environment>` variable groups",
        "variables of the same groups (Pipelines → Library)",
    ),
    "jenkins": (
        "Secret text credentials with the ids {ids}",
        "global environment variables (Manage Jenkins → System → Global properties)",
    ),
    "circleci": ("environment variables of the deploy contexts", "the same contexts (Organization Settings)"),
}


def setup_steps(plan: Plan) -> list[str]:
    """The one-time setup of the notifications and markers, for DEPLOYMENT.md."""
    if kind(plan) is None and apm(plan) is None:
        return []
    ci_name = plan.requirements.ci if plan.requirements.ci in _STORES else "github"
    platform = JENKINS if ci_name == "jenkins" else GITHUB
    names_secret = tuple(dict.fromkeys(n for e in EVENTS for n in secrets(plan, e, platform)))
    names_plain = tuple(dict.fromkeys(n for e in EVENTS for n in variables(plan, e, platform)))
    secret_store, plain_store = _STORES[ci_name]
    secret_store = secret_store.format(ids=", ".join(f"`{credential_id(n)}`" for n in names_secret))
    what = [NAMES[name] for name in (kind(plan), apm(plan)) if name]
    text = (
        f"Deploy notifications and markers ({' and '.join(what)}): every deploy announces its start, "
        "success or failure, and Verify its rollback. "
    )
    if names_secret:
        text += f"Store {', '.join(f'`{n}`' for n in names_secret)} as {secret_store}. "
    if names_plain:
        text += f"Set {', '.join(f'`{n}`' for n in names_plain)} as {plain_store}. "
    if kind(plan) == "email" and ci_name == "jenkins":
        text += (
            "Email goes through Jenkins' own `mail` step: configure the SMTP server once (Manage Jenkins → "
            "System → E-mail Notification) and set the global environment variable `NOTIFY_EMAIL_TO` to "
            "the team's addresses. "
        )
    elif kind(plan) == "email":
        text += (
            "The platform's own emails are personal settings (failed runs, to whoever started them), so "
            "the pipeline mails the team through your SMTP relay: `SMTP_URL` is `smtps://host:465` or "
            "`smtp://host:587` (TLS is required), `NOTIFY_EMAIL_TO` a comma-separated list. "
        )
    text += (
        "Until they are set each step prints a notice and passes; a service that is down gives a "
        "warning, never a failed deploy."
    )
    return [text]


# -- GitHub Actions ----------------------------------------------------------------------------


def github_steps(plan: Plan, env: EnvironmentPlan, event: str, condition: str, dialect: Dialect) -> list[Any]:
    """A step that runs under `condition`, its secrets and variables in its own env."""
    body = lines(plan, env, event, GITHUB, dialect)
    if not body:
        return []
    step_env = {
        **{name: f"${{{{ secrets.{name} }}}}" for name in secrets(plan, event, GITHUB)},
        **{name: f"${{{{ vars.{name} }}}}" for name in variables(plan, event, GITHUB)},
    }
    step = {"name": TITLES[event], "if": condition, "env": step_env, "run": script(body)}
    return [comment(step, _note(plan, event))]


# -- GitLab CI ---------------------------------------------------------------------------------


def gitlab_script(plan: Plan, env: EnvironmentPlan, event: str) -> list[str]:
    """A `script` entry (the start of a deploy)."""
    body = lines(plan, env, event, GITLAB, PLAIN)
    return [script(body)] if body else []


def gitlab_after_script(plan: Plan, env: EnvironmentPlan, on: dict[str, str]) -> list[str]:
    """An `after_script` entry: CI_JOB_STATUS (success, failed) → the event it announces."""
    cases: list[str] = []
    for status, event in on.items():
        body = lines(plan, env, event, GITLAB, PLAIN)
        if body:
            cases += [f"  {status})", *("    " + line for line in body), "    ;;"]
    if not cases:
        return []
    return [script(['case "${CI_JOB_STATUS}" in', *cases, "esac"])]


# -- Azure Pipelines ---------------------------------------------------------------------------


def azure_steps(plan: Plan, env: EnvironmentPlan, event: str, condition: str, dialect: Dialect) -> list[Any]:
    """A bash step under `condition`; secret variables must be mapped into env to be seen."""
    body = lines(plan, env, event, AZURE, dialect)
    if not body:
        return []
    step: dict[str, Any] = {"bash": script(["set -eo pipefail", *body]), "displayName": TITLES[event]}
    names = secrets(plan, event, AZURE)
    if names:
        step["env"] = {name: f"$({name})" for name in names}
    step["condition"] = condition
    return [step]


# -- CircleCI ----------------------------------------------------------------------------------


def circleci_steps(plan: Plan, env: EnvironmentPlan, event: str, when: str | None) -> list[Any]:
    """A run step (`when`: on_success, on_fail, or None for always-in-order)."""
    body = lines(plan, env, event, CIRCLECI, PLAIN)
    if not body:
        return []
    step: dict[str, Any] = {"name": TITLES[event], "command": script(body), "no_output_timeout": "5m"}
    if when:
        step["when"] = when
    return [{"run": step}]


# -- Jenkins -----------------------------------------------------------------------------------


def credential_id(name: str) -> str:
    """The Jenkins credential that holds a secret: SLACK_WEBHOOK_URL → slack-webhook-url."""
    return name.lower().replace("_", "-")


def jenkins_nodes(plan: Plan, env: EnvironmentPlan, event: str) -> list[Any]:
    """Jenkins steps (render.jenkins nodes) for one event, inside catchError so that a
    missing credential or a failed send never changes the build result; the notice and the
    marker each bind their own credentials, so one not set up yet never holds back the other."""
    from deploysmith.render import jenkins as groovy  # jenkins imports this module

    nodes: list[Any] = []
    for part in ("notice", "marker"):
        body = lines(plan, env, event, JENKINS, PLAIN, part)
        if not body:
            continue
        bound = ", ".join(
            f"string(credentialsId: {groovy.q(credential_id(name))}, variable: {groovy.q(name)})"
            for name in secrets(plan, event, JENKINS, part)
        )
        label = TITLES[event] + (" (marker)" if part == "marker" else "")
        step: Any = groovy.sh(label, body)
        if bound:
            step = groovy.Block(f"withCredentials([{bound}])", [step])
        nodes.append(_catch(groovy, label, [step]))
    if kind(plan) == "email":
        nodes.insert(0, _catch(groovy, TITLES[event] + " (mail)", [_mail(groovy, plan, env, event)]))
    if not nodes:
        return []
    nodes[0].comment = _note(plan, event)
    return nodes


def _catch(groovy: Any, what: str, body: list[Any]) -> Any:
    return groovy.Block(
        "catchError(buildResult: 'SUCCESS', stageResult: 'SUCCESS', message: " + groovy.q(f"{what}: not sent") + ")",
        body,
    )


def _mail(groovy: Any, plan: Plan, env: EnvironmentPlan, event: str) -> Any:
    return groovy.Line(
        f"mail(to: env.NOTIFY_EMAIL_TO, subject: {_jenkins_subject(plan, env, event)}, body: 'Run: ' + env.BUILD_URL)"
    )


def _jenkins_subject(plan: Plan, env: EnvironmentPlan, event: str) -> str:
    """A Groovy expression: single-quoted literals joined with the commit (no interpolation)."""
    from deploysmith.render import jenkins as groovy

    before, _, after = WORDS[event].partition("${version:0:12}")
    head = groovy.q(f"{plan.app_name} {env.name}: {before}")
    tail = f" + {groovy.q(after)}" if after else ""
    return f"{head} + env.GIT_COMMIT.take(12){tail}"


__all__ = [
    "AZURE",
    "CIRCLECI",
    "EVENTS",
    "GITHUB",
    "GITLAB",
    "JENKINS",
    "KINDS",
    "Platform",
    "SETTINGS",
    "TITLES",
    "apm",
    "azure_steps",
    "circleci_steps",
    "credential_id",
    "github_steps",
    "gitlab_after_script",
    "gitlab_script",
    "jenkins_nodes",
    "kind",
    "lines",
    "macro_guard",
    "secrets",
    "sends",
    "setup_steps",
    "variables",
]
