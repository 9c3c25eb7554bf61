"""A pipeline's coverage (the nine stages) and duration estimate, for the rules and reports."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from deploysmith.audit.ci.duration import Duration, estimate, repository_stack
from deploysmith.audit.ci.model import Pipeline
from deploysmith.audit.ci.stages import Coverage, analyse

_IMAGE_FILES = ("Dockerfile", "Containerfile")


@dataclass(frozen=True)
class PipelineSummary:
    coverage: Coverage
    duration: Duration

    @property
    def pipeline(self) -> Pipeline:
        return self.coverage.pipeline

    def to_json(self) -> dict[str, Any]:
        pipeline = self.pipeline
        return {
            "path": pipeline.path,
            "platform": pipeline.platform,
            "files": list(pipeline.files),
            "stages": [status.to_json() for status in self.coverage.stages],
            "duration": self.duration.to_json(),
            "notes": list(pipeline.notes),
        }


def summarize(pipeline: Pipeline, paths: frozenset[str]) -> PipelineSummary:
    prefix = f"{pipeline.root}/" if pipeline.root else ""
    ships_image = any(path.startswith(prefix) for path in _image_files(paths))
    coverage = analyse(pipeline, ships_image)
    return PipelineSummary(coverage, estimate(coverage, repository_stack(paths, pipeline.root)))


@functools.lru_cache(maxsize=4)
def _image_files(paths: frozenset[str]) -> tuple[str, ...]:
    """The Dockerfiles and Containerfiles among `paths`, found once per repository rather
    than once per pipeline (a monorepo has many of both)."""
    return tuple(path for path in paths if path.rsplit("/", 1)[-1].startswith(_IMAGE_FILES))
