"""The API commands: ``promote``, ``pipelines list``, ``deployments list`` (``promote-many``
is in ``_promote_many``; ``wait`` and the ``--wait`` of ``promote`` in ``_wait_commands``).

Each is ``async def command(args, console) -> exit status``. API errors propagate to the
runner (exit 1, one line on stderr); bad input is a :class:`UsageError` (exit 2) raised
before anything is sent.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TypeVar

from .. import PromoteRequest
from ._console import EXIT_OK, Console, UsageError, flag_names, make_client, take
from ._output import (
    DEPLOYMENT_COLUMNS,
    PIPELINE_COLUMNS,
    deployment_json,
    deployment_row,
    json_line,
    pipeline_json,
    pipeline_row,
    promotion_json,
    promotions_table,
    render_table,
)
from ._reports import OnePromote, report_promote_interrupted
from ._wait_commands import promote_and_wait
from ._waiting import wait_options

__all__ = ["deployments_list", "pipelines_list", "promote"]

T = TypeVar("T")


# --- promote ------------------------------------------------------------------------------


async def promote(args: argparse.Namespace, console: Console) -> int:
    try:
        request = PromoteRequest(
            args.pipeline, args.source, args.target, expect_build=args.expect_build
        )
    except ValueError as exc:
        raise UsageError(flag_names(str(exc))) from None
    options = wait_options(args)
    async with make_client(args) as client:
        if options is not None:
            return await promote_and_wait(
                client, request, options, console, skip_current=args.skip_current
            )
        mark = OnePromote()  # when the request leaves, for the report of a Ctrl-C
        try:
            promotions = await mark.send(client, request, skip_current=args.skip_current)
        except asyncio.CancelledError:
            report_promote_interrupted(console, request, mark.sent_at)
            raise
    if console.json:
        for p in promotions:
            console.line(json_line(promotion_json(request, p)))
    else:
        console.line(promotions_table(promotions))
    return EXIT_OK


# --- listing ------------------------------------------------------------------------------


async def pipelines_list(args: argparse.Namespace, console: Console) -> int:
    async with make_client(args) as client:
        pipelines = client.pipelines.list(page_size=_page_size(args.limit))
        await _print_listing(
            console,
            take(pipelines, args.limit),
            pipeline_json,
            pipeline_row,
            PIPELINE_COLUMNS,
            empty="no pipelines",
        )
    return EXIT_OK


async def deployments_list(args: argparse.Namespace, console: Console) -> int:
    async with make_client(args) as client:
        try:
            deployments = client.deployments.list(args.app, page_size=_page_size(args.limit))
        except ValueError as exc:
            raise UsageError(f"APP: {exc}") from None
        await _print_listing(
            console,
            take(deployments, args.limit),
            deployment_json,
            deployment_row,
            DEPLOYMENT_COLUMNS,
            empty="no deployments",
        )
    return EXIT_OK


async def _print_listing(
    console: Console,
    items: AsyncIterator[T],
    as_json: Callable[[T], Mapping[str, object]],
    as_row: Callable[[T], Sequence[str]],
    columns: Sequence[str],
    *,
    empty: str,
) -> None:
    """JSON lines as items arrive, or one table once all are in (``empty`` when none)."""
    rows = []
    async for item in items:
        if console.json:
            console.line(json_line(as_json(item)))
        else:
            rows.append(as_row(item))
    if not console.json:
        console.line(render_table(columns, rows) if rows else empty)


def _page_size(limit: int | None) -> int:
    return 100 if limit is None else max(1, min(limit, 100))
