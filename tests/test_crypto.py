"""naikit.novelai.crypto: payload and keystore encryption, byte-exact round trips, fresh nonces, errors."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naikit.errors import InputError
from naikit.novelai import crypto
from naikit.novelai.crypto import COMPRESSION_MARKER, Keystore, WrongKey

KEY = bytes(range(32))
NONCE = bytes(range(100, 124))


def _raw(data: str) -> bytes:
    return base64.b64decode(data)


def test_payload_layout_compressed_and_plain():
    data = crypto.encrypt_payload(b'{"a":1}', KEY, nonce=NONCE)
    raw = _raw(data)
    assert raw[:16] == COMPRESSION_MARKER and raw[16:40] == NONCE
    assert crypto.inflate_raw(crypto.open_box(KEY, NONCE, raw[40:])) == b'{"a":1}'
    plain = _raw(crypto.encrypt_payload(b'{"a":1}', KEY, nonce=NONCE, compressed=False))
    assert plain[:24] == NONCE and crypto.open_box(KEY, NONCE, plain[24:]) == b'{"a":1}'
    p = crypto.decrypt_payload(data, KEY)
    assert (p.plaintext, p.nonce, p.compressed, p.encrypted, p.data) == (b'{"a":1}', NONCE, True, True, data)


def test_fresh_nonce_every_encryption():
    a = crypto.encrypt_payload(b"x", KEY)
    b = crypto.encrypt_payload(b"x", KEY)
    assert a != b and _raw(a)[16:40] != _raw(b)[16:40]


@pytest.mark.parametrize(
    "mangle, stage",
    [
        (lambda d: "not base64!!", "base64"),
        (lambda d: base64.b64encode(_raw(d)[:30]).decode(), "length"),
        (lambda d: base64.b64encode(_raw(d)[:-1] + bytes([_raw(d)[-1] ^ 1])).decode(), "decrypt"),
    ],
)
def test_decrypt_failures_name_the_stage(mangle, stage):
    data = crypto.encrypt_payload(b'{"a":1}', KEY)
    with pytest.raises(ValueError, match=f"^{stage}:"):
        crypto.decrypt_payload(mangle(data), KEY)


def test_inflate_failure_and_wrong_key_size():
    body = crypto.seal(KEY, NONCE, b"this is not deflate data \xff\xff")
    data = base64.b64encode(COMPRESSION_MARKER + NONCE + body).decode()
    with pytest.raises(ValueError, match="^inflate:"):
        crypto.decrypt_payload(data, KEY)
    with pytest.raises(InputError, match="32-byte"):
        crypto.decrypt_payload(data, KEY[:24])


def test_compressed_only_forms():
    for compressed in (True, False):
        d = crypto.compress_payload(b'{"p":2}', compressed=compressed)
        p = crypto.decompress_payload(d)
        assert p.plaintext == b'{"p":2}' and p.compressed is compressed and not p.encrypted
    assert crypto.decompress_payload('{"plain": true}').plaintext == b'{"plain": true}'
    with pytest.raises(ValueError, match="base64"):
        crypto.decompress_payload("%%%")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600), st.booleans())
def test_payload_round_trip(plaintext, compressed):
    d = crypto.encrypt_payload(plaintext, KEY, compressed=compressed)
    assert crypto.decrypt_payload(d, KEY).plaintext == plaintext
    assert crypto.decompress_payload(crypto.compress_payload(plaintext, compressed=compressed)).plaintext == (
        plaintext
    )


def _ref_style_keystore(
    keys: dict[str, bytes], account_key: bytes, nonce: bytes, spaces: bool = False
) -> str:
    """A keystore serialised the way other writers might (field order, spacing) to test byte identity."""
    inner = json.dumps({"keys": {m: list(k) for m, k in keys.items()}}, separators=(",", ":")).encode()
    sdata = crypto.seal(account_key, nonce, inner)
    outer = {"version": 2, "nonce": list(nonce), "sdata": list(sdata)}
    text = json.dumps(outer) if spaces else json.dumps(outer, separators=(",", ":"))
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("spaces", [False, True])
def test_keystore_unchanged_round_trip_is_byte_identical(spaces):
    raw = _ref_style_keystore({"m1": bytes(32), "m2": bytes([7]) * 32}, KEY, NONCE, spaces)
    ks = Keystore.decrypt(raw, KEY)
    assert ks.state == "ok" and ks.metas == ["m1", "m2"] and ks["m2"] == bytes([7]) * 32
    assert not ks.changed and ks.encrypt(KEY) == raw


def test_keystore_change_uses_fresh_nonce_and_32_byte_keys():
    raw = _ref_style_keystore({"m1": bytes(32)}, KEY, NONCE)
    ks = Keystore.decrypt(raw, KEY)
    meta = ks.add()
    assert len(ks[meta]) == 32 and len(meta) == 36 and ks.changed
    new = ks.encrypt(KEY)
    outer = json.loads(_raw(new))
    assert bytes(outer["nonce"]) != NONCE and outer["version"] == 2
    again = Keystore.decrypt(new, KEY)
    assert again.keys_copy() == ks.keys_copy() and again.encrypt(KEY) == new
    with pytest.raises(InputError, match="not yet in the keystore"):
        ks.add(meta)
    ks.remove(meta)
    assert ks.metas == ["m1"]


def test_keystore_keeps_unknown_fields_and_compression():
    inner = b'{"keys":{"m":' + json.dumps(list(range(32))).replace(" ", "").encode() + b'},"extra":{"x":1}}'
    sdata = COMPRESSION_MARKER + crypto.seal(KEY, NONCE, crypto.deflate_raw(inner))
    raw = base64.b64encode(
        json.dumps({"version": 3, "nonce": list(NONCE), "sdata": list(sdata)}).encode()
    ).decode()
    ks = Keystore.decrypt(raw, KEY)
    assert ks.compressed and ks.extra == {"extra": {"x": 1}} and ks.version == 3
    ks.add("n")
    back = Keystore.decrypt(ks.encrypt(KEY), KEY)
    assert back.compressed and back.extra == {"extra": {"x": 1}} and back.metas == ["m", "n"]


def test_keystore_null_empty_and_malformed():
    assert Keystore.decrypt(None, KEY).state == "missing"
    empty = base64.b64encode(
        json.dumps({"version": 2, "nonce": str(list(NONCE)), "sdata": ""}).encode()
    ).decode()
    ks = Keystore.decrypt(empty, KEY)
    assert ks.state == "empty" and len(ks) == 0 and ks.encrypt(KEY) == empty
    for bad in ("!!", base64.b64encode(b'{"version":2}').decode(), base64.b64encode(b"[1]").decode()):
        with pytest.raises(ValueError):
            Keystore.decrypt(bad, KEY)


def test_wrong_key_lists_every_attempt():
    raw = _ref_style_keystore({"m": bytes(32)}, KEY, NONCE)
    with pytest.raises(WrongKey) as info:
        Keystore.decrypt(raw, [("key A", bytes(32)), ("key B", bytes([1]) * 32)])
    msg = str(info.value)
    assert "key is wrong" in msg and "key A: the MAC check failed" in msg and "key B" in msg
    assert info.value.failures == ["key A: the MAC check failed", "key B: the MAC check failed"]


def test_secrets_never_in_repr():
    ks = Keystore({"m": bytes([0xAB]) * 32})
    for text in (repr(ks), str(ks), ks.to_frame().to_string(), ks._repr_html_()):
        assert "171" not in text and "abab" not in text.lower()
    assert "fingerprint" in ks.to_frame().columns
