"""The runner closes the event loop of a thread that finished, and what was opened on it, as the thread
ends: nothing is left for the garbage collector to warn about ("unclosed event loop", "unclosed client
session"). Driven by thread joins and explicit collections, with warnings turned into errors."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import warnings

from aiohttp import web

from naikit import _runner
from naikit._settings import Hosts
from naikit._transport import Transport


def _in_thread(fn) -> list:
    box: list = []
    t = threading.Thread(target=lambda: box.append(fn()))
    t.start()
    t.join()
    return box


class _Unraisable:
    """Records what ``__del__`` methods and finalizers raised (a warning turned into an error there is
    "unraisable": Python reports it through ``sys.unraisablehook`` instead of raising it)."""

    def __enter__(self) -> list:
        self.seen: list = []
        self._old = sys.unraisablehook
        sys.unraisablehook = lambda u: self.seen.append(
            f"{u.exc_type.__name__}: {u.exc_value} ({u.object!r})"
        )
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("error", ResourceWarning)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        gc.collect()
        self._w.__exit__(*exc)
        sys.unraisablehook = self._old


def test_a_finished_threads_loop_is_closed_when_it_ends():
    with _Unraisable() as seen:

        def work():
            loop = _runner._thread_loop()
            assert _runner.run(asyncio.sleep(0, "done")) == "done"
            return loop

        (loop,) = _in_thread(work)
        assert loop.is_closed(), "closed by the time join() returned"
        del loop
    assert seen == []


def test_the_loop_without_the_runner_fix_would_warn():
    # the check above can fail: a loop dropped unclosed does warn under these filters
    with _Unraisable() as seen:
        loop = asyncio.new_event_loop()
        del loop
    assert any("unclosed event loop" in s for s in seen), seen


def test_sessions_opened_on_a_finished_thread_are_closed_first():
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def serve() -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_get("/x", ok)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return runner, f"http://127.0.0.1:{port}"

    server, url = _runner.run(_runner_background(serve()))
    try:
        with _Unraisable() as seen:
            session, body = _session_of_a_finished_thread(url)
            assert body == {"ok": True}
            assert session.closed, "the thread's session was closed with its loop"
            del session
        assert seen == []
    finally:
        _runner.run(_runner_background(server.cleanup()))


def _session_of_a_finished_thread(url: str):
    transport = Transport(Hosts.single(url))

    def work():
        body = _runner.run(transport.request("GET", "api", "/x", auth=False)).body
        return _runner.run(transport.session()), body

    ((session, body),) = _in_thread(work)
    return session, body


async def _runner_background(coro):
    # the test server lives on the runner's background loop, which outlives the worker threads
    loop = _runner.get_loop()
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
