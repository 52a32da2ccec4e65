"""GLM-4.6 over ``/oa/v1`` on the sandbox: time to first token and tokens/s of a streamed completion through
naikit (sync and async) against raw aiohttp reading the same SSE (same process, same run, same body), and
token-counting throughput through naikit's ``count_tokens`` against raw aiohttp posting to the same
``/oa/v1/internal/token-count`` endpoint (naikit ships no GLM tokenizer, so counting is a request).

The sandbox runs as a separate `naikit serve` process and streams each token after a small delay
(``PUT /_sandbox/oa {"token_delay": s}``), so the figures are about streaming, not the n-gram model.
Every client sends the same body (the default GLM preset, the prompt as the token ids the sandbox's
token-count gives, a fixed seed), so every stream draws the same tokens. naikit's first token includes
its token-count request (cached after the first round, as in normal use). Medians over the rounds after
one warm-up. Prints ratios; asserts nothing.

    .venv/bin/python benchmarks/bench_oa_stream.py [--tokens 64] [--rounds 5] [--delay 0.01] [--counts 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from served import start_serve, stop_serve  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _streaming import atimed_rounds, record, set_token_delay, summarise, timed_rounds  # noqa: E402

import naikit  # noqa: E402
from naikit.novelai.oa import oa_completion_body, oa_parameters  # noqa: E402
from naikit.novelai.presets import Preset  # noqa: E402
from naikit.sandbox import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402

PROMPT = (
    "[gMASK]<sop><|user|>\nWrite./nothink<|assistant|>\n<think></think>\nThe old lighthouse keeper climbed"
)
SEED = 7


def _a_token(ev: Any) -> bool:
    return bool(ev.text or not ev.final)  # the closing event carries no token


def naikit_sync(url: str, n: int, rounds: int) -> list[dict[str, float]]:
    with naikit.NovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
        return timed_rounds(
            lambda: nai.generate_stream(PROMPT, Preset.official("glm"), max_length=n, seed=SEED),
            rounds,
            _a_token,
        )


def naikit_async(url: str, n: int, rounds: int) -> list[dict[str, float]]:
    async def main() -> list[dict[str, float]]:
        async with naikit.AsyncNovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            return await atimed_rounds(
                lambda: nai.generate_stream(PROMPT, Preset.official("glm"), max_length=n, seed=SEED),
                rounds,
                _a_token,
            )

    return asyncio.run(main())


def raw_aiohttp(url: str, token: str, body: dict, rounds: int) -> list[dict[str, float]]:
    """The floor: one aiohttp session reading the SSE events off the wire, JSON-decoding each chunk."""
    import aiohttp

    async def main() -> list[dict[str, float]]:
        out = []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            for r in range(rounds + 1):
                t0 = time.perf_counter()
                first = last = 0.0
                count = 0
                buf = b""
                async with s.post(url + "/oa/v1/completions", json=body) as resp:
                    async for chunk in resp.content.iter_any():
                        buf += chunk
                        while b"\n\n" in buf:
                            event, buf = buf.split(b"\n\n", 1)
                            if event.startswith(b"data: {"):
                                c = json.loads(event[6:])["choices"][0]
                                if c["text"] or c["finish_reason"] is None:
                                    last = time.perf_counter()
                                    first = first or last
                                    count += 1
                if r:
                    out.append(record(t0, first, last, count))
        return out

    return asyncio.run(main())


def counting(url: str, token: str, texts: list[str]) -> dict[str, float]:
    """Return texts counted per second: naikit's count_tokens (async) and raw aiohttp, sequentially."""
    import aiohttp

    async def raw() -> float:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            async with s.post(
                url + "/oa/v1/internal/token-count", json={"model": "glm-4-6", "prompt": "w"}
            ) as r:
                await r.read()  # warm up the connection, as naikit's run does
            t0 = time.perf_counter()
            for t in texts:
                async with s.post(
                    url + "/oa/v1/internal/token-count", json={"model": "glm-4-6", "prompt": t}
                ) as r:
                    (await r.json())["length"]
            return len(texts) / (time.perf_counter() - t0)

    async def nk() -> tuple[float, float]:
        async with naikit.AsyncNovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            await nai.count_tokens("warm up", "glm")
            t0 = time.perf_counter()
            for t in texts:
                await nai.count_tokens(t, "glm")
            fresh = len(texts) / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            for t in texts:
                await nai.count_tokens(t, "glm")  # the same texts again: naikit's cache answers
            return fresh, len(texts) / (time.perf_counter() - t0)

    r = asyncio.run(raw())
    fresh, cached = asyncio.run(nk())
    return {"raw aiohttp": r, "naikit": fresh, "naikit (cached)": cached}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--delay", type=float, default=0.01, help="seconds the sandbox waits per streamed token")
    ap.add_argument("--counts", type=int, default=200, help="texts to count for the counting throughput")
    args = ap.parse_args()
    server, url = start_serve("--test-hooks")
    try:
        set_token_delay(server, url, "oa", args.delay)
        with naikit.NovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            nai.generate(PROMPT, model="glm", max_length=2)  # builds the server's n-gram model once
            token = nai.token.value
            ids = nai.token_ids(PROMPT, "glm")
        n, rounds = args.tokens, args.rounds
        body = oa_completion_body(ids, oa_parameters(Preset.official("glm"), max_length=n))
        body["seed"] = SEED
        results = {
            "raw aiohttp (floor)": raw_aiohttp(url, token, body, rounds),
            "naikit sync": naikit_sync(url, n, rounds),
            "naikit async": naikit_async(url, n, rounds),
        }
        texts = [
            f"Paragraph {i}: the keeper climbed {i} stairs and lit the lamp." for i in range(args.counts)
        ]
        counts = counting(url, token, texts)
    finally:
        stop_serve(server)
    ideal = 1 / args.delay if args.delay else float("inf")
    print(
        f"GLM-4.6 /oa/v1 stream of up to {n} tokens from `naikit serve`, "
        f"token_delay {args.delay * 1e3:.0f} ms "
        f"(at most {ideal:.0f} tokens/s), median of {rounds} rounds after a warm-up"
    )
    stats = {k: summarise(v) for k, v in results.items()}
    for k, (ttft, rate, count) in stats.items():
        print(
            f"  {k:22} first token {ttft * 1e3:7.1f} ms   {rate:6.1f} tokens/s   ({count:.0f} tokens/stream)"
        )
    floor_ttft, floor_rate, _ = stats["raw aiohttp (floor)"]
    for k in ("naikit sync", "naikit async"):
        ttft, rate, _ = stats[k]
        print(
            f"{k}: first token {ttft / floor_ttft:.2f}x raw aiohttp; "
            f"tokens/s {rate / floor_rate:.2f}x raw aiohttp"
        )
    print(f"Token counting via /oa/v1/internal/token-count, {len(texts)} texts, sequential:")
    for k, v in counts.items():
        print(f"  {k:22} {v:8.1f} texts/s")
    print(f"naikit counting: {counts['naikit'] / counts['raw aiohttp']:.2f}x raw aiohttp (uncached)")


if __name__ == "__main__":
    main()
