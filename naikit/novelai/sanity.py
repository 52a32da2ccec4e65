"""The account sanity check (spec §4.5) as a report DataFrame.

Like ``novelai-api``'s ``sanity_check`` it decrypts the keystore, decrypts stories, storycontent and
aimodules, decompresses presets (and shelves), and reports per type ``k/n <type> couldn't be decrypted``
with an O/X flag string; then storycontent whose meta has no story, and any non-empty meta shared by
several objects unless they are exactly one story and one storycontent. naikit adds: stories whose
``remoteStoryId`` points at no storycontent, objects whose meta has no key, keystore keys that are not 32
bytes (``novelai-api`` used to create 24-byte ones), and storycontent whose text cannot be extracted.

One row per finding: ``check``, ``type``, ``id``, ``meta``, ``status`` ("ok" or "problem"), ``detail``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .crypto import KEY_SIZE, Keystore, WrongKey
from .document import DocumentError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SanityReport", "sanity_check"]

_COLUMNS = ["check", "type", "id", "meta", "status", "detail"]


@dataclass(repr=False)
class SanityReport:
    """Findings of the sanity check; ``ok`` is True when nothing is wrong, ``summary()`` is the text form."""

    rows: list[dict] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when no row has status "problem"."""
        return all(r["status"] == "ok" for r in self.rows)

    @property
    def problems(self) -> list[dict]:
        """Return the rows whose status is "problem"."""
        return [r for r in self.rows if r["status"] != "ok"]

    def to_frame(self) -> pd.DataFrame:
        """Return every finding as a DataFrame (check, type, id, meta, status, detail)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=_COLUMNS)

    def summary(self) -> str:
        """Return the report as text: one line per type and check, then each problem."""
        out = list(self.lines)
        for r in self.problems:
            where = f"{r['type']} {r['id']} of meta {r['meta']}" if r["id"] else r["type"]
            out.append(f"  {r['check']}: {where}: {r['detail']}")
        out.append("no problems found" if self.ok else f"{len(self.problems)} problem(s) found")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        text = html.escape("\n".join(self.lines))
        return f"<pre>{text}</pre>" + self.to_frame().to_html(index=False)

    def __repr__(self) -> str:
        return f"SanityReport({len(self.rows)} findings, {len(self.problems)} problems)"


def _row(check: str, type_: str, id_: str, meta: str, ok: bool, detail: str = "") -> dict:
    return {
        "check": check,
        "type": type_,
        "id": id_,
        "meta": meta,
        "status": "ok" if ok else "problem",
        "detail": detail,
    }


async def sanity_check(client: Any) -> SanityReport:
    """Run the sanity check with ``client`` (an AsyncNovelAI); return the :class:`SanityReport`.

    A keystore that does not open is itself a finding (and every encrypted object then fails); a wrong
    password therefore shows as a report, not an exception.
    """
    from .content import decode_object, story_text_of

    report = SanityReport()
    raw = await client.keystore_raw()
    keystore: Keystore | None
    try:
        keystore = Keystore.decrypt(raw, client._key_candidates())
        state = {"ok": "decrypted", "missing": "missing (null)", "empty": "empty"}.get(
            keystore.state, keystore.state
        )
        report.rows.append(_row("keystore", "keystore", "", "", True, f"{state}, {len(keystore)} keys"))
        report.lines.append(f"keystore: {state}, {len(keystore)} keys")
        for meta in keystore:
            if len(keystore[meta]) != KEY_SIZE:
                report.rows.append(
                    _row(
                        "key size", "keystore", "", meta, False, f"{len(keystore[meta])}-byte key (needs 32)"
                    )
                )
    except (WrongKey, ValueError) as exc:
        keystore = None
        report.rows.append(_row("keystore", "keystore", "", "", False, str(exc)))
        report.lines.append(f"keystore: does not open: {exc}")

    decoded: dict[str, list] = {}
    for t in ("stories", "storycontent", "presets", "aimodules", "shelf"):
        items = [decode_object(o, keystore) for o in await client.list_objects(t)]
        decoded[t] = items
        failed = [i for i in items if not i.ok]
        flags = "".join("O" if i.ok else "X" for i in items)
        verb = "decompressed" if t in ("presets", "shelf") else "decrypted"
        if failed:
            report.lines.append(f"{len(failed)}/{len(items)} {t} couldn't be {verb}: {flags}")
        else:
            report.lines.append(f"{len(items)}/{len(items)} {t} have been successfully {verb}")
        for i in items:
            detail = f"{i.error.stage}: {i.error.reason}" if i.error else verb
            report.rows.append(_row(verb, t, i.id, i.meta, i.ok, detail))

    story_metas = {s.meta for s in decoded["stories"]}
    content_ids = {c.id for c in decoded["storycontent"]}
    for c in decoded["storycontent"]:
        if c.meta not in story_metas:
            report.rows.append(
                _row("orphan content", "storycontent", c.id, c.meta, False, "no story has its meta")
            )
        if c.ok:
            try:
                story_text_of(c.data)
            except (DocumentError, ValueError) as exc:
                report.rows.append(
                    _row("story text", "storycontent", c.id, c.meta, False, f"document: {exc}")
                )
    for s in decoded["stories"]:
        link = s.data.get("remoteStoryId") if s.ok and isinstance(s.data, dict) else None
        if s.ok and link not in content_ids:
            report.rows.append(
                _row("missing content", "stories", s.id, s.meta, False, f"no storycontent {link!r}")
            )

    by_meta: dict[str, list] = {}
    for t in ("stories", "storycontent", "presets", "aimodules"):
        for i in decoded[t]:
            by_meta.setdefault(i.meta, []).append(i)
    for meta, items in by_meta.items():
        types = sorted(i.type for i in items)
        if meta and len(items) > 1 and types != ["stories", "storycontent"]:
            ids = ", ".join(f"{i.id} ({i.type})" for i in items)
            report.rows.append(_row("duplicate meta", "/".join(types), "", meta, False, ids))
    problems = len(report.problems)
    report.lines.append(f"{problems} problem(s)" if problems else "consistency: ok")
    return report
