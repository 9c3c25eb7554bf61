"""The pipeline-coverage section the text and Markdown reports share: per pipeline, the
nine stages with their status and jobs, then the duration estimate."""

from __future__ import annotations

from collections.abc import Sequence

from deploysmith.audit.ci.summary import PipelineSummary

_MARKS = {"present": "ok", "missing": "MISSING", "not blocking": "NOT BLOCKING", "not applicable": "-"}


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def duration_line(summary: PipelineSummary) -> str:
    d = summary.duration
    line = f"commit stage {_minutes(d.commit_warm)} warm / {_minutes(d.commit_cold)} cold"
    if summary.coverage.deploys:
        line += f"; whole pipeline {_minutes(d.warm)} warm / {_minutes(d.cold)} cold (approvals not counted)"
    return line


def text_lines(pipelines: Sequence[PipelineSummary]) -> list[str]:
    lines: list[str] = []
    for summary in pipelines:
        pipeline = summary.pipeline
        lines.append(f"Pipeline coverage: {pipeline.path} ({pipeline.label})")
        for status in summary.coverage.stages:
            detail = ", ".join(status.jobs)
            if status.note:
                detail = f"{detail} ({status.note})" if detail else status.note
            lines.append(f"  {status.stage:<17} {_MARKS[status.status]:<13} {detail}".rstrip())
        lines.append(f"  Duration (estimate): {duration_line(summary)}")
        if summary.duration.commit_path:
            lines.append(f"  Critical path: {' -> '.join(summary.duration.commit_path)}")
        lines.append("")
    return lines


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_lines(pipelines: Sequence[PipelineSummary]) -> list[str]:
    lines: list[str] = []
    icons = {
        "present": "✅ present",
        "missing": "❌ missing",
        "not blocking": "⚠️ not blocking",
        "not applicable": "➖ n/a",
    }
    for summary in pipelines:
        pipeline = summary.pipeline
        lines += [
            f"#### Pipeline coverage: `{pipeline.path}` ({pipeline.label})",
            "",
            "| Stage | Status | Jobs |",
            "| --- | --- | --- |",
        ]
        for status in summary.coverage.stages:
            detail = ", ".join(f"`{_cell(job)}`" for job in status.jobs)
            if status.note:
                detail = f"{detail} ({_cell(status.note)})" if detail else _cell(status.note)
            lines.append(f"| {status.stage} | {icons[status.status]} | {detail} |")
        lines += ["", f"Duration (estimate): {duration_line(summary)}.", ""]
    return lines
