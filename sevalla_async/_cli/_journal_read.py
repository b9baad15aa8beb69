"""Reading a CLI journal back (the format is described in ``_journal``): :func:`load` folds
the events into the latest state per entry (:class:`JournalEntry`), :func:`load_rollbacks`
into the rollbacks sent, :func:`load_pins` into the builds a release pinned. A torn last
line (a crash in the middle of a write) is ignored; any other line that is not an event is
a :class:`JournalError` naming it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from .. import Build, PromoteRequest, Promotion, PromotionState, TargetOutcome
from ._journal_targets import derive_outcomes, parse_targets, resent
from ._journal_targets import when as _when

__all__ = [
    "FORMAT",
    "JournalEntry",
    "JournalError",
    "entry_key",
    "load",
    "load_pins",
    "load_rollbacks",
]

FORMAT = 1
"""The journal format this version writes and reads (the ``format`` of ``plan`` events)."""


class JournalError(Exception):
    """A journal that cannot be used (unreadable, of another plan, of another format)."""


def entry_key(index: int, wave: int | None) -> str:
    """The key of entry ``index`` (of ``wave``, for a release)."""
    return str(index) if wave is None else f"{wave}:{index}"


@attrs.frozen
class JournalEntry:
    """The latest state of one entry of a journal.

    ``state`` is ``None`` while only ``sent`` was recorded (it may have happened: treat it
    as ``unknown`` with ``sent_at`` unknown, hence reconcile from the first ``sent``
    event's time, ``noted_at``).
    """

    index: int
    wave: int | None
    fingerprint: str
    state: PromotionState | None = None
    promotions: tuple[Promotion, ...] | None = None
    sent_at: datetime | None = None
    noted_at: datetime | None = None
    error: Mapping[str, Any] | None = None
    targets: tuple[TargetOutcome, ...] = ()
    """The per-target record (each target's own state and send), where the journal holds
    one; targets not in it are derived from the fields above (see :meth:`outcomes`)."""

    def outcomes(self, request: PromoteRequest) -> tuple[TargetOutcome, ...]:
        """Every target's :class:`TargetOutcome` (in target order): the per-target record,
        else (a 0.2 journal) derived from ``promotions``, ``state`` and ``sent_at``."""
        # sent again after a verdict (state None): the latest send is the one noted
        latest = (self.noted_at, self.sent_at) if self.state is None else (self.sent_at,)
        since = next((t for t in (*latest, self.noted_at) if t is not None), None)
        made = self.promotions or ()
        return derive_outcomes(request, self.targets, made, self.effective_state, since)

    @property
    def key(self) -> str:
        return entry_key(self.index, self.wave)

    @property
    def effective_state(self) -> PromotionState:
        """``state``, or ``unknown`` for an entry that was only recorded as sent."""
        return self.state if self.state is not None else PromotionState.UNKNOWN


def _promotions(value: Any) -> tuple[Promotion, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(
        Promotion(
            uuid.UUID(p["target_app_id"]),
            uuid.UUID(p["deployment_id"]),
            already_current=p.get("already_current") is True,  # nothing was sent for it
        )
        for p in value
    )


def _events(path: str | os.PathLike[str]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every event of the journal at ``path``: ``(where, line number, event)``.

    A last line without its newline (the process was killed while writing it) is
    ignored; any other line that is not a JSON object with an ``event`` is a
    :class:`JournalError` naming its line number, as is a journal of another format.
    """
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8", errors="strict")
    except OSError as exc:
        raise JournalError(f"{target}: cannot read the journal ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise JournalError(f"{target}: the journal is not UTF-8 text") from None
    lines = text.split("\n")
    lines.pop()  # "" when the file ends with a newline; else a line cut short
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            kind = event["event"]
        except (ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"{target}:{number}: not a journal line ({exc})") from None
        if kind == "plan" and event.get("format", FORMAT) != FORMAT:
            raise JournalError(f"{target}: journal format {event.get('format')!r} is not supported")
        yield str(target), number, event


_OTHER_EVENTS = frozenset({"plan", "error", "pin"})
_ROLLBACK_EVENTS = frozenset({"rollback_sent", "rollback_result"})


def load(path: str | os.PathLike[str]) -> dict[str, JournalEntry]:
    """The latest state of every entry of the journal at ``path``, by key (see
    :func:`_events` for what is refused)."""
    entries: dict[str, JournalEntry] = {}
    for where, number, event in _events(path):
        kind = event["event"]
        if kind in _OTHER_EVENTS or kind in _ROLLBACK_EVENTS:
            continue
        try:
            index = event["index"]
            wave = event.get("wave")
            if type(index) is not int or (wave is not None and type(wave) is not int):
                raise ValueError("bad index or wave")
            key = entry_key(index, wave)
            found = event["fingerprint"]
            previous = entries.get(key)
            if previous is not None and previous.fingerprint != found:
                raise JournalError(
                    f"{where}:{number}: entry {key} is recorded for two different requests"
                )
            at = _when(event.get("at"))  # when a "sent" event was written
            if kind == "sent" and event.get("targets") is not None:  # a re-send of some
                start = previous or JournalEntry(index, wave, found, noted_at=at)
                entries[key] = attrs.evolve(start, targets=resent(start.targets, event))
            elif kind == "sent":
                if previous is None or previous.state is None:
                    noted = previous.noted_at if previous is not None else None
                    entries[key] = JournalEntry(index, wave, found, noted_at=noted or at)
                elif previous.state is PromotionState.NOT_SENT:  # re-sent by a resume
                    entries[key] = JournalEntry(index, wave, found, noted_at=at)
                else:  # sent again after a verdict (a resume re-promoting): maybe sent
                    entries[key] = attrs.evolve(previous, state=None, noted_at=at, targets=())
            elif kind == "result":
                entries[key] = JournalEntry(
                    index,
                    wave,
                    found,
                    PromotionState(event["state"]),
                    _promotions(event.get("promotions")),
                    _when(event.get("sent_at")),
                    previous.noted_at if previous is not None else None,
                    event.get("error"),
                    parse_targets(event.get("targets")),
                )
            else:
                raise ValueError(f"unknown event {kind!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"{where}:{number}: not a journal line ({exc})") from None
    return entries


def load_rollbacks(path: str | os.PathLike[str]) -> dict[tuple[int, uuid.UUID], uuid.UUID | None]:
    """The rollbacks the journal at ``path`` shows sent and possibly acted on, by ``(wave,
    app id)``: the rollback's deployment id, or ``None`` when its outcome was not recorded
    or is ``unknown`` (it may have happened). A rollback recorded ``not_sent`` or
    ``rejected`` is left out: the API did not act on it."""
    found: dict[tuple[int, uuid.UUID], uuid.UUID | None] = {}
    for where, number, event in _events(path):
        kind = event["event"]
        if kind not in _ROLLBACK_EVENTS:
            continue
        try:
            wave = event["wave"]
            if type(wave) is not int:
                raise ValueError("bad wave")
            key = (wave, uuid.UUID(event["app_id"]))
            if kind == "rollback_sent":
                found[key] = None
                continue
            state = PromotionState(event["state"])
            deployment = event.get("deployment_id")
            if state in (PromotionState.NOT_SENT, PromotionState.REJECTED):
                found.pop(key, None)
            elif deployment is not None:
                found[key] = uuid.UUID(deployment)
            else:  # a later result without the deployment does not forget one recorded
                found[key] = found.get(key)
        except (ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"{where}:{number}: not a journal line ({exc})") from None
    return found


def load_pins(path: str | os.PathLike[str]) -> dict[uuid.UUID, Build]:
    """The builds the release journaled at ``path`` pinned, by source app id (a later pin
    of a source replaces an earlier one: ``--repin``); empty for a journal written before
    releases pinned builds."""
    pins: dict[uuid.UUID, Build] = {}
    for where, number, event in _events(path):
        if event["event"] != "pin":
            continue
        try:
            build = event["build"]
            sha, image = build.get("commit_sha"), build.get("docker_image_url")
            if not all(v is None or isinstance(v, str) for v in (sha, image)) or (
                sha is None and image is None
            ):
                raise ValueError("bad build")
            pins[uuid.UUID(event["source_app_id"])] = Build(sha, image)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise JournalError(f"{where}:{number}: not a journal line ({exc})") from None
    return pins
