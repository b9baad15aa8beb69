"""CLI polish: a closed pipe, the key never echoed, help texts that list only what a
command uses, JSON Lines plans read back (against the test's FakeSevalla, run as in test_cli.py)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from sevalla_async._cli import main
from sevalla_async.testing import FakeSevalla

from .test_cli import Cli, make_cli, piped_into_head_1, run_in_thread

pytestmark = pytest.mark.sevalla_loopback  # the CLI talks to the fake over 127.0.0.1

KEY = "sk-live-0123456789abcdef"


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


async def test_a_closed_pipe_ends_quietly_with_status_0(fake: FakeSevalla) -> None:
    for _ in range(600):  # far more than a pipe buffer holds, so head closes it mid-way
        fake.add_pipeline(stages=["Staging"])
    out, err = await piped_into_head_1(fake, "pipelines", "list", "--output", "json")
    assert len(out.splitlines()) == 1
    assert json.loads(out)["id"]
    assert err.splitlines() == ["status=0"]  # no "Broken pipe", no traceback


@pytest.mark.parametrize(
    "argv",
    [
        [KEY],  # the key pasted as the command
        ["pipelines", "list", "--timeout", KEY],
        ["pipelines", "list", "--limit", KEY],
        ["--output", KEY, "pipelines", "list"],
        ["promote", KEY, "--source", KEY],  # a missing --target: argparse quotes nothing...
        ["wait", KEY],
    ],
)
@pytest.mark.parametrize("given", ["env", "flag", "flag=", "abbreviated"])
async def test_the_key_is_never_echoed(argv: list[str], given: str) -> None:
    env: dict[str, str | None] = {"SEVALLA_BASE_URL": "http://127.0.0.1:9/v3"}
    if given == "env":
        env["SEVALLA_API_KEY"] = KEY
    elif given == "flag":
        argv = ["--api-key", KEY, *argv]
    elif given == "flag=":
        argv = [f"--api-key={KEY}", *argv]
    else:
        argv = ["--api-k", KEY, *argv]
    run = await run_in_thread(*argv, env=env)
    assert run.code == 2
    assert "error" in run.err
    assert KEY not in run.err + run.out
    assert KEY[:12] not in run.err + run.out  # not even a part of it


def test_argparse_messages_are_redacted_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVALLA_API_KEY", KEY)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as info:
        main(["--timeout", KEY, "pipelines", "list"], stdout=out, stderr=err)
    assert info.value.code == 2
    assert "--timeout: expected seconds, got '***'" in err.getvalue()
    assert KEY not in err.getvalue()


async def test_api_errors_and_logs_are_redacted(fake: FakeSevalla, cli: Cli) -> None:
    # the key typed where an id goes reaches the SDK's ValueError, and -v logs every call
    run = await cli("-v", "deployments", "list", fake.api_key)
    assert run.code == 2
    assert fake.api_key not in run.err + run.out
    assert "'***' is not a valid UUID" in run.err


@pytest.mark.parametrize("command", ["fake-server", "demo"])
async def test_help_lists_only_options_the_command_uses(command: str) -> None:
    run = await run_in_thread(command, "--help", env={})
    assert run.code == 0
    for unused in ("--api-key", "--base-url", "--timeout"):
        assert unused not in run.out
    assert "--output" in run.out
    assert ("--progress" in run.out) is (command == "demo")
    promote = await run_in_thread("promote", "--help", env={})
    assert "--api-key" in promote.out
    assert "--base-url" in promote.out


async def test_promote_many_reads_a_json_lines_plan(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(3, targets=1)
    first = await cli("promote-many", "-", stdin=_jsonl(requests[:2]))
    assert first.code == 0, first.err
    assert sorted(line["index"] for line in first.lines()) == [0, 1]
    path = tmp_path / "plan.jsonl"
    path.write_bytes(_jsonl(requests[2:]))
    second = await cli("promote-many", str(path))
    assert second.code == 0, second.err
    (line,) = second.lines()
    assert line["pipeline_id"] == str(requests[2].pipeline_id)
    assert len(fake.requests_to("POST", "/promote")) == 3


def _jsonl(requests: list[object]) -> bytes:
    lines = [
        json.dumps(
            {
                "pipeline_id": str(r.pipeline_id),  # type: ignore[attr-defined]
                "source_app_id": str(r.source_app_id),  # type: ignore[attr-defined]
                "target_app_ids": [str(t) for t in r.target_app_ids],  # type: ignore[attr-defined]
            }
        )
        for r in requests
    ]
    return ("\n".join(lines) + "\n").encode()


async def test_sevalla_log_and_verbose_share_one_handler(fake: FakeSevalla, cli: Cli) -> None:
    fake.add_pipeline()
    quiet, logged, verbose = await asyncio.gather(
        cli("pipelines", "list"),
        cli("pipelines", "list", env={"SEVALLA_LOG": "debug"}),
        cli("pipelines", "list", "-v", env={"SEVALLA_LOG": "warning"}),
    )
    assert "DEBUG" not in quiet.err
    for run in (logged, verbose):  # one line per request: never printed twice
        assert run.err.count("sevalla-async: DEBUG: GET") == 1, run.err
        assert fake.api_key not in run.err
