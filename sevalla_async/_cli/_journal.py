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
- ``{"event": "pin", "source_app_id": S, "build": {"commit_sha": C, "docker_image_url":
  U}}``: a release pinned source ``S``'s build (written before the first wave it applies
  to is sent; a resumed release deploys only that build unless ``--repin``; the latest
  pin of a source counts);
- ``{"event": "error", "message": M}``: the run itself failed (not one entry).

Each line is appended whole and ``os.fsync``'d: a crash loses at most the line being
written, and :func:`load` ignores a torn last line. An entry's key is its position
(``index``) and, for a multi-wave run, its ``wave``; its ``fingerprint`` (a hash of the
request) lets a resume refuse a plan that changed under the journal.

The rules that keep "never sent twice" (see ``docs/guides/cli.md``):

- one run at a time: the file is locked while a run has it open (``_journal_file``); a
  second run of it is refused (:class:`JournalBusyError`) before it reads anything;
- a journal records one run and its resumes: ``Journal.open(new=True)`` (``--journal``)
  refuses a file that is not empty;
- a torn last line is cut (under the lock) before anything is appended after it;
- a ``sent`` line that cannot be written raises :class:`JournalWriteError`: the entry is
  not sent, and nothing after it (the journal stops at its first failed write).

:class:`Journal` writes; :func:`load` folds the events into the latest state per entry
(:class:`JournalEntry`) and :func:`load_rollbacks` into the rollbacks sent (both in
``_journal_read``, re-exported here). They are independent of the command that uses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import Build, PromoteRequest, Promotion, PromotionState, TargetOutcome
from . import _journal_file as _file
from ._journal_read import (
    FORMAT,
    JournalEntry,
    JournalError,
    entry_key,
    load,
    load_pins,
    load_rollbacks,
)
from ._journal_targets import target_json

__all__ = [
    "Journal",
    "JournalBusyError",
    "JournalEntry",
    "JournalError",
    "JournalWriteError",
    "fingerprint",
    "load",
    "load_pins",
    "load_rollbacks",
]


class JournalBusyError(JournalError):
    """Another run holds the journal (its lock): this one must not read or write it."""


class JournalWriteError(JournalError):
    """The journal cannot record that something is about to be sent: it must not be."""


def fingerprint(request: PromoteRequest) -> str:
    """A short stable hash of what ``request`` promotes (pipeline, source, targets)."""
    text = "|".join(
        [str(request.pipeline_id), str(request.source_app_id)]
        + [str(t) for t in request.target_app_ids]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Journal:
    """An append-only journal file, locked for one run; :meth:`open` it, ``record_*``,
    then :meth:`close`.

    ``durable`` (default ``True``) ``os.fsync``\\ s every line: a machine that loses power
    keeps the record, not only a killed process (which loses nothing that was written).

    A line that cannot be written (a full disk: any ``OSError`` of the write or the
    ``fsync``) stops the journal: :attr:`failure` says why, later events are not written,
    and every ``record_*_sent`` from then on raises :class:`JournalWriteError`: what the
    journal cannot record as sent must not be sent (a resume would send it again).
    """

    def __init__(self, fd: int, path: Path, *, durable: bool = True) -> None:
        self._fd: int | None = fd
        self.path = path
        self._durable = durable
        self._end = _file.size(fd)
        self.failure: OSError | None = None
        """Why writing stopped, if it did (later events are then not recorded)."""

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        new: bool = False,
        create: bool = True,
        durable: bool = True,
    ) -> Journal:
        """Open ``path`` for appending (created if missing and ``create``), locked until
        :meth:`close`, its torn last line cut (see ``_journal_file``).

        :class:`JournalBusyError` when another run holds it; :class:`JournalError` when it
        cannot be opened, or (``new``) when it is not empty: a journal records one run and
        its resumes, never a second run of the plan.
        """
        target = Path(path)
        try:
            fd = _file.open_locked(target, create=create)
        except _file.BusyError:
            raise JournalBusyError(
                f"{target}: another run holds this journal (it is locked): wait for that run "
                "to end; nothing was sent"
            ) from None
        except OSError as exc:
            verb = "write" if create else "read"
            raise JournalError(f"{target}: cannot {verb} the journal ({_reason(exc)})") from None
        try:
            if new and _file.size(fd) > 0:
                raise JournalError(
                    f"{target} exists and is not empty: use --resume {target} to continue "
                    "that run, or remove it; nothing was sent"
                )
            _file.cut_torn_tail(fd)
        except OSError as exc:
            _file.close(fd)
            raise JournalError(f"{target}: cannot write the journal ({_reason(exc)})") from None
        except BaseException:
            _file.close(fd)
            raise
        return cls(fd, target, durable=durable)

    def _write_raw(self, data: bytes) -> None:
        """Append ``data`` and make it durable (the one place bytes reach the file)."""
        assert self._fd is not None
        _file.append(self._fd, data)
        if self._durable:
            os.fsync(self._fd)

    def _write(self, event: Mapping[str, Any]) -> bool:
        """Write one event as a line; ``False`` when it was not (closed, or failed)."""
        if self._fd is None or self.failure is not None:
            return False
        line = json.dumps(event, ensure_ascii=True, separators=(",", ":")) + "\n"
        data = line.encode("ascii")
        try:
            self._write_raw(data)
        except OSError as exc:  # reported by the caller; nothing more is written
            self.failure = exc
            with contextlib.suppress(OSError):  # leave no torn line behind, if we can
                os.ftruncate(self._fd, self._end)
            return False
        self._end += len(data)
        return True

    def _write_before_send(self, event: Mapping[str, Any]) -> None:
        if not self._write(event):
            why = "it is closed" if self.failure is None else _reason(self.failure)
            raise JournalWriteError(
                f"{self.path}: cannot write the journal ({why}): nothing more is sent"
            )

    def record_plan(self, entries: int, *, resumed: bool = False) -> None:
        """A run of ``entries`` entries starts (``resumed``: continuing this journal);
        :class:`JournalWriteError` if that cannot be recorded (nothing is sent then)."""
        self._write_before_send(
            {"event": "plan", "format": FORMAT, "entries": entries, "resumed": resumed}
        )

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
        :class:`JournalWriteError` if that cannot be recorded: then it must not be sent.
        ``targets``: only these targets of it (a resume's re-send)."""
        event: dict[str, Any] = {
            "event": "sent",
            "key": entry_key(index, wave),
            "index": index,
            "wave": wave,
            "fingerprint": fingerprint(request),
            "at": _iso(noted_at),
        }
        if targets is not None:
            event["targets"] = [str(t) for t in targets]
        self._write_before_send(event)

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
            "key": entry_key(index, wave),
            "index": index,
            "wave": wave,
            "fingerprint": fingerprint(request),
            "state": state.value,
            "promotions": None
            if promotions is None
            else [
                {
                    "target_app_id": str(p.target_app_id),
                    "deployment_id": str(p.deployment_id),
                    **({"already_current": True} if p.already_current else {}),
                }
                for p in promotions
            ],
            "sent_at": None if sent_at is None else _iso(sent_at),
            "error": None if error is None else dict(error),
        }
        if targets is not None:
            event["targets"] = [target_json(t) for t in targets]
        self._write(event)

    def record_rollback_sent(self, wave: int, app_id: uuid.UUID, noted_at: datetime) -> None:
        """A rollback of ``app_id`` (after wave ``wave`` failed) is about to be sent
        (:class:`JournalWriteError` if that cannot be recorded: then it must not be)."""
        self._write_before_send(
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

    def record_pin(self, source_app_id: uuid.UUID, build: Build) -> None:
        """A release pinned ``source_app_id``'s build (like every write, one that fails
        raises :class:`JournalWriteError` and the release sends nothing more)."""
        self._write(
            {
                "event": "pin",
                "source_app_id": str(source_app_id),
                "build": {
                    "commit_sha": build.commit_sha,
                    "docker_image_url": build.docker_image_url,
                },
            }
        )

    def record_error(self, message: str) -> None:
        """The run itself failed (not one of its entries)."""
        self._write({"event": "error", "message": message})

    def close(self) -> None:
        """Release the lock and close the file (later events are ignored)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            _file.close(fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _iso(moment: datetime) -> str:
    return moment.isoformat()
