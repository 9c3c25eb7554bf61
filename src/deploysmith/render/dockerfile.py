"""Placeholder until the dockerfile renderer lands (work in progress)."""

from __future__ import annotations

from deploysmith.model import Plan, RenderedFile


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return ()
