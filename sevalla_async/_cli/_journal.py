"""The CLI's journal: one JSON line per event of a run, written as it happens, so that a
run stopped any way at all (``kill -9`` included) can be resumed.

Events (each a JSON object on its own line, ``"event"`` first):

- ``{"event": "plan", "entries": N}``: a run starts (one per run; a resumed run appends);
- ``{"event": "sent", "key": K, "index": I, "fingerprint": F, "targets": [...]}``: entry
  ``K`` is about to be sent (written *before* the request leaves, so a crash after it reads
  as "maybe sent"); ``targets`` (app ids) only for a resume's re-send of some targets;
- ``{"event": "result", "key": K, ..., "state": S, "promotions": [...], "sent_at": T,
  "targets": [...], "error": {...}}``: what the entry came to (``S`` a
  :class:`PromotionState` value; ``targets``: per target, see ``_journal_targets``);
- ``{"event": "rollback_sent", "wave": W, "app_id": A, "at": T}``: a release is about to
  roll back app ``A`` after wave ``W`` failed (written before the request leaves);
- ``{"event": "rollback_result", "wave": W, "app_id": A, "state": S, "deployment_id": D,
  "error": {...}}``: what that rollback came to (``D`` its deployment, when started);
- ``{"event": "error", "message": M}``: the run itself failed (not one entry).

Each line is written with one ``write`` call, flushed and ``os.fsync``'d; :func:`load`
ignores a torn last line. An entry's key is
its position (``index``) and, for a multi-wave run, its ``wave``; its ``fingerprint`` (a
hash of the request) lets a resume refuse a plan that changed under the journal.

:class:`Journal` writes, :func:`load` folds the events into the latest state per entry
(:class:`JournalEntry`) and :func:`load_rollbacks` into the rollbacks sent. They are
independent of the command that uses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import attrs

from .. import PromoteRequest, Promotion, PromotionState, TargetOutcome
from ._journal_targets import derive_outcomes, parse_targets, resent, target_json
from ._journal_targets import when as _when

__all__ = [
    "Journal",
    "JournalEntry",
    "JournalError",
    "fingerprint",
    "load",
    "load_rollbacks",
]

_FORMAT = 1


class JournalError(Exception):
    """A journal that cannot be used (unreadable, of another plan, of another format)."""


def fingerprint(request: PromoteRequest) -> str:
    """A short stable hash of what ``request`` promotes (pipeline, source, targets)."""
    text = "|".join(
        [str(request.pipeline_id), str(request.source_app_id)]
        + [str(t) for t in request.target_app_ids]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _key(index: int, wave: int | None) -> str:
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
        return _key(self.index, self.wave)

    @property
    def effective_state(self) -> PromotionState:
        """``state``, or ``unknown`` for an entry that was only recorded as sent."""
        return self.state if self.state is not None else PromotionState.UNKNOWN


class Journal:
    """An append-only journal file; :meth:`open` it, ``record_*``, then :meth:`close`.

    ``durable`` (default ``True``) ``os.fsync``\\ s every line: a machine that loses power
    keeps the record, not only a killed process (which loses nothing that was flushed).
    """

    def __init__(self, stream: IO[str], path: Path, *, durable: bool = True) -> None:
        self._stream = stream
        self.path = path
        self._durable = durable
        self.failure: OSError | None = None
        """Why writing stopped, if it did (later events are then not recorded)."""

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, durable: bool = True) -> Journal:
        """Open ``path`` for appending (created if missing)."""
        target = Path(path)
        try:
            stream = target.open("a", encoding="utf-8", newline="\n")
        except OSError as exc:
            message = f"{target}: cannot write the journal ({exc.strerror or exc})"
            raise JournalError(message) from None
        journal = cls(stream, target, durable=durable)
        if stream.tell() > 0:  # a torn last line of a killed run must not swallow ours
            with target.open("rb") as existing:
                existing.seek(-1, os.SEEK_END)
                if existing.read(1) != b"\n":
                    journal._write_raw("\n")
        return journal

    def _write_raw(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()
        if self._durable:
            os.fsync(self._stream.fileno())

    def _write(self, event: Mapping[str, Any]) -> None:
        if self._stream.closed:
            return
        line = json.dumps(event, ensure_ascii=True, separators=(",", ":")) + "\n"
        try:
            self._write_raw(line)
        except OSError as exc:  # a full disk must not stop the run: it is reported after
            self.failure = exc
            with contextlib.suppress(OSError):
                self._stream.close()

    def record_plan(self, entries: int, *, resumed: bool = False) -> None:
        """A run of ``entries`` entries starts (``resumed``: continuing this journal)."""
        self._write({"event": "plan", "format": _FORMAT, "entries": entries, "resumed": resumed})

    def record_sent(
        self,
        index: int,
        request: PromoteRequest,
        noted_at: datetime,
        *,
        wave: int | None = None,
        targets: Iterable[uuid.UUID] | None = None,
    ) -> None:
        """Entry ``index`` (of ``wave``) is about to be sent, at ``noted_at`` (wall clock);
        ``targets``: only these targets of it (a resume's re-send)."""
        event: dict[str, Any] = {
            "event": "sent",
            "key": _key(index, wave),
            "index": index,
            "wave": wave,
            "fingerprint": fingerprint(request),
            "at": _iso(noted_at),
        }
        if targets is not None:
            event["targets"] = [str(t) for t in targets]
        self._write(event)

    def record_result(
        self,
        index: int,
        request: PromoteRequest,
        state: PromotionState,
        *,
        promotions: Iterable[Promotion] | None = None,
        sent_at: datetime | None = None,
        error: Mapping[str, Any] | None = None,
        wave: int | None = None,
        targets: Iterable[TargetOutcome] | None = None,
    ) -> None:
        """What entry ``index`` came to; ``error`` is the error as data (type, status,
        request id, message); ``targets`` each target's outcome."""
        event: dict[str, Any] = {
            "event": "result",
            "key": _key(index, wave),
            "index": index,
            "wave": wave,
            "fingerprint": fingerprint(request),
            "state": state.value,
            "promotions": None
            if promotions is None
            else [
                {"target_app_id": str(p.target_app_id), "deployment_id": str(p.deployment_id)}
                for p in promotions
            ],
            "sent_at": None if sent_at is None else _iso(sent_at),
            "error": None if error is None else dict(error),
        }
        if targets is not None:
            event["targets"] = [target_json(t) for t in targets]
        self._write(event)

    def record_rollback_sent(self, wave: int, app_id: uuid.UUID, noted_at: datetime) -> None:
        """A rollback of ``app_id`` (after wave ``wave`` failed) is about to be sent."""
        self._write(
            {"event": "rollback_sent", "wave": wave, "app_id": str(app_id), "at": _iso(noted_at)}
        )

    def record_rollback_result(
        self,
        wave: int,
        app_id: uuid.UUID,
        state: PromotionState,
        *,
        deployment_id: uuid.UUID | None,
        error: Mapping[str, Any] | None = None,
    ) -> None:
        """What the rollback of ``app_id`` came to (``deployment_id``: its deployment)."""
        self._write(
            {
                "event": "rollback_result",
                "wave": wave,
                "app_id": str(app_id),
                "state": state.value,
                "deployment_id": None if deployment_id is None else str(deployment_id),
                "error": None if error is None else dict(error),
            }
        )

    def record_error(self, message: str) -> None:
        """The run itself failed (not one of its entries)."""
        self._write({"event": "error", "message": message})

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _promotions(value: Any) -> tuple[Promotion, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(
        Promotion(uuid.UUID(p["target_app_id"]), uuid.UUID(p["deployment_id"])) for p in value
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
        if kind == "plan" and event.get("format", _FORMAT) != _FORMAT:
            raise JournalError(f"{target}: journal format {event.get('format')!r} is not supported")
        yield str(target), number, event


_OTHER_EVENTS = frozenset({"plan", "error"})
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
            key = _key(index, wave)
            found = event["fingerprint"]
            previous = entries.get(key)
            if previous is not None and previous.fingerprint != found:
                raise JournalError(
                    f"{where}:{number}: entry {key} is recorded for two different requests"
                )
            if kind == "sent" and event.get("targets") is not None:  # a re-send of some
                at = _when(event.get("at"))
                start = previous or JournalEntry(index, wave, found, noted_at=at)
                entries[key] = attrs.evolve(start, targets=resent(start.targets, event))
            elif kind == "sent":
                if previous is None or previous.state is None:
                    noted = previous.noted_at if previous is not None else None
                    entries[key] = JournalEntry(
                        index, wave, found, noted_at=noted or _when(event.get("at"))
                    )
                elif previous.state is PromotionState.NOT_SENT:  # re-sent by a resume
                    entries[key] = JournalEntry(index, wave, found, noted_at=_when(event.get("at")))
                else:  # sent again after a verdict (a resume re-promoting): maybe sent
                    entries[key] = attrs.evolve(
                        previous, state=None, noted_at=_when(event.get("at")), targets=()
                    )
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
        except JournalError:
            raise
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
