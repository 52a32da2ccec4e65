"""Building a story's context: a 200,000-character story with 500 lorebook entries, against tokenizing the
story once with the same tokenizer (Erato's), in the same run. Prints seconds and the ratio (goal: <= 2).

Each build starts with a cold tokenizer cache inside the builder (a new Context each time); the
tokenizer itself is loaded before timing starts.

    .venv/bin/python benchmarks/bench_context.py [characters] [entries]
"""

from __future__ import annotations

import random
import sys
import time

from naikit.novelai.story import LoreEntry, Story
from naikit.tokenizers import encode

WORDS = (
    "the lamp sea ship keeper stairs harbour salt road wells caravan night morning window river "
    "stone bread honey orchard clock mara tomas ines elias north light wind rope tide map compass"
).split()


def make_story(chars: int, entries: int, seed: int = 1) -> Story:
    """Return a story of about ``chars`` characters (sentences and paragraphs) and ``entries`` entries."""
    rnd = random.Random(seed)
    parts: list[str] = []
    n = 0
    while n < chars:
        sentence = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 16))).capitalize() + "."
        sep = "\n" if rnd.random() < 0.2 else " "
        parts.append(sentence + sep)
        n += len(sentence) + 1
    text = "".join(parts)[:chars]
    lore = []
    for i in range(entries):
        keys = [f"name{i}", rnd.choice(WORDS)] if i % 5 == 0 else [f"name{i}", f"place{i}"]
        if i % 50 == 0:
            keys.append(r"/\bsea(s|side)?\b/i")
        body = f"Entry {i}: " + " ".join(rnd.choice(WORDS) for _ in range(20)) + "."
        lore.append(LoreEntry(body, keys=keys, display_name=f"entry {i}"))
    return Story(
        text=text, memory="Title: benchmark\nTags: test", authors_note="[ Style: plain ]", lorebook=lore
    )


def best_of(fn, runs: int = 3) -> float:
    """Return the fastest of ``runs`` timings of ``fn()`` in seconds."""
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> None:
    chars = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    entries = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    story = make_story(chars, entries)
    encode("warm up", "erato")
    t_tok = best_of(lambda: encode(story.text, "erato"))
    t_cold = best_of(lambda: story.context("erato"), runs=1)  # first build: regex keys compiled
    ctx = story.context("erato")
    t_ctx = best_of(lambda: story.context("erato"))
    fired = sum(1 for s in ctx.sections if s.kind == "lore" and s.included)
    print(f"story: {len(story.text):,} characters, {entries} entries ({fired} in the context)")
    print(f"tokenize the story once: {t_tok:.3f} s")
    print(f"build the context, first: {t_cold:.3f} s (compiles the regex keys)")
    print(f"build the context:       {t_ctx:.3f} s  ({len(ctx.tokens):,} tokens)")
    print(f"ratio context / tokenize: {t_ctx / t_tok:.2f} (first build: {t_cold / t_tok:.2f})")


if __name__ == "__main__":
    main()
