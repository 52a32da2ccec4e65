"""Starting and stopping the sandbox: in-process on its own thread and loop, or in the foreground.

:func:`start` runs the server on a daemon thread with its own event loop, never the caller's, so
synchronous code (a notebook cell, a sync client blocking on a future) cannot deadlock it.
:func:`embedded` keeps one such server per process for clients that found no credentials.
:func:`serve` is the ``naikit serve`` command's body.

Test hooks (``/_sandbox/outbox``, ``/_sandbox/faults``, every ``/_sandbox/`` path) are off unless
``test_hooks=True``; then each request to them must carry the sandbox's random admin token
(:attr:`Sandbox.admin_token`, sent as :data:`~.app.ADMIN_HEADER`; ``naikit serve --test-hooks`` prints it).
A request's headers and its body must each arrive within ``read_timeout`` seconds, and an idle
connection is closed after as long, so half-sent requests cannot hold connections open.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import threading
from typing import TYPE_CHECKING, Any

from .clock import Clock, SystemClock
from .demo_account import DEMO_EMAIL, DEMO_PASSWORD
from .faults import FaultInjector, FaultPlan, as_plan
from .store import Store

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["Sandbox", "start", "embedded", "serve", "DEFAULT_PORT"]

DEFAULT_PORT = 8765
_START_TIMEOUT = 30.0


class Sandbox:
    """A running sandbox server. Use :func:`start` to get one; ``stop()`` or a ``with`` block ends it."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        data_dir: str | os.PathLike[str] | None,
        faults: FaultPlan | str | None,
        clock: Clock | None,
        test_hooks: bool = False,
        read_timeout: float | None = None,
    ):
        from .http import READ_TIMEOUT

        self.host = host
        # random per start: knowing the port is not enough to read the outbox or change the faults
        self.admin_token: str | None = secrets.token_urlsafe(32) if test_hooks else None
        from .._validate import check_number
        from ..errors import InputError

        allowed = "a number of seconds above 0"
        if read_timeout is not None and check_number(read_timeout, "read_timeout", allowed=allowed) <= 0:
            raise InputError("read_timeout", read_timeout, allowed)
        self.read_timeout = READ_TIMEOUT if read_timeout is None else float(read_timeout)
        self.data_dir = None if data_dir is None else os.fspath(data_dir)
        self.clock: Clock = clock or SystemClock()
        self.store = Store.open(self.data_dir)
        self._injector = FaultInjector(as_plan(faults))
        self._requested_port = port
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopped = False
        self._stop_lock = threading.Lock()
        self.app: web.Application | None = None

    # ---------------------------------------------------------------- life cycle

    def _start(self) -> None:
        from .app import build_app

        try:
            self.app = build_app(
                self.store,
                faults=self._injector,
                clock=self.clock,
                admin_token=self.admin_token,
                read_timeout=self.read_timeout,
            )
        except BaseException:
            self.store.close()
            raise
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"naikit-sandbox-{id(self):x}", daemon=True)
        self._thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"the sandbox did not start listening within {_START_TIMEOUT:g} s")
        if failure:
            self.store.close()
            self._stopped = True
            raise failure[0]

    async def _serve(self) -> None:
        from aiohttp import web

        assert self.app is not None
        # access_log=None: notebooks stay quiet; the access line would never hold secrets anyway.
        # keepalive_timeout: aiohttp closes a connection that has not sent a whole request head within it
        # (counted from the connection or the previous response); read_body bounds the body the same way.
        # lingering_time: after refusing a body (413, 408, 503) aiohttp reads and drops the rest for a moment,
        # so the client gets the answer rather than a reset; briefly, or a refused upload holds a connection.
        runner = web.AppRunner(
            self.app,
            access_log=None,
            shutdown_timeout=1.0,
            keepalive_timeout=self.read_timeout,
            lingering_time=min(2.0, self.read_timeout),
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    def stop(self) -> None:
        """Stop serving, join the server thread and close the store (idempotent); returns None."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():

            async def shutdown() -> None:
                if self._runner is not None:
                    await self._runner.cleanup()

            try:
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=10)
        self.store.close()

    @property
    def running(self) -> bool:
        """Return True while the server is accepting requests."""
        return not self._stopped and self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = self.data_dir or "memory"
        return f"<Sandbox {self.url} {state}, store={where}>"

    # ---------------------------------------------------------------- what tests and notebooks use

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:54321`` (every NovelAI host's paths live under it)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def faults(self) -> FaultPlan:
        """Return the fault plan in force; assign a FaultPlan, its string form or None to change it."""
        return self._injector.plan

    @faults.setter
    def faults(self, plan: FaultPlan | str | None) -> None:
        self._injector.plan = as_plan(plan)

    def stats(self) -> dict[str, Any]:
        """Return the request and injected-fault counters (as ``GET /_sandbox/stats``)."""
        return self._injector.stats()

    def reset_stats(self) -> None:
        """Zero the counters; returns None."""
        self._injector.reset_stats()

    @property
    def admin_headers(self) -> dict[str, str]:
        """Return the header that opens the ``/_sandbox/`` test hooks; raise RuntimeError if they are off."""
        from .http import ADMIN_HEADER

        if self.admin_token is None:
            raise RuntimeError("this sandbox's test hooks are off: start it with test_hooks=True")
        return {ADMIN_HEADER: self.admin_token}

    def connection_count(self) -> int:
        """Return how many client connections the server holds open right now."""
        runner = self._runner
        if runner is None or runner.server is None:
            return 0
        return len(runner.server.connections)

    @property
    def outbox(self) -> list[dict[str, Any]]:
        """Return a copy of the mails the sandbox would have sent (kind, to, token, at)."""
        from .http import STATE

        assert self.app is not None
        state = self.app[STATE]
        with state.outbox_lock:
            return [dict(m) for m in state.outbox]

    def create_persistent_token(self, email: str = DEMO_EMAIL) -> str:
        """Create a persistent ``pst-`` API token for the account registered with ``email``; return it.

        Raises KeyError if no account has that email.
        """
        from ..novelai.auth import hashed_email
        from .http import STATE

        assert self.app is not None
        account = self.store.account_by_email_hash(hashed_email(email))
        if account is None:
            raise KeyError(f"no sandbox account is registered with {email!r}")
        return self.app[STATE].tokens.create_persistent(account.id)


def start(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    faults: FaultPlan | str | None = None,
    clock: Clock | None = None,
    test_hooks: bool = False,
    read_timeout: float | None = None,
) -> Sandbox:
    """Start a sandbox on its own daemon thread and event loop; return the running :class:`Sandbox`.

    Returns once the server listens. ``port=0`` picks a free port (see ``Sandbox.url``); ``data_dir`` keeps
    the store in ``<data_dir>/sandbox.sqlite3`` (else in memory); ``faults`` is a FaultPlan or its string
    form (``"429=0.2,drop=0.05,seed=7"``); ``clock`` defaults to real time (pass ``FakeClock()`` in tests).
    ``test_hooks=True`` opens the ``/_sandbox/`` endpoints (outbox, faults, knobs) to requests that carry
    ``Sandbox.admin_headers``; ``read_timeout`` (default 60 s) bounds how long a request may take to arrive.
    """
    sandbox = Sandbox(
        host=host,
        port=port,
        data_dir=data_dir,
        faults=faults,
        clock=clock,
        test_hooks=test_hooks,
        read_timeout=read_timeout,
    )
    sandbox._start()
    return sandbox


_embedded: Sandbox | None = None
_embedded_lock = threading.Lock()


def embedded() -> Sandbox:
    """Return the process-wide in-memory sandbox, starting it on first call (restarted if it was stopped)."""
    global _embedded
    with _embedded_lock:
        if _embedded is None or not _embedded.running:
            _embedded = start()
            atexit.register(_embedded.stop)
        return _embedded


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    data_dir: str | os.PathLike[str] | None = None,
    faults: FaultPlan | str | None = None,
    test_hooks: bool = False,
    read_timeout: float | None = None,
) -> None:
    """Run a sandbox in the foreground until Ctrl-C (or SIGTERM); print one line with its URL and the demo
    credentials (and, with ``test_hooks``, one with the admin token). Returns None once stopped."""
    import signal

    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C and SIGTERM only set the event: a KeyboardInterrupt could land anywhere, even in stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        sandbox = start(
            host=host,
            port=port,
            data_dir=data_dir,
            faults=faults,
            test_hooks=test_hooks,
            read_timeout=read_timeout,
        )
        try:
            where = f", data in {sandbox.data_dir}" if sandbox.data_dir else ", in memory"
            plan = sandbox.faults
            extra = f", faults {plan}" if plan.active else ""
            demo = f"demo account {DEMO_EMAIL} / {DEMO_PASSWORD}"
            print(f"naikit sandbox on {sandbox.url} ({demo}{where}{extra}); Ctrl-C to stop", flush=True)
            if sandbox.admin_token is not None:
                from .http import ADMIN_HEADER

                print(f"test hooks on: send {ADMIN_HEADER}: {sandbox.admin_token}", flush=True)
            # wake up now and then: a signal handler only runs between bytecodes of the main thread
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:  # serve() called off the main thread, where handlers cannot be set
            pass
        finally:
            sandbox.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
