"""The CLI's journal (``_cli/_journal.py``) and the text it prints from the server, in
process: events written and folded back, a torn last line, a changed plan refused."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sevalla_async import (
    InternalServerError,
    PromoteRequest,
    Promotion,
    PromotionState,
)
from sevalla_async._cli._journal import (
    Journal,
    JournalError,
    JournalWriteError,
    fingerprint,
    load,
    load_rollbacks,
)
from sevalla_async._cli._output import clean_text, error_json, short_error
from sevalla_async._cli._resume import Recorder, check_journal

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def request(targets: int = 2) -> PromoteRequest:
    return PromoteRequest(uuid.uuid4(), uuid.uuid4(), [uuid.uuid4() for _ in range(targets)])


def test_events_fold_into_the_latest_state_per_entry(tmp_path: Path) -> None:
    plan = [request(), request(1), request(), request()]
    path = tmp_path / "j.jsonl"
    made = [Promotion(t, uuid.uuid4()) for t in plan[0].target_app_ids]
    with Journal.open(path) as journal:
        journal.record_plan(len(plan))
        journal.record_sent(0, plan[0], WHEN)
        journal.record_sent(1, plan[1], WHEN)
        journal.record_sent(2, plan[2], WHEN)
        journal.record_result(0, plan[0], PromotionState.PROMOTED, promotions=made, sent_at=WHEN)
        journal.record_result(
            1,
            plan[1],
            PromotionState.REJECTED,
            error={"type": "ConflictError", "status": 409, "request_id": "r1"},
        )
        journal.record_result(3, plan[3], PromotionState.NOT_SENT)
        # entry 2: sent, never answered (the process was killed)

    entries = load(path)

    assert sorted(entries) == ["0", "1", "2", "3"]
    assert entries["0"].state is PromotionState.PROMOTED
    assert list(entries["0"].promotions or ()) == made
    assert entries["0"].sent_at == WHEN
    assert entries["1"].state is PromotionState.REJECTED
    assert entries["1"].error == {"type": "ConflictError", "status": 409, "request_id": "r1"}
    assert entries["2"].state is None
    assert entries["2"].effective_state is PromotionState.UNKNOWN
    assert entries["2"].noted_at == WHEN
    assert entries["3"].state is PromotionState.NOT_SENT
    assert all(e.fingerprint == fingerprint(plan[e.index]) for e in entries.values())
    assert check_journal(str(path), entries, plan) is None


def test_a_torn_last_line_is_ignored_and_cut_before_the_next_run_appends(
    tmp_path: Path,
) -> None:
    plan = [request(), request()]
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.record_result(0, plan[0], PromotionState.NOT_SENT)
    with path.open("a", encoding="utf-8") as f:  # kill -9 in the middle of a write
        f.write('{"event":"result","key":"1","ind')

    assert sorted(load(path)) == ["0"]

    with Journal.open(path) as journal:  # a resumed run cuts the torn line, then appends
        journal.record_result(1, plan[1], PromotionState.NOT_SENT)
    assert sorted(load(path)) == ["0", "1"]
    text = path.read_text()
    assert text.endswith("\n")
    assert text.count("\n") == 2
    assert all(json.loads(line) for line in text.splitlines())


def test_every_line_is_flushed_as_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal.open(path)
    journal.record_sent(0, request(), WHEN)
    # read by another file object while the journal is still open (as after kill -9)
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["sent"]
    journal.close()
    journal.record_error("after close: ignored, never raises")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("other", "entry 1 of the plan is not the request the journal recorded"),
        ("shorter", "the plan only 1 entries"),
    ],
)
def test_a_journal_of_another_plan_is_refused(tmp_path: Path, change: str, problem: str) -> None:
    plan = [request(), request()]
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.record_result(1, plan[1], PromotionState.NOT_SENT)
    changed = [plan[0], request()] if change == "other" else [plan[0]]
    message = check_journal(str(path), load(path), changed)
    assert message is not None
    assert problem in message
    assert "the plan changed since the journal was written" in message


@pytest.mark.parametrize(
    "text",
    ["not json\n", '{"event": "sent"}\n', '{"event": "dance", "index": 0, "fingerprint": "x"}\n'],
)
def test_a_damaged_journal_names_the_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"event":"plan","format":1,"entries":1}\n' + text + "\n")
    with pytest.raises(JournalError, match=r"j.jsonl:2: not a journal line"):
        load(path)


def test_unreadable_journal(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot read the journal"):
        load(tmp_path / "missing.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\n")
    with pytest.raises(JournalError, match="not UTF-8"):
        load(tmp_path / "bin.jsonl")
    with pytest.raises(JournalError, match="cannot write the journal"):
        Journal.open(tmp_path / "no" / "such" / "dir.jsonl")


def test_a_re_send_after_reconciling_keeps_what_was_found(tmp_path: Path) -> None:
    """An entry reconciled (one target found made) then sent again for the rest, killed
    before its result: the next resume must look only for the rest, from the new send."""
    plan = [request(2)]
    found = Promotion(plan[0].target_app_ids[0], uuid.uuid4())
    later = datetime(2026, 1, 2, 4, 0, 0, tzinfo=timezone.utc)
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.record_sent(0, plan[0], WHEN)
        journal.record_result(0, plan[0], PromotionState.UNKNOWN, promotions=[found], sent_at=WHEN)
        journal.record_sent(0, plan[0], later)

    (entry,) = load(path).values()
    assert entry.state is None
    assert entry.promotions == (found,)
    assert entry.noted_at == later


def test_rollbacks_fold_into_what_a_resume_must_not_send_again(tmp_path: Path) -> None:
    plan = [request()]
    made, maybe, refused, resent = (uuid.uuid4() for _ in range(4))
    deployment = uuid.uuid4()
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.record_sent(0, plan[0], WHEN, wave=0)
        journal.record_result(0, plan[0], PromotionState.PROMOTED, wave=0)
        for app in (made, maybe, refused, resent):
            journal.record_rollback_sent(2, app, WHEN)
        journal.record_rollback_result(2, made, PromotionState.PROMOTED, deployment_id=deployment)
        journal.record_rollback_result(
            2, refused, PromotionState.REJECTED, deployment_id=None, error={"status": 404}
        )
        journal.record_rollback_result(2, resent, PromotionState.NOT_SENT, deployment_id=None)
        journal.record_rollback_sent(2, resent, WHEN)  # sent again by a resume: maybe made
        # a resume interrupted while waiting for the known one: its id is not forgotten
        journal.record_rollback_result(2, made, PromotionState.PROMOTED, deployment_id=None)
    with path.open("a") as torn:
        torn.write('{"event": "rollback_sent", "wave": 2, "app_id": "')  # killed mid-line

    assert load_rollbacks(path) == {(2, made): deployment, (2, maybe): None, (2, resent): None}
    assert list(load(path)) == ["0:0"]  # the entries are unchanged by the rollback events


def test_a_damaged_rollback_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"event": "rollback_sent", "wave": 0, "app_id": "nope"}\n')
    with pytest.raises(JournalError, match=r"j.jsonl:1: not a journal line"):
        load_rollbacks(path)


def test_recorder_reports_every_entry_once_and_the_rest_as_not_sent(tmp_path: Path) -> None:
    plan = [request(1) for _ in range(4)]
    path = tmp_path / "j.jsonl"
    recorder = Recorder(Journal.open(path), plan)
    recorder.sent(0)
    recorder.sent(1)
    recorder.result(0, PromotionState.PROMOTED, promotions=[])
    recorder.result(0, PromotionState.UNKNOWN)  # a second result is ignored
    recorder.carried.add(3)  # an earlier journal line stands for it
    recorder.close()

    entries = load(path)
    assert entries["0"].state is PromotionState.PROMOTED
    assert entries["1"].state is PromotionState.UNKNOWN  # taken, never answered
    assert entries["2"].state is PromotionState.NOT_SENT
    assert "3" not in entries
    results = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(r["index"] for r in results if r["event"] == "result") == [0, 1, 2]


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("bad \ud800 surrogate", "bad \ufffd surrogate"),
        (
            "bell\x07 and \x1b[2J escape\r\nnew line",
            "bell\\x07 and \\x1b[2J escape\\x0d\\x0anew line",
        ),
        ("tab\tthere", "tab there"),
        ("line\u2028separator", "line\\u2028separator"),
    ],
)
def test_server_text_is_printed_safely(message: str, shown: str) -> None:
    error = InternalServerError(message, status_code=500, request_id="req\x1b[1")
    assert error_json(error)["message"] == shown
    assert error_json(error)["request_id"] == "req\\x1b[1"
    line = short_error(error)
    assert shown in line
    line.encode("utf-8")  # never a UnicodeEncodeError on a UTF-8 stream
    json.dumps(error_json(error), ensure_ascii=False).encode("utf-8")


def test_huge_server_text_is_cut() -> None:
    text = clean_text("x" * 100_000)
    assert text == "x" * 500 + "... (99500 more characters)"
    assert clean_text("short") == "short"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_failing_disk_stops_the_journal_and_what_it_cannot_record_as_sent() -> None:
    with Journal.open("/dev/full") as broken:
        broken.record_result(0, request(), PromotionState.NOT_SENT)  # ENOSPC: kept, no raise
        assert isinstance(broken.failure, OSError)
        with pytest.raises(JournalWriteError, match="No space left on device"):
            broken.record_sent(1, request(), WHEN)  # must not be sent: not recorded
        broken.record_error("later events are dropped quietly")
