"""Placeholder until the rust plugin lands (work in progress)."""

from __future__ import annotations

from deploysmith.detect.base import Detection
from deploysmith.repo import Repo

MARKERS: tuple[str, ...] = ()


def detect(repo: Repo, directory: str) -> Detection | None:
    return None
