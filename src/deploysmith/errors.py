"""One user-facing error type, and the top-level handler that turns failures into exit codes.

Exit codes (DESIGN.md §3, with the issue's refinement for input errors):
  0 success, 1 findings at or above the threshold (audit, a blocked init),
  2 usage or input error (DeploysmithError), 3 unexpected error (a bug: a log is written),
  130 interrupted.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class DeploysmithError(Exception):
    """A problem the user can fix. The message is one line and says what to check."""


def run_guarded(body: Callable[[], int]) -> int:
    """Run a command body; map errors to exit codes and one-line messages on stderr."""
    try:
        return body()
    except DeploysmithError as error:
        print(f"deploysmith: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("deploysmith: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); nothing more to say.
        _silence_stdout()
        return EXIT_OK
    except Exception:  # noqa: BLE001 - the last line of defence: log, never a raw traceback
        log_path = _write_bug_log(traceback.format_exc())
        print(
            "deploysmith: internal error (a bug in deploysmith, not in your repository); "
            f"details written to {log_path}",
            file=sys.stderr,
        )
        return EXIT_BUG


def _write_bug_log(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="deploysmith-bug-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
