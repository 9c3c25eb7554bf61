"""Local names of resources: Terraform identifiers and Python variable names alike."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Naming:
    def local(self, name: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "app"
        return slug if slug[0].isalpha() else f"i_{slug}"
