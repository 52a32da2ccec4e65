"""What every area of the Novita client builds on: the key, the sandbox default, the transport, the
response checks, files on other hosts, and the life of a v3 task (submit, poll, download).

The areas (:mod:`._generation`, :mod:`._case`, :mod:`._lora_training`, :mod:`._catalogue`) subclass
:class:`NovitaBase`, so everything they use is declared once, with its type, here.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .._once import OnceGate
from .._outcome import spend_checked
from .._poll import attach_task, poll
from .._secret import Secret, reveal
from .._settings import Hosts, RetryPolicy, Timeouts
from .._shapes import check as check_shape
from .._transport import Transport
from .._validate import (
    check_bool,
    check_mapping,
    check_text,
    check_wait_options,
    check_wire_text,
)
from ..errors import CredentialsError, InputError, NaikitError
from .errors import map_error
from .tasks import TASK_RESULT_SHAPE, MediaFile, Task, TaskResult
from .training import UserInfo

__all__ = ["NovitaBase", "DEFAULT_BASE_URL", "task_id_of"]

DEFAULT_BASE_URL = "https://api.novita.ai"
_WAIT_KEYS = {"timeout", "interval", "max_interval", "progress", "callback", "download", "raise_on_failure"}
_Client = TypeVar("_Client", bound="NovitaBase")
_Item = TypeVar("_Item")


def _base_from_env() -> str | None:
    return os.environ.get("NOVITA_BASE_URL") or os.environ.get("NOVITA_API_URI") or None


def _check_key(key: Any) -> Secret:
    """Return the key as a Secret if it can be a Novita key, else raise (never showing it)."""
    key = Secret.wrap(key) if isinstance(key, (str, Secret)) else key
    if not isinstance(key, Secret) or not _plausible_key(key.reveal()):
        raise CredentialsError(
            "api_key",
            key if isinstance(key, Secret) else type(key).__name__,
            "a Novita API key (printable ASCII, no spaces)",
        )
    return key


def _plausible_key(value: Any) -> bool:
    # sent in a header: printable ASCII only (controls and lone surrogates cannot travel there)
    return (
        isinstance(value, str)
        and bool(value.strip())
        and value.isascii()
        and value.isprintable()
        and not any(c.isspace() for c in value)
    )


class NovitaBase:
    """The state and plumbing every area of :class:`~naikit.novita.async_client.AsyncNovita` uses: the key and
    the sandbox default (``_ensure_ready``), the API call (``_call``), the response check (``_check``,
    switched by ``validate``), files on other hosts, the account's balance, and the v3 task lifecycle.

    ``api_key``: a Novita key (else ``NOVITA_API_KEY``, else the sandbox). ``sandbox``: None = automatic,
    True = always the embedded sandbox, False = never. ``validate`` checks response shapes.
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        *,
        base_url: str | None = None,
        sandbox: bool | None = None,
        validate: bool = True,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ):
        # kept as a Secret from here on: frame locals and attributes show <hidden>
        api_key = _check_key(api_key) if api_key is not None else None
        self._key_arg: Secret | None = api_key
        self._base_arg = base_url
        self.sandbox_mode = sandbox
        self.validate = validate
        self._sandbox: Any = None
        self._ready = False
        self._ready_gate = OnceGate()
        base = base_url or _base_from_env() or DEFAULT_BASE_URL
        self.transport = Transport(
            Hosts.single(base),
            retry=retry,
            timeouts=timeouts,
            user_agent="naikit-novita",
            error_mapper=map_error,
        )
        self._file_transports: dict[str, Transport] = {}
        #: every task id this client submitted, oldest first (generation and training)
        self.task_ids: list[str] = []
        # Replaceable so tests can drive polling with the sandbox's fake clock instead of waiting.
        self.poll_clock: Callable[[], float] = time.monotonic
        self.poll_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __repr__(self) -> str:
        where = "sandbox" if self._sandbox is not None else self.transport.hosts.api
        key = "key=<hidden>" if (self._key_arg or self.transport.has_token) else "no key yet"
        return f"{type(self).__name__}({where}, {key})"

    @property
    def base_url(self) -> str:
        """Return the base URL requests go to."""
        return self.transport.hosts.api

    @property
    def is_sandbox(self) -> bool:
        """Return True when this client talks to the embedded offline sandbox."""
        return self._sandbox is not None

    @property
    def stats(self) -> dict[str, int]:
        """Return counts of requests, attempts and retries per reason since the client was made."""
        return dict(self.transport.stats)

    async def __aenter__(self: _Client) -> _Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP sessions of the running loop; returns None. The client can be used again."""
        await self.transport.close()
        for t in self._file_transports.values():
            await t.close()

    # -- credentials -------------------------------------------------------------------------------
    async def _ensure_ready(self) -> None:
        """Resolve the API key (or start the sandbox) once; returns None."""
        await self._ready_gate.run(lambda: self._ready, self._resolve_ready)

    async def _resolve_ready(self) -> None:
        """Resolve the credentials now (under the gate of :meth:`_ensure_ready`); returns None."""
        key: Secret | None = self._key_arg if self.sandbox_mode is not True else None
        if key is None and self.sandbox_mode is not True:
            env = Secret.wrap(os.environ.get("NOVITA_API_KEY"))
            key = _check_key(env) if env else None
        if key is None:
            automatic = self.sandbox_mode is None and self._base_arg is None and _base_from_env() is None
            if self.sandbox_mode is True or automatic:
                key = Secret(await self._start_sandbox())
            else:
                raise CredentialsError(
                    "api_key", None, "a Novita API key", "Pass api_key= or set NOVITA_API_KEY."
                )
        self.transport.set_token(reveal(key))
        self._ready = True

    async def _start_sandbox(self) -> str:
        from .._embedded import novita_demo_key, start_embedded

        server = await start_embedded(
            "novita",
            "no NOVITA_API_KEY in the environment; using the offline Novita sandbox at {url} (demo key)",
        )
        self._sandbox = server
        self.transport.hosts = Hosts.single(server.url)
        return novita_demo_key()

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        await self._ensure_ready()
        resp = await self.transport.request(method, "api", path, **kw)
        return resp.body

    def _check(self, body: Any, shape: Any, what: str) -> Any:
        return check_shape(body, shape, what) if self.validate else body

    # -- files on other hosts (S3 results, presigned uploads) ---------------------------------------
    def _file_transport(self, url: str) -> tuple[Transport, str]:
        try:
            parts = urlsplit(url)
        except ValueError:
            raise InputError("url", url, "an absolute http(s) URL") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError("url", url, "an absolute http(s) URL")
        origin = f"{parts.scheme}://{parts.netloc}"
        t = self._file_transports.get(origin)
        if t is None:
            t = self._file_transports[origin] = Transport(
                Hosts.single(origin), retry=self.transport.retry, timeouts=self.transport.timeouts
            )
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return t, path

    async def fetch_url(self, url: str) -> bytes:
        """Return the bytes at ``url`` (a result file), retrying 429/5xx/connection failures."""
        check_text(url, "url", allowed="an absolute http(s) URL", empty=False)
        t, path = self._file_transport(url)
        resp = await t.request("GET", "api", path, auth=False)
        body = resp.body
        if isinstance(body, str):
            return body.encode()
        if not isinstance(body, bytes):
            raise NaikitError(f"GET {url.split('?')[0]}: expected a file, got {resp.content_type}")
        return body

    async def _put_url(self, url: str, data: bytes, content_type: str) -> None:
        t, path = self._file_transport(url)
        await t.request("PUT", "api", path, data=data, auth=False, headers={"Content-Type": content_type})

    # -- tasks -------------------------------------------------------------------------------------
    async def submit(self, endpoint: str, body: Mapping[str, Any]) -> Task:
        """POST ``body`` to ``/v3/async/<endpoint>`` (or an absolute ``/v3/...`` path); return the Task.

        The raw form of every generation method, for bodies built with :mod:`naikit.novita.requests`.
        Not resent after a dropped connection (it would start and bill a second task).
        """
        if not isinstance(endpoint, str) or not endpoint:
            raise InputError("endpoint", endpoint, "an endpoint such as 'txt2img' or '/v3/async/txt2img'")
        path = check_wire_text(endpoint if endpoint.startswith("/") else f"/v3/async/{endpoint}", "endpoint")
        sent = dict(check_mapping(body, "body", none=False))
        data = await spend_checked(
            lambda: self._call("POST", path, json=sent),
            self._credit_balance,
            body=sent,
            cost=1,  # every task is billed; the amount is unknown in advance, only "paid" matters here
            unit="credits",
            stats=self.transport.stats,
        )
        task_id = self._check(data, {"task_id": str}, f"POST {path}")["task_id"]
        self.task_ids.append(task_id)
        return Task(task_id, endpoint.rsplit("/", 1)[-1])

    async def task_result(self, task: Task | str) -> TaskResult:
        """Return one status of a task (``GET /v3/async/task-result``) without waiting or downloading."""
        task_id = task_id_of(task)
        data = await self._call("GET", "/v3/async/task-result", params={"task_id": task_id})
        return TaskResult.from_json(self._check(data, TASK_RESULT_SHAPE, "GET /v3/async/task-result"))

    async def wait_for_task(
        self,
        task: Task | str,
        *,
        timeout: float = 300.0,
        interval: float = 0.5,
        max_interval: float = 5.0,
        progress: Any = None,
        callback: Callable[[TaskResult], Any] | None = None,
        download: bool = True,
        raise_on_failure: bool = True,
    ) -> TaskResult:
        """Poll a task until it succeeds or fails; return its TaskResult, files downloaded when ``download``.

        ``timeout`` is seconds of wall time (TaskTimeout after it; the task may still finish). ``progress``:
        None = a bar in notebooks, True/False, or an object with ``update``/``close``. A failed task
        raises TaskFailed (``raise_on_failure=False`` returns it instead). Errors carry ``task_id``.
        """
        task_id = task_id_of(task)
        check_wait_options(
            timeout=timeout, interval=interval, max_interval=max_interval, callback=callback,
            raise_on_failure=raise_on_failure, download=download, progress=progress,
        )  # fmt: skip
        result: TaskResult = await poll(
            lambda: self.task_result(task_id),
            task_id,
            timeout=timeout,
            interval=interval,
            max_interval=max_interval,
            progress=progress,
            callback=callback,
            raise_on_failure=raise_on_failure,
            what=(task.endpoint if isinstance(task, Task) else "") or "task",
            now=self.poll_clock,
            sleep=self.poll_sleep,
        )
        if download and result.succeeded:
            await self.download(result)
        return result

    async def download(self, result: TaskResult) -> TaskResult:
        """Fetch every file of ``result`` that has no bytes yet (with retries); return ``result``.

        Files stay aligned with their URLs: nothing is dropped. A file that cannot be fetched raises,
        with ``task_id`` and ``result`` attached (the URLs are valid for ``ttl`` seconds).
        """
        if not isinstance(result, TaskResult):
            raise InputError("result", result, "a TaskResult from task_result() or wait_for_task()")
        files = [f for f in result.files if f.data is None]

        async def one(f: MediaFile) -> None:
            f.data = await self.fetch_url(f.url)

        try:
            await asyncio.gather(*(one(f) for f in files))
        except Exception as exc:
            raise attach_task(exc, result.task_id, result) from None
        return result

    async def _run(self, endpoint: str, body: dict[str, Any], wait: bool, wait_kw: dict[str, Any]) -> Any:
        unknown = set(wait_kw) - _WAIT_KEYS
        if unknown:
            raise InputError(
                sorted(unknown)[0], wait_kw[sorted(unknown)[0]], "one of " + ", ".join(sorted(_WAIT_KEYS))
            )
        check_bool(wait, "wait")
        # a bad wait option found after submitting would leave a paid task nobody waits for
        check_wait_options(**wait_kw)
        task = await self.submit(endpoint, body)
        if not wait:
            return task
        return await self.wait_for_task(task, **wait_kw)

    # -- cursor-paged lists ---------------------------------------------------------------------------
    async def _pages(
        self,
        path: str,
        params: Mapping[str, str],
        items: str,
        shape: Mapping[str, Any],
        parse: Callable[[dict[str, Any]], _Item],
        max_pages: int | None,
    ) -> tuple[list[_Item], int, str]:
        """Return every item of the cursor-paged list at ``path`` (the ``items`` field), parsed; the number
        of pages read; and the cursor to go on from when ``max_pages`` stopped the walk (else "")."""
        out: list[_Item] = []
        cursor, pages, seen = "", 0, set()
        while True:
            page = dict(params, **({"pagination.cursor": cursor} if cursor else {}))
            data = self._check(await self._call("GET", path, params=page), shape, f"GET {path}")
            pages += 1
            out += [parse(x) for x in data.get(items) or []]
            pagination = data.get("pagination")
            cursor = str((pagination.get("next_cursor") if isinstance(pagination, dict) else None) or "")
            stopped = bool(max_pages and pages >= max_pages)
            # a cursor seen before would loop forever; an empty page ends too
            if not cursor or not data.get(items) or cursor in seen or stopped:
                return out, pages, cursor if stopped else ""
            seen.add(cursor)

    # -- account -----------------------------------------------------------------------------------
    async def user_info(self) -> UserInfo:
        """Return the account's features and credit balance (``GET /v3/user``)."""
        data = await self._call("GET", "/v3/user")
        return UserInfo.from_json(self._check(data, {"credit_balance?": (int, float, None)}, "GET /v3/user"))

    async def _credit_balance(self) -> float:
        """Return the key's credit balance now (the probe that tells whether a lost task was billed)."""
        return float((await self.user_info()).credit_balance)


def task_id_of(task: Task | str) -> str:
    """Return the task id of a Task or an id string; InputError for anything that cannot be one."""
    task_id = task.task_id if isinstance(task, Task) else task
    if (
        not isinstance(task_id, str)
        or not task_id
        or len(task_id) > 128
        or any(c in task_id for c in "/?#&\n ")
    ):
        raise InputError("task", task, "a Task or a task id string")
    return task_id
