"""The contract between the discovery core (detect/__init__.py) and the ecosystem plugins.

A plugin is a module with:
  MARKERS: tuple[str, ...]   file names (or globs like "*.csproj") that, present in a
                             folder, make the folder worth asking this plugin about
  detect(repo: Repo, directory: str) -> Detection | None
                             reads only through `repo` (never executes or imports the
                             repository's code) and describes what runs from `directory`
and optionally:
  resolve_command(repo: Repo, directory: str, command: str)
      -> tuple[str, tuple[Evidence, ...]] | None
                             what a Procfile command run through the ecosystem's tool
                             really runs (node: `npm start` → the start script), with the
                             evidence for it; None to keep the command as written
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from deploysmith.model import Component


class Strength(IntEnum):
    """How sure a plugin is that a folder is an application of its ecosystem.

    When several plugins claim one folder the strongest wins, so misleading signals lose:
    a package.json that only runs a linter next to a Django app is TOOLING, the Django
    app is APP.
    """

    TOOLING = 1  # manifests that configure tools only (ruff in pyproject, eslint in package.json)
    ASSETS = 2  # builds front-end assets or a static site, serves nothing itself
    RUNNABLE = 3  # has a start command or an entry point, no known framework
    APP = 4  # a recognised framework or explicit server entry point


@dataclass(frozen=True)
class Detection:
    components: tuple[Component, ...]
    strength: Strength
