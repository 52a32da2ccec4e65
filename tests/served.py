"""`naikit serve` (the real CLI) in a process of its own, for interop tests and benchmarks that want no
client sharing the server's interpreter."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(*args: str, timeout: float = 30) -> tuple[subprocess.Popen, str]:
    """Start `naikit serve --port P *args`; return (process, URL) once it answers, or raise with its log.

    With ``--test-hooks`` among ``args``, ``process.admin_headers`` holds the header (read from the line the
    server prints at start) that its ``/_sandbox/`` endpoints require.
    """
    port = free_port()
    # a file, not a pipe: a pipe nobody reads could fill up and stall a long benchmark's server
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "naikit.cli", "serve", "--port", str(port), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=1).read()
            if "--test-hooks" in args:
                proc.admin_headers = _admin_headers(log)  # type: ignore[attr-defined]
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                raise RuntimeError("naikit serve did not start: " + log.read()) from None
            time.sleep(0.1)


def _admin_headers(log) -> dict[str, str]:
    # the server prints "test hooks on: send <header>: <token>" before it starts answering
    log.seek(0)
    for line in log.read().splitlines():
        if line.startswith("test hooks on: send "):
            name, _, token = line[len("test hooks on: send ") :].partition(": ")
            log.seek(0, 2)
            return {name: token.strip()}
    raise RuntimeError("naikit serve --test-hooks printed no admin token")


def stop_serve(proc: subprocess.Popen) -> None:
    """Stop a server from :func:`start_serve`; returns None."""
    proc.terminate()
    proc.wait(10)


@contextmanager
def naikit_serve(*args: str) -> Iterator[str]:
    """Run `naikit serve` for the duration of a ``with`` block; yield its URL."""
    proc, url = start_serve(*args)
    try:
        yield url
    finally:
        stop_serve(proc)
