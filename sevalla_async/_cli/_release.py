"""``sevalla-async release PLAN``: promote the waves of a plan one after the other with
``client.releases.run``, stop (or roll back the failed targets and stop) when a wave's
deployments do not all succeed.

Output: on a terminal, one row per change of a target's status (``WAVE  TARGET  STATUS``)
and a line per wave; otherwise (``--output json`` or piped) JSON lines, one per event:
``{"event": "wave", "wave": 0, "status": "started" | "passed" | "failed"}``, ``{"event":
"target", "wave": 0, "app_id": ..., "deployment_id": ..., "status": ..., "rollback":
false}``, ``{"event": "entry", ...}`` for an entry that failed before deploying, and a last
``{"event": "release", "completed": ..., "stopped_at": ...}``. The row of a deployment that
ended ``failed`` comes once its wave's deployments have all ended, with the last
``--failure-logs`` ERROR lines of its log: indented under it, or its ``logs`` field
(``[{"timestamp", "severity", "message"}]``).

Exit status: 0 every wave passed; 1 a wave failed its gate (the release stopped); 2 the
plan is invalid (nothing sent); 130 interrupted (what was in flight is reported).
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import (
    Build,
    DeploymentProgress,
    LogEntry,
    PromoteRequest,
    ReleaseLedger,
    ReleaseReport,
    RollbackOutcome,
    SevallaClient,
    WaveReport,
)
from .._failure_logs import ended_failed
from ._console import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Console, make_client
from ._failure_logs import log_lines, logs_json
from ._journal import JournalEntry
from ._output import error_json, format_row, json_line, plural, short_error
from ._plan import expecting, load_plan
from ._release_extras import dry_run, report_interrupted
from ._release_journal import ReleaseRecorder, Rollbacks, open_release_journal, resumed_done
from ._release_pins import PinsHeader, resumed_pins
from ._release_plan import parse_release_plan
from ._waiting import WaitFlags, wait_options

__all__ = ["ReleaseView", "release", "release_report", "run_release"]

COLUMNS = ("WAVE", "TARGET APP", "STATUS")
WIDTHS = (4, 36, 0)


class ReleaseView:
    """Prints a release as it goes: status changes per (wave, target), waves, failures.

    With ``failure_logs`` (``--failure-logs N``, N > 0) the row of a deployment that ended
    ``failed`` waits for its error lines, read once the wave's deployments have all ended:
    it is printed with them (indented under it; a ``logs`` field in JSON) by :meth:`gate`,
    before any rollback, or at the latest by :meth:`wave` or :meth:`flush`.

    ``pins`` shows the builds pinned before the first row; its :meth:`PinsHeader.pin` is
    the release's ``on_pin``.
    """

    def __init__(
        self,
        console: Console,
        *,
        failure_logs: int = 0,
        pinned: Mapping[uuid.UUID, Build] | None = None,
    ) -> None:
        self._console = console
        self._last: dict[tuple[int, uuid.UUID, bool], str] = {}
        self._holds = failure_logs > 0
        self._held: dict[tuple[int, uuid.UUID], tuple[dict[str, Any], str]] = {}
        self.pins = PinsHeader(console.emit, pinned)
        self._headed = False

    def head(self) -> None:
        """The pinned builds, then the table's header (once, before the first row)."""
        if self._headed:
            return
        self._headed = True
        self.pins.flush()
        if not self._console.json:
            self._console.line(format_row(COLUMNS, WIDTHS))

    def gate(self, report: WaveReport) -> bool:
        """The default gate (every deployment succeeded), printing first the held rows of
        the wave's failed deployments with their error lines (the report has them)."""
        self.flush(report.index, report.failure_logs)
        return report.succeeded

    def flush(
        self, wave: int | None = None, logs: Mapping[uuid.UUID, Sequence[LogEntry]] | None = None
    ) -> None:
        """Print the held rows (of ``wave``; every one when ``None``), each with its error
        lines from ``logs`` (app id -> lines) when they are there."""
        for key in [k for k in self._held if wave is None or k[0] == wave]:
            event, text = self._held.pop(key)
            lines = None if logs is None else logs.get(key[1])
            if lines is not None:
                event["logs"] = logs_json(lines)
                text = "\n".join([text, *log_lines(lines)])
            self._emit(event, text)

    def _rollback_row(self, rollback: RollbackOutcome, status: str) -> None:
        """A rollback that did not simply happen: failed, or left unknown by a run before."""
        event: dict[str, Any] = {
            "event": "target",
            "wave": rollback.wave,
            "app_id": str(rollback.app_id),
            "rollback": True,
            "state": str(rollback.state),
        }
        if rollback.error is not None:
            event["error"] = error_json(rollback.error)
        self._emit(event, format_row((str(rollback.wave), str(rollback.app_id), status), WIDTHS))

    def _emit(self, data: dict[str, Any], text: str) -> None:
        self.head()
        self._console.emit(data, text)

    def deployment(self, progress: DeploymentProgress) -> None:
        deployment = progress.deployment
        app = deployment.app_id
        if app is None:
            return
        status = deployment.status.value if deployment.status is not None else "null"
        key = (progress.wave, app, progress.rollback)
        if self._last.get(key) == status:
            return
        self._last[key] = status
        shown = f"rollback {status}" if progress.rollback else status
        event: dict[str, Any] = {
            "event": "target",
            "wave": progress.wave,
            "app_id": str(app),
            "deployment_id": str(deployment.id),
            "status": status,
            "rollback": progress.rollback,
        }
        text = format_row((str(progress.wave), str(app), shown), WIDTHS)
        if self._holds and not progress.rollback and ended_failed(deployment):
            self._held[(progress.wave, app)] = (event, text)  # shown with its error lines
            return
        self._emit(event, text)

    def wave(self, index: int, report: WaveReport | None) -> None:
        self.head()
        if report is None:
            self._emit(
                {"event": "wave", "wave": index, "status": "started"}, f"wave {index}: started"
            )
            return
        self.flush(index, report.failure_logs)  # when no gate printed them
        for outcome in report.outcomes:  # entries that deployed nothing
            if outcome.error is None or outcome.deployments:
                continue
            request = outcome.request
            targets = request.target_app_ids if isinstance(request, PromoteRequest) else ()
            self._emit(
                {
                    "event": "entry",
                    "wave": index,
                    "index": outcome.index,
                    "state": str(outcome.state),
                    "error": error_json(outcome.error),
                },
                "\n".join(
                    format_row(
                        (str(index), str(t), f"{outcome.state}: {short_error(outcome.error)}"),
                        WIDTHS,
                    )
                    for t in targets
                ),
            )
        for rollback in report.rollbacks:
            if rollback.error is not None:
                self._rollback_row(rollback, f"rollback failed: {rollback.error}")
            elif rollback.deployment is None:  # sent by an earlier run, its reply never seen
                self._rollback_row(
                    rollback, "rollback unknown: sent before, not sent again (check the app)"
                )
        total = sum(
            len(o.request.target_app_ids)
            for o in report.outcomes
            if isinstance(o.request, PromoteRequest)  # always: the plan was validated
        )
        good = total - len(report.failed_targets)
        status = "passed" if report.passed else "failed"
        text = f"wave {index}: {status} ({good}/{plural(total, 'deployment')} succeeded)"
        if report.rollbacks:
            back = sum(1 for r in report.rollbacks if r.succeeded)
            text += f"; {back}/{plural(len(report.rollbacks), 'failed target')} rolled back"
        self._emit(
            {
                "event": "wave",
                "wave": index,
                "status": status,
                "succeeded": good,
                "targets": total,
                "rolled_back": [str(r.app_id) for r in report.rollbacks if r.succeeded],
            },
            text,
        )


async def run_release(
    client: SevallaClient,
    waves: Sequence[Sequence[PromoteRequest]],
    view: ReleaseView,
    **options: Any,
) -> tuple[bool, int | None]:
    """Run the release, printing through ``view``; ``(completed, stopped_at)`` (the
    options: :func:`release_report`'s)."""
    report = await release_report(client, waves, view, **options)
    return report.completed, report.stopped_at


async def release_report(
    client: SevallaClient,
    waves: Sequence[Sequence[PromoteRequest]],
    view: ReleaseView,
    *,
    timeout: float,
    failure_logs: int = 0,
    on_pin: Callable[[uuid.UUID, Build], object] | None = None,
    **options: Any,
) -> ReleaseReport:
    """Run the release with ``client.releases.run``, printing through ``view`` (each build
    pinned shown by it, and passed to ``on_pin``); its report. ``timeout`` is the run's
    ``wait_timeout``, ``failure_logs`` its own (0: none read); ``options`` are its other
    keywords (``on_failure``, ``concurrency``, ``poll_interval``, ``ledger``...)."""

    def pinned(source: uuid.UUID, build: Build) -> None:
        view.pins.pin(source, build)
        if on_pin is not None:
            on_pin(source, build)

    report = await client.releases.run(
        waves,
        gate=view.gate,  # the default gate, printing the failed rows with their logs
        failure_logs=failure_logs,
        wait_timeout=timeout,
        on_wave=view.wave,
        on_deployment=view.deployment,
        on_pin=pinned,
        **options,
    )
    view.head()  # the pins, when the release stopped before its first wave
    return report


async def release(args: argparse.Namespace, console: Console) -> int:
    waves = load_plan(args.plan, console, parse_release_plan, as_data=False)
    if waves is None:
        return EXIT_USAGE
    waves = [expecting(wave, args.expect_build) for wave in waves]
    if args.dry_run:
        return dry_run(console, waves, args.on_failure)
    options = wait_options(args)
    assert options is not None  # release always waits
    pinned = resumed_pins(args)
    journal, entries, rolled_back = open_release_journal(args.journal, args.resume, waves)
    recorder = None if journal is None else ReleaseRecorder(journal, waves)
    try:
        client = make_client(args)
        options.apply(client)
        return await _run(
            client, args, console, waves, options, pinned, entries, rolled_back, recorder
        )
    finally:
        if journal is not None:
            journal.close()


async def _run(
    client: SevallaClient,
    args: argparse.Namespace,
    console: Console,
    waves: Sequence[Sequence[PromoteRequest]],
    options: WaitFlags,
    pinned: dict[uuid.UUID, Build],
    entries: Mapping[str, JournalEntry],
    rolled_back: Rollbacks,
    recorder: ReleaseRecorder | None,
) -> int:
    """Finish what the journal to resume holds (``entries``), then run the release, every
    outcome and rollback journaled through ``recorder``; the exit status."""
    ledger = ReleaseLedger(
        on_outcome=None if recorder is None else recorder.outcome,
        on_rollback=None if recorder is None else recorder.rollback,
    )
    view = ReleaseView(console, failure_logs=options.failure_logs, pinned=pinned)
    try:
        async with client:
            done = None
            if args.resume is not None:
                done = await resumed_done(
                    client,
                    entries,
                    waves,
                    console,
                    settle=args.reconcile_settle,
                    timeout=args.reconcile_timeout,
                    recorder=recorder,
                )
                if done is None:
                    return EXIT_FAILED
                if recorder is not None:
                    recorder.keep(done)
            report = await release_report(
                client,
                waves,
                view,
                on_failure=args.on_failure,
                concurrency=args.concurrency,
                timeout=options.timeout,
                poll_interval=options.poll_interval,
                reconcile=args.reconcile,
                ledger=ledger,
                done=done,
                on_send=None if recorder is None else recorder.sent,
                rolled_back=rolled_back,
                on_rollback_send=None if recorder is None else recorder.rollback_sent,
                failure_logs=options.failure_logs,
                skip_current=args.skip_current,
                builds=pinned or None,
                on_pin=None if recorder is None else recorder.pin,
            )
    except asyncio.CancelledError:
        view.flush()  # the failed rows held for their logs
        report_interrupted(console, ledger)
        raise
    return _finish(console, len(waves), report)


def _finish(console: Console, waves: int, report: ReleaseReport) -> int:
    """The last line (JSON) and note of a release; its exit status."""
    completed, stopped_at, reason = report.completed, report.stopped_at, report.stopped_reason
    if console.json:
        console.line(
            json_line(
                {
                    "event": "release",
                    "completed": completed,
                    "stopped_at": stopped_at,
                    "stopped_reason": reason,
                }
            )
        )
    if completed:
        console.note(f"release completed: {plural(waves, 'wave')}")
        return EXIT_OK
    why = f": {reason}" if reason else ""
    console.note(f"release stopped at wave {stopped_at}{why}; later waves were not sent")
    return EXIT_FAILED
