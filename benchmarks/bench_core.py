"""Core speed (issue item 7), every figure a ratio against a reference measured in the same run:

1. call overhead: N small sequential requests (GET /user/subscription) to a `naikit serve` process, by raw
   aiohttp (one session, ``asyncio.run``), naikit's Transport alone, AsyncNovelAI, the blocking NovelAI in a
   plain script, and the blocking NovelAI called while another event loop runs in the thread (a Jupyter
   cell); medians of rounds, in wall time and in the client process's CPU time (steadier on a busy machine).
   The same without the network: naikit's own CPU per call over a session that answers at once.
2. image stream framing: the time per MB to read 1, 4 and 16 MB streams (one final picture, arriving in
   64 KiB chunks: frames cut and unpacked, or SSE events cut, JSON parsed and base64 decoded), beside a
   copy floor (the same chunks joined once); 16 MB / 1 MB should stay near 1 where memory allows.
3. client import: ``import naikit; naikit.NovelAI`` (and ``naikit.Novita``, ``naikit.AsyncNovelAI`` in a
   fresh interpreter and in one that has imported asyncio already, as an async program has, a
   constructed ``naikit.NovelAI(token=...)``, no network) in fresh interpreters (bytecode cached) against
   ``import asyncio`` and ``import aiohttp`` in the same run, wall (median and range) and CPU, and the
   heaviest modules from ``-X importtime``.

Prints figures; asserts nothing (timing is never a pass/fail test).

    .venv/bin/python benchmarks/bench_core.py [--n 300] [--rounds 5] [--only calls,overhead,framing,import]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from served import start_serve, stop_serve  # noqa: E402

import naikit  # noqa: E402
from naikit.sandbox import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402

PATH = "/user/subscription"


# -- 1. call overhead ------------------------------------------------------------------------------------
def raw_aiohttp(url: str, token: str, n: int) -> tuple[float, float]:
    """Return the (wall, CPU) seconds of ``n`` GETs through one raw aiohttp session."""
    import aiohttp

    async def main() -> tuple[float, float]:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            async with s.get(url + PATH) as r:
                await r.json()
            t, c = time.perf_counter(), time.process_time()
            for _ in range(n):
                async with s.get(url + PATH) as r:
                    r.raise_for_status()
                    await r.json()
            return (time.perf_counter() - t, time.process_time() - c)

    return asyncio.run(main())


def raw_aiohttp_sync(url: str, token: str, n: int) -> tuple[float, float]:
    """Return the (wall, CPU) seconds of ``n`` raw aiohttp GETs made from synchronous code: one
    ``run_until_complete`` per call on a persistent loop, the least any blocking wrapper pays."""
    import aiohttp

    loop = asyncio.new_event_loop()

    async def get(s: aiohttp.ClientSession) -> object:
        async with s.get(url + PATH) as r:
            r.raise_for_status()
            return await r.json()

    try:
        s = loop.run_until_complete(_session(token))
        loop.run_until_complete(get(s))
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            loop.run_until_complete(get(s))
        out = (time.perf_counter() - t, time.process_time() - c)
        loop.run_until_complete(s.close())
        return out
    finally:
        loop.close()


async def _session(token: str) -> object:
    import aiohttp

    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})


@contextlib.contextmanager
def loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """Yield an event loop running on its own daemon thread; stop, join and close it on exit."""
    import threading

    loop = asyncio.new_event_loop()
    th = threading.Thread(target=loop.run_forever, daemon=True)
    th.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        th.join()
        loop.close()


def raw_aiohttp_sync_in_running_loop(url: str, token: str, n: int) -> tuple[float, float]:
    """Raw aiohttp from a thread whose loop is running: each call handed to a loop on another thread
    (``run_coroutine_threadsafe``), the least any blocking wrapper pays inside a Jupyter cell."""
    import aiohttp

    async def get(s: aiohttp.ClientSession) -> object:
        async with s.get(url + PATH) as r:
            r.raise_for_status()
            return await r.json()

    def call(coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, loop).result()  # type: ignore[arg-type]

    async def cell() -> tuple[float, float]:
        s = call(_session(token))
        call(get(s))  # type: ignore[arg-type]
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            call(get(s))  # type: ignore[arg-type]
        out = (time.perf_counter() - t, time.process_time() - c)
        call(s.close())  # type: ignore[attr-defined]
        return out

    with loop_thread() as loop:
        return asyncio.run(cell())


def naikit_transport(url: str, token: str, n: int) -> tuple[float, float]:
    """Return the (wall, CPU) seconds of ``n`` ``Transport.request`` calls: naikit's core without the
    client's layer (readiness, response shape checks, typed records)."""
    from naikit._transport import Transport

    try:
        from naikit._settings import Hosts
    except ImportError:  # before the transport split (for before/after figures)
        from naikit._transport import Hosts  # type: ignore[attr-defined,no-redef]

    async def main() -> tuple[float, float]:
        t = Transport(Hosts.single(url))
        t.set_token(token)
        try:
            await t.request("GET", "image", PATH)
            t0, c = time.perf_counter(), time.process_time()
            for _ in range(n):
                await t.request("GET", "image", PATH)
            return (time.perf_counter() - t0, time.process_time() - c)
        finally:
            await t.close()

    return asyncio.run(main())


def naikit_async(url: str, token: str, n: int) -> tuple[float, float]:
    """Return the (wall, CPU) seconds of ``n`` ``await subscription()`` calls."""

    async def main() -> tuple[float, float]:
        async with naikit.AsyncNovelAI(base_url=url, token=token) as nai:
            await nai.subscription()
            t, c = time.perf_counter(), time.process_time()
            for _ in range(n):
                await nai.subscription()
            return (time.perf_counter() - t, time.process_time() - c)

    return asyncio.run(main())


def naikit_sync(url: str, token: str, n: int) -> tuple[float, float]:
    """Return the (wall, CPU) seconds of ``n`` blocking ``subscription()`` calls."""
    with naikit.NovelAI(base_url=url, token=token) as nai:
        nai.subscription()
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            nai.subscription()
        return (time.perf_counter() - t, time.process_time() - c)


def naikit_sync_in_running_loop(url: str, token: str, n: int) -> tuple[float, float]:
    """The blocking client called from a thread whose loop is running, as in a Jupyter cell."""

    async def cell() -> tuple[float, float]:
        return naikit_sync(url, token, n)

    return asyncio.run(cell())


def bench_calls(n: int, rounds: int, profile: str | None) -> None:
    """Print the call-overhead medians and ratios."""
    server, url = start_serve()
    try:
        with naikit.NovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            nai.subscription()
            token = nai.token.value
        if profile:
            import cProfile
            import pstats

            fn = {
                "sync": naikit_sync,
                "loop": naikit_sync_in_running_loop,
                "async": naikit_async,
                "transport": naikit_transport,
            }[profile]
            prof = cProfile.Profile()
            prof.runcall(fn, url, token, n)
            pstats.Stats(prof).sort_stats("tottime").print_stats(35)
            return
        kinds = {
            "raw aiohttp": raw_aiohttp,
            "raw aiohttp, sync calls": raw_aiohttp_sync,
            "raw aiohttp, loop running": raw_aiohttp_sync_in_running_loop,
            "Transport.request": naikit_transport,
            "AsyncNovelAI": naikit_async,
            "NovelAI (script)": naikit_sync,
            "NovelAI (loop running)": naikit_sync_in_running_loop,
        }
        res: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        order = list(kinds)
        for r in range(rounds):
            # each round starts with another kind, so none always runs first (or last) in a busy spell
            for k in order[r % len(order) :] + order[: r % len(order)]:
                res[k].append(kinds[k](url, token, n))
    finally:
        stop_serve(server)
    wall = {k: statistics.median(w for w, _ in v) for k, v in res.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in res.items()}
    print(f"{n} sequential GET {PATH}, median of {rounds} rounds (wall time; the client process's CPU time)")
    for k in kinds:
        w, c = wall[k], cpu[k]
        print(
            f"  {k:28} {w / n * 1e3:6.3f} ms/request {w / wall['raw aiohttp']:5.2f}x raw aiohttp   "
            f"CPU {c / n * 1e3:6.3f} ms/request {c / cpu['raw aiohttp']:5.2f}x raw aiohttp"
        )
    # the sync facade against raw aiohttp called the same way (from sync code, or from a running loop)
    for mine, ref in (
        ("NovelAI (script)", "raw aiohttp, sync calls"),
        ("NovelAI (loop running)", "raw aiohttp, loop running"),
        ("AsyncNovelAI", "raw aiohttp"),
        ("AsyncNovelAI", "Transport.request"),
    ):
        print(f"  {mine} / {ref}: wall {wall[mine] / wall[ref]:.2f}x, CPU {cpu[mine] / cpu[ref]:.2f}x")
        # the same ratio taken within each round (both measured seconds apart), then the median
        # and range of those: steadier than a ratio of medians when other work comes and goes
        for i, unit in ((0, "wall"), (1, "CPU")):
            per_round = sorted(a[i] / b[i] for a, b in zip(res[mine], res[ref], strict=True))
            print(
                f"      per round, {unit}: median {statistics.median(per_round):.2f}x, "
                f"range {per_round[0]:.2f}x to {per_round[-1]:.2f}x"
            )


# -- 1a. the same comparison in short paired blocks ---------------------------------------------------
def _paired(raw_call: Any, nk_call: Any, pairs: int, block: int) -> list[tuple[float, float]]:
    """Return per pair the (wall, CPU) ratio of ``block`` naikit calls to ``block`` raw calls run right
    before or after them (the order alternates): a burst of load on this VM then falls on both sides of
    one pair instead of on one whole round."""
    out = []
    for i in range(pairs):
        times = {}
        for side in ("raw", "nk") if i % 2 else ("nk", "raw"):
            call = raw_call if side == "raw" else nk_call
            t, c = time.perf_counter(), time.process_time()
            for _ in range(block):
                call()
            times[side] = (time.perf_counter() - t, time.process_time() - c)
        out.append((times["nk"][0] / times["raw"][0], times["nk"][1] / times["raw"][1]))
    return out


def _quartiles(xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=4)
    return f"median {statistics.median(xs):.2f}x (quartiles {q[0]:.2f}x-{q[2]:.2f}x)"


def bench_paired(pairs: int, block: int) -> None:
    """Print the blocking client against raw aiohttp called the same way, in short alternating blocks."""
    import aiohttp

    server, url = start_serve()
    try:
        with naikit.NovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            nai.subscription()
            token = nai.token.value

        async def get(s: aiohttp.ClientSession) -> object:
            async with s.get(url + PATH) as r:
                r.raise_for_status()
                return await r.json()

        # a script: raw aiohttp with one run_until_complete per call, against the blocking client
        loop = asyncio.new_event_loop()
        sess: Any = loop.run_until_complete(_session(token))
        try:
            with naikit.NovelAI(base_url=url, token=token) as nai:
                nai.subscription()
                loop.run_until_complete(get(sess))
                script = _paired(lambda: loop.run_until_complete(get(sess)), nai.subscription, pairs, block)
        finally:
            loop.run_until_complete(sess.close())
            loop.close()

        # a cell of a running loop: raw aiohttp handed to a loop thread, against the blocking client
        async def cell() -> list[tuple[float, float]]:
            with loop_thread() as bg:

                def raw() -> object:
                    return asyncio.run_coroutine_threadsafe(get(s), bg).result()

                s: Any = asyncio.run_coroutine_threadsafe(_session(token), bg).result()
                try:
                    with naikit.NovelAI(base_url=url, token=token) as nai:
                        nai.subscription()
                        raw()
                        return _paired(raw, nai.subscription, pairs, block)
                finally:
                    asyncio.run_coroutine_threadsafe(s.close(), bg).result()

        running = asyncio.run(cell())
    finally:
        stop_serve(server)
    print(f"blocking NovelAI / raw aiohttp called the same way, {pairs} pairs of {block}-call blocks")
    for name, res in (("script", script), ("loop running", running)):
        print(f"  {name:13} wall {_quartiles([w for w, _ in res])}   CPU {_quartiles([c for _, c in res])}")


# -- 1b. the same overhead without the network ----------------------------------------------------------
class _FakeResponse:
    status = 200
    content_type = "application/json"
    charset = "utf-8"

    def __init__(self, body: bytes):
        self._body = body
        self.headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Server": "x"}

    async def read(self) -> bytes:
        return self._body

    async def __aenter__(self) -> _FakeResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _FakeSession:
    """Answers every request at once with the same recorded body (no socket, no server)."""

    closed = False

    def __init__(self, body: bytes):
        self.body = body

    def request(self, method: str, url: str, **kw: object) -> _FakeResponse:
        return _FakeResponse(self.body)

    async def close(self) -> None:
        return None


def _recorded(url: str, token: str) -> bytes:
    import aiohttp

    async def main() -> bytes:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            async with s.get(url + PATH) as r:
                return await r.read()

    return asyncio.run(main())


def bench_overhead(n: int, rounds: int) -> None:
    """Print naikit's own CPU time per call, every layer over a session that answers at once, against
    the same loop reading the fake answer directly: the overhead with no server and no scheduler noise."""
    from naikit._settings import Hosts
    from naikit._transport import Transport

    server, url = start_serve()
    try:
        with naikit.NovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            nai.subscription()
            token = nai.token.value
        body = _recorded(url, token)
    finally:
        stop_serve(server)
    fake = _FakeSession(body)

    async def fake_session(self: Transport) -> _FakeSession:
        return fake

    Transport.session = fake_session  # type: ignore[method-assign,assignment]
    dead = "http://127.0.0.1:9"  # never dialled: every request goes to the fake session

    async def raw() -> float:
        c = time.process_time()
        for _ in range(n):
            async with fake.request("GET", dead + PATH, headers={}) as r:
                json.loads(await r.read())
        return time.process_time() - c

    async def read_once() -> None:
        async with fake.request("GET", dead + PATH, headers={}) as r:
            json.loads(await r.read())

    def raw_sync() -> float:
        # the least a blocking wrapper pays from sync code: one run_until_complete per call
        loop = asyncio.new_event_loop()
        try:
            c = time.process_time()
            for _ in range(n):
                loop.run_until_complete(read_once())
            return time.process_time() - c
        finally:
            loop.close()

    def raw_loop_running() -> float:
        # ... and from a thread whose loop runs: each call handed to a loop on another thread

        async def cell() -> float:
            c = time.process_time()
            for _ in range(n):
                asyncio.run_coroutine_threadsafe(read_once(), loop).result()
            return time.process_time() - c

        with loop_thread() as loop:
            return asyncio.run(cell())

    async def transport() -> float:
        t = Transport(Hosts.single(dead))
        t.set_token(token)
        await t.request("GET", "image", PATH)
        c = time.process_time()
        for _ in range(n):
            await t.request("GET", "image", PATH)
        return time.process_time() - c

    async def client() -> float:
        async with naikit.AsyncNovelAI(base_url=dead, token=token) as a:
            await a.subscription()
            c = time.process_time()
            for _ in range(n):
                await a.subscription()
            return time.process_time() - c

    def blocking(nai: naikit.NovelAI) -> float:
        c = time.process_time()
        for _ in range(n):
            nai.subscription()
        return time.process_time() - c

    async def cell(nai: naikit.NovelAI) -> float:
        return blocking(nai)

    res: dict[str, list[float]] = {}
    with naikit.NovelAI(base_url=dead, token=token) as nai:
        nai.subscription()
        for _ in range(rounds):
            res.setdefault("fake answer read directly", []).append(asyncio.run(raw()))
            res.setdefault("read, sync calls", []).append(raw_sync())
            res.setdefault("read, loop running", []).append(raw_loop_running())
            res.setdefault("Transport.request", []).append(asyncio.run(transport()))
            res.setdefault("AsyncNovelAI", []).append(asyncio.run(client()))
            res.setdefault("NovelAI (script)", []).append(blocking(nai))
            res.setdefault("NovelAI (loop running)", []).append(asyncio.run(cell(nai)))
    print(f"{n} calls of subscription() over a session that answers at once, CPU, best of {rounds}")
    base = min(res["fake answer read directly"]) / n
    # the blocking clients also against the same read made the same way (what any wrapper pays)
    refs = {"NovelAI (script)": "read, sync calls", "NovelAI (loop running)": "read, loop running"}
    for k, v in res.items():
        per = min(v) / n
        label = "wrapper's own" if k.startswith("read,") else "naikit's own:"
        line = f"  {k:26} {per * 1e6:7.1f} us/call  {label} {(per - base) * 1e6:7.1f} us"
        if k in refs:
            line += f"  (over {refs[k]}: {(per - min(res[refs[k]]) / n) * 1e6:.1f} us)"
        print(line)


# -- 2. stream framing -----------------------------------------------------------------------------------
CHUNK = 64 * 1024


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def _msgpack_stream(mb: int) -> bytes:
    import msgpack

    image = bytes(range(256)) * (mb * 1024 * 1024 // 256)
    frame = msgpack.packb(
        {"event_type": "final", "samp_ix": 0, "step_ix": 27, "gen_id": "g", "sigma": 0.0, "image": image}
    )
    return len(frame).to_bytes(4, "big") + frame


def _sse_stream(mb: int) -> bytes:
    # a little under ``mb`` MB of base64, so the 16 MB event stays within the SSE reader's line limit
    image = base64.b64encode(bytes(range(256)) * ((mb * 1024 * 1024 - 1024) * 3 // 4 // 256)).decode()
    data = json.dumps({"event_type": "final", "samp_ix": 0, "step_ix": 27, "gen_id": "g", "image": image})
    return ("event: final\ndata: " + data + "\n\n").encode()


def _decoders() -> tuple[type, type]:
    try:
        from naikit._framing import FrameDecoder, SSEDecoder
    except ImportError:  # before the transport split (for before/after figures)
        from naikit._transport import FrameDecoder, SSEDecoder  # type: ignore[attr-defined,no-redef]
    return FrameDecoder, SSEDecoder


def _frame_msgpack(chunks: list[bytes]) -> int:
    """Return the picture bytes read from a msgpack image stream: frames cut, each map unpacked."""
    import msgpack

    dec = _decoders()[0]()
    return sum(len(msgpack.unpackb(f)["image"]) for c in chunks for f in dec.feed(c))


def _frame_sse(chunks: list[bytes]) -> int:
    """Return the picture bytes read from an SSE image stream: events cut, JSON parsed, base64 decoded."""
    dec = _decoders()[1]()
    return sum(len(base64.b64decode(json.loads(ev["data"])["image"])) for c in chunks for ev in dec.feed(c))


def bench_framing(rounds: int) -> None:
    """Print the framing time per MB of 1, 4 and 16 MB streams, against a copy floor (the same chunks
    joined once: what the memory itself costs per MB at that size, caches and page faults included)."""
    rounds = max(rounds, 9)  # the 16 MB figures swing with page faults: the best of more rounds
    print(f"image stream framing, {CHUNK // 1024} KiB chunks, best of {rounds}")
    for name, make, frame in (("msgpack", _msgpack_stream, _frame_msgpack), ("sse", _sse_stream, _frame_sse)):
        per_mb: dict[int, float] = {}
        vs_copy: dict[int, float] = {}
        for mb in (1, 4, 16):
            chunks = _chunks(make(mb))
            best = floor = float("inf")
            for _ in range(rounds):
                t = time.perf_counter()
                frame(chunks)
                best = min(best, time.perf_counter() - t)
                t = time.perf_counter()
                b"".join(chunks)
                floor = min(floor, time.perf_counter() - t)
            per_mb[mb], vs_copy[mb] = best / mb, best / floor
            print(
                f"  {name:8} {mb:3} MB  {best * 1e3:8.2f} ms  {per_mb[mb] * 1e3:7.2f} ms/MB  "
                f"copy floor {floor * 1e3:7.2f} ms  framing/copy {vs_copy[mb]:6.1f}x"
            )
        print(
            f"  {name:8} 16 MB / 1 MB: time per MB {per_mb[16] / per_mb[1]:.2f}, "
            f"framing/copy {vs_copy[16] / vs_copy[1]:.2f}"
        )


# -- 3. import time ----------------------------------------------------------------------------------------
CHILD = (
    "exec({prelude!r}); import time; t, c = time.perf_counter(), time.process_time(); exec({stmt!r}); "
    "print(time.perf_counter() - t, time.process_time() - c)"
)
# An async user's program has imported asyncio before it names the async client: for that statement the
# child imports asyncio first, untimed, so the figure is what naikit itself adds.
AFTER_ASYNCIO = "import naikit; naikit.AsyncNovelAI  # after asyncio"
# construction only: a well-formed persistent token and no sandbox, so nothing is sent and nothing is started
TOKEN = "pst-" + "0" * 64
# the references first: every ratio is against them, measured in the same run
IMPORTS = [
    "import asyncio",
    "import aiohttp",
    "import naikit; naikit.NovelAI",
    "import naikit; naikit.Novita",
    "import naikit; naikit.AsyncNovelAI",
    AFTER_ASYNCIO,
    f"import naikit; naikit.NovelAI(token={TOKEN!r}, sandbox=False)",
]
HEAVY = ("aiohttp", "asyncio", "pandas", "PIL", "numpy", "tokenizers", "sentencepiece", "ipywidgets")


def _child_env(cache: str) -> dict[str, str]:
    # as a user's install runs: compiled bytecode cached (kept out of the tree), whatever this shell says
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    # the children import the naikit this script imported (they run in the cache folder: the current
    # directory, first on a child's path, could hold another checkout)
    here = str(Path(naikit.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def _import_once(stmt: str, env: dict[str, str]) -> tuple[float, float]:
    """Return the (wall, CPU) seconds of ``stmt`` in a fresh interpreter."""
    prelude = "import asyncio" if stmt == AFTER_ASYNCIO else ""
    cmd = [sys.executable, "-c", CHILD.format(prelude=prelude, stmt=stmt)]
    where = env["PYTHONPYCACHEPREFIX"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=where, check=True)
    wall, cpu = map(float, p.stdout.strip().splitlines()[-1].split())
    return wall, cpu


def _import_rounds(
    stmts: list[str], rounds: int, env: dict[str, str]
) -> dict[str, list[tuple[float, float]]]:
    """Return ``rounds`` (wall, CPU) samples per statement, one fresh interpreter each, after a warm-up run
    of each (which writes the bytecode cache). The statements take turns in every round, so a burst of
    load from other processes falls on all of them rather than on one."""
    for stmt in stmts:
        _import_once(stmt, env)
    out: dict[str, list[tuple[float, float]]] = {s: [] for s in stmts}
    for r in range(rounds):
        for stmt in stmts[r % len(stmts) :] + stmts[: r % len(stmts)]:
            out[stmt].append(_import_once(stmt, env))
    return out


def _importtime(stmt: str, env: dict[str, str]) -> list[tuple[int, int, str]]:
    """Return ``-X importtime``'s rows for ``stmt``: (self us, cumulative us, indented module name)."""
    cmd = [sys.executable, "-X", "importtime", "-c", stmt]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=env["PYTHONPYCACHEPREFIX"])
    rows = []
    for line in p.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[0].split(":")[1]), int(parts[1]), parts[2].rstrip()))
    return rows


def bench_import(rounds: int) -> None:
    """Print the time to the client classes and to a constructed client, against asyncio's and aiohttp's
    import in the same run, and the heaviest modules the constructed client imports."""
    stmts = list(IMPORTS)
    with tempfile.TemporaryDirectory() as cache:
        env = _child_env(cache)
        samples = _import_rounds(stmts, rounds, env)
        rows = _importtime(stmts[-1], env)
    med = {
        s: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for s, v in samples.items()
    }
    print(f"import, {rounds} fresh interpreters each (bytecode cached, statements interleaved); seconds")
    print(f"  {'statement':58} {'wall median [min-max]':>24} {'CPU median':>10}  /asyncio /aiohttp (wall)")
    for stmt in stmts:
        walls = [w for w, _ in samples[stmt]]
        w, c = med[stmt]
        label = stmt if len(stmt) <= 58 else stmt[:55] + "..."
        ratios = f"{w / med['import asyncio'][0]:8.2f}x {w / med['import aiohttp'][0]:7.2f}x"
        print(f"  {label:58} {w:7.3f} [{min(walls):.3f}-{max(walls):.3f}] {c:10.3f}  {ratios}")
    loaded = {name.strip() for _, _, name in rows}
    print(
        f"  a constructed NovelAI has loaded: {', '.join(m for m in HEAVY if m in loaded) or 'none of'} "
        f"(of {', '.join(HEAVY)})"
    )
    print("  top-level imports of a constructed NovelAI, cumulative (us):")
    for _, us, name in sorted((r for r in rows if not r[2].startswith("  ")), key=lambda r: -r[1])[:6]:
        print(f"    {us:9d} {name.strip()}")
    print("  heaviest naikit modules by their own time (us):")
    own = sorted((r for r in rows if r[2].strip().startswith("naikit")), key=lambda r: -r[0])[:10]
    for us, _, name in own:
        print(f"    {us:9d} {name.strip()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="calls,paired,overhead,framing,import")
    ap.add_argument(
        "--profile", choices=["sync", "loop", "async", "transport"], help="cProfile one client kind instead"
    )
    args = ap.parse_args()
    parts = args.only.split(",")
    if "calls" in parts or args.profile:
        bench_calls(args.n, args.rounds, args.profile)
    if args.profile:
        return
    if "paired" in parts:
        bench_paired(60, max(args.n // 10, 10))
    if "overhead" in parts:
        bench_overhead(args.n * 10, args.rounds)
    if "framing" in parts:
        if os.environ.get("MALLOC_MMAP_THRESHOLD_"):
            bench_framing(args.rounds)
        else:
            # In a child whose allocator keeps freed memory (glibc tunables): the figures then show the
            # readers' work, not the first-touch page faults of fresh 16 MB blocks, which on a VM swing
            # the copy floor itself from 3 to 80 ms between runs.
            big = str(1 << 30)
            env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": big, "MALLOC_TRIM_THRESHOLD_": big}
            cmd = [sys.executable, __file__, "--only", "framing", "--rounds", str(args.rounds)]
            subprocess.run(cmd, env=env, check=True)
    if "import" in parts:
        bench_import(args.rounds)


if __name__ == "__main__":
    main()
