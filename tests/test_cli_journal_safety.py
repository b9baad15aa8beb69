"""The journal keeps its promise (no target promoted twice) on the paths around a run: two
runs of one journal at once, a disk that fills up mid-run, the same ``--journal`` command
run twice, and a torn last line resumed twice."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sevalla_async._cli._journal import Journal
from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import GUARD, Cli, make_cli, plan_of, wait_until, write_plan
from .test_cli_journal import (
    SETTLE,
    assert_each_target_promoted_once,
    journal_events,
    promotions_of,
    results_by_index,
    slow_path,
    start,
)

pytestmark = [pytest.mark.sevalla_loopback, pytest.mark.sevalla_fake(wall_clock=time.time)]

FAST = ("--poll-interval", "0.02")


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Path]:
    """A journal whose lock another process holds (as a run in progress does)."""
    if sys.platform == "win32":  # pragma: no cover - the POSIX lock is what is held here
        pytest.skip("holds the lock with fcntl")
    import fcntl

    path = tmp_path / "held.jsonl"
    path.write_text('{"event":"plan","format":1,"entries":2,"resumed":false}\n')
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield path
    finally:
        os.close(fd)


def _content(path: Path) -> bytes:
    return path.read_bytes()


# --- 10: one run per journal --------------------------------------------------------------


async def test_a_journal_another_run_holds_is_refused_before_anything_is_sent(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, held: Path
) -> None:
    requests = fake.promote_requests(2, targets=1)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    waves = write_plan(tmp_path / "waves.json", [plan_of(requests)])
    before = _content(held)

    resumed = await cli("promote-many", plan, "--resume", str(held), *SETTLE)
    released = await cli("release", waves, "--resume", str(held), *SETTLE, *FAST)

    for run in (resumed, released):
        assert run.code == 2
        assert f"{held}: another run holds this journal" in run.err
        assert "nothing was sent" in run.err
    assert fake.requests == []
    assert _content(held) == before


async def test_two_resumes_of_one_journal_at_once_promote_nothing_twice(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(16, targets=1)
    for stalled in requests:  # the first run holds every request in flight (not acted on)
        fake.inject(
            Fault.fail_without_acting("stall", stall=3600), method="POST", path=slow_path(stalled)
        )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"
    journal.write_text("")  # an empty journal may be given to --journal
    first = await start(fake, plan, "--concurrency", "16", "--journal", str(journal))
    await wait_until(lambda: fake.in_flight > 0)  # it runs: it holds the journal

    second = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)
    fresh = await cli("promote-many", plan, "--journal", str(journal))

    assert second.code == fresh.code == 2
    assert f"{journal}: another run holds this journal" in second.err
    assert "nothing was sent" in second.err
    first.kill()
    await asyncio.wait_for(first.wait(), GUARD)
    assert first.returncode == -signal.SIGKILL
    fake.clear_faults()

    last = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)

    assert last.code == 0, last.err
    assert_each_target_promoted_once(fake, requests)


# --- 11: a journal that cannot record stops the sending -----------------------------------


def _fail_after(monkeypatch: pytest.MonkeyPatch, lines: int) -> list[int]:
    """Make the journal's low-level write fail with ENOSPC after ``lines`` writes; returns
    the count of writes tried."""
    tried = [0]
    write = Journal._write_raw

    def full(self: Journal, data: Any) -> None:
        tried[0] += 1
        if tried[0] > lines:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write(self, data)

    monkeypatch.setattr(Journal, "_write_raw", full)
    return tried


async def test_a_full_disk_stops_new_sends_and_a_resume_sends_only_the_rest(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = fake.promote_requests(8, targets=2)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"
    # plan, sent 0, result 0, sent 1, result 1: the "sent" line of entry 2 cannot be written
    _fail_after(monkeypatch, 5)

    run = await cli("promote-many", plan, "--concurrency", "1", "--journal", str(journal))

    assert run.code == 1
    assert len(fake.requests) == 2  # entry 2 was not sent: its "sent" line is missing
    lines = {line["index"]: line for line in run.lines()}
    assert sorted(lines) == list(range(8))
    assert [lines[i]["ok"] for i in range(8)] == [True] * 2 + [False] * 6
    assert all(lines[i]["state"] == "not_sent" for i in range(2, 8))
    assert "No space left on device" in lines[2]["error"]["message"]
    assert "No space left on device" in run.err
    assert "entries 2-7" in run.err
    monkeypatch.undo()

    again = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)

    assert again.code == 0, again.err
    assert len(fake.requests) == 8
    assert_each_target_promoted_once(fake, requests)


async def test_a_result_that_cannot_be_written_lets_the_request_in_flight_finish(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = fake.promote_requests(4, targets=1)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"
    _fail_after(monkeypatch, 2)  # plan, sent 0: the result of entry 0 is lost

    run = await cli("promote-many", plan, "--concurrency", "1", "--journal", str(journal))

    assert run.code == 1
    lines = {line["index"]: line for line in run.lines()}
    assert lines[0]["ok"]  # it finished and is reported, though the journal lost it
    assert [lines[i]["state"] for i in (1, 2, 3)] == ["not_sent"] * 3
    assert len(fake.requests) == 1
    assert results_by_index(journal_events(journal)) == {}
    monkeypatch.undo()

    again = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)

    assert again.code == 0, again.err
    assert_each_target_promoted_once(fake, requests)  # entry 0 reconciled, not sent again
    assert len(fake.requests_to("POST", "/promote")) == 4


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
async def test_a_journal_that_cannot_record_the_start_sends_nothing(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path / "plan.json", plan_of(fake.promote_requests(2, targets=1)))

    run = await cli("promote-many", plan, "--journal", "/dev/full")

    assert run.code == 2
    assert "/dev/full: cannot write the journal" in run.err
    assert fake.requests == []


# --- 12: the same command twice -----------------------------------------------------------


async def test_the_same_journal_command_twice_is_refused(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(3, targets=1)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    waves = write_plan(tmp_path / "waves.json", [plan_of(requests)])
    journal = tmp_path / "run.jsonl"
    assert (await cli("promote-many", plan, "--journal", str(journal))).code == 0
    before = _content(journal)

    again = await cli("promote-many", plan, "--journal", str(journal))
    release = await cli("release", waves, "--journal", str(journal), *FAST)

    for run in (again, release):
        assert run.code == 2
        assert f"{journal} exists" in run.err
        assert f"--resume {journal}" in run.err
    assert _content(journal) == before
    assert_each_target_promoted_once(fake, requests)


# --- 13: a torn last line ------------------------------------------------------------------


async def test_a_torn_last_line_is_cut_so_every_later_resume_reads_the_journal(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(3, targets=1)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"
    assert (await cli("promote-many", plan, "--journal", str(journal))).code == 0
    with journal.open("a") as torn:  # kill -9 in the middle of a write
        torn.write('{"event":"result","key":"1","ind')

    first = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)
    second = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)

    assert first.code == second.code == 0, second.err
    assert "3 taken from the journal, not sent again" in second.err
    assert _content(journal).endswith(b"}\n")  # the torn bytes were cut, not kept
    assert all(
        states == ["promoted"] for states in results_by_index(journal_events(journal)).values()
    )
    assert all(promotions_of(fake, t) == 1 for r in requests for t in r.target_app_ids)


@pytest.mark.parametrize(
    ("lines", "sent"),
    [
        (2, 0),  # plan, pin 1 of 3: a pin that cannot be recorded stops the release unsent
        (6, 1),  # plan, 3 pins, sent 0:0, result 0:0: wave 1 cannot be recorded
    ],
)
async def test_a_release_whose_journal_cannot_record_stops_sending(
    fake: FakeSevalla,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lines: int,
    sent: int,
) -> None:
    waves = [fake.promote_requests(1, targets=1), fake.promote_requests(2, targets=1)]
    plan = write_plan(tmp_path / "waves.json", [plan_of(w) for w in waves])
    journal = tmp_path / "run.jsonl"
    _fail_after(monkeypatch, lines)

    run = await cli("release", plan, "--journal", str(journal), *FAST)

    assert run.code == 1
    assert "No space left on device" in run.err
    assert "JournalWriteError" in run.err
    assert len(fake.requests_to("POST", "/promote")) == sent
