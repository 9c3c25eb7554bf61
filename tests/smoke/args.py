"""The `smoke` arguments as cli.py parses them (defaults included), for calling
smoke_command / run_smoke directly."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULTS: dict[str, Any] = {
    "command": "smoke",
    "path": ".",
    "engine": None,
    "format": "text",
    "image": None,
    "environment": None,
    "timeout": 60,
    "pull": None,
    "no_rebuild": False,
    "host_config": False,
    "keep_images": False,
    "compose": False,
    "kube_play": False,
}


def make_args(**overrides: Any) -> argparse.Namespace:
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"not a smoke option: {sorted(unknown)}")
    return argparse.Namespace(**{**DEFAULTS, **overrides})
