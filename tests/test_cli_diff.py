"""``sevalla-async diff PIPELINE``: stages in order, the apps named for them, each app's
current build, and which apps are behind the stage before."""

from __future__ import annotations

from typing import Any

import pytest

from sevalla_async.testing import FakePipeline, FakeSevalla

from .test_cli import Cli, make_cli

pytestmark = pytest.mark.sevalla_loopback


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def landed(fake: FakeSevalla, app: Any, *, build_of: Any = None) -> None:
    """A successful deployment on ``app`` (of ``build_of``'s build, else a new one)."""
    fake.deploy(app, build_of=build_of, script=["success"])


def pipeline_of(fake: FakeSevalla) -> FakePipeline:
    """Dev (d0, d1), Staging (s0, s1), Production (p0, p1): s0 runs d0's build, p0 runs
    s0's, p1 never succeeded; s1 and p1 are behind."""
    pipeline = fake.add_pipeline(stages=("Dev", "Staging", "Production"), apps_per_stage=2)
    (d0, _), (s0, _), (p0, p1) = (s.app_ids for s in pipeline.stages)
    landed(fake, s0, build_of=d0)
    landed(fake, p0, build_of=s0)
    fake.add_deployment(p0, script=["failed"])  # a later failure does not change its build
    fake.state.app_deployments[p1].clear()
    fake.add_deployment(p1, script=["failed"])
    return pipeline


def app_args(pipeline: FakePipeline) -> list[str]:
    """Every app named by a different kind of stage reference: name, any case, order, id."""
    (d0, d1), (s0, s1), (p0, p1) = (s.app_ids for s in pipeline.stages)
    prod = pipeline.stages[2].id
    pairs = [f"Dev={d0}", f"dev={d1}", f"STAGING={s0}", f"1={s1}", f"{prod}={p0}", f"{prod}={p1}"]
    return [arg for pair in pairs for arg in ("--app", pair)]


async def test_diff_shows_each_stage_its_builds_and_what_is_behind(
    fake: FakeSevalla, cli: Cli
) -> None:
    pipeline = pipeline_of(fake)
    (d0, d1), (s0, s1), (p0, p1) = (s.app_ids for s in pipeline.stages)

    run = await cli("diff", str(pipeline.id), *app_args(pipeline), "--output", "json")

    assert run.code == 0, run.err
    [document] = run.lines()
    assert document["pipeline_id"] == str(pipeline.id)
    assert [s["name"] for s in document["stages"]] == ["Dev", "Staging", "Production"]
    apps = {a["app_id"]: a for s in document["stages"] for a in s["apps"]}
    assert list(apps) == [str(a) for a in (d0, d1, s0, s1, p0, p1)]
    d0_build = fake.current_build(d0)
    assert d0_build is not None
    assert apps[str(s0)]["build"] == {
        "commit_sha": d0_build.commit_sha,
        "short_sha": d0_build.commit_sha[:7] if d0_build.commit_sha else None,
        "docker_image_url": d0_build.docker_image_url,
        "image_tag": d0_build.image_tag,
    }
    assert {k: apps[str(k)]["behind"] for k in (d0, d1, s0, s1, p0, p1)} == {
        d0: None,  # the first stage has nothing before it
        d1: None,
        s0: False,
        s1: True,
        p0: False,
        p1: True,  # never succeeded
    }
    assert apps[str(s1)]["reference_app_id"] == str(d0)  # the first Dev app with a build
    assert apps[str(p0)]["reference_app_id"] == str(s0)
    assert apps[str(p1)]["build"] is None
    assert apps[str(p0)]["age_seconds"] >= 0
    assert apps[str(p0)]["deployed_at"].endswith("Z")
    assert {r.method for r in fake.requests} == {"GET"}


async def test_the_table_says_behind_and_up_to_date(fake: FakeSevalla, cli: Cli) -> None:
    pipeline = pipeline_of(fake)
    s0 = pipeline.stages[1].app_ids[0]
    short = str(fake.current_build(s0))

    run = await cli("diff", str(pipeline.id), *app_args(pipeline), "--output", "table")

    assert run.code == 0, run.err
    rows = run.out.splitlines()
    assert rows[1].split() == ["STAGE", "APP", "BUILD", "IMAGE", "TAG", "AGE"]
    staging = [r for r in rows if r.startswith("Staging")]
    assert short in staging[0]
    assert staging[0].endswith("up to date")
    assert staging[1].endswith("behind")
    assert rows[-1].endswith("no successful deployment")


async def test_without_apps_the_stages_are_listed_and_the_reason_told(
    fake: FakeSevalla, cli: Cli
) -> None:
    pipeline = fake.add_pipeline(stages=("Dev", "Production"))

    run = await cli("diff", str(pipeline.id), "--output", "json")

    assert run.code == 0
    [document] = run.lines()
    assert [(s["name"], s["apps"]) for s in document["stages"]] == [
        ("Dev", []),
        ("Production", []),
    ]
    assert "--app STAGE=APP" in run.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app", "QA={app}"], "'QA' is not a stage of the pipeline (Staging, Production)"),
        (["--app", "Staging"], "expected STAGE=APP"),
        (["--app", "Staging=nope"], "APP: 'nope' is not a valid UUID"),
    ],
)
async def test_bad_apps_are_usage_errors(
    fake: FakeSevalla, cli: Cli, args: list[str], message: str
) -> None:
    pipeline = fake.add_pipeline()
    app = pipeline.stages[0].app_ids[0]

    run = await cli("diff", str(pipeline.id), *[a.format(app=app) for a in args])

    assert run.code == 2
    assert message in run.err
    assert fake.requests_to("GET", "/deployments") == []


async def test_a_bad_pipeline_id_is_refused_before_sending(fake: FakeSevalla, cli: Cli) -> None:
    run = await cli("diff", "not-a-pipeline")
    assert run.code == 2
    assert "PIPELINE: " in run.err
    assert fake.requests == []


async def test_an_unknown_pipeline_is_an_api_error(fake: FakeSevalla, cli: Cli) -> None:
    run = await cli("diff", "0b5e5168-4281-4bec-94c5-0d1584e9e657")
    assert run.code == 1
    assert "error:" in run.err
