"""Waiting commands: ``wait APP DEPLOYMENT`` and the ``--wait`` of ``promote``.

Both print each deployment's final state (JSON lines or a table) and exit 0 only when every
deployment ended ``success``; 1 when one ended ``failed``, ``cancelled`` or ``skipped`` or
could not be waited for to the end (the wait timed out: said on stderr, with the last
status seen). With a progress display (a terminal's stderr, or ``--progress``) every status
change is shown on stderr as it is seen. Ctrl-C stops waiting, not the deployments: what
was last seen is reported, and they keep running.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from .. import (
    APITimeoutError,
    Deployment,
    LogEntry,
    PromoteRequest,
    Promotion,
    SevallaClient,
    WaitAllError,
)
from ._console import EXIT_FAILED, EXIT_OK, Console, UsageError, flag_names, make_client
from ._failure_logs import attach_logs, deployment_logs, log_lines, logs_json
from ._output import (
    DEPLOYMENT_COLUMNS,
    deployment_json,
    deployment_row,
    json_line,
    promotion_json,
    render_table,
)
from ._reports import OnePromote, report_promote_interrupted
from ._rows import describe_waited, tally, waited_promotion_json
from ._waiting import (
    OnChange,
    StatusWatch,
    Waited,
    WaitFlags,
    last_seen,
    mark_current,
    status_name,
    wait_options,
    waited_from_deployments,
    waited_from_error,
)

__all__ = ["change_printer", "promote_and_wait", "wait"]

WAITED_COLUMNS = ("TARGET APP", "DEPLOYMENT", "STATUS")


def change_printer(console: Console, *, with_app: bool) -> OnChange | None:
    """Where status changes go: a line each on stderr when progress is shown, else nowhere.

    ``   0.4s  inProgress  deployment D of app A`` (the app only ``with_app``).
    """
    if not console.progress:
        return None

    def show(deployment: Deployment, elapsed: float) -> None:
        where = f"deployment {deployment.id}"
        if with_app:
            where += f" of app {deployment.app_id}"
        console.err.write(f"{elapsed:7.1f}s  {status_name(deployment):<10}  {where}\n")
        console.err.flush()

    return show


# --- wait ---------------------------------------------------------------------------------


async def wait(args: argparse.Namespace, console: Console) -> int:
    options = wait_options(args)
    assert options is not None  # the command always waits
    watch = StatusWatch(change_printer(console, with_app=False))
    async with make_client(args) as client:
        options.apply(client)
        try:
            deployment = await client.deployments.wait(
                args.app, args.deployment, on_poll=watch, **options.kwargs()
            )
        except ValueError as exc:  # a bad id, found before anything was sent
            raise UsageError(flag_names(str(exc))) from None
        except APITimeoutError as exc:
            return _timed_out(console, args, options, exc)
        except asyncio.CancelledError:
            seen = watch.seen()
            last = f"last seen {status_name(seen[-1])}" if seen else "no poll answered yet"
            console.note(
                f"interrupted: stopped waiting for deployment {args.deployment} ({last}); "
                "stopping the wait does not cancel the deployment"
            )
            raise
        logs = await deployment_logs(client, deployment, options.failure_logs)
    _print_deployment(console, deployment, logs)
    if deployment.succeeded:
        return EXIT_OK
    console.note(f"deployment {deployment.id} ended {status_name(deployment)}")
    return EXIT_FAILED


def _timed_out(
    console: Console, args: argparse.Namespace, options: WaitFlags, error: APITimeoutError
) -> int:
    last = last_seen(error)
    if last is None:
        seen = "no poll answered in time"
    else:
        _print_deployment(console, last)  # the last state seen, on stdout like a result
        seen = f"it was last seen {status_name(last)}"
    console.note(
        f"timed out: deployment {args.deployment} did not finish within the wait's "
        f"{options.timeout:g}s ({seen}); it may still finish: run wait again to keep waiting"
    )
    return EXIT_FAILED


def _print_deployment(
    console: Console, deployment: Deployment, logs: Sequence[LogEntry] | None = None
) -> None:
    """The deployment as a JSON line (with ``logs`` when its error lines were read) or a
    table, its error lines under its row."""
    data = deployment_json(deployment)
    if logs is not None:
        data["logs"] = logs_json(logs)
    table = render_table(DEPLOYMENT_COLUMNS, [deployment_row(deployment)])
    console.emit(data, "\n".join([table, *log_lines(logs)]))


# --- promote --wait -----------------------------------------------------------------------


async def promote_and_wait(
    client: SevallaClient,
    request: PromoteRequest,
    options: WaitFlags,
    console: Console,
    *,
    skip_current: bool = False,
) -> int:
    """``promote --wait``: promote, wait for every target's deployment, print each one's
    final status; 0 only when all ended ``success``. Interrupted, it still prints what the
    API did: the deployments started (with the status last seen), or that the promotion
    may have been made."""
    watch = StatusWatch(change_printer(console, with_app=True))
    options.apply(client)
    promotions: list[Promotion] | None = None
    mark = OnePromote()  # when the request leaves, for the report of a Ctrl-C
    try:
        promotions = await mark.send(client, request, skip_current=skip_current)
        deployments = await client.deployments.wait_all(
            promotions, on_poll=watch, **options.kwargs()
        )
        waited = mark_current(
            waited_from_deployments(deployments, request.target_app_ids), promotions
        )
    except WaitAllError as exc:  # every result is in it, finished or not
        waited = waited_from_error(exc)
    except asyncio.CancelledError:
        if promotions is None:
            report_promote_interrupted(console, request, mark.sent_at)
        else:
            _report_wait_interrupted(console, request, promotions, watch)
        raise
    waited = await attach_logs(client, waited, options.failure_logs)
    _print_waited(console, request, waited)
    console.note(tally(waited))
    return EXIT_OK if all(w.succeeded for w in waited) else EXIT_FAILED


def _print_waited(console: Console, request: PromoteRequest, waited: Sequence[Waited]) -> None:
    rows = [
        ("-" if w.app_id is None else str(w.app_id), str(w.deployment_id), describe_waited(w))
        for w in waited
    ]
    header, *lines = render_table(WAITED_COLUMNS, rows).split("\n")
    if not console.json:
        console.line(header)
    for line, w in zip(lines, waited, strict=True):
        console.emit(waited_promotion_json(request, w), "\n".join([line, *log_lines(w.logs)]))


def _report_wait_interrupted(
    console: Console, request: PromoteRequest, promotions: Sequence[Promotion], watch: StatusWatch
) -> None:
    """Ctrl-C while waiting: the promotion was made; every deployment it started, with the
    status last seen (stderr, and a JSON line each on stdout with ``--output json``)."""
    console.note(
        f"interrupted: pipeline {request.pipeline_id} was promoted; stopping the wait does "
        "not cancel its deployments, last seen:"
    )
    for promotion in promotions:
        seen = watch.last(promotion.deployment_id)
        status = "not polled yet" if seen is None else status_name(seen)
        console.err.write(
            f"  app {promotion.target_app_id}: deployment {promotion.deployment_id} {status}\n"
        )
        if console.json:
            line = promotion_json(request, promotion)
            line.update(status=None if seen is None else seen.status, ok=False, interrupted=True)
            console.line(json_line(line))
    console.err.flush()
