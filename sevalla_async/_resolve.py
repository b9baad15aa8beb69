"""Settling a promotion whose outcome is unknown, per target, on its write record.

:func:`resolve` is the one reconcile loop of the library and the CLI: it looks at each
pending target in the window of *its own* send (a target re-sent after an earlier look has
the re-send's ``sent_at``), notes on the caller's :class:`WriteRecord` what it finds, and
promotes again, in one request, only the targets verified not promoted. Whatever ends it
(a result, an error, a cancellation), the record says where every target stands: a
promotion found is never lost because a later step failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ._errors import APIError
from ._models import PromoteRequest, Promotion, TargetVerdict
from ._outcomes import PromotionState
from ._reconcile import Reconciler
from ._record import Send, WriteRecord
from ._result_errors import PromotionUnresolvedError

__all__ = ["LOOK_EVERY", "resolve"]

LOOK_EVERY = 15.0
"""Most seconds between two looks while a target's settle period runs."""

Promote = Callable[[PromoteRequest, Send], Awaitable[list[Promotion]]]


async def resolve(
    request: PromoteRequest,
    record: WriteRecord,
    *,
    promote: Promote,
    reconciler: Reconciler,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[Any]],
    timeout: float,
    on_send: Callable[[PromoteRequest], object] | None = None,
) -> list[Promotion]:
    """Settle the targets of ``request`` that ``record`` leaves pending (see the module
    docstring); the promotions of every target, in target order.

    Raises :class:`PromotionUnresolvedError` when some target is still undecided after
    ``timeout`` seconds, or the re-send's error when the API refused it; either carries
    ``targets`` (every target's :class:`TargetOutcome`, found promotions included), and the
    record holds the same. ``on_send`` is called with a re-send just before it leaves (a
    journal records it there).
    """
    deadline = clock() + timeout
    refuted: set[uuid.UUID] = set()  # verified not promoted, waiting for the others
    seen: dict[uuid.UUID, TargetVerdict] = {}  # the latest verdict of every target
    while True:
        looking = [t for t in record.pending() if t not in refuted]
        verdicts = await _look(request, record, looking, reconciler)
        seen.update(verdicts)
        for verdict in verdicts.values():
            if verdict.promoted and verdict.deployment is not None:
                record.promoted(verdict.target_app_id, verdict.deployment.id)
            elif verdict.promoted is False:
                refuted.add(verdict.target_app_id)
        undecided = [v for v in verdicts.values() if v.promoted is None]
        if undecided:
            now = clock()
            if now >= deadline:
                raise _unresolved(request, record, seen, undecided, timeout)
            await sleep(min(LOOK_EVERY, deadline - now))
            continue
        missing = [t for t in request.target_app_ids if t in refuted]
        if missing:
            refuted.clear()
            await _send_again(request, record, missing, promote, on_send)
            if record.pending():  # the re-send's outcome is unknown: look at it in turn
                if clock() >= deadline:
                    raise _unresolved(request, record, seen, [], timeout)
                continue
        return [Promotion(t, _deployment(record, t)) for t in request.target_app_ids]


async def _look(
    request: PromoteRequest,
    record: WriteRecord,
    targets: list[uuid.UUID],
    reconciler: Reconciler,
) -> dict[uuid.UUID, TargetVerdict]:
    """One look at ``targets``, each in the window of its own send."""
    groups: dict[int, tuple[Send, list[uuid.UUID]]] = {}
    for target in targets:
        send = record.send_of(target)
        groups.setdefault(id(send), (send, []))[1].append(target)
    verdicts: dict[uuid.UUID, TargetVerdict] = {}
    for send, group in groups.values():
        sent_at = send.sent_at
        if sent_at is None:  # never left: nothing to look for, safe to send
            found = [TargetVerdict(t, False, None, "the request never left") for t in group]
        else:
            found = await reconciler.look(request, sent_at, group, sent_clock=send.clock)
        verdicts.update((v.target_app_id, v) for v in found)
    return verdicts


async def _send_again(
    request: PromoteRequest,
    record: WriteRecord,
    missing: list[uuid.UUID],
    promote: Promote,
    on_send: Callable[[PromoteRequest], object] | None,
) -> None:
    """Promote ``missing`` again in one request, noting its own send on the record. The
    re-send expects the build checked before the first send (``promote`` refuses it,
    ``not_sent``, if the source moved since)."""
    expected = request.expect_build if request.expect_build is not None else record.build
    again = PromoteRequest(
        request.pipeline_id, request.source_app_id, missing, expect_build=expected
    )
    send = record.covers(missing)
    if on_send is not None:
        on_send(again)
    try:
        promotions = await promote(again, send)
    except APIError as exc:
        state = exc.promotion_state
        if state is PromotionState.UNKNOWN:
            return  # pending again, with this send's sent_at
        record.settle(missing, state or PromotionState.UNKNOWN)
        exc.targets = record.outcomes()
        raise
    for promotion in promotions:
        record.promoted(promotion.target_app_id, promotion.deployment_id)


def _deployment(record: WriteRecord, target: uuid.UUID) -> uuid.UUID:
    deployment = record.deployment_of(target)
    assert deployment is not None  # every target is promoted when resolve returns
    return deployment


def _unresolved(
    request: PromoteRequest,
    record: WriteRecord,
    verdicts: dict[uuid.UUID, TargetVerdict],
    undecided: list[TargetVerdict],
    timeout: float,
) -> PromotionUnresolvedError:
    pending = record.pending()
    why = undecided[0].reason if undecided else "the last re-send's outcome is unknown"
    every = [
        verdicts.get(t) or TargetVerdict(t, None, None, "not looked at yet")
        for t in request.target_app_ids
    ]
    first = record.send_of(pending[0]) if pending else record.send
    return PromotionUnresolvedError(
        f"{len(pending)} of {len(request.target_app_ids)} "
        f"{'target' if len(request.target_app_ids) == 1 else 'targets'} still undecided after "
        f"{timeout:g} s of reconciliation: {why}",
        verdicts=every,
        sent_at=first.sent_at,
        method="POST",
        targets=record.outcomes(),
    )
