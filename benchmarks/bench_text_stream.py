"""Time to first token and tokens/s of the sandbox's text stream: naikit (sync and async) against raw
aiohttp reading the same SSE (same process, same run) and against `novelai-api` 0.34.1 (its own venv,
pointed at the same sandbox).

The sandbox runs as a separate `naikit serve` process, so no client shares its interpreter with the
server, and streams each token after a small delay (``PUT /_sandbox/text {"token_delay": s}``), so the
figures are about streaming rather than about the n-gram model. Every client streams the same request
(Kayra's default preset, ``min_length = max_length = N`` so every stream has N tokens) after one warm-up
stream; the figures are medians over the rounds. Prints ratios; asserts nothing.

    .venv/bin/python benchmarks/bench_text_stream.py [--tokens 64] [--rounds 5] [--delay 0.01]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from refclients import run_script  # noqa: E402
from served import start_serve, stop_serve  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _streaming import atimed_rounds, record, set_token_delay, summarise, timed_rounds  # noqa: E402

import naikit  # noqa: E402
from naikit.novelai.presets import Preset, build_request  # noqa: E402
from naikit.sandbox import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402

PROMPT = "The old lighthouse keeper climbed the stairs"

REF = r"""
import asyncio, json, sys, time
from aiohttp import ClientSession
from novelai_api import NovelAIAPI
import novelai_api._low_level as low
from novelai_api.Preset import Preset, Model
from novelai_api.GlobalSettings import GlobalSettings

async def main(url, email, password, prompt, n, rounds):
    n, rounds = int(n), int(rounds)
    low.TEXT_API_ADDRESS = url
    low.GENERAL_API_ADDRESS = url
    out = []
    async with ClientSession() as session:
        api = NovelAIAPI(session)
        api.BASE_ADDRESS = url
        await api.high_level.login(email, password)
        preset = Preset.from_default(Model.Kayra)
        for r in range(rounds + 1):
            t0 = time.perf_counter()
            first = last = None
            count = 0
            async for e in api.high_level.generate_stream(
                prompt, Model.Kayra, preset, GlobalSettings(), max_length=n, min_length=n
            ):
                now = time.perf_counter()
                first = now if first is None else first
                last = now
                count += 1
            if r:  # the first round warms up
                out.append({"first": first - t0, "last": last - t0, "count": count})
    print(json.dumps(out))

asyncio.run(main(*sys.argv[1:7]))
"""


def naikit_sync(url: str, n: int, rounds: int) -> list[dict[str, float]]:
    with naikit.NovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
        return timed_rounds(
            lambda: nai.generate_stream(PROMPT, model="kayra", max_length=n, min_length=n), rounds
        )


def naikit_async(url: str, n: int, rounds: int) -> list[dict[str, float]]:
    async def main() -> list[dict[str, float]]:
        async with naikit.AsyncNovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            return await atimed_rounds(
                lambda: nai.generate_stream(PROMPT, model="kayra", max_length=n, min_length=n), rounds
            )

    return asyncio.run(main())


def raw_aiohttp(url: str, token: str, n: int, rounds: int) -> list[dict[str, float]]:
    """The floor: one aiohttp session reading the SSE events off the wire, no parsing beyond splitting."""
    import aiohttp

    body = build_request(PROMPT, Preset.official("kayra"), max_length=n, min_length=n)

    async def main() -> list[dict[str, float]]:
        out = []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            for r in range(rounds + 1):
                t0 = time.perf_counter()
                first = last = 0.0
                count = 0
                buf = b""
                async with s.post(url + "/ai/generate-stream", json=body) as resp:
                    async for chunk in resp.content.iter_any():
                        buf += chunk
                        while b"\n\n" in buf:
                            event, buf = buf.split(b"\n\n", 1)
                            if b"data:" in event:
                                last = time.perf_counter()
                                first = first or last
                                count += 1
                if r:
                    out.append(record(t0, first, last, count))
        return out

    return asyncio.run(main())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--delay", type=float, default=0.01, help="seconds the sandbox waits per streamed token")
    args = ap.parse_args()
    server, url = start_serve("--test-hooks")
    try:
        set_token_delay(server, url, "text", args.delay)
        with naikit.NovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            nai.generate(PROMPT, model="kayra", max_length=2)  # builds the server's n-gram model once
            token = nai.token.value
        n, rounds = args.tokens, args.rounds
        results = {
            "raw aiohttp (floor)": raw_aiohttp(url, token, n, rounds),
            "naikit sync": naikit_sync(url, n, rounds),
            "naikit async": naikit_async(url, n, rounds),
            "novelai-api 0.34.1": json.loads(
                run_script("novelai-api", REF, url, DEMO_EMAIL, DEMO_PASSWORD, PROMPT, str(n), str(rounds))
                .strip()
                .splitlines()[-1]
            ),
        }
    finally:
        stop_serve(server)
    ideal = 1 / args.delay if args.delay else float("inf")
    print(
        f"Kayra stream of {n} tokens from `naikit serve`, token_delay {args.delay * 1e3:.0f} ms "
        f"(at most {ideal:.0f} tokens/s), median of {rounds} rounds after a warm-up"
    )
    stats = {k: summarise(v) for k, v in results.items()}
    for k, (ttft, rate, count) in stats.items():
        print(
            f"  {k:22} first token {ttft * 1e3:7.1f} ms   {rate:6.1f} tokens/s   ({count:.0f} tokens/stream)"
        )
    floor_ttft, floor_rate, _ = stats["raw aiohttp (floor)"]
    ref_ttft, ref_rate, _ = stats["novelai-api 0.34.1"]
    for k in ("naikit sync", "naikit async"):
        ttft, rate, _ = stats[k]
        print(
            f"{k}: first token {ttft / floor_ttft:.2f}x raw aiohttp, {ttft / ref_ttft:.2f}x novelai-api; "
            f"tokens/s {rate / floor_rate:.2f}x raw aiohttp, {rate / ref_rate:.2f}x novelai-api"
        )


if __name__ == "__main__":
    main()
