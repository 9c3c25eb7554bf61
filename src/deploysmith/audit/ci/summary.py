"""A pipeline's coverage (the nine stages) and duration estimate, for the rules and reports."""

from __future__ import annotations

from collections.abc import Iterable
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


def summarize(pipeline: Pipeline, paths: Iterable[str]) -> PipelineSummary:
    listed = list(paths)
    prefix = f"{pipeline.root}/" if pipeline.root else ""
    ships_image = any(
        path.startswith(prefix) and path.rsplit("/", 1)[-1].startswith(_IMAGE_FILES) for path in listed
    )
    coverage = analyse(pipeline, ships_image)
    return PipelineSummary(coverage, estimate(coverage, repository_stack(listed, pipeline.root)))
