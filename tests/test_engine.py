"""The bounded-work engine on its own: plain ints in, strings out, one test per exit path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from sevalla_async._engine import Engine, InputError


class Gate:
    """Work whose entries finish only when the test lets them; counts what runs at once."""

    def __init__(self) -> None:
        self.running: set[int] = set()
        self.most = 0
        self.release: dict[int, asyncio.Event] = {}
        self.started = asyncio.Event()

    def let(self, *indexes: int) -> None:
        for i in indexes:
            self.release.setdefault(i, asyncio.Event()).set()

    async def work(self, index: int, item: int) -> str:
        self.running.add(index)
        self.most = max(self.most, len(self.running))
        self.started.set()
        try:
            await self.release.setdefault(index, asyncio.Event()).wait()
        finally:
            self.running.discard(index)
        return f"done {item}"


async def _quick(index: int, item: int) -> str:
    await asyncio.sleep(0)
    return f"done {item}"


def _cancelled(index: int, item: int) -> str:
    return f"cancelled {item}"


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_collect_keeps_input_order_and_the_bound_with_one_task_per_worker() -> None:
    pulled: list[int] = []

    def inputs() -> Iterator[int]:
        for i in range(10):
            pulled.append(i)
            yield i

    gate = Gate()
    engine: Engine[int, str] = Engine(inputs(), gate.work, concurrency=3)
    before = len(asyncio.all_tasks())
    run = asyncio.ensure_future(engine.collect())
    await _settle()
    assert len(pulled) == 3  # lazy: only as workers free up
    assert len(asyncio.all_tasks()) - before <= 1 + 3  # the run and its 3 workers
    for i in reversed(range(10)):  # finish in reverse: the result is still in input order
        gate.let(i)
    assert await run == [f"done {i}" for i in range(10)]
    assert gate.most == 3


async def test_stream_yields_in_completion_order_and_buffers_at_most_its_bound() -> None:
    pulled: list[int] = []

    def inputs() -> Iterator[int]:
        for i in range(20):
            pulled.append(i)
            yield i

    engine: Engine[int, str] = Engine(inputs(), _quick, concurrency=2)
    stream = engine.stream(buffer=3)
    first = await stream.__anext__()
    await _settle()  # the consumer is busy: reading stops once the buffer is full
    assert first == "done 0" or first == "done 1"
    assert len(pulled) <= 1 + 3 + 2
    rest = [o async for o in stream]
    assert sorted([first, *rest]) == sorted(f"done {i}" for i in range(20))


async def test_input_raising_lets_the_rest_finish_then_raises_with_every_outcome() -> None:
    def inputs() -> Iterator[int]:
        yield 0
        yield 1
        raise OSError("disk gone")

    engine: Engine[int, str] = Engine(inputs(), _quick, concurrency=4)
    with pytest.raises(InputError, match="after 2 entries: OSError: disk gone") as caught:
        await engine.collect()
    assert caught.value.outcomes == ["done 0", "done 1"]
    assert isinstance(caught.value.__cause__, OSError)


async def test_an_async_input_raising_in_a_stream_raises_after_every_outcome() -> None:
    async def inputs() -> AsyncIterator[int]:
        yield 0
        raise OSError("gone")

    engine: Engine[int, str] = Engine(inputs(), _quick, concurrency=2)
    seen: list[str] = []

    async def consume() -> None:
        async for outcome in engine.stream():
            seen.append(outcome)

    with pytest.raises(InputError) as caught:
        await consume()
    assert seen == ["done 0"]
    assert caught.value.outcomes == []  # a stream keeps nothing it has yielded


async def test_cancellation_gives_every_entry_in_flight_its_cancelled_outcome() -> None:
    gate = Gate()
    got: dict[int, str] = {}
    engine: Engine[int, str] = Engine(
        range(10),
        gate.work,
        concurrency=3,
        on_outcome=got.__setitem__,
        cancelled=_cancelled,
        on_cancelled=got.__setitem__,
    )
    run = asyncio.ensure_future(engine.collect())
    await _settle()
    gate.let(0)
    await _settle()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert got == {0: "done 0", 1: "cancelled 1", 2: "cancelled 2", 3: "cancelled 3"}
    assert gate.running == set()  # no worker left behind


async def test_work_raising_cancels_the_others_and_accounts_for_them() -> None:
    gate = Gate()
    got: dict[int, str] = {}

    async def work(index: int, item: int) -> str:
        if item == 2:
            await asyncio.sleep(0)
            raise KeyError("boom")
        return await gate.work(index, item)

    engine: Engine[int, str] = Engine(
        range(10), work, concurrency=3, cancelled=_cancelled, on_cancelled=got.__setitem__
    )
    with pytest.raises(KeyError):
        await engine.collect()
    assert got == {0: "cancelled 0", 1: "cancelled 1", 2: "cancelled 2"}
    assert gate.running == set()


async def test_a_stream_closed_early_cancels_what_is_in_flight_and_reads_no_more() -> None:
    pulled: list[int] = []

    def inputs() -> Iterator[int]:
        for i in range(100):
            pulled.append(i)
            yield i

    gate = Gate()
    got: dict[int, str] = {}
    engine: Engine[int, str] = Engine(
        inputs(), gate.work, concurrency=2, cancelled=_cancelled, on_cancelled=got.__setitem__
    )
    stream = engine.stream()
    first = asyncio.ensure_future(stream.__anext__())
    await _settle()
    gate.let(0)
    assert await first == "done 0"
    await stream.aclose()
    assert got == {i: "cancelled " + str(i) for i in pulled if i != 0}
    assert len(pulled) <= 3
    assert gate.running == set()


async def test_stop_sends_no_new_work_and_skips_every_later_entry() -> None:
    ran: list[int] = []

    async def work(index: int, item: int) -> str:
        ran.append(item)
        await asyncio.sleep(0)
        return "failed" if item == 1 else f"done {item}"

    engine: Engine[int, str] = Engine(
        range(600),
        work,
        concurrency=1,
        stop=lambda outcome: outcome == "failed",
        skip=lambda index, item: f"skipped {item}",
    )
    outcomes = await engine.collect()
    assert ran == [0, 1]
    assert outcomes[:3] == ["done 0", "failed", "skipped 2"]
    assert len(outcomes) == 600
    assert outcomes[-1] == "skipped 599"


async def test_a_hook_raising_stops_the_run_with_every_entry_accounted_for() -> None:
    got: dict[int, str] = {}

    def on_outcome(index: int, outcome: str) -> None:
        got[index] = outcome
        raise RuntimeError("hook")

    gate = Gate()
    gate.let(0)
    engine: Engine[int, str] = Engine(
        range(5),
        gate.work,
        concurrency=2,
        on_outcome=on_outcome,
        cancelled=_cancelled,
        on_cancelled=got.__setitem__,
    )
    with pytest.raises(RuntimeError, match="hook"):
        await engine.collect()
    assert got == {0: "done 0", 1: "cancelled 1"}


async def test_an_engine_runs_once() -> None:
    engine: Engine[int, str] = Engine([1], _quick, concurrency=1)
    await engine.collect()
    with pytest.raises(RuntimeError, match="runs once"):
        await engine.collect()
