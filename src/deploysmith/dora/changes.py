"""Which deployment first shipped each commit: `git log prev_deploy..deploy`, for all
deployments at once, from one streamed `git log`.

Successful deployments are numbered in the order they finished. A commit belongs to the
first deployment whose commit contains it — for history that moves forward this is exactly
`git log previous..this`; a redeploy or rollback of an older commit brings no new changes.
One walk does it: `git log --topo-order` lists children before parents, so each commit's
number (the smallest number among the deployments that point at it and its children) is final
when it is reached, and is handed on to its parents. Only the frontier is kept in memory.

Deployments finished before the period are passed as exclusions (`^sha`): their history was
shipped already. Lead time uses the committer date (when the commit took its final form:
after a rebase or squash, not when the work began); merge commits carry no change of their
own and are not counted, the commits they merge are. A commit dated after the deployment
that shipped it (clock skew) counts with lead time 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deploysmith.dora import git
from deploysmith.dora.events import Deployment


@dataclass
class Attribution:
    # deployment number → lead times (seconds) of the commits it shipped first
    lead_times: dict[int, list[float]] = field(default_factory=dict)
    # deployment number → number of the deployment that first shipped its own commit
    # (absent: shipped before the period, by an excluded deployment)
    tip_first_shipped: dict[int, int] = field(default_factory=dict)
    # requested commit id (full or abbreviated) → number of the deployment that shipped it
    shipped_by: dict[str, int] = field(default_factory=dict)
    # (number of the deployment shipping a revert commit, the reverted id as written)
    reverts: list[tuple[int, str]] = field(default_factory=list)
    revert_commits: set[str] = field(default_factory=set)  # commits that revert something
    skewed: int = 0  # commits dated after their deployment finished
    merges: int = 0


def attribute(
    repo: Path,
    deployments: Sequence[Deployment],
    measured: Iterable[int],
    excluded: Iterable[int],
    wanted: Iterable[str] = (),
) -> Attribution:
    """Walk the commits of `deployments[i]` for i in `measured` (successful deployments in
    finish order), excluding everything the `excluded` ones shipped. `wanted` are commit ids
    (incident root causes) whose shipping deployment the caller needs; revert targets are
    collected on the way."""
    result = Attribution()
    finished = [deployment.finished.timestamp() for deployment in deployments]
    pending: dict[str, int] = {}
    tips: dict[str, list[int]] = {}
    for number in measured:
        sha = deployments[number].sha
        pending[sha] = min(pending.get(sha, number), number)
        tips.setdefault(sha, []).append(number)
        result.lead_times.setdefault(number, [])
    wanted_full = {sha for sha in wanted if len(sha) == 40}
    wanted_short = {sha for sha in wanted if len(sha) < 40}
    excluded_shas = {deployments[number].sha for number in excluded}
    lead_times, shipped_by = result.lead_times, result.shipped_by
    for sha, parents, committed, reverts in git.stream_commits(repo, list(tips), sorted(excluded_shas)):
        number = pending.pop(sha, -1)
        if number < 0:  # cannot happen with --topo-order; never trust it blindly
            continue
        for parent in parents:
            known = pending.get(parent)
            if known is None or number < known:
                pending[parent] = number
        if sha in tips:
            for tip in tips[sha]:
                result.tip_first_shipped[tip] = number
        if sha in wanted_full:
            shipped_by[sha] = number
        for short in wanted_short:
            if sha.startswith(short):
                shipped_by[short] = number
        if reverts:
            result.revert_commits.add(sha)
        for reverted in reverts:
            result.reverts.append((number, reverted))
            (wanted_full if len(reverted) == 40 else wanted_short).add(reverted)
        if len(parents) > 1:
            result.merges += 1
            continue
        lead = finished[number] - committed
        if lead < 0:
            result.skewed += 1
            lead = 0.0
        lead_times[number].append(lead)
    return result
