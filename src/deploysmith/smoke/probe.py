"""Waiting for a container to answer its probe, as the kubelet would: HTTP GET succeeds on
a status from 200 to 399 (redirects are not followed), TCP on an accepted connection."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

POLL_SECONDS = 0.25
REQUEST_TIMEOUT = 3.0


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str  # "GET /health -> 200", "TCP 127.0.0.1:8080 accepted", the last failure, …
    seconds: float  # from the start of waiting to the answer (or to giving up)


def http_once(host: str, port: int, path: str) -> tuple[bool, str]:
    connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("GET", path, headers={"User-Agent": "deploysmith-smoke", "Host": f"{host}:{port}"})
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        return False, f"GET {path}: {_reason(error)}"
    finally:
        connection.close()
    return 200 <= status < 400, f"GET {path} -> {status}"


def tcp_once(host: str, port: int) -> tuple[bool, str]:
    try:
        socket.create_connection((host, port), timeout=REQUEST_TIMEOUT).close()
    except OSError as error:
        return False, f"TCP {port}: {_reason(error)}"
    return True, f"TCP {port} accepted"


def wait_until(
    attempt: Callable[[], tuple[bool, str]],
    still_running: Callable[[], str | None],
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ProbeResult:
    """Call attempt() until it succeeds or `timeout` seconds pass. still_running() returns
    None while the container runs, else why it stopped (checked about once a second)."""
    start = clock()
    detail = "no answer"
    checks = 0
    while True:
        ok, detail = attempt()
        elapsed = clock() - start
        if ok:
            return ProbeResult(True, detail, elapsed)
        checks += 1
        if checks % 4 == 0:
            stopped = still_running()
            if stopped is not None:
                return ProbeResult(False, f"{stopped} (last probe: {detail})", clock() - start)
        if elapsed >= timeout:
            return ProbeResult(False, f"no healthy answer within {timeout:.0f} s (last: {detail})", elapsed)
        sleep(POLL_SECONDS)


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed without a response"
    return str(error) or type(error).__name__
