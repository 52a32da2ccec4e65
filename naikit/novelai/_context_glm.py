"""The context of the GLM family (GLM-4.6, Xialong): lore activation with advanced conditions, fixed
budget shares, the rolling window and the prompt layout (see :mod:`naikit.novelai.story_context`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ._context_result import Context, Section
from ._context_text import _Enc, _field_text, _strip_comments, match_keys
from ._story_parts import ContextConfig

if TYPE_CHECKING:  # pragma: no cover
    from .story import Story

# ----------------------------------------------------------------------------------- GLM


def _advanced(cond: Any, texts: dict[str, str], active_ids: set[str], story_text: str) -> tuple[bool, int]:
    if not isinstance(cond, dict):
        return False, -1
    t = cond.get("type")
    if t == "not":
        inner = cond.get("condition")
        return (not _advanced(inner, texts, active_ids, story_text)[0]) if inner else True, -1
    if t in ("and", "or"):
        res = [_advanced(c, texts, active_ids, story_text) for c in cond.get("children") or []]
        idxs = [i for a, i in res if a and i >= 0] if t == "or" else [i for _, i in res if i >= 0]
        ok = all(a for a, _ in res) if t == "and" else any(a for a, _ in res)
        return ok, (min(idxs) if ok and idxs else -1)
    if t == "true":
        return True, -1
    if t == "lore":
        return cond.get("entryId") in active_ids, -1
    if t == "key":
        key = str(cond.get("key") or "")
        rng = cond.get("range", 4000)
        keys = [key] if key.startswith("/") else [k.strip() for k in key.split(",") if k.strip()]
        found, best = False, -1
        for where in cond.get("in") or []:
            src = texts.get(where, "")
            for k in keys:
                if where == "story" and isinstance(rng, (int, float)) and rng > 0:
                    start = max(0, len(src) - int(rng))
                    _, idx, _ = match_keys(src[start:], [k], first=False)
                    if idx > -1:
                        found = True
                        best = start + idx if best == -1 else min(best, start + idx)
                        break
                else:
                    _, idx, _ = match_keys(src, [k], first=False)
                    if idx > -1:
                        found = True
                        ii = idx if where == "story" else -1
                        best = ii if best == -1 else min(best, ii)
                        break
        return found, best
    return False, -1


def _build_glm(
    story: Story,
    enc: _Enc | None,
    max_tokens: int,
    model: str,
    window: dict | None,
    extra: int,
    for_generation: bool,
) -> Context:
    from . import glm_prompt as gp

    if enc is None:
        raise InputError("tokenizer", None, "a tokenizer for GLM (naikit ships none: pass tokenizer=)")
    cats = {c.id: c for c in story.categories}
    story_text = _strip_comments(story.text)
    memory = _field_text(story.memory)
    an = _field_text(story.authors_note)
    secs: list[Section] = []
    for entry in story.lorebook:
        text = _field_text(entry.text)
        cat = cats.get(entry.category)
        header = (cat.raw.get("settings") or {}).get("entryHeader") if cat is not None else None
        if header and not text.startswith(header + "\n"):
            text = f"{header}\n{text}"
        secs.append(Section("lore", entry.display_name, text, entry.context_config, entry, included=False))
    search = story_text[max(0, len(story_text) - 3 * max_tokens) :]
    state = {s.entry.id: False for s in secs if s.entry}
    for _ in range(30):
        for s in secs:
            e = s.entry
            assert e is not None
            cat = cats.get(e.category)
            active, reason, idx, key = False, "no key in range", -1, ""
            if cat is not None and not cat.enabled:
                reason = "category disabled"
            elif not e.enabled:
                reason = "disabled"
            elif e.force_activation:
                active, reason = True, "activation forced"
            else:
                if e.keys:
                    key, idx, _ = match_keys(search, e.keys, first=False)
                    if idx > -1:
                        active, reason = True, f"key {key!r} in range"
                if not active and e.advanced_conditions:
                    texts = {
                        "story": story_text,
                        "memory": memory,
                        "an": an,
                        "lore": "\n".join(x.entry.text for x in secs if x.entry and state[x.entry.id]),
                    }
                    reason = "advanced conditions false"
                    on_ids = {k for k, v in state.items() if v}
                    for c in e.advanced_conditions:
                        ok, ii = _advanced(c, texts, on_ids, story_text)
                        if ok:
                            active, reason, idx = True, "advanced conditions true", ii
                            break
            s.included, s.reason, s.key_index, s.key = active, reason, idx, key
        new = {s.entry.id: s.included for s in secs if s.entry}
        if new == state:
            break
        state = new
    secs.sort(key=lambda s: -(math.inf if s.key_index == -1 else s.key_index))
    fired = [s for s in secs if s.included]
    texts = gp.default_texts()
    sys_prompt = (
        story.system_prompt or texts["system_prompt_adventure" if story.adventure else "system_prompt"]
    )
    prefill = story.prefill or texts["prefill_adventure" if story.adventure else "prefill"]
    total = max_tokens
    story_budget = total - 128 - 1024
    high = total // 2
    story_budget -= high
    p_sys = enc.n(sys_prompt)
    high -= p_sys
    if high < 0:
        story_budget += high
        high = 0
    p_pre = enc.n(prefill)
    story_budget -= p_pre
    mem = Section("memory", "memory", memory, story.memory_config)
    ans = Section("an", "an", an, story.authors_note_config)
    mem.tokens = mem.keys_text_tokens = enc.n(memory)
    if mem.tokens > story_budget + high:
        mem.included, mem.reason, mem.tokens = False, "budget spent", 0
    else:
        high -= mem.tokens
        if high < 0:
            story_budget += high
            high = 0
    ans.tokens = ans.keys_text_tokens = enc.n(an)
    if ans.tokens > story_budget:
        ans.included, ans.reason, ans.tokens = False, "budget spent", 0
    else:
        story_budget -= ans.tokens
    for s in (mem, ans):
        if not s.text:
            s.included, s.reason = False, "no text"
    kept: list[Section] = []
    for s in fired:
        n = enc.n(s.text)
        s.keys_text_tokens = n
        if not s.text:
            s.included, s.reason = False, "no text"
            continue
        if s.entry and s.entry.force_activation and n <= story_budget + high:
            s.tokens = n
            high -= n
            if high < 0:
                story_budget += high
                high = 0
            kept.append(s)
            continue
        if story_budget - n >= 0:
            s.tokens = n
            story_budget -= n
            kept.append(s)
        else:
            s.included, s.reason = False, "budget spent"
    story_budget += high + 1024
    # the story: whole lines from the bottom; a cached window start (rolling window) when it fits
    lines = story_text.split("\n")
    chosen: list[str] = []
    wkey = total // 256
    window = {} if window is None else window
    if story_text and window:
        for ck in sorted(window, key=lambda c: abs(c - wkey)):
            head = window[ck]
            at = -1
            for i in range(len(lines)):
                if lines[i] != head[0]:
                    continue
                if all(lines[i + j] == head[j] for j in range(len(head)) if i + j < len(lines)):
                    at = i
                    break
            if at == -1:
                continue
            tail = lines[at:]
            n = enc.n("\n".join(tail))
            if not n <= story_budget and n <= story_budget + extra:
                chosen = tail
                story_budget += extra - n
                total += extra
                break
    st = Section("story", "story", story_text, story.story_config)
    if story_text and not chosen:
        for line in reversed(lines):
            n = enc.n(line)
            if story_budget - n < 0:
                break
            story_budget -= n
            chosen.append(line)
        st.trimmed = len(chosen) != len(lines)
        chosen.reverse()
        if not chosen:
            chosen = [enc.decode(enc.encode(story_text)[-1000:])]
        if for_generation and chosen[0].strip():
            window[wkey] = chosen[:3]
    story_out = "\n".join(chosen)
    st.keys_text_tokens = enc.n(story_text) if story_text else 0
    if not story_text:
        st.included, st.reason = False, "no text"
    # trailing spaces trimmed (the site's J with the GLM tokenizer: all of them)
    story_out = story_out.rstrip(" ")
    st.tokens = enc.n(story_out)
    st.inserted_text = story_out
    st.trim = "newline" if st.trimmed else "none"
    lore = [s.text for s in kept if not (s.entry and s.entry.force_activation)]
    perm = [s.text for s in kept if s.entry and s.entry.force_activation]
    prompt = gp.build_prompt(
        story_out,
        memory=memory if mem.included else None,
        authors_note=an if ans.included else None,
        system_prompt=story.system_prompt,
        prefill=story.prefill,
        lore=lore,
        permanent_lore=perm,
        adventure=story.adventure,
    )
    parts = list(prompt.parts)
    ids = enc.encode(prompt.text)
    if len(ids) > total:
        parts = _drop_story_paragraphs(parts, enc, len(ids) - total)
        ids = enc.encode("".join(p.text for p in parts))
        st.trimmed = True
        st.trim = "paragraph"
    text = "".join(p.text for p in parts)
    st.tokens = enc.n("".join(p.text for p in parts if p.source == "story"))
    pos = 0
    first_at: dict[str, int] = {}
    for p in parts:
        first_at.setdefault(p.source, pos)
        pos += len(p.text)
    st.position = first_at.get("story", -1)
    mem.position = first_at.get("memory", -1) if mem.included else -1
    ans.position = first_at.get("an", -1) if ans.included else -1
    for s in kept:
        i = text.find(gp.double_newlines(s.text))
        s.position = i
    extra_rows = [
        Section(
            "system-prompt",
            "system prompt",
            sys_prompt,
            ContextConfig(),
            tokens=p_sys,
            keys_text_tokens=p_sys,
        ),
        Section("prefill", "prefill", prefill, ContextConfig(), tokens=p_pre, keys_text_tokens=p_pre),
    ]
    extra_rows[0].position = first_at.get("system-prompt", -1)
    extra_rows[1].position = first_at.get("prefill", -1)
    sections = [*extra_rows, st, mem, ans, *secs]
    pieces = [(p.text, p.source) for p in parts]
    return Context(text, ids, sections, pieces, model, total, family="glm", prompt=prompt, window=window)


def _drop_story_paragraphs(parts: list[Any], enc: _Enc, excess: int) -> list[Any]:
    """The site's last resort: drop story paragraphs from the top until ``excess`` tokens are gone."""
    from .glm_prompt import Part

    removed = 0
    out = list(parts)
    for i, p in enumerate(out):
        if removed >= excess:
            break
        if p.source != "story":
            continue
        paras = p.text.split("\n\n")
        while paras and removed < excess:
            removed += enc.n(paras.pop(0))
        out[i] = Part("\n\n".join(paras), p.source)
    return [p for p in out if p.text]


# ----------------------------------------------------------------------------------- entry point
