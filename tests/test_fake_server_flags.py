"""``sevalla-async fake-server --fail-app / --slow / --push-after`` end to end: the command
runs in this process on a :class:`FakeClock`, serving over loopback, and a client on the
same clock talks to it (nothing sleeps for real)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sevalla_async import SevallaClient
from sevalla_async._cli._console import Console, UsageError
from sevalla_async._cli._fake_server import serve
from sevalla_async._cli._parser import build_parser
from sevalla_async.testing import FakeClock, FakeSevalla

pytestmark = pytest.mark.sevalla_loopback


class _Out(io.StringIO):
    """stdout that tells when a line was written."""

    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)


@contextlib.asynccontextmanager
async def fake_server(
    *argv: str, output: str = "json"
) -> AsyncIterator[tuple[dict[str, Any] | str, SevallaClient, FakeClock]]:
    """Run ``fake-server ARGV`` until the block ends; yield what it printed, a client of it
    and the shared clock."""
    args = build_parser().parse_args(["fake-server", "--pipelines", "1", *argv])
    out = _Out()
    console = Console(out=out, err=io.StringIO(), output=output, progress=False)
    clock = FakeClock()
    task = asyncio.create_task(serve(args, console, clock=clock))
    waiting = asyncio.create_task(out.written.wait())
    await asyncio.wait([task, waiting], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if task.done():
        task.result()  # raises what stopped it
    text = out.getvalue()
    info = json.loads(text) if output == "json" else text
    base_url = json.loads(text)["base_url"] if output == "json" else text.split()[4]
    key = json.loads(text)["api_key"] if output == "json" else ""
    client = SevallaClient(
        key or "unused", base_url=base_url, sleep=clock.sleep, clock=clock, wall_clock=clock.wall
    )
    try:
        async with client:
            yield info, client, clock
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def app_of(info: Any, stage: int, index: int = 0) -> str:
    return str(info["pipelines"][0]["stages"][stage]["app_ids"][index])


async def test_fail_app_fails_its_deployments_with_error_lines() -> None:
    async with fake_server("--fail-app", "web/PRODUCTION/1") as (info, client, _clock):
        assert isinstance(info, dict)
        pipeline = info["pipelines"][0]["id"]
        source, failing, other = app_of(info, 0), app_of(info, 1, 1), app_of(info, 1, 0)
        deployments = await client.pipelines.promote_and_wait(
            pipeline, source_app_id=source, target_app_ids=[other, failing]
        )
        errors = await client.deployments.logs(failing, deployments[1].id, severity="ERROR")

    assert info["scenario"]["fail_apps"] == [failing]
    assert [d.status for d in deployments] == ["success", "failed"]
    assert len(errors) == 2
    assert "--fail-app" in errors[0].message
    assert "Build failed" in errors[0].message


async def test_slow_makes_every_reply_take_that_long_on_the_clock() -> None:
    async with fake_server("--slow", "2.5") as (info, client, clock):
        start = clock()
        for _ in range(3):
            await client.deployments.current_build(app_of(info, 0))
        taken = clock() - start

    assert info["scenario"]["slow"] == 2.5
    assert taken == 7.5
    assert clock.sleeps == [2.5, 2.5, 2.5]


@pytest.mark.sevalla_fake(latency=2.5)
async def test_concurrent_slow_replies_are_late_together_in_memory(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    client = make_client(loopback=False)
    app = fake.add_app()
    await client.deployments.current_build(app)  # the client learns the rate limit first
    start = clock.now
    await asyncio.gather(*(client.deployments.current_build(app) for _ in range(4)))
    assert fake.max_in_flight == 4
    assert clock.now - start == 2.5  # as in real time: four replies 2.5 s late take 2.5 s


async def test_push_after_lands_a_new_build_after_that_long() -> None:
    async with fake_server("--push-after", "90", "web/staging") as (info, client, clock):
        app = app_of(info, 0)
        before = await client.deployments.current_build(app)
        clock.advance(89)
        still = await client.deployments.current_build(app)
        clock.advance(2)
        after = await client.deployments.current_build(app)
        [latest, *_] = [d async for d in client.deployments.list(app)]

    assert info["scenario"]["push_after"] == [{"seconds": 90.0, "app_id": app}]
    assert before is not None
    assert still == before
    assert after is not None
    assert after.commit_sha != before.commit_sha
    assert latest.trigger == "AUTO_DEPLOY_ON_PUSH"
    assert latest.build == after


async def test_the_scenario_is_shown_to_people() -> None:
    async with fake_server("--slow", "1", "--push-after", "5", "web/staging", output="table") as (
        text,
        _client,
        _clock,
    ):
        assert isinstance(text, str)
    assert "Scenario:" in text
    assert "every reply takes 1s" in text
    assert "after 5s" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fail-app", "web/qa"], "names no seeded app"),
        (["--fail-app", "web/staging/9"], "names no seeded app"),
        (["--fail-app", "0b5e5168-4281-4bec-94c5-0d1584e9e657"], "not an app of the seeded"),
        (["--push-after", "soon", "web/staging"], "--push-after: expected seconds"),
    ],
)
async def test_a_bad_scenario_is_a_usage_error(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        async with fake_server(*argv):
            pass  # pragma: no cover


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "x"])
def test_slow_takes_seconds(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["fake-server", "--slow", value])
    assert info.value.code == 2
    assert "--slow" in capsys.readouterr().err
