"""500 sequential small requests to the sandbox: naikit's sync client against raw aiohttp (one session,
same process, same run) and against `novelai-api` (its own venv, pointed at the same sandbox).

The sandbox runs as a separate `naikit serve` process so that no client shares its interpreter with
the server. Each client does GET /user/information N times after logging in; the figure is the median
of several rounds. Prints ratios; asserts nothing.

    .venv/bin/python benchmarks/bench_requests.py [--n 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from refclients import run_script  # noqa: E402
from served import start_serve, stop_serve  # noqa: E402

import naikit  # noqa: E402
from naikit.sandbox import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402

REF = r"""
import asyncio, json, sys, time
from aiohttp import ClientSession
from novelai_api import NovelAIAPI

async def main(url, email, password, n):
    async with ClientSession() as session:
        api = NovelAIAPI(session)
        api.BASE_ADDRESS = url
        await api.high_level.login(email, password)
        await api.low_level.get_information()
        t = time.perf_counter()
        for _ in range(int(n)):
            await api.low_level.get_information()
        print(json.dumps({"seconds": time.perf_counter() - t}))

asyncio.run(main(*sys.argv[1:5]))
"""


def naikit_sync(url: str, n: int) -> float:
    with naikit.NovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
        nai.information()
        t = time.perf_counter()
        for _ in range(n):
            nai.information()
        return time.perf_counter() - t


def naikit_sync_in_running_loop(url: str, n: int) -> float:
    """The sync client called from a thread whose loop is running, as in a Jupyter cell."""

    async def cell() -> float:
        return naikit_sync(url, n)

    return asyncio.run(cell())


def naikit_async(url: str, n: int) -> float:
    async def main() -> float:
        async with naikit.AsyncNovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            await nai.information()
            t = time.perf_counter()
            for _ in range(n):
                await nai.information()
            return time.perf_counter() - t

    return asyncio.run(main())


def raw_aiohttp(url: str, token: str, n: int) -> float:
    import aiohttp

    async def main() -> float:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            async with s.get(url + "/user/information") as r:
                await r.json()
            t = time.perf_counter()
            for _ in range(n):
                async with s.get(url + "/user/information") as r:
                    r.raise_for_status()
                    await r.json()
            return time.perf_counter() - t

    return asyncio.run(main())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    server, url = start_serve()
    try:
        with naikit.NovelAI(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
            nai.information()
            token = nai.token.value
        res: dict[str, list[float]] = {
            "raw aiohttp": [],
            "naikit sync": [],
            "naikit sync, loop running (Jupyter)": [],
            "naikit async": [],
            "novelai-api": [],
        }
        for _ in range(args.rounds):
            res["raw aiohttp"].append(raw_aiohttp(url, token, args.n))
            res["naikit sync"].append(naikit_sync(url, args.n))
            res["naikit sync, loop running (Jupyter)"].append(naikit_sync_in_running_loop(url, args.n))
            res["naikit async"].append(naikit_async(url, args.n))
            out = run_script("novelai-api", REF, url, DEMO_EMAIL, DEMO_PASSWORD, str(args.n))
            res["novelai-api"].append(json.loads(out.strip().splitlines()[-1])["seconds"])
    finally:
        stop_serve(server)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"{args.n} sequential GET /user/information, median of {args.rounds} rounds")
    for k, v in med.items():
        print(f"  {k:38} {v:7.3f} s  ({v / args.n * 1e3:6.3f} ms/request)")
    for k in ("naikit sync", "naikit sync, loop running (Jupyter)", "naikit async"):
        raw, ref = med[k] / med["raw aiohttp"], med[k] / med["novelai-api"]
        print(f"{k} / raw aiohttp = {raw:.2f}x; / novelai-api = {ref:.2f}x")


if __name__ == "__main__":
    main()
