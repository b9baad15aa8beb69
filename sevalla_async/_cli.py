"""The ``sevalla-async`` command line (argparse over the public API only)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from . import SevallaClient, __version__
from .testing import FakeSevalla

__all__ = ["main"]


async def _demo(pipelines: int, targets: int) -> int:
    out = sys.stdout
    async with FakeSevalla() as fake:
        requests = fake.promote_requests(pipelines, targets=targets)
        out.write(
            f"Embedded fake Sevalla API at {fake.base_url} (no account, no network)\n"
            f"Promoting {pipelines} pipelines x {targets} targets through one event loop...\n"
        )
        async with SevallaClient(fake.api_key, base_url=fake.base_url) as client:
            results = await asyncio.gather(*(client.pipelines.promote_request(r) for r in requests))
        for request, promotions in zip(requests, results, strict=True):
            out.write(f"  pipeline {request.pipeline_id}\n")
            for p in promotions:
                out.write(f"    -> app {p.target_app_id}: deployment {p.deployment_id}\n")
        total = sum(len(p) for p in results)
        out.write(
            f"Done: {len(results)} promotions, {total} deployments started, "
            f"{len(fake.requests)} HTTP requests.\n"
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sevalla-async", description="Promote Sevalla pipelines from the command line."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="promote a handful of pipelines on an embedded fake API (no account)"
    )
    demo.add_argument("--pipelines", type=int, default=5, help="how many pipelines (default 5)")
    demo.add_argument("--targets", type=int, default=2, help="targets per pipeline (default 2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return asyncio.run(_demo(args.pipelines, args.targets))
    raise AssertionError(args.command)  # pragma: no cover
