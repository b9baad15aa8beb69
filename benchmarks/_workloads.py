"""One benchmark workload, run in a fresh process: prints one JSON line of measurements.

    python benchmarks/_workloads.py VARIANT --plan plan.json --requests N \
        [--concurrency 64] [--warmup 200]

Variants:

- ``floor``: raw aiohttp + ``json.loads``, ``asyncio.gather`` under a semaphore (the floor);
- ``contract``: the floor plus the least work the public contract asks of any SDK (API.md):
  the 5 ids checked against the spec's pattern and built into ``uuid.UUID``s, the
  rate-limit headers read, the reply checked against the request (each target once) and
  built into 3 :class:`Promotion` objects; no retries, deadline, budget or hooks;
- ``sdk_gather``: ``client.pipelines.promote(...)`` under ``asyncio.gather`` + semaphore;
- ``promote_many``: ``client.pipelines.promote_many(dicts, concurrency=...)``;
- ``floor_stream``: raw aiohttp over a lazy generator, ``concurrency`` worker tasks (the
  memory floor for a long stream);
- ``promote_iter``: ``client.pipelines.promote_iter(generator, concurrency=...)``.

Every request variant gets the same input: plain-string ids from the plan, cycled to
``--requests`` entries (bench_promote seeds a pipeline per entry, so no target
repeats: the SDK would refuse it). ``cpu`` is :func:`time.process_time` over the
measured part only (after ``--warmup`` requests that open the connections),
``maxrss_kb`` the process's peak RSS, ``rss_kb`` the current RSS sampled at 0 %, 10 %,
50 % and 100 % of a stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

Plan = list[list[Any]]


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _subset(targets: list[str], n: int) -> list[str]:
    """The ``n``-th non-empty subset of ``targets`` (the full set first), cyclically."""
    masks = (1 << len(targets)) - 1
    mask = masks - n % masks
    return [t for j, t in enumerate(targets) if mask >> j & 1]


def _dicts(plan: Plan, n: int) -> Iterator[dict[str, Any]]:
    # A fan-out refuses an entry with a target an earlier one promotes from the same
    # pipeline and source (it would deploy twice): bench_promote seeds a pipeline per
    # entry, so the first pass (every target of each) is the whole input. A longer input
    # (by hand) goes on with other subsets of the targets, which the SDK refuses.
    size = len(plan)
    for i in range(n):
        pid, src, targets = plan[i % size]
        targets = _subset(targets, i // size)
        yield {"pipeline_id": pid, "source_app_id": src, "target_app_ids": targets}


# --- raw aiohttp ---------------------------------------------------------------------------


def _body(item: dict[str, Any]) -> bytes:
    data = {"source_app_id": item["source_app_id"], "target_app_ids": item["target_app_ids"]}
    return json.dumps(data).encode()


def _floor_headers(key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }


async def _floor(base: str, key: str, items: list[dict[str, Any]], concurrency: int) -> int:
    import aiohttp

    headers = _floor_headers(key)
    semaphore = asyncio.Semaphore(concurrency)
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

        async def one(item: dict[str, Any]) -> Any:
            nonlocal errors
            async with semaphore:
                body = _body(item)
                url = f"{base}/pipelines/{item['pipeline_id']}/promote"
                async with session.post(url, data=body, headers=headers) as reply:
                    data = json.loads(await reply.read())
                    if reply.status != 200:
                        errors += 1
                    return data

        await asyncio.gather(*(one(item) for item in items))
    return errors


async def _floor_stream(
    base: str, key: str, items: Iterator[dict[str, Any]], concurrency: int, n: int, rss: list[int]
) -> int:
    import aiohttp

    headers = _floor_headers(key)
    errors = 0
    done = 0
    marks = _marks(n)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

        async def worker() -> None:
            nonlocal errors, done
            for item in items:
                body = _body(item)
                url = f"{base}/pipelines/{item['pipeline_id']}/promote"
                async with session.post(url, data=body, headers=headers) as reply:
                    json.loads(await reply.read())
                    if reply.status != 200:
                        errors += 1
                done += 1
                if done in marks:
                    rss.append(_rss_kb())

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors


# The spec's pattern of every ``format: uuid`` string (as the SDK checks it).
_API_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff"
)


async def _contract(base: str, key: str, items: list[dict[str, Any]], concurrency: int) -> int:
    """The floor plus what API.md requires of a promote, written straight, with nothing
    else: what no implementation of the contract can avoid."""
    import aiohttp

    from sevalla_async import Promotion

    is_id = _API_UUID.fullmatch
    headers = _floor_headers(key)
    semaphore = asyncio.Semaphore(concurrency)
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

        async def one(item: dict[str, Any]) -> Any:
            nonlocal errors
            async with semaphore:
                pid, source = item["pipeline_id"], item["source_app_id"]
                targets = item["target_app_ids"]
                if not (is_id(pid) and is_id(source) and all(map(is_id, targets))):
                    raise ValueError("not an id")
                if source in targets or len(set(targets)) != len(targets):
                    raise ValueError("repeated id")
                request = (uuid.UUID(pid), uuid.UUID(source), [uuid.UUID(t) for t in targets])
                ids = '","'.join(targets)
                body = f'{{"source_app_id":"{source}","target_app_ids":["{ids}"]}}'.encode()
                url = f"{base}/pipelines/{pid}/promote"
                async with session.post(url, data=body, headers=headers) as reply:
                    data = json.loads(await reply.read())
                    budget = (
                        int(reply.headers.get("x-ratelimit-remaining", "0")),
                        float(reply.headers.get("x-ratelimit-reset", "0")),
                    )
                    if reply.status != 200:
                        errors += 1
                        return None
                wanted = dict(zip(targets, request[2], strict=True))
                promotions = {}
                for entry in data:
                    target = wanted[entry["target_app_id"]]
                    deployment = entry["deployment_id"]
                    if target in promotions or not is_id(deployment):
                        raise ValueError("reply does not cover the request")
                    promotions[target] = Promotion(target, uuid.UUID(deployment))
                if len(promotions) != len(wanted):
                    raise ValueError("reply does not cover the request")
                return [promotions[t] for t in request[2]], request, budget

        await asyncio.gather(*(one(item) for item in items))
    return errors


# --- the SDK -------------------------------------------------------------------------------


async def _sdk_gather(base: str, key: str, items: list[dict[str, Any]], concurrency: int) -> int:
    from sevalla_async import SevallaClient

    semaphore = asyncio.Semaphore(concurrency)
    async with SevallaClient(key, base_url=base) as client:
        promote = client.pipelines.promote

        async def one(item: dict[str, Any]) -> Any:
            async with semaphore:
                return await promote(
                    item["pipeline_id"],
                    source_app_id=item["source_app_id"],
                    target_app_ids=item["target_app_ids"],
                )

        results = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)
    return sum(1 for r in results if isinstance(r, BaseException))


async def _promote_many(base: str, key: str, items: list[dict[str, Any]], concurrency: int) -> int:
    from sevalla_async import SevallaClient

    async with SevallaClient(key, base_url=base) as client:
        outcomes = await client.pipelines.promote_many(items, concurrency=concurrency)
    return sum(1 for o in outcomes if not o.ok)


async def _promote_iter(
    base: str, key: str, items: Iterator[dict[str, Any]], concurrency: int, n: int, rss: list[int]
) -> int:
    from sevalla_async import SevallaClient

    errors = 0
    done = 0
    marks = _marks(n)
    async with SevallaClient(key, base_url=base) as client:
        async for outcome in client.pipelines.promote_iter(items, concurrency=concurrency):
            if not outcome.ok:
                errors += 1
            done += 1
            if done in marks:
                rss.append(_rss_kb())
    return errors


def _marks(n: int) -> set[int]:
    return {max(1, n // 10), max(1, n // 2), n}


# --- driver --------------------------------------------------------------------------------


async def _run(args: argparse.Namespace, plan_file: dict[str, Any]) -> dict[str, Any]:
    base, key, plan = plan_file["base_url"], plan_file["api_key"], plan_file["requests"]
    n, c = args.requests, args.concurrency
    rss: list[int] = []
    if args.variant in ("sdk_gather", "promote_many", "promote_iter"):
        import sevalla_async  # noqa: F401  (imported before anything is measured)
    import aiohttp  # noqa: F401

    batch = {
        "floor": _floor,
        "contract": _contract,
        "sdk_gather": _sdk_gather,
        "promote_many": _promote_many,
    }
    if args.variant in batch:
        run = batch[args.variant]
        if args.warmup:
            await run(base, key, list(_dicts(plan, args.warmup)), c)
        items = list(_dicts(plan, n))
        wall0, cpu0 = time.perf_counter(), time.process_time()
        errors = await run(base, key, items, c)
    else:
        stream = _promote_iter if args.variant == "promote_iter" else _floor_stream
        rss.append(_rss_kb())
        wall0, cpu0 = time.perf_counter(), time.process_time()
        errors = await stream(base, key, _dicts(plan, n), c, n, rss)
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    return {
        "variant": args.variant,
        "requests": n,
        "errors": errors,
        "wall_s": wall,
        "cpu_s": cpu,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "rss_kb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "variant",
        choices=[
            "floor",
            "contract",
            "sdk_gather",
            "promote_many",
            "floor_stream",
            "promote_iter",
        ],
    )
    parser.add_argument("--plan")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    with open(args.plan) as f:
        plan_file = json.load(f)
    result = asyncio.run(_run(args, plan_file))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
