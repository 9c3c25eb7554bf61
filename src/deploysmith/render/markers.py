"""Deployment markers: after each successful deploy, and after a rollback, the pipeline tells
the APM where the change happened (`Requirements.apm`), so a graph that moves can be read
against the deploy that moved it.

    grafana    POST {GRAFANA_URL}/api/annotations, tags `deploy`, the app, `env:<env>`,
               `version:<sha>` (and `rollback`); the kit's dashboard shows the annotations
               tagged `deploy` and the app (monitoring_dashboard.DEPLOY_TAG). Token: a
               service account token with the annotations:write permission (GRAFANA_TOKEN).
    datadog    POST https://api.{DD_SITE}/api/v1/events with the unified service tags
               service/env/version. v1, not v2: v2 events are generally available only for
               the `change` and `alert` categories, whose changed-resource types do not name a
               deployment, and v2 moved to a separate intake host; v1 takes any event with tags.
    newrelic   NerdGraph `changeTrackingCreateDeployment` on NEW_RELIC_ENTITY_GUID with a user
               API key (NEW_RELIC_API_KEY); GraphQL variables carry the values.

Payloads are built by `jq --null-input --arg …`: every value enters JSON as a string
argument, never spliced into JSON text. Posting is best effort: an APM that is down or not
configured yet gives a warning (or a notice) and the deploy goes on.
"""

from __future__ import annotations

from deploysmith.render.ci_common import Dialect
from deploysmith.render.monitoring_dashboard import DEPLOY_TAG

APMS = ("grafana", "datadog", "newrelic")
EVENTS = ("success", "rollback")  # a marker says what runs now: a deploy that finished, or a rollback
NEW_RELIC_API = "https://api.newrelic.com/graphql"  # EU accounts: https://api.eu.newrelic.com/graphql
DATADOG_SITE = "datadoghq.com"

# apm → (secrets, plain variables) the marker reads
SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "grafana": (("GRAFANA_TOKEN",), ("GRAFANA_URL",)),
    "datadog": (("DD_API_KEY",), ("DD_SITE",)),
    "newrelic": (("NEW_RELIC_API_KEY",), ("NEW_RELIC_ENTITY_GUID", "NEW_RELIC_API_URL")),
}

_NERDGRAPH = (
    "mutation($deployment: ChangeTrackingDeploymentInput!) "
    "{ changeTrackingCreateDeployment(deployment: $deployment) { deploymentId } }"
)


def tags(app: str, env: str, version: str, event: str) -> list[str]:
    """The Grafana annotation's tags (what the dashboard's Deploys annotation filters on)."""
    return [DEPLOY_TAG, app, f"env:{env}", f"version:{version}", *(["rollback"] if event == "rollback" else [])]


def marker_lines(apm: str, event: str, dialect: Dialect) -> list[str]:
    """Post one marker. Expects the shell variables app, target, version, run_url and text
    (set by notify.prelude) and the function post (notify.POST_FUNCTION)."""
    if apm not in APMS or event not in EVENTS:
        return []
    rollback = event == "rollback"
    if apm == "grafana":
        extra = ', "rollback"' if rollback else ""
        return [
            'if [[ -n "${GRAFANA_URL:-}" && -n "${GRAFANA_TOKEN:-}" ]]; then',
            '  payload="$(jq --null-input --compact-output --arg app "${app}" --arg env "${target}" \\',
            '    --arg version "${version}" --arg text "${text}" --arg url "${run_url}" \\',
            f'    \'{{tags: ["{DEPLOY_TAG}", $app, "env:\\($env)", "version:\\($version)"{extra}], '
            'text: "\\($text) \\($url)"}\')"',
            '  post Grafana "${GRAFANA_URL%/}/api/annotations" "${payload}" \\',
            '    --header "Authorization: Bearer ${GRAFANA_TOKEN}"',
            "else",
            "  " + dialect.notice("GRAFANA_URL or GRAFANA_TOKEN is not set: no Grafana annotation."),
            "fi",
        ]
    if apm == "datadog":
        alert = "error" if rollback else "success"
        return [
            'if [[ -n "${DD_API_KEY:-}" ]]; then',
            '  payload="$(jq --null-input --compact-output --arg app "${app}" --arg env "${target}" \\',
            '    --arg version "${version}" --arg text "${text}" --arg url "${run_url}" \\',
            f'    \'{{title: $text, text: "Run: \\($url)", alert_type: "{alert}", aggregation_key: '
            '"deploy:\\($app):\\($env)", '
            f'tags: ["service:\\($app)", "env:\\($env)", "version:\\($version)", "{DEPLOY_TAG}"]}}\')"',
            f'  post Datadog "https://api.${{DD_SITE:-{DATADOG_SITE}}}/api/v1/events" "${{payload}}" \\',
            '    --header "DD-API-KEY: ${DD_API_KEY}"',
            "else",
            "  " + dialect.notice("DD_API_KEY is not set: no Datadog event."),
            "fi",
        ]
    return [
        'if [[ -n "${NEW_RELIC_API_KEY:-}" && -n "${NEW_RELIC_ENTITY_GUID:-}" ]]; then',
        '  payload="$(jq --null-input --compact-output --arg guid "${NEW_RELIC_ENTITY_GUID}" \\',
        '    --arg version "${version}" --arg text "${text}" --arg url "${run_url}" \\',
        f"    --arg query '{_NERDGRAPH}' \\",
        "    '{query: $query, variables: {deployment: {entityGuid: $guid, version: $version, commit: $version, "
        'deepLink: $url, deploymentType: "BASIC", description: $text}}}\')"',
        f'  post "New Relic" "${{NEW_RELIC_API_URL:-{NEW_RELIC_API}}}" "${{payload}}" \\',
        '    --header "API-Key: ${NEW_RELIC_API_KEY}"',
        "else",
        "  " + dialect.notice("NEW_RELIC_API_KEY or NEW_RELIC_ENTITY_GUID is not set: no New Relic deployment."),
        "fi",
    ]


__all__ = ["APMS", "EVENTS", "SETTINGS", "marker_lines", "tags"]
