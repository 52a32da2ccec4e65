"""The prompt the NovelAI website builds for GLM-4.6 (and Xialong) from a story, laid bare.

The website (January 2026 build, ``_app-3519e562baaa896c.js`` module 31621) turns the story into chat
messages and renders them with GLM's role markers. :func:`build_prompt` does the same, step by step, and
every step is a public function so a notebook can show where each piece of text came from:

1. **Manual mode**: a story that starts with ``[gMASK]`` is sent as written (nothing is added).
2. :func:`split_story`: the story becomes messages. Text is ``assistant``; an instruction ``{ like this }``
   at the start of a line (``{`` + space, closed by space + ``}`` on the same line, or at the end of a
   later line) becomes a ``user`` message; in adventure mode ``> action`` lines are ``user`` messages.
   An unclosed ``{`` is plain text (the website's code, not the community notes, decides this).
3. :func:`double_newlines` on every message: a lone ``\\n`` becomes ``\\n\\n`` (paragraph doubling).
4. No messages: a user message "Write a story, or perhaps a poem."; first message not a user one: a user
   message "Write." goes first (the default instructions).
5. Conditional lorebook entries: one ``system`` message about 8,000 assistant characters from the bottom;
   the author's note: a ``system`` message 4 paragraphs or 800 characters from the bottom, whichever is
   higher (:func:`insert_from_bottom`, snapped to paragraph and message boundaries as the site does).
6. A last assistant message longer than 8,000 characters is split about 2,000 characters from its end
   with a user message "Continue." between the halves.
7. The prefill (default: the site's "Understood. I will: ..." text) goes in front of the last assistant
   message, or is appended as a new assistant message (plus ``***`` when the story has no assistant text).
8. Memory and always-on lorebook entries go in front of the first user message, between
   "Relevant persistent information:" and a ``***`` separator.
9. The system prompt (default: the site's GLM-4.6 prompt) becomes the first message.
10. :func:`render`: ``[gMASK]<sop>``, then ``<|system|>\\n`` + text, ``<|user|>\\n`` + text + ``/nothink``,
    ``<|assistant|>\\n<think></think>\\n`` + text per message (thinking off, empty think block).

Not modelled (named choices): the site's script hook (``onContextBuilt``); its retry that appends
"Continue." when the whole output equals the previous one; character offsets count Python code points
where the site counts UTF-16 units (they differ only for characters outside the BMP, such as emoji).
The later full context builder (lorebook keys, token budgets) decides *which* lore and how much story
go in; it then calls :func:`build_prompt` with what it kept, so this module stays the one renderer.

Xialong (released after the bundle): the same structure is assumed (guess); its own default system
prompt is in no source, so the GLM-4.6 default is used unless ``system_prompt=`` is given (guess).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "Part",
    "Message",
    "GLMPrompt",
    "GLM_START",
    "DEFAULT_INSTRUCTION",
    "EMPTY_STORY_INSTRUCTION",
    "CONTINUE_INSTRUCTION",
    "MEMORY_INTRO",
    "MEMORY_SEPARATOR",
    "default_texts",
    "double_newlines",
    "split_story",
    "insert_from_bottom",
    "render",
    "build_prompt",
]

Role = Literal["system", "user", "assistant"]

GLM_START = "[gMASK]<sop>"
DEFAULT_INSTRUCTION = "Write."
EMPTY_STORY_INSTRUCTION = "Write a story, or perhaps a poem."
CONTINUE_INSTRUCTION = "Continue."
MEMORY_INTRO = "Relevant persistent information:\n\n"
MEMORY_SEPARATOR = "\n\n***\n\n"
USER_MARKER = "<|user|>\n"
USER_SUFFIX = "/nothink"
ASSISTANT_MARKER = "<|assistant|>\n<think></think>\n"
SYSTEM_MARKER = "<|system|>\n"
#: The site splits a last assistant message longer than this, about TAIL characters above its end.
LONG_MESSAGE = 8000
TAIL = 2000
LORE_OFFSET = 8000
AN_LINES = 4
AN_CHARS = 800


@dataclass(frozen=True)
class Part:
    """A piece of prompt text and where it came from (``source``: story, memory, an, lore, system-prompt,
    prefill, marker, suffix, default-write, memory-intro...)."""

    text: str
    source: str


@dataclass
class Message:
    """One chat message of the built prompt: a role and its parts."""

    role: Role
    content: list[Part]

    @property
    def text(self) -> str:
        """Return the message's text (its parts joined)."""
        return "".join(p.text for p in self.content)


@dataclass
class GLMPrompt:
    """The built prompt: ``text`` (what is sent), ``parts`` (in order, each with its source) and the
    ``messages`` before rendering. ``manual`` is True when the story started with ``[gMASK]``.
    ``block_user_token`` mirrors the site's flag (last assistant text over 1,000 characters)."""

    parts: list[Part]
    messages: list[Message] = field(default_factory=list)
    manual: bool = False
    block_user_token: bool = False

    @property
    def text(self) -> str:
        """Return the whole prompt text."""
        return "".join(p.text for p in self.parts)

    def by_source(self) -> dict[str, int]:
        """Return the number of characters each source contributed, in order of first appearance."""
        out: dict[str, int] = {}
        for p in self.parts:
            out[p.source] = out.get(p.source, 0) + len(p.text)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return one row per part: position, source, chars, text."""
        import pandas as pd

        rows = [
            {"position": i, "source": p.source, "chars": len(p.text), "text": p.text}
            for i, p in enumerate(self.parts)
        ]
        return pd.DataFrame(rows, columns=["position", "source", "chars", "text"])

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"GLMPrompt({len(self.text)} chars, {len(self.messages)} messages, manual={self.manual})"

    def _repr_html_(self) -> str:
        from html import escape

        colours = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa", "#e5e7eb"]
        seen: dict[str, str] = {}
        spans = []
        for p in self.parts:
            c = seen.setdefault(p.source, colours[len(seen) % len(colours)])
            spans.append(f'<span title="{escape(p.source)}" style="background:{c}">{escape(p.text)}</span>')
        legend = " ".join(
            f'<span style="background:{c};padding:0 4px">{escape(s)}</span>' for s, c in seen.items()
        )
        return (
            f'<div style="font:12px system-ui">{legend}</div>'
            f'<pre style="white-space:pre-wrap;font-size:12px">{"".join(spans)}</pre>'
        )


@cache
def default_texts() -> dict[str, str]:
    """Return the website's default texts: ``system_prompt``, ``system_prompt_adventure``, ``prefill``,
    ``prefill_adventure`` (from the January 2026 bundle; see ``naikit/data/glm/NOTICE``)."""
    raw = (resources.files("naikit") / "data" / "glm" / "prompts.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    return {k: v for k, v in data.items() if k != "source"}


def double_newlines(text: str) -> str:
    """Return ``text`` with every lone newline doubled (the site's paragraph doubling).

    A newline at index 0 stays single, as in the site's loop.
    """
    out = text
    for t in range(len(text) - 1, 0, -1):
        if text[t] == "\n" and text[t - 1] != "\n" and (t + 1 >= len(text) or text[t + 1] != "\n"):
            out = out[:t] + "\n" + out[t:]
    return out


def _double(parts: list[Part]) -> list[Part]:
    return [Part(double_newlines(p.text), p.source) for p in parts]


# -- structured text: parts keep their source through slicing, splitting and joining ------------------
def _slice(parts: Sequence[Part], start: int, end: int) -> list[Part]:
    out: list[Part] = []
    pos = 0
    for p in parts:
        a, b = pos, pos + len(p.text)
        lo, hi = max(a, start), min(b, end)
        if lo < hi:
            out.append(Part(p.text[lo - a : hi - a], p.source))
        pos = b
    return out


def _text(parts: Sequence[Part]) -> str:
    return "".join(p.text for p in parts)


def _split(parts: Sequence[Part], sep: str) -> list[list[Part]]:
    text = _text(parts)
    pieces: list[list[Part]] = []
    start = 0
    while True:
        i = text.find(sep, start)
        if i < 0:
            pieces.append(_slice(parts, start, len(text)))
            return pieces
        pieces.append(_slice(parts, start, i))
        start = i + len(sep)


def _join(pieces: Sequence[list[Part]], sep: str, source: str) -> list[Part]:
    out: list[Part] = []
    for i, piece in enumerate(pieces):
        if i:
            out.append(Part(sep, source))
        out.extend(piece)
    return [p for p in out if p.text]


def split_story(story: str | Sequence[Part], *, adventure: bool = False) -> list[Message]:
    """Return the story as messages: assistant text, ``{ instruction }`` user messages and, with
    ``adventure``, ``> action`` user messages (empty messages dropped)."""
    parts = [Part(story, "story")] if isinstance(story, str) else list(story)
    i = _text(parts)
    n = len(i)
    found: list[dict[str, Any]] = []
    in_instr = False
    s = 0
    e = 0
    while e < n - 1:
        if adventure and i[e] == ">" and i[e + 1] == " " and (e == 0 or i[e - 1] == "\n"):
            block: dict[str, Any] = {"type": "adventure", "ranges": [], "start": e, "end": 0}
            r = e
            while r < n - 1 and i[r] == ">" and i[r + 1] == " ":
                a = r + 2
                m = a
                while m < n and i[m] != "\n":
                    m += 1
                o = m + 1
                if o < n - 1 and i[o] == ">" and i[o + 1] == " ":
                    block["ranges"].append((a, m + 1))
                    r = o
                else:
                    block["ranges"].append((a, m))
                    block["end"] = m
                    break
            found.append(block)
            e = block["end"]
            continue
        if i[e] == "{" and i[e + 1] == " " and (e == 0 or i[e - 1] == "\n") and not in_instr:
            s = e
            in_instr = True
            t = e + 2
            while t < n - 1:
                if i[t] == " " and i[t + 1] == "}":
                    # the site also checks for a newline between, which the scan below already excludes
                    found.append({"type": "instruct", "start": e + 2, "end": t})
                    in_instr = False
                    e = t + 1
                    break
                if i[t] == "\n":
                    break
                t += 1
        if in_instr and i[e] == " " and i[e + 1] == "}" and (e + 1 == n - 1 or i[e + 2] == "\n"):
            found.append({"type": "instruct", "start": s + 2, "end": e})
            in_instr = False
            e += 1
        e += 1
    msgs: list[Message] = []
    c = 0
    for f in found:
        if f["type"] == "adventure":
            if f["start"] > c:
                t_ = _slice(parts, c, f["start"])
                if t_:
                    msgs.append(Message("assistant", t_))
            user: list[Part] = []
            for a, b in f["ranges"]:
                user.extend(_slice(parts, a, b))
            if user:
                msgs.append(Message("user", user))
            c = f["end"] + 1
        else:
            if f["start"] - 2 > c:
                t_ = _slice(parts, c, f["start"] - 2)
                if t_:
                    msgs.append(Message("assistant", t_))
            u = _slice(parts, f["start"], f["end"])
            if u:
                msgs.append(Message("user", u))
            c = f["end"] + 3
    if c < n:
        t_ = _slice(parts, c, n)
        if t_:
            msgs.append(Message("assistant", t_))
    return [m for m in msgs if _text(m.content)]


def insert_from_bottom(
    messages: list[Message],
    inserted: Sequence[Message],
    *,
    char_offset: int | None = None,
    line_offset: int | None = None,
) -> None:
    """Insert ``inserted`` into ``messages`` (in place) the given number of assistant characters and/or
    paragraphs (``\\n\\n``-separated) above the bottom, whichever is higher, splitting the assistant
    message there; returns None. Snapping follows the site: within 3 paragraphs of a message's start
    it goes to the start, within 3 of its end (not the last message) to the end."""
    info = []
    for idx, m in enumerate(messages):
        if m.role != "assistant":
            continue
        t = m.text
        info.append((idx, t, len(t.split("\n\n")), len(t)))
    total_chars = sum(x[3] for x in info)
    total_lines = sum(x[2] for x in info)
    lines_for_chars: int | None = None
    if char_offset is not None:
        left = min(char_offset, total_chars)
        lines = 0
        for _idx, t, lc, cc in reversed(info):
            if left <= cc:
                lines += len(t[max(0, len(t) - left) :].split("\n\n"))
                break
            left -= cc
            lines += lc
        lines_for_chars = lines
    lines_from_top = None if line_offset is None else min(line_offset, total_lines)
    if lines_from_top is not None and lines_for_chars is not None:
        c = max(lines_from_top, lines_for_chars)
    else:
        c = lines_from_top if lines_from_top is not None else (lines_for_chars or 0)
    target = 0
    d = total_lines - c
    for k, (idx, _t, lc, _cc) in enumerate(info):
        if lc > d:
            target = idx
            if d <= 3:
                d = 0
            elif lc - d <= 3 and k != len(info) - 1:
                d = lc
            break
        d -= lc
    h = messages[target]
    pieces = _split(h.content, "\n\n")
    above = _join(pieces[:d], "\n\n", h.content[0].source if h.content else "story")
    below = _join(pieces[d:], "\n\n", h.content[-1].source if h.content else "story")
    new: list[Message] = []
    if above:
        new.append(Message(h.role, above))
    new.extend(inserted)
    if below:
        new.append(Message(h.role, below))
    messages[target : target + 1] = new


def render(messages: Sequence[Message]) -> list[Part]:
    """Return the parts of the rendered prompt (after ``[gMASK]<sop>``): each message behind its role
    marker, ``/nothink`` after user text, an empty think block opening each assistant turn."""
    out: list[Part] = []
    for m in messages:
        if m.role == "user":
            out += [Part(USER_MARKER, "marker"), *m.content, Part(USER_SUFFIX, "suffix")]
        elif m.role == "assistant":
            out += [Part(ASSISTANT_MARKER, "marker"), *m.content]
        elif m.role == "system":
            out += [Part(SYSTEM_MARKER, "marker"), *m.content]
        else:  # pragma: no cover - Message.role is typed
            raise InputError("role", m.role, "system, user or assistant")
    return out


def _check_text(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InputError(name, value, "a string (or None)")


def build_prompt(
    story: str,
    *,
    memory: str | None = None,
    authors_note: str | None = None,
    system_prompt: str | None = None,
    prefill: str | None = None,
    lore: Sequence[str] = (),
    permanent_lore: Sequence[str] = (),
    adventure: bool = False,
) -> GLMPrompt:
    """Return the :class:`GLMPrompt` the website sends for this story (see the module docstring).

    ``lore`` are conditional lorebook entries already chosen (placed ~8,000 characters from the bottom),
    ``permanent_lore`` always-on entries (placed after memory). An empty ``system_prompt`` or ``prefill``
    means the default, as on the site. Raises InputError for a non-string input.
    """
    if not isinstance(story, str):
        raise InputError("story", story, "the story text as a string")
    for name, val in (("memory", memory), ("authors_note", authors_note)):
        _check_text(name, val)
    _check_text("system_prompt", system_prompt)
    _check_text("prefill", prefill)
    for name, seq in (("lore", lore), ("permanent_lore", permanent_lore)):
        if isinstance(seq, str) or not all(isinstance(x, str) for x in seq):
            raise InputError(name, seq, "a list of lorebook entry texts")
    if story.startswith("[gMASK]"):
        return GLMPrompt([Part(story, "story")], [], manual=True)
    d = default_texts()
    msgs = split_story(story, adventure=adventure)
    msgs = [Message(m.role, _double(m.content)) for m in msgs]
    if not msgs:
        msgs.append(Message("user", [Part(EMPTY_STORY_INSTRUCTION, "default-user")]))
    if msgs[0].role != "user":
        msgs.insert(0, Message("user", [Part(DEFAULT_INSTRUCTION, "default-write")]))
    if lore:
        content = [
            Part(double_newlines(t) + ("" if k == len(lore) - 1 else "\n\n"), "lore")
            for k, t in enumerate(lore)
        ]
        insert_from_bottom(msgs, [Message("system", content)], char_offset=LORE_OFFSET)
    if authors_note and authors_note.strip():
        an = Message("system", [Part(double_newlines(authors_note), "an")])
        insert_from_bottom(msgs, [an], line_offset=AN_LINES, char_offset=AN_CHARS)
    last = msgs[-1]
    if last.role == "assistant" and last.content:
        text = last.text
        if len(text) > LONG_MESSAGE:
            r = text.rfind("\n\n", 0, max(0, len(text) - TAIL) + 2)
            if r != -1:
                before, after = _slice(last.content, 0, r), _slice(last.content, r + 2, len(text))
                last.content = before
                msgs += [
                    Message("user", [Part(CONTINUE_INSTRUCTION, "continue")]),
                    Message("assistant", after),
                ]
    n_assistant = sum(m.role == "assistant" for m in msgs)
    custom = prefill.strip() + "\n\n" if prefill else None
    pre = double_newlines(custom) if custom else d["prefill_adventure" if adventure else "prefill"]
    if msgs[-1].role == "assistant":
        msgs[-1].content = [Part(pre, "prefill"), *msgs[-1].content]
    else:
        msgs.append(Message("assistant", [Part(pre + ("***\n\n" if n_assistant == 0 else ""), "prefill")]))
    mem = double_newlines(memory) if memory else None
    always = [Part(double_newlines(t), "lore") for t in permanent_lore]
    block = ([Part(mem, "memory")] if mem else []) + always
    if block:
        block = [Part(p.text + ("\n\n" if k < len(block) - 1 else ""), p.source) for k, p in enumerate(block)]
        first_user = next((k for k, m in enumerate(msgs) if m.role == "user"), -1)
        if first_user != -1:
            msgs[first_user].content = [
                Part(MEMORY_INTRO, "memory-intro"),
                *block,
                Part(MEMORY_SEPARATOR, "memory-separator"),
                *msgs[first_user].content,
            ]
    block_user = msgs[-1].role == "assistant" and len(msgs[-1].text) > 1000
    sys_text = (
        double_newlines(system_prompt)
        if system_prompt
        else d["system_prompt_adventure" if adventure else "system_prompt"]
    )
    msgs.insert(0, Message("system", [Part(sys_text, "system-prompt")]))
    parts = [Part(GLM_START, "start"), *render(msgs)]
    return GLMPrompt([p for p in parts if p.text], msgs, manual=False, block_user_token=block_user)
