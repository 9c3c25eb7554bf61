"""Speed of `deploysmith audit` against checkov on the same 1,000-file corpus, in one run.

    python bench/audit_speed.py [--corpus DIR] [--checkov PATH] [--runs 3] [--json OUT]

Generates the corpus (bench/audit_corpus.py, fixed seed) unless --corpus points at one,
runs `deploysmith audit CORPUS --format json` (the console script beside this interpreter,
else the one on PATH; best of --runs wall times; peak RSS of the child process from wait4's
rusage), then checkov with its dockerfile, kubernetes, github_actions and gitlab_ci
frameworks (`-o json --quiet --compact`, BC_SKIP_MAPPING=TRUE),
and prints both wall times, the ratio (goal: deploysmith at least 20x faster) and
deploysmith's peak RSS (goal: under 200 MB). Checkov is looked up as --checkov, $CHECKOV,
/tmp/checkov-venv/bin/checkov, then PATH; without it the script says so and still reports
deploysmith's numbers. The raw outputs are kept for bench/audit_agreement.py (--keep DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import audit_corpus  # noqa: E402

CHECKOV_FRAMEWORKS = ("dockerfile", "kubernetes", "github_actions", "gitlab_ci")
GOAL_RATIO = 20.0
GOAL_RSS_MB = 200.0


def run_child(
    command: list[str], out: Path, env: dict[str, str] | None = None
) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS in MB, exit status, CPU seconds) of one child process, its
    stdout to `out`. CPU time (user + system) is the steadier figure on a shared machine."""
    with out.open("wb") as sink:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    return wall, rss_mb, process.returncode, usage.ru_utime + usage.ru_stime


def find_checkov(explicit: str | None) -> str | None:
    for candidate in (explicit, os.environ.get("CHECKOV"), "/tmp/checkov-venv/bin/checkov"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("checkov")


def deploysmith_command(corpus: Path) -> list[str]:
    # The console script installed beside this interpreter first: a version manager's shim on
    # PATH (pyenv's is a bash script that runs `pyenv exec`) adds 0.05-0.1 s to every run,
    # which checkov, started from its own virtualenv, does not pay.
    beside = Path(sys.executable).with_name("deploysmith")
    executable = str(beside) if beside.is_file() else shutil.which("deploysmith")
    base = [executable] if executable else [sys.executable, "-m", "deploysmith"]
    return [*base, "audit", str(corpus), "--format", "json"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="an existing corpus (default: generate one)")
    parser.add_argument("--checkov", help="the checkov executable")
    parser.add_argument("--runs", type=int, default=5, help="deploysmith runs (best wall time is reported)")
    parser.add_argument("--keep", type=Path, help="keep the raw outputs here (for audit_agreement.py)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="deploysmith-bench-"))
    keep = args.keep or work
    keep.mkdir(parents=True, exist_ok=True)
    corpus = args.corpus or work / "corpus"
    count = (
        audit_corpus.write(corpus) if args.corpus is None else sum(1 for p in corpus.rglob("*") if p.is_file())
    )
    print(f"corpus: {corpus} ({count} files)")

    figures: dict[str, Any] = {"files": count}
    # One untimed run with bytecode writing allowed: an installed package has its .pyc files
    # (pip compiles them), an editable checkout under PYTHONDONTWRITEBYTECODE would recompile
    # every module on every run and time the compiler instead of the audit.
    warm_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run_child(deploysmith_command(corpus), keep / "deploysmith.json", warm_env)
    walls: list[float] = []
    cpus: list[float] = []
    rss: list[float] = []
    for _ in range(max(1, args.runs)):
        wall, peak, status, cpu = run_child(deploysmith_command(corpus), keep / "deploysmith.json", warm_env)
        cpus.append(cpu)
        if status not in (0, 1):
            print(f"deploysmith audit failed with exit status {status}", file=sys.stderr)
            return 2
        walls.append(wall)
        rss.append(peak)
    findings = json.loads((keep / "deploysmith.json").read_text(encoding="utf-8"))["findings"]
    figures["deploysmith"] = {
        "wall_seconds": round(min(walls), 3),
        "all_runs": [round(w, 3) for w in walls],
        "cpu_seconds": round(min(cpus), 3),
        "peak_rss_mb": round(max(rss), 1),
        "findings": len(findings),
    }
    print(
        f"deploysmith audit: {min(walls):.2f} s wall (best of {len(walls)}: "
        f"{', '.join(f'{w:.2f}' for w in walls)}), {min(cpus):.2f} s CPU, peak RSS {max(rss):.0f} MB, "
        f"{len(findings)} findings"
    )

    checkov = find_checkov(args.checkov)
    if checkov is None:
        print(
            "checkov: not installed (pip install checkov in its own virtualenv, or pass --checkov); "
            "no ratio this run"
        )
    else:
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
        command = [
            checkov,
            "-d",
            str(corpus),
            "--framework",
            *CHECKOV_FRAMEWORKS,
            "-o",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ]
        wall, peak, status, cpu = run_child(command, keep / "checkov.json", env)
        failed = _checkov_failures(keep / "checkov.json")
        figures["checkov"] = {
            "wall_seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "peak_rss_mb": round(peak, 1),
            "exit": status,
            "failed_checks": failed,
            "frameworks": list(CHECKOV_FRAMEWORKS),
        }
        ratio = wall / min(walls)
        cpu_ratio = cpu / min(cpus)
        figures["ratio"] = round(ratio, 1)
        figures["cpu_ratio"] = round(cpu_ratio, 1)
        print(
            f"checkov ({', '.join(CHECKOV_FRAMEWORKS)}): {wall:.2f} s wall, {cpu:.2f} s CPU, "
            f"peak RSS {peak:.0f} MB, {failed} failed checks"
        )
        print(
            f"ratio: deploysmith is {ratio:.1f}x faster by wall time, {cpu_ratio:.1f}x by CPU time "
            f"(goal >= {GOAL_RATIO:.0f}x: {'met' if min(ratio, cpu_ratio) >= GOAL_RATIO else 'NOT met'})"
        )
    print(f"peak RSS goal < {GOAL_RSS_MB:.0f} MB: {'met' if max(rss) < GOAL_RSS_MB else 'NOT met'}")

    hadolint = shutil.which("hadolint")
    if hadolint is not None:
        dockerfiles = sorted(str(p) for p in corpus.rglob("Dockerfile"))
        wall, _, _, _ = run_child([hadolint, "-f", "json", "--no-fail", *dockerfiles], keep / "hadolint.json")
        figures["hadolint"] = {"wall_seconds": round(wall, 3), "dockerfiles": len(dockerfiles)}
        print(f"hadolint on {len(dockerfiles)} Dockerfiles: {wall:.2f} s (kept for the agreement report)")
    else:
        print("hadolint: not installed; no Dockerfile agreement data")
    print(f"raw outputs: {keep}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def _checkov_failures(path: Path) -> int:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "[]")
    except ValueError:
        return 0
    reports = data if isinstance(data, list) else [data]
    return sum(len(r.get("results", {}).get("failed_checks", [])) for r in reports if isinstance(r, dict))


if __name__ == "__main__":
    sys.exit(main())
