"""What ``promote`` and ``promote-many`` say when they are stopped (Ctrl-C, SIGTERM, an
error) while promotions are in flight: which were made, which may have been (with the
``sevalla-async reconcile`` command that decides each, for its ids and ``sent_at``), and
which were not sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from .. import Deployment, FanoutLedger, PromoteRequest, Promotion, SevallaClient
from ._console import Console
from ._output import plural, promote_request_json
from ._plan_runner import PlanOutcome
from ._reconcile_command import format_sent_at, reconcile_command_line
from ._waiting import seen_json, status_name

__all__ = [
    "OnePromote",
    "entry_list",
    "format_indexes",
    "report_interrupted",
    "report_promote_interrupted",
    "report_unknown",
]


class OnePromote:
    """One promote sent through the library's fan-out with a ledger, so that after a
    Ctrl-C the ledger still says whether (and when) the request left: the write record
    travels through the library, not through the CLI."""

    def __init__(self) -> None:
        self._ledger = FanoutLedger()

    async def send(
        self, client: SevallaClient, request: PromoteRequest, *, skip_current: bool = False
    ) -> list[Promotion]:
        """The promotions, or the call's error raised."""
        [outcome] = await client.pipelines.promote_many(
            [request], ledger=self._ledger, skip_current=skip_current
        )
        if outcome.error is not None:
            raise outcome.error
        assert outcome.promotions is not None
        return outcome.promotions

    @property
    def sent_at(self) -> datetime | None:
        """When the request left (``None``: it did not, or not yet)."""
        outcomes = self._ledger.outcomes
        return outcomes[0].sent_at if outcomes else None


def format_indexes(indexes: Iterable[int]) -> str:
    """``0-3, 7, 9-10``: sorted indexes with runs collapsed."""
    runs: list[list[int]] = []
    for i in sorted(set(indexes)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def entry_list(indexes: Sequence[int]) -> str:
    """``entry 3``, ``entries 0-2, 5``."""
    return f"{'entry' if len(indexes) == 1 else 'entries'} {format_indexes(indexes)}"


def report_promote_interrupted(
    console: Console, request: PromoteRequest, sent_at: datetime | None
) -> None:
    """Ctrl-C while the promote request was in flight. Sent (``sent_at``): it may have been
    made; the ``reconcile`` command to decide it (stderr; with ``--output json`` also a line
    with ``state`` ``unknown``, ``sent_at`` and ``reconcile`` on stdout). Not sent yet:
    ``state`` ``not_sent``."""
    data = {**promote_request_json(request), "state": "not_sent"}
    if sent_at is None:
        console.note(f"interrupted: the promotion of pipeline {request.pipeline_id} was not sent")
    else:
        command = reconcile_command_line(request, sent_at)
        console.note(
            f"interrupted: the promotion of pipeline {request.pipeline_id} was sent at "
            f"{format_sent_at(sent_at)} without a reply: it may have been made; before "
            f"retrying, find out with:\n  {command}"
        )
        data.update(state="unknown", sent_at=format_sent_at(sent_at), reconcile=command)
    console.json_report(data)


def report_unknown(
    console: Console, unknown: Mapping[int, tuple[PromoteRequest, datetime | None]]
) -> list[dict[str, object]]:
    """For each entry sent without a reply (index -> the request sent, when), the
    ``reconcile`` command that decides it, on stderr; returned as data (``index``,
    ``sent_at``, ``command``)."""
    found: list[dict[str, object]] = []
    for i, (request, sent_at) in sorted(unknown.items()):
        if sent_at is None:
            continue
        command = reconcile_command_line(request, sent_at)
        console.err.write(f"  entry {i}: {command}\n")
        found.append({"index": i, "sent_at": format_sent_at(sent_at), "command": command})
    console.err.flush()
    return found


def report_interrupted(
    console: Console,
    requests: Sequence[PromoteRequest],
    started: set[int],
    finished: Mapping[int, PlanOutcome],
    polled: Mapping[int, Mapping[uuid.UUID, Deployment]] | None = None,
    unknown: Mapping[int, tuple[PromoteRequest, datetime]] | None = None,
) -> None:
    """Tell which promotions finished, which were sent without a reply (with the
    ``reconcile`` command of each one ``unknown`` has: index -> the request sent, when),
    which were not sent; with ``--wait`` (``polled``: the deployments seen of each entry)
    also which were promoted and still being waited for."""
    ok = sum(1 for o in finished.values() if o.ok)
    console.note(
        f"interrupted: {len(finished)} of {plural(len(requests), 'promotion')} finished "
        f"({ok} ok, {len(finished) - ok} failed; their results are above)"
    )
    in_flight = sorted(started - set(finished))
    polled = polled or {}
    waited_for = [i for i in in_flight if polled.get(i)]
    if waited_for:
        console.note(
            f"{len(waited_for)} promoted and being waited for: stopping the wait does not "
            "cancel their deployments, last seen:"
        )
        for i in waited_for:
            for d in polled[i].values():
                console.err.write(
                    f"  entry {i}: app {d.app_id}: deployment {d.id} {status_name(d)}\n"
                )
    in_flight = [i for i in in_flight if not polled.get(i)]
    commands: list[dict[str, object]] = []
    if in_flight:
        console.note(
            f"{len(in_flight)} sent without a reply yet: they may have happened, check "
            "before retrying them:"
        )
        for i in in_flight:
            r = requests[i]
            targets = ", ".join(str(t) for t in r.target_app_ids)
            console.err.write(
                f"  entry {i}: pipeline {r.pipeline_id}, source {r.source_app_id} -> {targets}\n"
            )
        known = {i: sent for i, sent in (unknown or {}).items() if i in in_flight}
        if known:
            console.note("find out whether they were made with:")
            commands = report_unknown(console, known)
    not_sent = [i for i in range(len(requests)) if i not in started]
    console.json_report(  # the same report as data, on stdout after the results
        {
            "interrupted": True,
            "finished": len(finished),
            "ok": ok,
            "failed": len(finished) - ok,
            "waiting": [
                {"index": i, "deployments": [seen_json(d) for d in polled[i].values()]}
                for i in waited_for
            ],
            "sent_without_reply": in_flight,
            "reconcile": commands,
            "not_sent": not_sent,
        }
    )
    if not_sent:
        console.note(f"{len(not_sent)} not sent: {entry_list(not_sent)}")
    else:
        console.note("every promotion of the plan was sent")
    console.err.flush()
