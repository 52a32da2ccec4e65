"""The context of the native models (Kayra, Erato, ...): lore activation, budgets, trimming and
insertion as the website does them (see :mod:`naikit.novelai.story_context`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._context_result import Context, Section
from ._context_text import (
    _budget,
    _Enc,
    _entry_match,
    _field_text,
    _split_lines,
    _strip_comments,
    match_keys,
    split_sentences,
)
from ._story_parts import ContextConfig, LoreEntry

if TYPE_CHECKING:  # pragma: no cover
    from .story import Story

#: The site keeps at most this many characters of story (its ``mv``).
STORY_CHARS = 150_000
#: Lorebook keys are searched in the last this many of those characters (its ``Cp``).
LORE_SEARCH_CHARS = 50_000


def _trim(sec: Section, budget: int, enc: _Enc, heuristics: bool = True) -> tuple[str, int, bool, str]:
    """The site's trimming of one section to ``budget`` tokens: (text, tokens, trimmed, method)."""
    cfg = sec.config
    bottom = cfg.trim_direction == "trimBottom"
    body = sec.text[: 8 * budget] if bottom else (sec.text[-(8 * budget) :] if budget else sec.text)
    pre, suf = cfg.prefix, cfg.suffix
    full = pre + body + suf
    ids = enc.encode(full)
    target = budget if sec.kind == "story" else min(len(ids), _num(cfg.reserved_tokens))
    if len(ids) <= budget:
        return full, len(ids), False, "none"
    if cfg.trim_direction == "doNotTrim":
        return "", 0, True, "none"
    for unit, joiner, floor in (("newline", "\n", 0.7), ("sentence", "", 0.3)):
        pieces = body.split("\n") if unit == "newline" else split_sentences(body)
        if bottom:
            pieces.reverse()
        g = len(ids)
        for i in range(len(pieces)):
            g -= enc.n(pieces[i])
            if g > budget:
                continue
            keep = pieces[i:]
            if bottom:
                keep.reverse()
            text = pre + joiner.join(keep) + suf
            got = enc.n(text)
            if heuristics and target and (got / target < floor or (unit == "newline" and target - got > 150)):
                break
            if got <= budget:
                return text, got, True, unit
        if cfg.maximum_trim_type == unit:
            return "", 0, True, "none"
    body_ids = enc.encode(body)
    pre_ids, suf_ids = enc.encode(pre), enc.encode(suf)
    room = budget - len(pre_ids) - len(suf_ids)
    if room <= 0:
        kept: list[int] = list(body_ids) if room == 0 else body_ids[-room:]
    else:
        kept = body_ids[:room] if bottom else body_ids[-room:]
    out = [*pre_ids, *kept, *suf_ids]
    if len(out) > budget:
        return "", 0, True, "none"
    return enc.decode(out), len(out), True, "token"


def _num(x: float) -> float:
    return x


def _insertion_point(text: str, cfg: ContextConfig, enc: _Enc) -> int:
    """The site's insertion point: ``insertion_position`` units of ``insertion_type`` from the top
    (>= 0) or bottom (< 0, -1 = the end) of the text built so far."""
    r = cfg.insertion_position
    neg = r < 0
    if cfg.insertion_type in ("newline", "sentence"):
        units = _split_lines(text) if cfg.insertion_type == "newline" else split_sentences(text)
        if neg:
            units.reverse()
            r = -(r + 1)
        if len(units) < r:
            return 0 if neg else len("".join(units))
        return len("".join(units[r:])) if neg else len("".join(units[:r]))
    ids = enc.encode(text)
    if neg:
        k = len(ids) + (r + 1)
        tail = enc.decode(ids[k:]) if k < len(ids) else ""
        return len(text) - len(tail)
    return len(enc.decode(ids[:r]))


def _key_relative_point(text: str, sec: Section, enc: _Enc) -> int:
    """Insertion relative to the last key of the entry found in the text built so far (-1: none)."""
    cfg = sec.config
    keys = sec.entry.keys if sec.entry else []
    _, idx, length = match_keys(text, keys, first=False)
    if idx == -1:
        return -1
    neg = cfg.insertion_position < 0
    tail = text[idx:] if neg else text[: idx + length]
    rest = text[:idx] if neg else text[idx + length :]
    dummy = cfg.insertion_type != "token" and cfg.insertion_position not in (0, -1)
    if dummy:
        rest = rest + "DUMMY" if neg else "DUMMY" + rest
    point = _insertion_point(rest, cfg, enc)
    point = point if neg else len(tail) + point
    if dummy and not neg:
        point -= 5
    return point


def _shunt(pos: int, pieces: list[list[Any]], text: str, inside: dict[int, bool]) -> int:
    """Move ``pos`` to the nearer edge of the section it would split, unless that section allows it."""
    acc = 0
    idx = 0
    for i, p in enumerate(pieces):
        acc += len(p[0])
        if acc >= pos:
            idx = i
            break
    if idx >= len(pieces) or not pieces or inside.get(pieces[idx][1], False) or pos == len(text):
        return pos
    uid = pieces[idx][1]
    end = acc
    for p in pieces[idx + 1 :]:
        if p[1] != uid:
            break
        end += len(p[0])
    start = acc - len(pieces[idx][0])
    for p in reversed(pieces[:idx]):
        if p[1] != uid:
            break
        start -= len(p[0])
    return end if pos - start > end - pos else start


def _insert_piece(pieces: list[list[Any]], text: str, uid: int, pos: int) -> None:
    left = pos
    for i, p in enumerate(pieces):
        if left - len(p[0]) <= 0:
            a, b = p[0][:left], p[0][left:]
            new = []
            if a:
                new.append([a, p[1]])
            new.append([text, uid])
            if b:
                new.append([b, p[1]])
            pieces[i : i + 1] = new
            return
        left -= len(p[0])
    pieces.append([text, uid])


# ----------------------------------------------------------------------------------- native


def _activate(story: Story, story_text: str) -> tuple[list[Section], list[Section], list[Section]]:
    """Return (activated, rejected, disabled) lore sections, activated in the site's order."""
    cats = {c.id: c for c in story.categories}
    search = story_text[-LORE_SEARCH_CHARS:]
    first = not story.order_by_key_locations
    active: list[Section] = []
    cascade: list[Section] = []
    rejected: list[Section] = []
    disabled: list[Section] = []
    for entry in _ordered(story):
        sec = Section("lore", entry.display_name, _field_text(entry.text), entry.context_config, entry)
        cat = cats.get(entry.category)
        if not entry.enabled or (cat is not None and not cat.enabled):
            sec.included = False
            sec.reason = "disabled" if not entry.enabled else "category disabled"
            disabled.append(sec)
            continue
        key, idx = _entry_match(entry, search, first=first)
        if idx >= 0:
            sec.key, sec.key_index = key, idx
            sec.reason = "activation forced" if entry.force_activation else f"key {key!r} in range"
            active.append(sec)
        else:
            sec.included = False
            sec.reason = "no key in range"
            (cascade if entry.non_story_activatable else rejected).append(sec)
    active.sort(key=lambda s: -s.key_index)
    return active, cascade, rejected + disabled


def _ordered(story: Story) -> list[LoreEntry]:
    # the site's lorebook order: story.lorebook_order (ids of entries and categories), then the rest
    entries = list(story.lorebook)
    if not story.lorebook_order:
        return entries
    cat_ids = {c.id for c in story.categories}
    out: list[LoreEntry] = []
    seen: set[str] = set()
    for oid in story.lorebook_order:
        cat = next((c for c in story.categories if c.id == oid), None)
        if cat is not None:
            members = [e for e in entries if e.category == cat.id]
            pos = {x: i for i, x in enumerate(cat.order)}
            ranked = sorted([e for e in members if e.id in pos], key=lambda e: pos[e.id])
            for e in ranked + [e for e in members if e.id not in pos]:
                out.append(e)
                seen.add(e.id)
        else:
            lone = next(
                (e for e in entries if e.id == oid and (not e.category or e.category not in cat_ids)), None
            )
            if lone is not None:
                out.append(lone)
                seen.add(lone.id)
    return out + [e for e in entries if e.id not in seen]


def _build_native(
    story: Story, enc: _Enc, max_tokens: int, model: str, preamble: str, trim_trailing_spaces: int
) -> Context:
    text = story.text
    k = len(text)
    if story.story_config.trim_direction == "trimTop":
        text = text[max(0, k - STORY_CHARS) : k]
    else:
        text = text[: min(STORY_CHARS, k)]
    text = _strip_comments(text)
    pre_ids = enc.encode(preamble) if preamble else []
    max_tokens -= len(pre_ids)
    statuses = [
        Section("story", "story", text, story.story_config),
        Section("memory", "memory", _field_text(story.memory), story.memory_config),
        Section("an", "an", _field_text(story.authors_note), story.authors_note_config),
    ]
    active, cascade, rejected = _activate(story, text)
    ephemeral_out: list[Section] = []
    for e in story.ephemeral:
        t = _field_text(e.text)
        name = "E:" + (t[:12] + "..." if len(t) > 12 else t[:15])
        sec = Section("ephemeral", name, t, e.context_config)
        if e.active(story.step):
            sec.reason = "ephemeral active"
            statuses.append(sec)
        else:
            sec.included, sec.reason = False, "ephemeral inactive"
            ephemeral_out.append(sec)
    # cascading: entries that may be activated by other context, tried until nothing changes
    changed = True
    while changed and cascade:
        changed = False
        i = 0
        while i < len(cascade):
            cand = cascade[i]
            assert cand.entry is not None
            hit = None
            for src in statuses:
                body = src.config.prefix + src.text + src.config.suffix
                key, idx = _entry_match(cand.entry, body, first=False, whole=src.kind != "story")
                if idx >= 0:
                    hit = (key, src.name)
                    break
            if hit is None:
                for src in active:
                    body = src.config.prefix + src.text + src.config.suffix
                    key, idx = _entry_match(cand.entry, body, first=False, whole=True)
                    if idx >= 0:
                        hit = (key, src.name)
                        break
            if hit is not None:
                cand.included, cand.key, cand.reason = True, hit[0], f"cascaded from {hit[1]}"
                active.append(cand)
                cascade.pop(i)
                changed = True
            else:
                i += 1
    rejected = cascade + rejected + ephemeral_out
    statuses.extend(active)
    for uid, s in enumerate(statuses):
        s.uid = uid
    out_sections, output, pieces = _fill(statuses, max_tokens, enc)
    # trailing spaces: the site trims them (Llama 3 keeps one)
    stripped = len(output) - len(output.rstrip(" "))
    if stripped > trim_trailing_spaces:
        cut = stripped - trim_trailing_spaces
        output = output[:-cut]
        left = cut
        for p in reversed(pieces):
            n = min(left, len(p[0]))
            p[0] = p[0][: len(p[0]) - n]
            left -= n
            if not left:
                break
    if output.endswith("}"):
        output += "\n"
        pieces.append(["\n", -1])
    names = {s.uid: s.name for s in statuses}
    named = [(p[0], names.get(p[1], "special")) for p in pieces if p[0]]
    if preamble:
        named.insert(0, (preamble, "preamble"))
    ids = [*pre_ids, *enc.encode(output)]
    out = Context(preamble + output, ids, out_sections + rejected, named, model, max_tokens + len(pre_ids))
    out.biases = _lore_biases(story, {s.entry.id for s in active if s.entry is not None})
    return out


def _lore_biases(story: Story, active_ids: set[str]) -> list[dict]:
    """The lorebook's phrase-bias groups in effect: an active entry (or a category with an active entry)
    brings its groups that are not ``whenInactive``, an inactive one those that are; disabled entries none."""
    cats = {c.id: c for c in story.categories}
    out: list[dict] = []
    for e in _ordered(story):
        cat = cats.get(e.category)
        if not e.enabled or (cat is not None and not cat.enabled):
            continue
        on = e.id in active_ids
        groups = [g for g in e.lore_bias_groups if isinstance(g, dict) and bool(g.get("whenInactive")) != on]
        out.append({"identifier": e.display_name, "groups": groups})
    for c in story.categories:
        on = any(e.category == c.id and e.id in active_ids for e in story.lorebook)
        raw = c.raw.get("categoryBiasGroups") or []
        groups = [g for g in raw if isinstance(g, dict) and bool(g.get("whenInactive")) != on]
        out.append({"identifier": f"C:{c.name}", "groups": groups})
    return out


def _fill(statuses: list[Section], t: int, enc: _Enc) -> tuple[list[Section], str, list[list[Any]]]:
    """The site's budget pass over the sections (sorted by budget priority)."""
    out = ""
    remaining = t
    statuses = sorted(statuses, key=lambda s: -s.config.budget_priority)
    reserved_total = 0
    for s in statuses:
        cfg = s.config
        if s.text == "":
            size = 0
        else:
            body = (
                s.text[: 8 * remaining] if cfg.trim_direction == "trimBottom" else s.text[-(8 * remaining) :]
            )
            size = enc.n(cfg.prefix + body + cfg.suffix)
        s.keys_text_tokens = size
        s.reserved = min(_budget(cfg.reserved_tokens, t), size)
        reserved_total += s.reserved
    reserved_total = min(reserved_total, remaining)
    inside = {s.uid: bool(s.config.allow_insertion_inside) for s in statuses}
    for s in statuses:
        if s.kind == "story":
            inside[s.uid] = True
    pieces: list[list[Any]] = []
    for s in statuses:
        cfg = s.config
        cap = _budget(cfg.token_budget, t)
        own = s.reserved
        if own > 0 and own > reserved_total:
            own = reserved_total
        budget = min(remaining - reserved_total + own, cap)
        if not s.included:
            continue
        if s.text == "":
            s.included, s.reason = False, "no text"
            continue
        got = _trim(s, budget, enc)
        if s.kind == "story" and got[1] == 0:
            got = _trim(s, budget, enc, heuristics=False)
        text, n, trimmed, method = got
        if n == 0:
            s.included, s.reason = False, "budget spent"
            continue
        s.trimmed, s.trim, s.tokens, s.inserted_text = trimmed, method, n, text
        if s.entry is not None and s.entry.key_relative:
            b = _key_relative_point(out, s, enc)
        else:
            b = _insertion_point(out, cfg, enc)
        v = b if cfg.allow_inner_insertion else _shunt(b, pieces, out, inside)
        before = len(out)
        if b >= 0:
            out = out[:v] + text + out[v:]
        if len(out) == before:
            s.included, s.reason = False, "no context key" if b < 0 else "nothing inserted"
            continue
        _insert_piece(pieces, text, s.uid, v)
        s.position = v
        remaining -= n
        reserved_total -= own
    # positions: where each piece ends up in the final text
    pos = 0
    first_at: dict[int, int] = {}
    for p in pieces:
        first_at.setdefault(p[1], pos)
        pos += len(p[0])
    for s in statuses:
        if s.included:
            s.position = first_at.get(s.uid, -1)
        else:
            s.position = -1
    return statuses, out, pieces
