"""`deploysmith dora` on a big history (goal: under 5 s for 100,000 commits and 5,000
deployments), with the peak memory of the Python process and of git.

The repository is built once with `git fast-import` (about 10 s) and cached under /tmp;
pass --rebuild to make it again. Each timed run is a fresh interpreter, so the figure is
what a user waits for. Usage: python bench/dora_speed.py [--commits N] [--deployments N]
[--runs N] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE = datetime(2023, 1, 1, tzinfo=UTC)
SPACING = timedelta(minutes=5)  # 100,000 commits span 347 days
ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

CHILD = r"""
import argparse, json, resource, sys, time
start = time.perf_counter()
from deploysmith import cli
parser = cli.build_parser()
commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
if "dora" in commands.choices:  # wired into the CLI: time exactly what a user runs
    via, status = "cli", cli.main(sys.argv[1:])
else:  # not wired yet: the same command layer, called with the Namespace cli.py would build
    from deploysmith.dora import dora_command
    options = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    via, status = "namespace", dora_command(argparse.Namespace(
        path=sys.argv[2], since=options["--since"], until=options["--until"],
        deployments=options["--deployments"], incidents=options["--incidents"], format=options["--format"],
        tag_pattern="v*", environment=None, incident_label="incident", thresholds="2023", chart=None))
elapsed = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"status": status, "seconds": elapsed, "rss_kib": own.ru_maxrss,
                  "git_rss_kib": children.ru_maxrss, "cpu": own.ru_utime + own.ru_stime,
                  "git_cpu": children.ru_utime + children.ru_stime, "via": via}), file=sys.stderr)
"""


def build(root: Path, commits: int, deployments: int) -> None:
    if root.exists():
        shutil.rmtree(root)
    repo = root / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=ENV)
    marks = root / "marks"
    rng = random.Random(7)
    started = time.perf_counter()
    process = subprocess.Popen(
        ["git", "fast-import", "--quiet", f"--export-marks={marks}"], cwd=repo, stdin=subprocess.PIPE, env=ENV
    )
    assert process.stdin is not None
    out = process.stdin
    for number in range(1, commits + 1):
        stamp = int((BASE + SPACING * number).timestamp())
        message = f"change {number}\n"
        if number % 97 == 0:  # some reverts (of ids the history does not have: counted, not matched)
            message += f"\nThis reverts commit {rng.getrandbits(160):040x}.\n"
        content = f"line {number}\n"
        header = (
            f"commit refs/heads/main\nmark :{number}\n"
            f"author Bench <bench@example.com> {stamp} +0000\n"
            f"committer Bench <bench@example.com> {stamp} +0000\n"
            f"data {len(message.encode())}\n{message}"
        )
        if number > 1:
            header += f"from :{number - 1}\n"
        header += f"M 100644 inline src/m{number % 4}/file{number % 16}.txt\ndata {len(content)}\n{content}\n"
        out.write(header.encode())
    out.close()
    if process.wait() != 0:
        raise SystemExit("git fast-import failed")
    shas = {}
    for line in marks.read_text().splitlines():
        mark, sha = line.split()
        shas[int(mark[1:])] = sha
    every = commits // deployments
    with (root / "deploys.jsonl").open("w") as log:
        for index in range(1, deployments + 1):
            number = index * every
            # deploys finish 10-90 min after their commit, before the next one (every 100 min)
            finished = BASE + SPACING * number + timedelta(minutes=rng.randint(10, 90))
            status = "failure" if rng.random() < 0.03 else "success"
            log.write(
                json.dumps(
                    {
                        "id": f"deploy-{index}",
                        "sha": shas[number],
                        "environment": "production",
                        "status": status,
                        "started": (finished - timedelta(minutes=8)).isoformat(),
                        "finished": finished.isoformat(),
                    }
                )
                + "\n"
            )
    issues = []
    for index in range(1, 101):
        opened = BASE + timedelta(days=index * 3, hours=5)
        body = f"root cause: {shas[index * 900][:12]}\n" if index % 2 else "unknown yet"
        issues.append(
            {
                "number": index,
                "title": f"incident {index}",
                "body": body,
                "labels": ["incident"],
                "createdAt": opened.isoformat(),
                "closedAt": (opened + timedelta(hours=3)).isoformat(),
            }
        )
    (root / "issues.json").write_text(json.dumps(issues))
    (root / "ready").write_text(f"{commits} {deployments}\n")
    print(
        f"built {commits} commits and {deployments} deployments in {time.perf_counter() - started:.1f} s "
        f"under {root}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--deployments", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.gettempdir()) / f"deploysmith-bench-dora-{args.commits}-{args.deployments}"
    ready = root / "ready"
    if (
        args.rebuild
        or not ready.exists()
        or ready.read_text().split() != [str(args.commits), str(args.deployments)]
    ):
        build(root, args.commits, args.deployments)
    command = [
        "dora",
        str(root / "repo"),
        "--since",
        "2023-01-01",
        "--until",
        "2023-12-31",
        "--deployments",
        str(root / "deploys.jsonl"),
        "--incidents",
        str(root / "issues.json"),
        "--format",
        "json",
    ]
    walls, inner, cpu, git_cpu = [], [], [], []
    stats: dict[str, Any] = {}
    report: dict[str, Any] = {}
    for _ in range(args.runs):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", CHILD, *command], capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(f"dora failed ({result.returncode}): {result.stderr.strip()}")
        stats = json.loads(result.stderr.strip().splitlines()[-1])
        inner.append(float(stats["seconds"]))
        cpu.append(float(stats["cpu"]))
        git_cpu.append(float(stats["git_cpu"]))
        report = json.loads(result.stdout)
    via = stats["via"]
    print(f"history: {args.commits} commits, {args.deployments} deployments, 100 incidents (run via {via})")
    print(
        f"wall time, fresh interpreter: median {statistics.median(walls):.2f} s "
        f"(min {min(walls):.2f}, max {max(walls):.2f}) over {args.runs} run(s); goal < 5 s"
    )
    print(f"in-process (imports + dora): median {statistics.median(inner):.2f} s")
    print(
        f"CPU time: python {statistics.median(cpu):.2f} s, git {statistics.median(git_cpu):.2f} s "
        f"(load average when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(
        f"peak RSS: python {int(stats['rss_kib']) / 1024:.0f} MiB, "
        f"git {int(stats['git_rss_kib']) / 1024:.0f} MiB"
    )
    print(
        f"result: {report['deployments']} deployments, lead time {report['lead_time']}, "
        f"change failure rate {report['change_failure_rate']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
