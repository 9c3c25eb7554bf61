from __future__ import annotations

from deploysmith.cli import main_entry

main_entry()
