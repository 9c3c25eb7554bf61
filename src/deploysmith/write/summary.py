"""What a write did (or would do), counted and listed for the command layer to print."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deploysmith.write.changes import Change


@dataclass(frozen=True)
class Summary:
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()  # the new version of each is in `<path>.deploysmith-new`
    stale: tuple[str, ...] = ()  # no longer generated, left in place

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "conflicts": len(self.conflicts),
            "stale": len(self.stale),
        }

    def headline(self) -> str:
        """e.g. "3 created, 1 updated, 5 unchanged, 1 conflict, 0 stale"."""
        counts = self.counts()
        conflicts = counts["conflicts"]
        return (
            f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged, "
            f"{conflicts} conflict{'' if conflicts == 1 else 's'}, {counts['stale']} stale"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "created": list(self.created),
            "updated": list(self.updated),
            "unchanged": list(self.unchanged),
            "conflicts": list(self.conflicts),
            "stale": list(self.stale),
        }


def summarize(changes: Sequence[Change]) -> Summary:
    def paths(kind: str) -> tuple[str, ...]:
        return tuple(change.path for change in changes if change.kind == kind)

    return Summary(
        created=paths("create"),
        updated=paths("update"),
        unchanged=paths("unchanged"),
        conflicts=paths("conflict"),
        stale=paths("stale"),
    )
