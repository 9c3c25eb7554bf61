"""The platform-neutral form of a CI/CD pipeline that the delivery rules read.

Each platform module (github, gitlab, azure, jenkins, circleci) turns its own file into a
`Pipeline`: jobs with their direct predecessors, their steps (scripts and actions with the
line of each script line), and the facts the rules ask about (environment, manual gate,
failure policy, condition, timeout, cache, images). Nothing is executed or evaluated:
expressions stay text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal

Platform = Literal["github", "gitlab", "azure", "jenkins", "circleci"]

PLATFORM_NAMES: dict[str, str] = {
    "github": "GitHub Actions",
    "gitlab": "GitLab CI",
    "azure": "Azure Pipelines",
    "jenkins": "Jenkins",
    "circleci": "CircleCI",
}

# When a job or step runs: normally (after its predecessors succeed), only after a failure,
# or whatever happened before.
Condition = Literal["", "failure", "always"]


@dataclass(frozen=True)
class Step:
    line: int
    name: str  # display name, "" when none
    kind: Literal["script", "action", "approval"]  # action: uses / task / orb command / Jenkins step
    ref: str  # the action, task or orb reference ("" for scripts)
    script: tuple[tuple[int, str], ...] = ()  # (line, text) of each script line
    inputs: tuple[tuple[str, str], ...] = ()  # with: / inputs: of an action, as text
    condition: Condition = ""
    allow_failure: bool = False  # continue-on-error / continueOnError
    path: str = ""  # the file the step is written in, when not its job's (a template)
    # What the platform expands textually inside the script before the shell parses it
    # (GitHub ${{ }}, Azure $( ), CircleCI << >>, Jenkins "${...}" GStrings) is kept in `script`.

    @functools.cached_property  # read by several classifiers; fields never change
    def text(self) -> str:
        """Everything a classifier may read: name, reference, inputs and script."""
        parts = [self.name, self.ref]
        parts.extend(f"{key}: {value}" for key, value in self.inputs)
        parts.extend(line for _, line in self.script)
        return "\n".join(part for part in parts if part)

    def input(self, key: str) -> str | None:
        return next((value for name, value in self.inputs if name == key), None)


@dataclass(frozen=True)
class Reference:
    """Configuration pulled in from outside the file: a GitLab include, an Azure template
    repository, a CircleCI orb, a Jenkins shared library."""

    path: str
    line: int
    kind: str  # "include", "template repository", "orb", "shared library"
    target: str  # what it names, as written
    pinned: bool  # to an immutable version (commit SHA, exact orb version, checksum)
    advice: str  # how to pin it


@dataclass(frozen=True)
class Job:
    id: str
    name: str  # display name (the id when none)
    path: str  # the file that defines it
    line: int
    stage: str = ""  # the platform's own stage (GitLab/Azure stage, Jenkins parent stages)
    needs: tuple[str, ...] = ()  # ids of the jobs that must finish before it starts
    steps: tuple[Step, ...] = ()
    environment: str | None = None  # a deployment environment the platform can protect
    manual: bool = False  # waits for a person: when: manual, type: approval, input
    allow_failure: bool = False  # a failure does not fail the pipeline
    condition: Condition = ""
    timeout_minutes: float | None = None
    cache: bool = False  # restores a dependency or layer cache
    images: tuple[tuple[int, str], ...] = ()  # (line, image) the job runs in or beside
    deployment_job: bool = False  # Azure `deployment:` job (environment approvals and checks apply)
    agentless: bool = False  # Azure `pool: server`

    @property
    def title(self) -> str:
        return f"{self.id} ({self.name})" if self.name and self.name != self.id else self.id

    @property
    def words(self) -> str:
        """id, name and platform stage: what a job's purpose is usually written in."""
        return " ".join(dict.fromkeys(part for part in (self.id, self.name, self.stage) if part))


@dataclass(frozen=True)
class Pipeline:
    platform: Platform
    root: str  # the project folder the pipeline belongs to ("" for the repository root)
    path: str  # the main file (findings about the pipeline as a whole point here)
    files: tuple[str, ...]
    jobs: tuple[Job, ...]
    cache: bool = False  # a cache every job inherits (GitLab default/top-level cache)
    notes: tuple[str, ...] = field(default=())  # what could not be resolved (remote templates, ...)
    references: tuple[Reference, ...] = ()  # templates, orbs, libraries and includes it pulls in
    secret_names: frozenset[str] = frozenset()  # variables the file itself says hold secrets
    sources: tuple[tuple[str, Any], ...] = ()  # (path, parsed file) for platform-specific rules

    @property
    def label(self) -> str:
        return PLATFORM_NAMES[self.platform]

    def job(self, job_id: str) -> Job | None:
        return next((job for job in self.jobs if job.id == job_id), None)

    @functools.cached_property  # ancestors() runs for every job, several times
    def _by_id(self) -> dict[str, Job]:
        return {j.id: j for j in self.jobs}

    def ancestors(self, job: Job) -> set[str]:
        """Every job that must finish before `job` starts, transitively."""
        by_id = self._by_id
        seen: set[str] = set()
        todo = list(job.needs)
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            found = by_id.get(current)
            if found is not None:
                todo.extend(found.needs)
        return seen
