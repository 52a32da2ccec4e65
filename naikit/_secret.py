"""The masked secret: one class every part of naikit keeps passwords, keys and tokens in."""

from __future__ import annotations

from typing import Any

__all__ = ["Secret", "reveal"]


class Secret:
    """Holds a secret string (token, access key, password, API key); repr and str show ``<hidden>``.

    naikit keeps every secret in one of these from the moment it receives it, so frame locals, object
    attributes and exception arguments that an error tracker or a verbose traceback records show
    ``<hidden>``. :meth:`reveal` returns the value where it is needed (the wire, a key derivation).
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str | Secret):
        self._value = value._value if isinstance(value, Secret) else value

    @classmethod
    def wrap(cls, value: str | Secret | None) -> Secret | None:
        """Return ``value`` as a Secret (None stays None; a Secret is returned as is)."""
        if value is None or isinstance(value, Secret):
            return value
        return cls(value)

    def reveal(self) -> str:
        """Return the secret value itself."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # pickling (a cache, a multiprocessing pool) would write the value in clear: refuse
        raise TypeError("naikit secrets are not pickled; pass the value again where it is needed")


def reveal(value: Any) -> Any:
    """Return the value of a :class:`Secret`; anything else unchanged."""
    return value.reveal() if isinstance(value, Secret) else value
