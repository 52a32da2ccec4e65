"""Attacks on the sandbox, each tried against a real server: test hooks without credentials, an old token
after recovery, readable files, a signing secret in the store, half-sent requests, oversize bodies, and
memory that grows faster than what is stored."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import stat
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from naikit import sandbox as sb
from naikit.novelai.auth import hashed_email
from naikit.sandbox.http import ADMIN_HEADER, MAX_BODY

sys.path.insert(0, str(Path(__file__).parent))
from served import naikit_serve, start_serve, stop_serve  # noqa: E402

# A hang guard for waits on the server, never a measure of its speed.
PATIENCE = 120.0


def call(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Send one request; return (status, parsed JSON body or raw bytes)."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def new_key() -> str:
    """Return a fresh 64-character access key (the sandbox does not care how it was derived)."""
    return secrets.token_urlsafe(48)


def register(url: str, email: str) -> tuple[str, str]:
    """Create an account with a hashed email; return (access key, login token)."""
    key = new_key()
    status, body = call(
        url, "POST", "/user/register", {"recapcha": "ok", "key": key, "email": hashed_email(email)}
    )
    assert status == 201, body
    return key, body["accessToken"]


# ------------------------------------------------------------------------------------------- test hooks

HOOKS = [
    ("GET", "/_sandbox/outbox", None),
    ("PUT", "/_sandbox/faults", {"rate_500": 1.0}),
    ("DELETE", "/_sandbox/faults", None),
    ("GET", "/_sandbox/stats", None),
    ("PUT", "/_sandbox/text", {"token_delay": 0.5}),
    ("PUT", "/_sandbox/image", {"latency": 5}),
    ("POST", "/_sandbox/clock", {"advance": 3600}),
]


def test_hooks_are_off_by_default_and_the_outbox_hands_out_nothing():
    with sb.start() as box:
        register(box.url, "victim@example.com")
        assert call(box.url, "POST", "/user/recovery/request", {"email": "victim@example.com"})[0] == 202
        assert box.outbox[-1]["kind"] == "recovery"  # the mail exists, in-process only
        for method, path, body in HOOKS:
            status, answer = call(box.url, method, path, body)
            assert status == 404, (path, answer)
            assert "test hooks are off" in answer["message"]
            assert box.outbox[-1]["token"] not in json.dumps(answer)
        assert not box.faults.active
        with pytest.raises(RuntimeError, match="test_hooks=True"):
            _ = box.admin_headers


def test_hooks_need_the_admin_token():
    with sb.start(test_hooks=True) as box:
        register(box.url, "victim@example.com")
        call(box.url, "POST", "/user/recovery/request", {"email": "victim@example.com"})
        recovery = box.outbox[-1]["token"]
        wrong = {ADMIN_HEADER: box.admin_token[:-1] + ("A" if box.admin_token[-1] != "A" else "B")}
        for headers in ({}, wrong, {ADMIN_HEADER: ""}, {"Authorization": "Bearer " + box.admin_token}):
            for method, path, body in HOOKS:
                status, answer = call(box.url, method, path, body, headers=headers)
                assert status == 401, (path, headers, answer)
                assert ADMIN_HEADER in answer["message"] and recovery not in json.dumps(answer)
        assert not box.faults.active  # the refused PUT changed nothing
        status, answer = call(box.url, "GET", "/_sandbox/outbox", headers=box.admin_headers)
        assert status == 200 and answer["mails"][-1]["token"] == recovery
        status, answer = call(
            box.url, "PUT", "/_sandbox/faults", {"rate_429": 0.5}, headers=box.admin_headers
        )
        assert status == 200 and box.faults.rate_429 == 0.5
    with sb.start(test_hooks=True) as other:
        assert other.admin_token != box.admin_token  # drawn per start


def test_naikit_serve_keeps_hooks_closed_unless_asked():
    with naikit_serve() as url:
        for method, path, body in HOOKS:
            assert call(url, method, path, body)[0] == 404, path
    proc, url = start_serve("--test-hooks")
    try:
        headers = proc.admin_headers
        assert list(headers) == [ADMIN_HEADER] and len(headers[ADMIN_HEADER]) >= 40
        assert call(url, "GET", "/_sandbox/outbox")[0] == 401
        assert call(url, "PUT", "/_sandbox/faults", {"rate_500": 1.0})[0] == 401
        assert call(url, "GET", "/user/information")[0] == 401  # no fault was planted: 401, not 500
        status, answer = call(url, "GET", "/_sandbox/outbox", headers=headers)
        assert status == 200 and answer == {"mails": []}
    finally:
        stop_serve(proc)


# ---------------------------------------------------------------------------------------- token revocation


def test_recovery_revokes_every_earlier_token():
    with sb.start() as box:
        email = "owner@example.com"
        _, old = register(box.url, email)
        again = call(box.url, "POST", "/user/login", {"key": new_key()})[0]
        assert again == 401
        pst = box.create_persistent_token(email)
        assert call(box.url, "GET", "/user/information", token=old)[0] == 200
        assert call(box.url, "GET", "/user/information", token=pst)[0] == 200
        call(box.url, "POST", "/user/recovery/request", {"email": email})
        recovery = box.outbox[-1]["token"]
        new_key_ = new_key()
        status, body = call(
            box.url, "POST", "/user/recovery/recover", {"recoveryToken": recovery, "newAccessKey": new_key_}
        )
        assert status == 201
        new = body["accessToken"]
        status, answer = call(box.url, "GET", "/user/information", token=old)
        assert status == 401 and "revoked" in answer["message"]
        assert call(box.url, "GET", "/user/information", token=pst)[0] == 401
        assert call(box.url, "GET", "/user/information", token=new)[0] == 200
        # logging in with the new key gives a working token; the old JWT stays dead
        status, body = call(box.url, "POST", "/user/login", {"key": new_key_})
        assert (
            status == 201 and call(box.url, "GET", "/user/information", token=body["accessToken"])[0] == 200
        )
        assert call(box.url, "GET", "/user/information", token=old)[0] == 401


def test_access_key_change_revokes_earlier_login_tokens():
    with sb.start() as box:
        key, old = register(box.url, "changer@example.com")
        other_key, other = register(box.url, "bystander@example.com")
        replacement = new_key()
        status, body = call(
            box.url,
            "POST",
            "/user/change-access-key",
            {"currentAccessKey": key, "newAccessKey": replacement},
            token=old,
        )
        assert status == 200
        assert call(box.url, "GET", "/user/information", token=old)[0] == 401
        assert call(box.url, "GET", "/user/information", token=body["accessToken"])[0] == 200
        assert call(box.url, "GET", "/user/information", token=other)[0] == 200  # other accounts untouched


# ---------------------------------------------------------------------------------------- files and secrets


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_files_are_private_and_hold_no_signing_secret(tmp_path):
    folder = tmp_path / "new" / "data"
    old_umask = os.umask(0o022)  # what most shells give: files 0644 unless created private
    try:
        with sb.start(data_dir=folder) as box:
            _, token = register(box.url, "files@example.com")
            call(box.url, "PUT", "/user/objects/stories", {"meta": "m", "data": "x" * 5000}, token=token)
            db = folder / "sandbox.sqlite3"
            assert _mode(folder) == 0o700
            files = sorted(p.name for p in folder.iterdir())
            assert {"sandbox.sqlite3", "jwt-secret"} <= set(files)
            for p in folder.iterdir():
                assert _mode(p) == 0o600, (p.name, oct(_mode(p)))
            secret = (folder / "jwt-secret").read_text().strip()
            assert len(bytes.fromhex(secret)) == 32
        stored = b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("sandbox.sqlite3"))
        assert secret.encode() not in stored and bytes.fromhex(secret) not in stored
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT key FROM kv WHERE key LIKE '%secret%'").fetchall() == []
        # a token issued before the restart still works: the secret file is read again
        with sb.start(data_dir=folder) as box:
            assert call(box.url, "GET", "/user/information", token=token)[0] == 200
    finally:
        os.umask(old_umask)


def test_a_store_from_an_older_version_is_tightened_and_loses_its_stored_secret(tmp_path):
    db = tmp_path / "sandbox.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO kv VALUES ('jwt_secret', ?)", ("ab" * 32,))
        conn.execute("INSERT INTO kv VALUES ('novita_s3_secret', ?)", ("cd" * 32,))
    os.chmod(db, 0o644)
    with sb.start(data_dir=tmp_path):
        pass
    assert _mode(db) == 0o600
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT key FROM kv").fetchall() == []
    assert (tmp_path / "jwt-secret").read_text().strip() != "ab" * 32


# ---------------------------------------------------------------------------------- sizes and slow clients


def _raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=PATIENCE)
    return s


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_an_oversize_body_gets_413_before_it_is_read():
    with sb.start() as box:
        _, token = register(box.url, "big@example.com")
        s = _raw(box.url)
        s.sendall(
            b"PUT /user/objects/stories HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode()
        )
        answer = _read_all(s)  # no body was sent: the server answered and closed without waiting for it
        s.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413")
        assert json.loads(body)["statusCode"] == 413
        # streamed without a length: refused as soon as the count passes the limit
        s = _raw(box.url)
        s.sendall(
            b"PUT /user/objects/stories HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        piece = b"x" * (1 << 20)
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        answer = b""
        try:
            for _ in range(MAX_BODY // len(piece) + 2):
                s.sendall(chunk)
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server stopped reading: what it answered is below
        try:
            answer = _read_all(s)
        except ConnectionResetError:
            pass
        s.close()
        if answer:  # a reset may eat the answer; the store is what must not change
            assert answer.startswith(b"HTTP/1.1 413")
        assert call(box.url, "GET", "/user/objects/stories", token=token)[1] == {"objects": []}


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def _half_sent(url: str, n: int) -> list[socket.socket]:
    """Open ``n`` connections that each send part of a request and then nothing."""
    socks = []
    for i in range(n):
        s = _raw(url)
        if i % 3 == 0:
            s.sendall(b"GET /user/information HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        elif i % 3 == 1:
            s.sendall(
                b"POST /user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"key":'  # body never finished
            )
        # else: connected, nothing sent
        socks.append(s)
    return socks


def test_half_sent_requests_are_closed_by_the_server():
    with sb.start(read_timeout=1.0) as box:
        socks = _half_sent(box.url, 600)
        try:
            # the first ones may be closed before the last are open; no count of 600 is promised
            _wait(lambda: box.connection_count() == 0, "the server to close the half-sent requests")
            answers = [_read_all(s) for s in socks]  # returns: the server closed every one
        finally:
            for s in socks:
                s.close()
        assert sum(a.startswith(b"HTTP/1.1 408") for a in answers) == 200  # the unfinished bodies
        assert call(box.url, "GET", "/")[0] == 200  # and it still serves


def _sockets(pid: int) -> int:
    fd = Path(f"/proc/{pid}/fd")
    count = 0
    for p in fd.iterdir():
        try:
            count += os.readlink(p).startswith("socket:")
        except OSError:
            pass
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts the server's sockets in /proc")
def test_naikit_serve_closes_half_sent_requests():
    proc, url = start_serve("--read-timeout", "1")
    try:
        before = _sockets(proc.pid)
        socks = _half_sent(url, 600)
        try:
            _wait(lambda: _sockets(proc.pid) <= before, "the server to close them")
            answers = [_read_all(s) for s in socks]  # returns: closed by the server
            assert sum(a.startswith(b"HTTP/1.1 408") for a in answers) == 200
        finally:
            for s in socks:
                s.close()
    finally:
        stop_serve(proc)


# --------------------------------------------------------------------------------------------------- memory


def _memory(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) * 1024
    return out


def _request(
    url: str, method: str, path: str, token: str, body: bytes | None = None
) -> tuple[int, int, bytes]:
    """Send a request with http.client, reading the answer in pieces; return (status, length, first bytes)."""
    import http.client

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=PATIENCE)
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    length, first = 0, b""
    while chunk := resp.read(1 << 20):
        if not first:
            first = chunk[:200]
        length += len(chunk)
    conn.close()
    return resp.status, length, first


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the server's RSS from /proc")
def test_memory_stays_proportional_to_what_is_stored():
    size = 60 * 1024 * 1024
    proc, url = start_serve()
    try:
        status, body = call(url, "POST", "/user/login", {"key": sb.demo_access_key()})
        token = body["accessToken"]
        status, body = call(url, "GET", "/user/objects/stories", token=token)
        baseline = len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        upload = b'{"meta":"big","data":"' + b"Q" * size + b'"}'
        for _ in range(4):
            status, length, _ = _request(url, "PUT", "/user/objects/stories", token, upload)
            assert status == 200 and length > size
        status, length, first = _request(url, "GET", "/user/objects/stories", token)
        stored = 4 * size
        assert status == 200 and first.startswith(b'{"objects":[')
        # every object came back whole: the demo stories plus four of (data + the fields around it)
        assert length > baseline + stored
        memory = _memory(proc.pid)
    finally:
        stop_serve(proc)
    # peak resident memory over the whole run, listing included, within 3x the bytes stored
    assert memory["VmHWM"] <= 3 * stored, {k: v / 2**20 for k, v in memory.items()}


def test_large_objects_stream_the_same_bytes_json_would_give():
    # escapes, non-ASCII and a piece boundary inside the data: the pieces must join to json.dumps' bytes
    data = ('tab\there "quoted" back\\slash\n ünï ✓ 🐉 \x01' * 60_000)[: (1 << 20) + 12345]
    with sb.start() as box:
        _, token = register(box.url, "stream@example.com")
        status, created = call(
            box.url, "PUT", "/user/objects/storycontent", {"meta": "m", "data": data}, token=token
        )
        assert status == 200 and created["data"] == data
        req = urllib.request.Request(
            box.url + f"/user/objects/storycontent/{created['id']}",
            headers={"Authorization": "Bearer " + token},
        )
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        expected = {
            "id": created["id"],
            "type": "storycontent",
            "meta": "m",
            "data": data,
            "lastUpdatedAt": created["lastUpdatedAt"],
            "changeIndex": created["changeIndex"],
        }
        assert raw == json.dumps(expected, separators=(",", ":"), ensure_ascii=False).encode()
        req = urllib.request.Request(
            box.url + "/user/objects/storycontent", headers={"Authorization": "Bearer " + token}
        )
        with urllib.request.urlopen(req) as r:
            listing = r.read()
        assert (
            listing == json.dumps({"objects": [expected]}, separators=(",", ":"), ensure_ascii=False).encode()
        )


def test_bodies_received_at_once_share_a_budget():
    from naikit.sandbox.http import STATE

    with sb.start() as box:
        state = box.app[STATE]
        state.body_budget = 1 << 20  # 1 MiB for the test (the default is four times the largest body)
        head = (
            b"POST /user/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
        )
        first = _raw(box.url)
        first.sendall(head + b"Content-Length: 900000\r\n\r\n" + b" " * 700_000)
        _wait(lambda: state.bodies_held >= 700_000, "the server to hold the first body")
        second = _raw(box.url)
        second.sendall(head + b"Content-Length: 600000\r\n\r\n" + b" " * 400_000)
        answer = _read_all(second)  # refused and closed while the first is still being received
        second.close()
        assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in answer
        first.sendall(b" " * 200_000)
        assert _read_all(first).startswith(b"HTTP/1.1 400")  # blanks are no JSON object; it was read
        first.close()
        _wait(lambda: state.bodies_held == 0, "the budget to be given back")
        assert call(box.url, "POST", "/user/login", {"key": sb.demo_access_key()})[0] == 201
