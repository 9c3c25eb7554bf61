"""The four keys for a period, from deployments, incidents and the history between them.

Definitions (all times UTC; the period is [start, end); the report is a snapshot as of
`end`: whatever happened later is not known to it):

- Deployments: the deployments to the environment that finished in the period, successful
  or failed. Deployment frequency counts the successful ones per week (period length / 7 d).
- Lead time for changes: for each commit shipped first by a successful deployment in the
  period (see changes.py), deploy finished − committer date; the median, in hours.
- A deployment is a *change failure* when
  (a) its own status is a failure; or
  (b) an incident is linked to it (by a `root cause: <sha>` line naming a commit it shipped
      first, or else as the last successful deployment that finished before the incident
      opened); or
  (c) a later deployment ships a commit reverting one it shipped (`git revert`'s "This
      reverts commit <sha>." line; reverting a revert, "Reapply ...", is not a failure); or
  (d) a later deployment rolls back to an older commit (redeploys a commit already shipped
      that is not the one running): the deployment it replaced failed.
  Change failure rate = failed deployments in the period / deployments in the period. A
  change reverted before any deployment shipped it is not a failure: it never reached
  production.
- Failed deployment recovery time: for each failed deployment in the period, from its
  finish to the earliest of: the next successful deployment (after a failed status), the
  revert or rollback deployment, the linked incident's close; the median, in hours.
- Time to restore: for each incident opened in the period, opened → closed; the median, in
  hours. Needs an incidents file.
- Trend: per ISO week (Monday 00:00 UTC) overlapping the period: deployments (all, and
  successful), change failures among them, and the median lead time of the changes
  shipped that week.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from deploysmith.dora import changes, git
from deploysmith.dora.events import Deployment, Incident
from deploysmith.dora.levels import Level, Metric, Report, classify

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC

    @property
    def weeks(self) -> float:
        return (self.end - self.start) / timedelta(days=7)

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Measure:
    """One key metric: its value (None: no data, the reason is in the notes), its level,
    and how many observations it rests on."""

    value: float | None
    level: Level | None
    count: int


@dataclass(frozen=True)
class Week:
    week: str  # ISO week, "2024-W05"
    start: date  # its Monday
    deployments: int  # finished that week, successful and failed
    successful: int
    failed: int  # change failures among them
    lead_time_median_hours: float | None


@dataclass(frozen=True)
class Failure:
    deployment: Deployment
    reasons: tuple[str, ...]
    recovered: datetime | None


@dataclass(frozen=True)
class Metrics:
    period: Period
    thresholds: Report
    source: str
    deployments: int  # in the period, successful and failed
    successful: int
    deployment_frequency: Measure  # deploys per week
    lead_time: Measure  # median hours; count = changes
    change_failure_rate: Measure  # ratio; count = failed deployments
    time_to_restore: Measure  # median hours; count = restored incidents
    recovery_time: Measure  # failed deployment recovery, median hours; count = recoveries
    failures: tuple[Failure, ...]
    trend: tuple[Week, ...]
    notes: tuple[str, ...]


def measure(
    repo: Path,
    deployments: Sequence[Deployment],
    incidents: Sequence[Incident] | None,
    period: Period,
    *,
    thresholds: Report = "2023",
    source: str = "",
    notes: Sequence[str] = (),
) -> Metrics:
    said = list(notes)
    known = sorted((d for d in deployments if d.finished < period.end), key=lambda d: d.finished)
    successful = [d for d in known if d.status == "success"]
    in_period = [d for d in known if d.finished in period]
    first = bisect.bisect_left([d.finished for d in successful], period.start)
    measured = list(range(first, len(successful)))
    excluded = list(range(first))
    if measured and not excluded:
        said.append(
            f"the first deployment ({successful[0].id}) has no earlier deployment to compare with: "
            "the commits it shipped are not counted for lead time"
        )
        excluded, measured = [0], measured[1:]
    incidents = _resolve_root_causes(repo, incidents, period, said)
    root_causes = {i.root_cause for i in incidents or () if i.root_cause}
    shipped = changes.attribute(repo, successful, measured, excluded, root_causes)

    failures = _failures(successful, known, incidents or (), period, shipped, said)
    failed_in_period = [d for d in in_period if d in failures]

    lead_hours = [lead / SECONDS_PER_HOUR for n in measured for lead in shipped.lead_times.get(n, ())]
    if shipped.skewed:
        said.append(
            f"{shipped.skewed} commit(s) are dated after the deployment that shipped them "
            "(clock skew): their lead time counts as 0"
        )
    if shipped.merges:
        said.append(f"{shipped.merges} merge commit(s) not counted as changes (the commits they merge are)")
    empty = sum(1 for n in measured if not shipped.lead_times.get(n))
    if empty:
        said.append(
            f"{empty} deployment(s) shipped no new commits (redeploys or rollbacks): "
            "they count for frequency, not for lead time"
        )

    count = len(in_period)
    succeeded = sum(1 for d in in_period if d.status == "success")
    per_week: float | None = succeeded / period.weeks
    if not deployments:
        said.append("no deployments found: nothing to measure")
        per_week = None
    elif not count:
        said.append("no deployments in the period: frequency is 0 and the other keys have no data")
    frequency = Measure(per_week, classify(thresholds, "deployment_frequency", per_week), succeeded)
    lead = _median_measure(lead_hours, thresholds, "lead_time")
    if count and not lead_hours:
        said.append("lead time: no commit shipped in the period could be measured")
    ratio = len(failed_in_period) / count if count else None
    failure_rate = Measure(ratio, classify(thresholds, "change_failure_rate", ratio), len(failed_in_period))

    recoveries = [
        (recovered - d.finished) / timedelta(hours=1)
        for d in failed_in_period
        if (recovered := failures[d].recovered) is not None
    ]
    unrecovered = len(failed_in_period) - len(recoveries)
    if unrecovered:
        said.append(f"{unrecovered} failed deployment(s) not recovered by the end of the period")
    if count and not failed_in_period:
        said.append("failed deployment recovery time: no change failure in the period")
    recovery = _median_measure([max(0.0, h) for h in recoveries], thresholds, "recovery_time")

    restore = _time_to_restore(incidents, period, thresholds, said)
    trend = _trend(period, in_period, set(failed_in_period), successful, measured, shipped)
    return Metrics(
        period=period,
        thresholds=thresholds,
        source=source,
        deployments=count,
        successful=succeeded,
        deployment_frequency=frequency,
        lead_time=lead,
        change_failure_rate=failure_rate,
        time_to_restore=restore,
        recovery_time=recovery,
        failures=tuple(failures[d] for d in failed_in_period),
        trend=trend,
        notes=tuple(said),
    )


def _resolve_root_causes(
    repo: Path, incidents: Sequence[Incident] | None, period: Period, said: list[str]
) -> Sequence[Incident] | None:
    """The incidents opened in the period (only they can be linked to its deployments: a
    deployment precedes its incident), root causes as full commit ids. A root cause the
    repository does not know is dropped, with a note: the incident is then linked to the last
    deployment before it."""
    if incidents is None:
        return None
    relevant = [i for i in incidents if i.opened in period]
    full = git.resolve_commits(repo, (i.root_cause for i in relevant if i.root_cause))
    unknown = [
        f"{i.id} ({i.root_cause})" for i in relevant if i.root_cause and full.get(i.root_cause) is None
    ]
    if unknown:
        said.append(
            f"incident(s) {_some(unknown)}: the root cause is not a commit in the repository; "
            "linked to the last deployment before the incident instead"
        )
    return [replace(i, root_cause=full.get(i.root_cause or "")) for i in relevant]


def _some(items: Sequence[str], shown: int = 5) -> str:
    """The first few items, and how many more."""
    listed = ", ".join(items[:shown])
    return listed if len(items) <= shown else f"{listed} and {len(items) - shown} more"


def _median_measure(values: Sequence[float], report: Report, metric: Metric) -> Measure:
    if not values:
        return Measure(None, None, 0)
    middle = statistics.median(values)
    return Measure(middle, classify(report, metric, middle), len(values))


@dataclass
class _Failing:
    reasons: list[str]
    ends: list[datetime]


def _failures(
    successful: Sequence[Deployment],
    known: Sequence[Deployment],
    incidents: Sequence[Incident],
    period: Period,
    shipped: changes.Attribution,
    said: list[str],
) -> dict[Deployment, Failure]:
    found: dict[Deployment, _Failing] = {}

    def mark(deployment: Deployment, reason: str, end: datetime | None) -> None:
        entry = found.setdefault(deployment, _Failing([], []))
        entry.reasons.append(reason)
        if end is not None and end < period.end:
            entry.ends.append(end)

    # (a) a failed status; recovered by the next successful deployment
    for position, deployment in enumerate(known):
        if deployment.status == "failure":
            after = next((d for d in known[position + 1 :] if d.status == "success"), None)
            mark(deployment, "deployment failed", after.finished if after else None)
    # (c) reverts: the revert's deployment restores the one that shipped the reverted change
    unknown_reverts = 0
    for number, reverted in shipped.reverts:
        if any(sha.startswith(reverted) for sha in shipped.revert_commits):
            continue  # reverting a revert ("Reapply ...") ships the change again: no failure
        origin = shipped.shipped_by.get(reverted)
        if origin is None:
            unknown_reverts += 1
        elif origin < number:
            mark(
                successful[origin],
                f"change {reverted[:12]} reverted by {successful[number].id}",
                successful[number].finished,
            )
    if unknown_reverts:
        said.append(
            f"{unknown_reverts} revert(s) of a change shipped before the period (or never) "
            "not counted as failures of deployments in the period"
        )
    # (d) rollbacks: a deployment of a commit shipped before (by an earlier deployment, or before
    # the period: then it was never walked) that replaces a different one
    for number in sorted(shipped.lead_times):
        first = shipped.tip_first_shipped.get(number, -1)
        previous = successful[number - 1] if number else None
        if first < number and previous is not None and previous.sha != successful[number].sha:
            mark(previous, f"rolled back by {successful[number].id}", successful[number].finished)
    # (b) incidents (opened in the period)
    finishes = [d.finished for d in successful]
    earlier: list[str] = []
    unlinked: list[str] = []
    for incident in incidents:
        if incident.root_cause:
            origin = shipped.shipped_by.get(incident.root_cause)
            if origin is None:
                earlier.append(f"{incident.id} ({incident.root_cause[:12]})")
                continue
            target = successful[origin]
        else:
            before = bisect.bisect_right(finishes, incident.opened)
            if not before:
                unlinked.append(incident.id)
                continue
            target = successful[before - 1]
        mark(target, f"incident {incident.id}", incident.closed)
    if earlier:
        said.append(
            f"incident(s) {_some(earlier)}: the root cause was shipped before the period (or by no "
            "deployment); not counted as a change failure"
        )
    if unlinked:
        said.append(f"incident(s) {_some(unlinked)}: no deployment before the incident; not linked")
    return {
        deployment: Failure(deployment, tuple(entry.reasons), min(entry.ends) if entry.ends else None)
        for deployment, entry in found.items()
    }


def _time_to_restore(
    incidents: Sequence[Incident] | None, period: Period, report: Report, said: list[str]
) -> Measure:
    if incidents is None:
        said.append(
            "time to restore: no incidents file (--incidents); "
            "see failed deployment recovery time for recovery measured from deployments"
        )
        return Measure(None, None, 0)
    opened = [i for i in incidents if i.opened in period]
    hours = [
        (i.closed - i.opened) / timedelta(hours=1)
        for i in opened
        if i.closed is not None and i.closed < period.end
    ]
    if len(hours) < len(opened):
        said.append(f"{len(opened) - len(hours)} incident(s) still open at the end of the period")
    if not opened:
        said.append("time to restore: no incident opened in the period")
    return _median_measure(hours, report, "recovery_time")


def _trend(
    period: Period,
    in_period: Sequence[Deployment],
    failed: set[Deployment],
    successful: Sequence[Deployment],
    measured: Sequence[int],
    shipped: changes.Attribution,
) -> tuple[Week, ...]:
    def monday(moment: datetime) -> date:
        day = moment.date()
        return day - timedelta(days=day.weekday())

    first, last = monday(period.start), monday(period.end - timedelta(microseconds=1))
    weeks: dict[date, tuple[list[int], list[float]]] = {}
    day = first
    while day <= last:
        weeks[day] = ([0, 0, 0], [])
        day += timedelta(days=7)
    for deployment in in_period:
        counts = weeks[monday(deployment.finished)][0]
        counts[0] += 1
        counts[1] += deployment.status == "success"
        counts[2] += deployment in failed
    for number in measured:
        weeks[monday(successful[number].finished)][1].extend(
            lead / SECONDS_PER_HOUR for lead in shipped.lead_times.get(number, ())
        )
    result = []
    for start, (counts, leads) in weeks.items():
        year, week, _ = start.isocalendar()
        result.append(
            Week(
                f"{year}-W{week:02d}",
                start,
                counts[0],
                counts[1],
                counts[2],
                statistics.median(leads) if leads else None,
            )
        )
    return tuple(result)
