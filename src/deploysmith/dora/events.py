"""Delivery events: deployments and incidents, read from the user's records.

Deployments come from one of:

- git tags whose name matches a glob (`v*`): each tag is a successful production deploy at
  the tag's date (tagger date of an annotated tag, committer date of a lightweight one);
- a deployment log, JSON lines, one object a line with exactly these fields:
  `id` (optional), `sha`, `environment`, `status`, `started` (optional, may be null),
  `finished` (ISO 8601; no offset means UTC). Unknown fields are an error: a typo
  (`finshed`) must not silently drop data;
- a GitHub export the user downloaded: deployments (`gh api repos/O/R/deployments`, each
  optionally carrying its `statuses` list, or GraphQL nodes with `state`/`latestStatus`),
  or workflow runs (`gh api repos/O/R/actions/runs`, `gh run list --json ...`). Runs carry
  no environment: export only the deploy workflow's runs.

Incidents come from a JSON export of issues (`gh issue list --state all --json
number,title,body,labels,createdAt,closedAt`, or the REST issues list); issues with a label
matching the pattern are incidents. A line `root cause: <sha>` in the body links the incident
to the deployment that shipped that commit; without one, the metrics link it to the last
deployment before it opened.

Every problem in an input file is a DeploysmithError naming the file and line (or item).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from deploysmith.dora import git
from deploysmith.errors import DeploysmithError

Status = Literal["success", "failure"]

LOG_FIELDS = ("id", "sha", "environment", "status", "started", "finished")
LOG_REQUIRED = ("sha", "environment", "status", "finished")

# Status words from deployment logs, GitHub deployment states and workflow-run conclusions.
_SUCCESS = frozenset({"success", "succeeded", "successful", "ok", "active", "inactive"})
_FAILURE = frozenset({"failure", "failed", "error", "errored", "timed_out", "startup_failure"})
_NOT_DONE = frozenset(
    {
        "pending",
        "queued",
        "in_progress",
        "waiting",
        "requested",
        "cancelled",
        "canceled",
        "skipped",
        "neutral",
        "action_required",
        "stale",
        "abandoned",
        "destroyed",
    }
)
_ROOT_CAUSE = re.compile(
    r"^[ \t>*_-]*root[ -]cause:[ \t*_`]*([0-9a-fA-F]{7,40})\b", re.IGNORECASE | re.MULTILINE
)


@dataclass(frozen=True)
class Deployment:
    id: str
    sha: str  # full commit id
    environment: str
    status: Status
    started: datetime | None
    finished: datetime  # UTC
    source: str  # where it was read: "tag v1.2.0", "deploys.jsonl:12", "runs.json item 3"


@dataclass(frozen=True)
class Incident:
    id: str
    opened: datetime  # UTC
    closed: datetime | None
    root_cause: str | None  # as written in the issue (full or abbreviated commit id)
    source: str


@dataclass(frozen=True)
class Events:
    deployments: tuple[Deployment, ...]
    description: str  # what the deployments were read from, for the report
    notes: tuple[str, ...] = ()


# -- deployments from git tags -------------------------------------------------------------


def deployments_from_tags(repo: Path, pattern: str) -> Events:
    notes: list[str] = []
    found: list[Deployment] = []
    not_commits = lightweight = 0
    for tag in git.list_tags(repo):
        if not fnmatch.fnmatchcase(tag.name, pattern):
            continue
        if tag.commit is None:
            not_commits += 1
            continue
        lightweight += not tag.annotated
        found.append(
            Deployment(
                id=tag.name,
                sha=tag.commit,
                environment="production",
                status="success",
                started=None,
                finished=tag.created,
                source=f"tag {tag.name}",
            )
        )
    if not_commits:
        notes.append(f"{not_commits} tag(s) matching {pattern!r} point at no commit and were skipped")
    if lightweight:
        notes.append(
            f"{lightweight} lightweight tag(s): their commit date is taken as the deploy time "
            "(annotated tags carry the release time)"
        )
    if not found:
        notes.append(f"no git tag matches {pattern!r}; pass --tag-pattern or --deployments FILE")
    return Events(tuple(found), f"git tags matching {pattern!r}", tuple(notes))


# -- deployments from a file -----------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    id: str
    rev: str
    environment: str | None  # None: the record carries no environment (workflow runs)
    status: str
    started: datetime | None
    finished: datetime
    where: str
    status_missing: bool = False  # a GitHub deployment exported without its statuses


def deployments_from_file(repo: Path, path: str, environments: Sequence[str]) -> Events:
    """Read a JSON-lines deployment log or a GitHub export; keep completed deployments to
    `environments` (case-insensitive); resolve every sha in the repository."""
    text = _read(path, "deployment file (--deployments)")
    name = Path(path).name
    document = _whole_json(text)
    if document is not None and _is_export(document):
        raws, kind = _from_export(document, name)
    else:
        raws, kind = _from_log(text, name), "deployment log"
    wanted = {env.casefold() for env in environments}
    notes: list[str] = []
    other_env = not_done = 0
    kept: list[_Raw] = []
    for raw in raws:
        if raw.environment is not None and raw.environment.casefold() not in wanted:
            other_env += 1
        elif raw.status in _NOT_DONE:
            not_done += 1
        else:
            kept.append(raw)
    if other_env:
        notes.append(f"{other_env} deployment(s) to other environments than {'/'.join(environments)} ignored")
    if not_done:
        notes.append(f"{not_done} deployment(s) not completed (pending, cancelled, skipped, ...) ignored")
    missing_status = sum(raw.status_missing for raw in kept)
    if missing_status:
        notes.append(
            f"{missing_status} GitHub deployment(s) exported without a status were counted as successful "
            "(add each deployment's `statuses` to the export to count failures)"
        )
    if any(raw.environment is None for raw in raws):
        notes.append(
            "workflow runs carry no environment: every run in the export counts as a deployment "
            "(export only the deploy workflow's runs)"
        )
    resolved = git.resolve_commits(repo, (raw.rev for raw in kept))
    deployments: list[Deployment] = []
    for raw in kept:
        sha = resolved.get(raw.rev)
        if sha is None:
            raise DeploysmithError(
                f"{raw.where}: commit {raw.rev} is not in the repository at {repo} "
                "(fetch it, or check the sha)"
            )
        deployments.append(
            Deployment(
                id=raw.id,
                sha=sha,
                environment=raw.environment or "production",
                status="success" if raw.status in _SUCCESS else "failure",
                started=raw.started,
                finished=raw.finished,
                source=raw.where,
            )
        )
    return Events(tuple(deployments), f"{kind} {name}", tuple(notes))


def _read(path: str, what: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise DeploysmithError(f"{path}: no such file ({what}); check the path")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DeploysmithError(f"{path}: not UTF-8 text (byte {error.start}); export it as JSON") from None
    except OSError as error:
        raise DeploysmithError(f"{path}: cannot read it ({error.strerror})") from None


def _whole_json(text: str) -> Any:
    stripped = text.lstrip()
    if not stripped.startswith(("[", "{")):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _is_export(document: Any) -> bool:
    return isinstance(document, list) or (
        isinstance(document, dict) and ("workflow_runs" in document or "deployments" in document)
    )


def _from_log(text: str, name: str) -> list[_Raw]:
    raws: list[_Raw] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DeploysmithError(f"{where}: not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(record, dict):
            raise DeploysmithError(f"{where}: expected a JSON object with {', '.join(LOG_FIELDS)}")
        unknown = sorted(set(record) - set(LOG_FIELDS))
        if unknown:
            raise DeploysmithError(
                f"{where}: unknown field {unknown[0]!r} (a deployment line has {', '.join(LOG_FIELDS)})"
            )
        missing = [key for key in LOG_REQUIRED if record.get(key) is None]
        if missing:
            raise DeploysmithError(f"{where}: missing {missing[0]!r}")
        status = _string(record["status"], where, "status").strip().lower()
        if status not in _SUCCESS | _FAILURE | _NOT_DONE:
            raise DeploysmithError(
                f"{where}: status {record['status']!r} is not success, failure or a pending state"
            )
        started = None if record.get("started") is None else _time(record["started"], where, "started")
        finished = _time(record["finished"], where, "finished")
        if started is not None and finished < started:
            raise DeploysmithError(
                f"{where}: finished ({record['finished']}) is before started ({record['started']})"
            )
        raws.append(
            _Raw(
                id=_ident(record.get("id"), where, default=f"{name}:{number}"),
                rev=_string(record["sha"], where, "sha").strip(),
                environment=_string(record["environment"], where, "environment"),
                status=status,
                started=started,
                finished=finished,
                where=where,
            )
        )
    return raws


def _from_export(document: Any, name: str) -> tuple[list[_Raw], str]:
    items: Any = document
    if isinstance(document, dict):
        items = document.get("workflow_runs", document.get("deployments"))
        if isinstance(items, dict):  # GraphQL connection: {"nodes": [...]}
            items = items.get("nodes")
    if not isinstance(items, list):
        raise DeploysmithError(f"{name}: expected a list of GitHub deployments or workflow runs")
    raws: list[_Raw] = []
    kinds: set[str] = set()
    for number, item in enumerate(items, 1):
        where = f"{name} item {number}"
        if not isinstance(item, dict):
            raise DeploysmithError(f"{where}: expected a JSON object")
        if "head_sha" in item or "headSha" in item:
            raws.append(_run(item, where))
            kinds.add("GitHub workflow runs")
        elif any(key in item for key in ("sha", "commitOid", "commit")):
            raws.append(_github_deployment(item, where))
            kinds.add("GitHub deployments")
        else:
            raise DeploysmithError(
                f"{where}: neither a GitHub deployment (sha, environment, created_at) nor a workflow run "
                "(head_sha, conclusion, updated_at)"
            )
    return raws, " and ".join(sorted(kinds)) or "GitHub export"


def _run(item: Mapping[str, Any], where: str) -> _Raw:
    sha = _field(item, where, "head_sha", "headSha")
    status = str(_field(item, where, "status", "status")).lower()
    conclusion = item.get("conclusion")
    state = status if status != "completed" else str(conclusion or "neutral").lower()
    if state not in _SUCCESS | _FAILURE | _NOT_DONE:
        raise DeploysmithError(f"{where}: unknown run conclusion {conclusion!r}")
    started_raw = (
        item.get("run_started_at") or item.get("startedAt") or item.get("created_at") or item.get("createdAt")
    )
    finished = _time(_field(item, where, "updated_at", "updatedAt"), where, "updated_at")
    return _Raw(
        id=_ident(item.get("id", item.get("databaseId")), where, default=where),
        rev=_string(sha, where, "head_sha"),
        environment=None,
        status=state,
        started=None if started_raw is None else _time(started_raw, where, "run_started_at"),
        finished=finished,
        where=where,
    )


def _github_deployment(item: Mapping[str, Any], where: str) -> _Raw:
    """A deployment from the REST API (with its `statuses` added, if the user did) or a
    GraphQL node (`state`, `latestStatus`). Finished: the newest status's time."""
    commit = item.get("commit")
    sha = (
        item.get("sha") or item.get("commitOid") or (commit.get("oid") if isinstance(commit, dict) else None)
    )
    environment = _field(item, where, "environment", "environment")
    if isinstance(environment, dict):  # GraphQL: {"name": ...}
        environment = environment.get("name")
    created_raw = _field(item, where, "created_at", "createdAt")
    created = _time(created_raw, where, "created_at")
    statuses = item.get("statuses")
    latest = item.get("latestStatus")
    if isinstance(statuses, list) and statuses:
        newest = max(statuses, key=lambda s: str(s.get("created_at", "")) if isinstance(s, dict) else "")
        newest = newest if isinstance(newest, dict) else {}
        state, finished_raw = newest.get("state"), newest.get("created_at")
    elif isinstance(latest, dict):
        state, finished_raw = latest.get("state"), latest.get("createdAt")
    else:
        state, finished_raw = (
            item.get("state") or item.get("status"),
            item.get("updated_at", item.get("updatedAt")),
        )
    finished = created if finished_raw is None else _time(finished_raw, where, "status created_at")
    word = str(state or "success").lower()  # no status exported: a success, said in the notes
    if word not in _SUCCESS | _FAILURE | _NOT_DONE:
        raise DeploysmithError(f"{where}: unknown deployment state {state!r}")
    return _Raw(
        id=_ident(item.get("id"), where, default=where),
        rev=_string(sha, where, "sha"),
        environment=_string(environment, where, "environment"),
        status=word,
        started=created,
        finished=max(finished, created),
        where=where,
        status_missing=state is None,
    )


# -- incidents -----------------------------------------------------------------------------


def incidents_from_file(path: str, label_pattern: str) -> tuple[list[Incident], list[str]]:
    """Issues whose labels match `label_pattern` (a glob, case-insensitive); pull requests
    in a REST export are skipped."""
    text = _read(path, "incidents file (--incidents)")
    name = Path(path).name
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DeploysmithError(f"{name}:{error.lineno}: not valid JSON ({error.msg})") from None
    items = document.get("items", document.get("issues")) if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise DeploysmithError(f"{name}: expected a JSON list of issues (gh issue list --json ...)")
    pattern = label_pattern.casefold()
    incidents: list[Incident] = []
    for number, item in enumerate(items, 1):
        where = f"{name} item {number}"
        if not isinstance(item, dict):
            raise DeploysmithError(f"{where}: expected a JSON object (an issue)")
        if "pull_request" in item:
            continue
        labels = [_label(label, where) for label in item.get("labels") or []]
        if not any(fnmatch.fnmatchcase(label.casefold(), pattern) for label in labels):
            continue
        opened = _time(_field(item, where, "created_at", "createdAt"), where, "created_at")
        closed_raw = item.get("closed_at", item.get("closedAt"))
        closed = _time(closed_raw, where, "closed_at") if closed_raw else None
        if closed is not None and closed < opened:
            raise DeploysmithError(f"{where}: closed ({closed_raw}) before it was opened")
        match = _ROOT_CAUSE.search(f"{item.get('title') or ''}\n{item.get('body') or ''}")
        incidents.append(
            Incident(
                id=_ident(item.get("number", item.get("id")), where, default=where),
                opened=opened,
                closed=closed,
                root_cause=match.group(1).lower() if match else None,
                source=where,
            )
        )
    notes = [] if incidents else [f"no issue in {name} has a label matching {label_pattern!r}"]
    return incidents, notes


def _label(label: Any, where: str) -> str:
    if isinstance(label, str):
        return label
    if isinstance(label, dict) and isinstance(label.get("name"), str):
        return str(label["name"])
    raise DeploysmithError(f"{where}: a label is neither a name nor an object with a name")


# -- small readers ---------------------------------------------------------------------------


def _field(item: Mapping[str, Any], where: str, key: str, alternative: str) -> Any:
    value = item.get(key, item.get(alternative))
    if value is None:
        raise DeploysmithError(f"{where}: missing {key!r}")
    return value


def _string(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DeploysmithError(f"{where}: {key!r} must be a non-empty string, not {json.dumps(value)}")
    return value


def _ident(value: Any, where: str, *, default: str) -> str:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DeploysmithError(f"{where}: 'id' must be a string or a number")
    return str(value)


def _time(value: Any, where: str, key: str) -> datetime:
    """An ISO 8601 timestamp, in UTC; no offset means UTC."""
    if not isinstance(value, str):
        raise DeploysmithError(f"{where}: {key!r} must be an ISO 8601 timestamp, not {json.dumps(value)}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise DeploysmithError(f"{where}: {key!r} is not an ISO 8601 timestamp: {value!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
