"""Access key / encryption key derivation (spec §1.3) and the token kinds."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
from argon2.low_level import Type, hash_secret_raw

from naikit.errors import CredentialsError, InputError
from naikit.novelai import auth

# The spec's vector, computed with novelai-api's algorithm (email used verbatim).
VECTOR_EMAIL = "test@example.com"
VECTOR_PASSWORD = "password123"
VECTOR_ACCESS_KEY = "5TjO-5RT1mNI59hEHZXjBJZpp2yvC4L0LJUeIhRwkZHxgIHEutHp8EgOwvynvwLu"
VECTOR_ENCRYPTION_KEY = "adc73879b85dd90e978b8eb910177020a29e068a8cfecaf6fb96c0f5f8893e11"


def test_spec_vector_access_key():
    assert auth.access_key(VECTOR_EMAIL, VECTOR_PASSWORD) == VECTOR_ACCESS_KEY
    assert auth.access_key(VECTOR_EMAIL, VECTOR_PASSWORD, email_case="verbatim") == VECTOR_ACCESS_KEY


def test_spec_vector_encryption_key():
    assert auth.encryption_key(VECTOR_EMAIL, VECTOR_PASSWORD).hex() == VECTOR_ENCRYPTION_KEY


def test_spec_vector_salts():
    pre = (VECTOR_PASSWORD[:6] + VECTOR_EMAIL + "novelai_data_access_key").encode()
    assert hashlib.blake2b(pre, digest_size=16).hexdigest() == "a0bacc969916bbeab0086c99592f8e45"
    pre = (VECTOR_PASSWORD[:6] + VECTOR_EMAIL + "novelai_data_encryption_key").encode()
    assert hashlib.blake2b(pre, digest_size=16).hexdigest() == "cc1db4588be73a58c383d05228254d0f"


def _independent_access_key(email: str, password: str) -> str:
    # Written from the spec's prose, not from naikit's code, as a second implementation.
    salt = hashlib.blake2b(f"{password[:6]}{email}novelai_data_access_key".encode(), digest_size=16).digest()
    raw = hash_secret_raw(password.encode(), salt, 2, 1953, 1, 64, Type.ID)
    return base64.b64encode(raw, altchars=b"-_").decode()[:64]


@pytest.mark.parametrize(
    "email,password",
    [
        ("a@b.c", "x"),
        ("üñí@cödé.de", "pässwörd with spaces"),
        ("long" * 20 + "@x.io", "p" * 200),
        ("q@q.q", "日本語パス"),
    ],
)
def test_matches_independent_derivation(email, password):
    assert auth.access_key(email, password, email_case="verbatim") == _independent_access_key(email, password)


def test_email_case_rule():
    lower = auth.access_key("Demo@Example.COM", "pw123456")
    assert lower == auth.access_key("demo@example.com", "pw123456")
    verbatim = auth.access_key("Demo@Example.COM", "pw123456", email_case="verbatim")
    assert verbatim != lower
    assert verbatim == _independent_access_key("Demo@Example.COM", "pw123456")


def test_password_is_never_altered():
    assert auth.access_key("a@b.c", "Password") != auth.access_key("a@b.c", "password")


def test_bad_inputs_name_the_field():
    with pytest.raises(InputError, match="email"):
        auth.access_key("not-an-email", "pw")
    with pytest.raises(InputError, match="password"):
        auth.access_key("a@b.c", "")
    with pytest.raises(InputError, match="email_case"):
        auth.access_key("a@b.c", "pw", email_case="upper")  # type: ignore[arg-type]


def test_hashed_email():
    assert auth.hashed_email("Me@Mail.com") == hashlib.sha256(b"me@mail.com").hexdigest()


def test_check_access_key():
    assert auth.check_access_key(VECTOR_ACCESS_KEY) == VECTOR_ACCESS_KEY
    with pytest.raises(CredentialsError, match="64 characters") as e:
        auth.check_access_key("short")
    assert "access_key" in str(e.value)
    with pytest.raises(CredentialsError):
        auth.check_access_key(VECTOR_ACCESS_KEY[:-1] + "=")


def _jwt(claims: dict) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc(claims)}.c2lnbmF0dXJl"


def test_token_kinds_and_masking():
    jwt = _jwt({"id": "u1", "exp": time.time() + 3600})
    t = auth.Token(jwt)
    assert t.kind == "jwt" and t.expires_at is not None
    assert jwt not in repr(t) and jwt not in str(t) and "hidden" in repr(t)
    p = auth.Token("pst-abcdefghijklmnop")
    assert p.kind == "persistent" and p.expires_at is None
    assert "abcdefgh" not in repr(p)


def test_token_rejections():
    with pytest.raises(CredentialsError, match="access key"):
        auth.Token(VECTOR_ACCESS_KEY)  # an access key passed as token: say so
    with pytest.raises(CredentialsError):
        auth.Token("eyJhbGciOi")  # truncated JWT
    with pytest.raises(CredentialsError):
        auth.Token("hello world")
    expired = auth.Token(_jwt({"exp": time.time() - 10}))
    with pytest.raises(CredentialsError, match="expired"):
        expired.check_not_expired()


def test_cli_access_key(capsys):
    from naikit.cli import main

    assert main(["access-key", VECTOR_EMAIL, VECTOR_PASSWORD]) == 0
    assert capsys.readouterr().out.strip() == VECTOR_ACCESS_KEY
