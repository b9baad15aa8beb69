"""The ``sevalla-async`` CLI end to end against a FakeSevalla served over loopback by the
test's own event loop.

``cli(...)`` runs ``main()`` in a worker thread of this process (its own event loop, as in
``python -m sevalla_async``; the test's loop keeps serving): argv, environment, stdin,
stdout and stderr are the run's own. What only a process shows (signals, a closed pipe,
``kill -9``, ``SEVALLA_LOG`` read at import, the interpreter's ``-W error``) goes through
``spawn``, a real ``python -m sevalla_async`` subprocess. ``SEVALLA_TEST_CLI=process``
sends every ``cli(...)`` run through a subprocess too, to check the two agree."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from sevalla_async import SevallaClient, __version__
from sevalla_async._cli import main
from sevalla_async.testing import FakeSevalla, Fault

pytestmark = pytest.mark.sevalla_loopback  # real sockets: the CLI, TLS, proxies, wire format

# A guard so that a broken test fails instead of hanging; never a timing assertion.
GUARD = 60


@attrs.frozen
class Run:
    code: int
    out: str
    err: str

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def _environment(env: Mapping[str, str | None]) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEVALLA_")}
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


async def piped_into_head_1(fake: FakeSevalla, *args: str) -> tuple[str, str]:
    """``sevalla-async ARGS | head -1`` in bash against ``fake``: stdout, and stderr ending
    with a ``status=N`` line (the CLI's own exit status, from ``PIPESTATUS``)."""
    command = " ".join(f'"{a}"' for a in args)
    script = (
        f'"{sys.executable}" -W error -m sevalla_async {command} | head -1;'
        ' echo "status=${PIPESTATUS[0]}" >&2'
    )
    env = _environment({"SEVALLA_API_KEY": fake.api_key, "SEVALLA_BASE_URL": fake.base_url})
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), GUARD)
    return out.decode(), err.decode()


async def spawn(*args: str, env: Mapping[str, str | None]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        "-m",
        "sevalla_async",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_environment(env),
    )


async def finish(proc: asyncio.subprocess.Process, stdin: bytes | None = None) -> Run:
    out, err = await asyncio.wait_for(proc.communicate(stdin), GUARD)
    assert proc.returncode is not None
    return _explained(Run(proc.returncode, out.decode(), err.decode()))


def _explained(run: Run) -> Run:
    """Whatever happened, the CLI explains itself in one line: no traceback, no leak."""
    assert "Traceback" not in run.err, run.err
    assert "Unclosed" not in run.err, run.err
    assert "Task was destroyed" not in run.err, run.err
    return run


Cli = Callable[..., Awaitable[Run]]

# os.environ, sys.stdin and the loggers are the process's own: one in-process run at a time.
_ONE_RUN_AT_A_TIME = threading.Lock()
_IN_PROCESS = os.environ.get("SEVALLA_TEST_CLI", "thread") != "process"


@contextlib.contextmanager
def _process_state(
    env: Mapping[str, str | None], stdin: bytes, out: io.StringIO, err: io.StringIO
) -> Iterator[None]:
    """Give the run what a subprocess would have: the environment, ``stdin``, and
    ``sys.stdout``/``sys.stderr`` going to ``out``/``err`` (so a stray print or what asyncio
    logs, a task destroyed while pending say, shows in the run's output). Everything is put
    back afterwards."""
    saved_env, saved_streams = dict(os.environ), (sys.stdin, sys.stdout, sys.stderr)
    handler = logging.StreamHandler(err)
    logging.getLogger("asyncio").addHandler(handler)
    os.environ.clear()
    os.environ.update(_environment(env))
    sys.stdin, sys.stdout, sys.stderr = io.TextIOWrapper(io.BytesIO(stdin)), out, err
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.environ.clear()
        os.environ.update(saved_env)
        logging.getLogger("asyncio").removeHandler(handler)


def _run_main(args: tuple[str, ...], env: Mapping[str, str | None], stdin: bytes) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with _ONE_RUN_AT_A_TIME, _process_state(env, stdin, out, err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse: usage errors and --help, as the process exits
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return Run(code, out.getvalue(), err.getvalue())


async def run_in_thread(*args: str, env: Mapping[str, str | None], stdin: bytes = b"") -> Run:
    """``python -m sevalla_async ARGS`` without the process: ``main`` in a worker thread."""
    return _explained(await asyncio.wait_for(asyncio.to_thread(_run_main, args, env, stdin), GUARD))


def make_cli(fake: FakeSevalla) -> Cli:
    """Run the CLI with the fake's URL and key in the environment (``env=`` overrides;
    ``None`` removes a variable)."""

    async def run(
        *args: str, env: Mapping[str, str | None] | None = None, stdin: bytes = b""
    ) -> Run:
        environment: dict[str, str | None] = {
            "SEVALLA_API_KEY": fake.api_key,
            "SEVALLA_BASE_URL": fake.base_url,
        }
        environment.update(env or {})
        if _IN_PROCESS:
            return await run_in_thread(*args, env=environment, stdin=stdin)
        return await finish(await spawn(*args, env=environment), stdin)

    return run


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def promote_args(request: Any) -> list[str]:
    args = [str(request.pipeline_id), "--source", str(request.source_app_id)]
    for target in request.target_app_ids:
        args += ["--target", str(target)]
    return args


def plan_of(requests: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "pipeline_id": str(r.pipeline_id),
            "source_app_id": str(r.source_app_id),
            "target_app_ids": [str(t) for t in r.target_app_ids],
        }
        for r in requests
    ]


def write_plan(path: Path, entries: Any) -> str:
    path.write_text(json.dumps(entries), encoding="utf-8")
    return str(path)


# --- promote -------------------------------------------------------------------------------


async def test_promote_prints_one_json_line_per_target(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1, targets=3)

    run = await cli("promote", *promote_args(request), "--output", "json")

    assert run.code == 0, run.err
    lines = run.lines()
    assert [line["target_app_id"] for line in lines] == [str(t) for t in request.target_app_ids]
    for line in lines:
        assert line["pipeline_id"] == str(request.pipeline_id)
        assert line["source_app_id"] == str(request.source_app_id)
        assert str(fake.deployment(line["deployment_id"]).app_id) == line["target_app_id"]
    (sent,) = fake.requests
    assert sent.json() == {
        "source_app_id": str(request.source_app_id),
        "target_app_ids": [str(t) for t in request.target_app_ids],
    }


async def test_promote_table(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1, targets=2)

    run = await cli("--output", "table", "promote", *promote_args(request))

    assert run.code == 0, run.err
    header, *rows = run.out.splitlines()
    assert header.split() == ["TARGET", "APP", "DEPLOYMENT"]
    assert len(rows) == 2
    for row, target in zip(rows, request.target_app_ids, strict=True):
        app, deployment = row.split()
        assert app == str(target)
        assert fake.deployment(deployment).app_id == target


async def test_output_defaults_to_json_lines_when_piped(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1, targets=1)
    run = await cli("promote", *promote_args(request))
    assert run.code == 0, run.err
    assert run.lines()[0]["target_app_id"] == str(request.target_app_ids[0])


async def test_promote_api_error_is_one_line_with_the_request_id(
    fake: FakeSevalla, cli: Cli
) -> None:
    (request,) = fake.promote_requests(1)
    unknown = str(uuid.uuid4())

    run = await cli("promote", unknown, *promote_args(request)[1:])

    assert run.code == 1
    assert "NotFoundError 404: Pipeline not found" in run.err
    assert fake.requests[-1].request_id in run.err
    assert "hint" not in run.err  # the base URL has its /v3
    # piped, so --output json: the error is also one JSON line on stdout
    (line,) = run.lines()
    assert line["error"]["type"] == "NotFoundError"
    assert line["error"]["status"] == 404
    assert line["error"]["request_id"] == fake.requests[-1].request_id
    table = await cli("promote", unknown, *promote_args(request)[1:], "--output", "table")
    assert table.out == ""


async def test_a_base_url_without_the_version_gets_a_hint(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    (request,) = fake.promote_requests(1)
    unversioned = fake.base_url.removesuffix("/v3")

    run = await cli("promote", *promote_args(request), env={"SEVALLA_BASE_URL": unversioned})

    assert run.code == 1
    assert "NotFoundError 404" in run.err
    assert "the base URL must end in /v3" in run.err
    plan = write_plan(tmp_path / "plan.json", plan_of([request]))
    run = await cli("promote-many", plan, env={"SEVALLA_BASE_URL": unversioned})
    assert run.code == 1
    assert run.err.count("the base URL must end in /v3") == 1


async def test_promote_5xx_warns_it_may_have_happened(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1)
    fake.inject(Fault.error(500), method="POST")

    run = await cli("promote", *promote_args(request))

    assert run.code == 1
    assert "InternalServerError 500" in run.err
    assert "may have been acted on" in run.err
    assert len(fake.requests) == 1  # a POST is not retried after a 5xx


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda a: [a[0], "--source", "nope", *a[3:]], "--source: source_app_id: 'nope'"),
        (lambda a: [*a, "--target", "f00"], "--target: target_app_ids[1]: 'f00'"),
        (lambda a: ["pipe", *a[1:]], "PIPELINE: pipeline_id: 'pipe'"),
        (lambda a: [a[0], "--source", a[4], *a[3:]], "target_app_ids[0]:"),
    ],
    ids=["bad-source", "bad-second-target", "bad-pipeline", "source-is-target"],
)
async def test_promote_bad_ids_exit_2_naming_the_field(
    fake: FakeSevalla, cli: Cli, change: Callable[[list[str]], list[str]], expected: str
) -> None:
    (request,) = fake.promote_requests(1, targets=1)

    run = await cli("promote", *change(promote_args(request)))

    assert run.code == 2
    assert expected in run.err
    assert fake.requests == []


async def test_promote_without_target_is_a_usage_error(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1)
    run = await cli("promote", str(request.pipeline_id), "--source", str(request.source_app_id))
    assert run.code == 2
    assert "--target" in run.err
    assert fake.requests == []


# --- key and URL: flags, environment, secrecy ----------------------------------------------


async def test_key_flag_wins_over_the_environment(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1, targets=1)

    good_flag, bad_flag = await asyncio.gather(
        cli(
            "--api-key",
            fake.api_key,
            "promote",
            *promote_args(request),
            env={"SEVALLA_API_KEY": "x" * 20},
        ),
        cli("promote", *promote_args(request), "--api-key", "wrong-key-123"),
    )

    assert good_flag.code == 0, good_flag.err
    assert bad_flag.code == 1
    assert "AuthenticationError 401" in bad_flag.err
    assert sorted(r.status for r in fake.requests) == [200, 401]


async def test_key_from_the_environment_alone(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1, targets=1)
    run = await cli("promote", *promote_args(request))
    assert run.code == 0, run.err
    assert fake.requests[0].headers["Authorization"] == f"Bearer {fake.api_key}"


async def test_no_key_anywhere_is_a_usage_error(fake: FakeSevalla, cli: Cli) -> None:
    run = await cli("pipelines", "list", env={"SEVALLA_API_KEY": None})
    assert run.code == 2
    assert "no API key: pass --api-key KEY or set SEVALLA_API_KEY" in run.err
    assert fake.requests == []


async def test_base_url_flag_wins_over_the_environment(fake: FakeSevalla, cli: Cli) -> None:
    fake.add_pipeline()
    refused, flagged = await asyncio.gather(
        cli("pipelines", "list", env={"SEVALLA_BASE_URL": "http://example.com/v3"}),
        cli(
            "pipelines",
            "list",
            "--base-url",
            fake.base_url,
            env={"SEVALLA_BASE_URL": "http://example.com/v3"},
        ),
    )

    assert refused.code == 2
    assert "base_url: plain http:// is refused for 'example.com'" in refused.err
    assert flagged.code == 0, flagged.err
    assert len(flagged.lines()) == 1


async def test_the_key_is_never_printed(fake: FakeSevalla, cli: Cli, tmp_path: Path) -> None:
    (request,) = fake.promote_requests(1)
    secret = fake.api_key
    plan = write_plan(tmp_path / "plan.json", [{**plan_of([request])[0], "pipeline_id": secret}])
    fake.inject(Fault.rate_limited(0), path=f"/pipelines/{request.pipeline_id}/promote")
    runs = await asyncio.gather(
        cli("promote", *promote_args(request), "--verbose"),
        cli("-v", "promote", str(uuid.uuid4()), *promote_args(request)[1:]),
        cli("-v", "pipelines", "list", "--output", "table"),
        cli("-v", "deployments", "list", str(request.target_app_ids[0])),
        cli("-v", "pipelines", "list", env={"SEVALLA_API_KEY": secret + "-wrong"}),
        cli("promote-many", plan),
        cli("promote", "--api-key", secret, secret, "--source", secret, "--target", secret),
    )
    assert [r.code for r in runs] == [0, 1, 0, 0, 1, 2, 2]
    for run in runs:
        assert secret not in run.out
        assert secret not in run.err
    assert "retry 1 of 3" in runs[0].err  # the 429 was logged (and redacted)


async def test_verbose_logs_each_call_at_debug(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1)
    quiet, verbose = await asyncio.gather(
        cli("promote", *promote_args(request)), cli("promote", *promote_args(request), "-v")
    )

    assert quiet.err == ""
    path = f"/pipelines/{request.pipeline_id}/promote"
    (line,) = verbose.err.splitlines()
    assert line.startswith(f"sevalla-async: DEBUG: POST {path} -> 200 request_id=")
    assert line.split("request_id=")[1].split()[0] in {r.request_id for r in fake.requests}
    assert "Authorization" not in verbose.err
    assert "Bearer" not in verbose.err


# --- pipelines and deployments -------------------------------------------------------------


async def test_pipelines_list_pages_through_everything(fake: FakeSevalla, cli: Cli) -> None:
    made = [fake.add_pipeline(stages=("Dev", "Prod")) for _ in range(103)]

    run = await cli("pipelines", "list")

    assert run.code == 0, run.err
    lines = run.lines()
    assert [line["id"] for line in lines] == [str(p.id) for p in made]
    assert [s["display_name"] for s in lines[0]["stages"]] == ["Dev", "Prod"]
    assert [r.query for r in fake.requests] == [
        {"limit": "100", "offset": "0"},
        {"limit": "100", "offset": "100"},
    ]


async def test_pipelines_list_limit_and_table(fake: FakeSevalla, cli: Cli) -> None:
    made = [fake.add_pipeline(name=f"app-{i}") for i in range(5)]

    run = await cli("pipelines", "list", "--limit", "2", "--output", "table")

    assert run.code == 0, run.err
    header, *rows = run.out.splitlines()
    assert header.split() == ["ID", "NAME", "TYPE", "STAGES"]
    assert [row.split()[:3] for row in rows] == [
        [str(p.id), p.display_name, "trunk"] for p in made[:2]
    ]
    assert rows[0].endswith("Staging > Production")
    assert [r.query for r in fake.requests] == [{"limit": "2", "offset": "0"}]


async def test_pipelines_list_empty(cli: Cli) -> None:
    table, lines = await asyncio.gather(
        cli("pipelines", "list", "--output", "table"), cli("pipelines", "list", "--output", "json")
    )
    assert (table.code, table.out) == (0, "no pipelines\n")
    assert (lines.code, lines.out) == (0, "")


async def test_deployments_list(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1, targets=1)
    app = request.target_app_ids[0]
    first = fake.add_deployment(app, script=["failed"])
    second = fake.add_deployment(app, script=["inProgress"])

    run, table = await asyncio.gather(
        cli("deployments", "list", str(app)),
        cli("deployments", "list", str(app), "--output", "table", "--limit", "2"),
    )

    assert run.code == 0, run.err
    lines = run.lines()
    assert [line["id"] for line in lines][:2] == [str(second.id), str(first.id)]
    assert [line["status"] for line in lines] == ["inProgress", "failed", "success"]
    assert all(line["app_id"] == str(app) for line in lines)
    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    assert header.split() == ["ID", "STATUS", "TRIGGER", "CREATED", "FINISHED"]
    assert [row.split()[:3] for row in rows] == [
        [str(second.id), "inProgress", "PROMOTION"],
        [str(first.id), "failed", "PROMOTION"],
    ]


async def test_deployments_list_errors(fake: FakeSevalla, cli: Cli) -> None:
    bad, unknown = await asyncio.gather(
        cli("deployments", "list", "nope"), cli("deployments", "list", str(uuid.uuid4()))
    )

    assert bad.code == 2
    assert "APP: app_id: 'nope' is not a valid UUID" in bad.err
    assert unknown.code == 1
    assert "NotFoundError 404: Application not found" in unknown.err
    assert len(fake.requests) == 1


# --- promote-many --------------------------------------------------------------------------


async def test_promote_many_prints_one_line_per_entry(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(5, targets=2)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))

    run = await cli("promote-many", plan, "--concurrency", "2")

    assert run.code == 0, run.err
    lines = sorted(run.lines(), key=lambda line: line["index"])
    assert [line["index"] for line in lines] == [0, 1, 2, 3, 4]
    for line, request in zip(lines, requests, strict=True):
        assert line["ok"] is True
        assert line["error"] is None
        assert line["pipeline_id"] == str(request.pipeline_id)
        assert [p["target_app_id"] for p in line["promotions"]] == [
            str(t) for t in request.target_app_ids
        ]
        for p in line["promotions"]:
            assert str(fake.deployment(p["deployment_id"]).app_id) == p["target_app_id"]
    assert len(fake.requests_to("POST", "/promote")) == 5
    assert fake.max_in_flight <= 2
    assert "5 promotions: 5 ok, 0 failed" in run.err


async def test_promote_many_exits_1_when_any_failed(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(4, targets=1)
    fake.inject(
        Fault.error(503), method="POST", path=f"/pipelines/{requests[2].pipeline_id}/promote"
    )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))

    run = await cli("promote-many", plan)

    assert run.code == 1
    by_index = {line["index"]: line for line in run.lines()}
    assert sorted(by_index) == [0, 1, 2, 3]
    assert [by_index[i]["ok"] for i in range(4)] == [True, True, False, True]
    failed = by_index[2]
    assert failed["promotions"] is None
    assert failed["error"]["type"] == "InternalServerError"
    assert failed["error"]["status"] == 503
    assert failed["error"]["request_id"] in {r.request_id for r in fake.requests}
    assert "4 promotions: 3 ok, 1 failed (entry 2)" in run.err


async def test_promote_many_table_and_stdin(fake: FakeSevalla, cli: Cli) -> None:
    requests = fake.promote_requests(2, targets=2)
    stdin = json.dumps(plan_of(requests)).encode()

    run = await cli("promote-many", "-", "--output", "table", stdin=stdin)

    assert run.code == 0, run.err
    header, *rows = run.out.splitlines()
    assert header.split()[:3] == ["ENTRY", "RESULT", "PIPELINE"]
    assert len(rows) == 4
    assert sorted(row.split()[:4] for row in rows) == sorted(
        [str(i), "ok", str(r.pipeline_id), str(t)]
        for i, r in enumerate(requests)
        for t in r.target_app_ids
    )


async def test_promote_many_reports_every_bad_entry_and_sends_nothing(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    good = plan_of(fake.promote_requests(3))
    entries = [
        good[0],
        {**good[1], "target_app_ids": [good[1]["target_app_ids"][0], "not-an-id"]},
        {"source_app_id": good[2]["source_app_id"], "target_app_ids": good[2]["target_app_ids"]},
        "a string",
        {**good[2], "target_app_ids": []},
        {**good[2], "colour": "blue"},
        good[0],
    ]
    plan = write_plan(tmp_path / "plan.json", entries)

    run = await cli("promote-many", plan)

    assert run.code == 2
    assert [line["error"]["type"] for line in run.lines()] == ["PlanError"]  # piped: JSON
    problems = [line for line in run.err.splitlines() if "entry" in line]
    assert problems == [
        "sevalla-async: entry 1: target_app_ids[1]: 'not-an-id' is not a valid UUID "
        "(expected the canonical form, e.g. 'fb5e5168-4281-4bec-94c5-0d1584e9e657')",
        "sevalla-async: entry 2: pipeline_id: required field is missing",
        "sevalla-async: entry 3: expected an object with pipeline_id, source_app_id and "
        "target_app_ids, got str",
        "sevalla-async: entry 4: target_app_ids: at least one id is required",
        "sevalla-async: entry 5: colour: unknown field",
        f"sevalla-async: entry 6: target_app_ids: {good[0]['target_app_ids'][0]} is already a "
        "target of entry 0 (same pipeline and source): a promotion is not idempotent, so it "
        "would be deployed twice; remove it from one of them",
    ]
    assert "the plan is invalid: nothing was sent" in run.err
    assert fake.requests == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"pipeline_id": ', "not valid JSON (line 1, column 18"),
        ('{"pipeline_id": "x"}\n{', "line 2 is not valid JSON"),
    ],
    ids=["not-json", "not-json-lines"],
)
async def test_promote_many_unusable_plan(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content, encoding="utf-8")
    run = await cli("promote-many", str(path))
    assert run.code == 2
    assert expected in run.err
    assert fake.requests == []


async def test_promote_many_missing_plan_file(cli: Cli, tmp_path: Path) -> None:
    run = await cli("promote-many", str(tmp_path / "nope.json"))
    assert run.code == 2
    assert "nope.json: cannot read the plan (No such file or directory)" in run.err


async def test_promote_many_empty_plan(fake: FakeSevalla, cli: Cli, tmp_path: Path) -> None:
    run = await cli("promote-many", write_plan(tmp_path / "plan.json", []))
    assert run.code == 0
    assert "the plan is empty" in run.err
    assert fake.requests == []


async def test_promote_many_bad_concurrency(cli: Cli, tmp_path: Path) -> None:
    run = await cli("promote-many", write_plan(tmp_path / "p.json", []), "--concurrency", "0")
    assert run.code == 2
    assert "--concurrency: must be at least 1, got 0" in run.err


async def test_promote_many_progress_line(fake: FakeSevalla, cli: Cli, tmp_path: Path) -> None:
    requests = fake.promote_requests(3, targets=1)
    fake.inject(
        Fault.error(409), method="POST", path=f"/pipelines/{requests[0].pipeline_id}/promote"
    )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))

    shown = await cli("promote-many", plan, "--progress")
    hidden = await cli("promote-many", plan, "--no-progress")

    assert "\r\x1b[2K3/3 done, 1 failed, " in shown.err
    assert shown.err.count("3/3 done") == 1
    assert "\r" not in hidden.err
    assert len(shown.lines()) == len(hidden.lines()) == 3


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll the in-process fake while the subprocess works (real time, tiny steps)."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - the fake has no event to wait on
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), GUARD)


async def test_ctrl_c_stops_and_reports_what_was_sent(fake: FakeSevalla, tmp_path: Path) -> None:
    requests = fake.promote_requests(6, targets=1)
    for slow in requests[2:]:  # 0 and 1 finish; 2 and 3 hang in flight; 4 and 5 wait
        fake.inject(Fault.slow(3600), method="POST", path=f"/pipelines/{slow.pipeline_id}/promote")
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    proc = await spawn(
        "promote-many",
        plan,
        "--concurrency",
        "2",
        env={"SEVALLA_API_KEY": fake.api_key, "SEVALLA_BASE_URL": fake.base_url},
    )
    await wait_until(lambda: fake.in_flight == 2 and len(fake.requests) == 4)

    proc.send_signal(signal.SIGINT)
    run = await finish(proc)

    assert run.code == 130
    *results, report = run.lines()
    assert sorted(line["index"] for line in results) == [0, 1]
    assert all(line["ok"] for line in results)
    # --output json (the default when piped): the report is data too, after the results;
    # each entry sent without a reply comes with the command that decides it
    reconcile = report.pop("reconcile")
    assert [r["index"] for r in reconcile] == [2, 3]
    for r in reconcile:
        pipeline = requests[r["index"]].pipeline_id
        assert r["command"].startswith(f"sevalla-async reconcile --pipeline {pipeline} ")
        assert r["command"].endswith(f" --sent-at {r['sent_at']}")
    assert report == {
        "interrupted": True,
        "finished": 2,
        "ok": 2,
        "failed": 0,
        "waiting": [],
        "sent_without_reply": [2, 3],
        "not_sent": [4, 5],
    }
    err = run.err.splitlines()
    assert (
        "sevalla-async: interrupted: 2 of 6 promotions finished (2 ok, 0 failed; their "
        "results are above)" in err
    )
    assert (
        "sevalla-async: 2 sent without a reply yet: they may have happened, check before "
        "retrying them:" in err
    )
    for i in (2, 3):
        r = requests[i]
        assert (
            f"  entry {i}: pipeline {r.pipeline_id}, source {r.source_app_id} -> "
            f"{r.target_app_ids[0]}" in err
        )
    assert "sevalla-async: 2 not sent: entries 4-5" in err
    assert len(fake.requests) == 4  # nothing more was sent after the interrupt


async def test_ctrl_c_during_promote(fake: FakeSevalla) -> None:
    (request,) = fake.promote_requests(1)
    fake.inject(Fault.slow(3600), method="POST")
    proc = await spawn(
        "promote",
        *promote_args(request),
        env={"SEVALLA_API_KEY": fake.api_key, "SEVALLA_BASE_URL": fake.base_url},
    )
    await wait_until(lambda: fake.in_flight == 1)

    proc.send_signal(signal.SIGINT)
    run = await finish(proc)

    assert run.code == 130
    assert f"the promotion of pipeline {request.pipeline_id} was sent at " in run.err
    assert "it may have been made" in run.err
    # piped: the record of what may have happened is on stdout too, as data (with the
    # command that decides it: tests/test_cli_reconcile.py runs it)
    (line,) = run.lines()
    assert line["reconcile"].startswith("sevalla-async reconcile ")
    assert line["reconcile"] in run.err
    assert line == {
        "pipeline_id": str(request.pipeline_id),
        "source_app_id": str(request.source_app_id),
        "target_app_ids": [str(t) for t in request.target_app_ids],
        "state": "unknown",
        "sent_at": line["sent_at"],
        "reconcile": line["reconcile"],
    }


# --- fake-server, demo, misc ---------------------------------------------------------------


async def _first_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), GUARD)
    return line.decode()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_fake_server_serves_until_stopped(stop: signal.Signals, tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    proc = await spawn(
        "fake-server", "--output", "json", "--pipelines", "2", "--plan-file", str(plan_path), env={}
    )
    info = json.loads(await _first_line(proc))

    async with SevallaClient(info["api_key"], base_url=info["base_url"]) as client:
        listed = [p async for p in client.pipelines.list()]
        seeded = info["pipelines"][0]
        promotions = await client.pipelines.promote(
            seeded["id"],
            source_app_id=seeded["stages"][0]["app_ids"][0],
            target_app_ids=seeded["stages"][1]["app_ids"],
        )
    runs = await finish(
        await spawn(
            "promote-many",
            str(plan_path),
            env={"SEVALLA_API_KEY": info["api_key"], "SEVALLA_BASE_URL": info["base_url"]},
        )
    )
    proc.send_signal(stop)
    run = await finish(proc)

    assert info["base_url"].startswith("http://127.0.0.1:")
    assert [str(p.id) for p in listed] == [p["id"] for p in info["pipelines"]]
    assert [p.display_name for p in listed] == ["web", "api"]
    assert [str(p.target_app_id) for p in promotions] == seeded["stages"][1]["app_ids"]
    assert runs.code == 0, runs.err
    assert len(runs.lines()) == 2
    assert run.code == 0
    assert run.err == ""


async def test_fake_server_prints_commands_to_copy() -> None:
    proc = await spawn("fake-server", "--key", "fake-dev-key", "--pipelines", "1", env={})
    assert proc.stdout is not None
    text = ""
    while "deployments list" not in text:
        text += await _first_line(proc)
    url = text.split("export SEVALLA_BASE_URL=")[1].split()[0]
    async with SevallaClient("fake-dev-key", base_url=url) as client:
        listed = [p async for p in client.pipelines.list()]
    proc.send_signal(signal.SIGINT)
    run = await finish(proc)

    assert run.code == 0
    assert "export SEVALLA_API_KEY=fake-dev-key" in text
    command = next(line for line in text.splitlines() if "sevalla-async promote " in line)
    args = command.split("sevalla-async ")[1].split()
    assert args[0] == "promote"
    assert args[2] == "--source"
    assert args.count("--target") == 2
    assert args[1] == str(listed[0].id)


async def test_demo_runs_a_fanout_then_waits_with_scripted_failures() -> None:
    run, lines = await asyncio.gather(
        finish(
            await spawn(
                "demo",
                "--output",
                "table",
                "--pipelines",
                "5",
                "--targets",
                "2",
                "--delay",
                "0",
                env={},
            )
        ),
        # piped without --output: JSON lines on stdout like every command, the story on stderr
        finish(await spawn("demo", "--pipelines", "4", "--delay", "0", env={})),
    )

    assert run.code == 0, run.err
    assert "Embedded fake Sevalla API at http://127.0.0.1:" in run.out
    assert "Done: 4 ok, 1 failed (entry 2); 8 deployments started" in run.out
    assert "InternalServerError 503: Scripted outage (demo)" in run.out
    assert "retry 1 of 3" in run.err  # the scripted 429 was retried
    # The wait phase: every deployment's statuses, one of them scripted to fail.
    assert "Waiting for the 8 deployments" in run.out
    scripted = next(line for line in run.out.splitlines() if "ends failed" in line)
    doomed = scripted.split("deployment on app ")[1].split()[0]
    rows = [line for line in run.out.splitlines() if " > " in line]
    assert len(rows) == 8
    (failed_row,) = [row for row in rows if doomed in row]
    assert failed_row.startswith("0 ")  # entry 0
    assert failed_row.endswith("waiting > inProgress > failed")
    assert all(row.endswith("waiting > inProgress > success") for row in rows if row != failed_row)
    assert "Waited: 8 deployments: 7 success, 1 failed; 24 polls." in run.out
    assert f"Not deployed: app {doomed}, deployment " in run.out

    assert lines.code == 0, lines.err
    assert "ENTRY" not in lines.out  # no table header when piped
    outcomes = {line["index"]: line for line in lines.lines() if "index" in line}
    assert sorted(outcomes) == [0, 1, 2, 3]
    assert [outcomes[i]["ok"] for i in range(4)] == [True, True, False, True]
    assert "Done: 3 ok, 1 failed" in lines.err
    waited = [line for line in lines.lines() if "statuses" in line]
    assert len(waited) == 6  # 4 pipelines x 2 targets, less the entry that got the 503
    assert [w["statuses"] for w in waited if w["status"] != "success"] == [
        ["waiting", "inProgress", "failed"]
    ]
    assert "Waited: 6 deployments: 5 success, 1 failed" in lines.err
    # The release: the canary wave fails, its failed target is rolled back, wave 1 never sent.
    for output in (run.out, lines.err):
        assert "Release stopped at wave 0: 1 target rolled back" in output
        assert "wave 1 was never sent (4 of its 4 targets untouched)" in output
    assert "wave 0: failed (1/2 deployments succeeded); 1/1 failed target rolled back" in run.out
    canary = run.out.split("the canary's deployment on app ")[1].split()[0]
    trail = [
        line.split(None, 2)[2]
        for line in run.out.splitlines()
        if line.startswith("0 ") and canary in line and " > " not in line
    ]
    assert trail == [
        "waiting",
        "inProgress",
        "failed",
        "rollback waiting",
        "rollback inProgress",
        "rollback success",
    ]
    # The canary's error lines are shown under its failed row (text) / in its "logs" (JSON).
    failed_at = run.out.splitlines().index(
        next(
            t
            for t in run.out.splitlines()
            if t.startswith("0 ") and canary in t and t.endswith("  failed")
        )
    )
    assert "Build failed: npm ERR! missing script: build" in run.out.splitlines()[failed_at + 1]
    events = [e for e in lines.lines() if "event" in e]
    pins = [i for i, e in enumerate(events) if e["event"] == "pins"]
    assert len(pins) == 2  # each release shows the builds it pinned before its first row
    first, second = events[pins[0] : pins[1]], events[pins[1] :]
    assert len(first[0]["builds"]) == 3  # 3 pipelines, 3 sources
    assert [(e["wave"], e["status"]) for e in first if e["event"] == "wave"] == [
        (0, "started"),
        (0, "failed"),
    ]
    failed = [e for e in first if e["event"] == "target" and e["status"] == "failed"]
    assert [entry["severity"] for entry in failed[0]["logs"]] == ["ERROR", "ERROR"]
    rolled = [e for e in first if e["event"] == "target" and e["rollback"]]
    assert rolled[-1]["status"] == "success"
    assert first[-1]["rolled_back"] == [rolled[-1]["app_id"]]
    # The pinned release: the canary passes, staging moves, wave 1 is never sent.
    assert [(e["wave"], e["status"]) for e in second if e["event"] == "wave"] == [
        (0, "started"),
        (0, "passed"),
    ]
    assert [e["status"] for e in second if e["event"] == "target"][-1] == "success"
    for output in (run.out, lines.err):
        assert "Release stopped: the source app " in output
        assert "before wave 1: that wave was not sent" in output
        assert "2 of its 2 targets untouched" in output
    assert " (pinned)" in run.out


async def test_version_and_missing_command() -> None:
    version, bare = await asyncio.gather(
        finish(await spawn("--version", env={})), finish(await spawn(env={}))
    )
    assert (version.code, version.out.strip()) == (0, f"sevalla-async {__version__}")
    assert bare.code == 2
    assert "required: COMMAND" in bare.err
