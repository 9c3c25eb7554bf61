"""What smoke shows while it works, through deploysmith.output (stderr).

On a terminal: every phase, and each build step as the engine starts it, cut to the
terminal's width, so a long dependency install is visibly moving. Elsewhere (CI logs,
pipes): the phases only, one plain line each. Either way a failed build prints its whole
log, and the summary comes at the end.
"""

from __future__ import annotations

import re
import shutil

from deploysmith import output

_STEP = re.compile(r"^(?:\[\d+/\d+\] )?STEP \d+/\d+: |^Step \d+/\d+ : |^#\d+ \[[^\]]*\d+/\d+\] ")


class Progress:
    def __init__(self, tty: bool, width: int | None = None) -> None:
        self.tty = tty
        self.width = width or shutil.get_terminal_size((100, 24)).columns

    def phase(self, text: str) -> None:
        output.info(f"smoke: {text}")

    def build_line(self, image: str, line: str) -> None:
        if not self.tty or not _STEP.match(line):
            return
        text = f"  {image} | {' '.join(line.split())}"
        if len(text) > self.width - 1:
            text = text[: max(self.width - 2, 10)] + "…"
        output.info(text)

    def log(self, title: str, text: str) -> None:
        output.info(f"----- {title} -----")
        output.info(text.rstrip("\n") or "(no output)")
        output.info(f"----- end of {title} -----")
