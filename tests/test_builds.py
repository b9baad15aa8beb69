"""Builds: ``Build`` (equality, ``str``, ``matches``), ``Deployment.build``,
``client.deployments.current_build`` and the fake's ``current_build`` / ``deploy``."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sevalla_async import Build, Deployment, NotFoundError, SevallaClient
from sevalla_async.testing import FakeSevalla

SHA = "A1B2C3D4E5F60718293a4b5c6d7e8f9012345678"
IMAGE = "registry.example/app/web:v42"


# --- Build --------------------------------------------------------------------------------


def test_two_builds_are_the_same_when_both_fields_are() -> None:
    assert Build(SHA, IMAGE) == Build(SHA, IMAGE)
    assert Build(SHA, IMAGE) != Build(SHA, IMAGE + "x")
    assert Build(SHA, IMAGE) != Build(None, IMAGE)
    assert len({Build(SHA, IMAGE), Build(SHA, IMAGE)}) == 1


@pytest.mark.parametrize(
    ("build", "text"),
    [
        (Build(SHA, IMAGE), "A1B2C3D"),
        (Build(None, IMAGE), "v42"),
        (Build(None, "registry.example:5000/app"), "registry.example:5000/app"),
        (Build(None, "web"), "web"),
        (Build(None, None), "unknown"),
    ],
    ids=["sha", "image-tag", "registry-port-no-tag", "no-tag", "nothing"],
)
def test_str_is_the_short_sha_else_the_image_tag(build: Build, text: str) -> None:
    assert str(build) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SHA, True),
        (SHA.lower(), True),
        ("a1b2c3d", True),
        ("A1B2C3D4E5", True),
        ("a1b2c3e", False),
        (SHA + "0", False),
        (IMAGE, True),
        ("registry.example/app/web:v43", False),
    ],
)
def test_matches_a_sha_prefix_of_7_or_the_image_url(text: str, expected: bool) -> None:
    assert Build(SHA, IMAGE).matches(text) is expected


def test_a_build_without_sha_matches_no_sha() -> None:
    assert not Build(None, IMAGE).matches("a1b2c3d")


@pytest.mark.parametrize("text", ["a1b2c3", "", "   ", "main", "zzzzzzzz", " a1b2c3d4 x"])
def test_matches_refuses_what_names_no_build_naming_expect_build(text: str) -> None:
    with pytest.raises(ValueError, match=r"^expect_build: "):
        Build(SHA, IMAGE).matches(text)


def test_deployment_build_is_its_sha_and_image(fake: FakeSevalla) -> None:
    app = fake.add_app()
    shown = fake.state.deployments[fake.state.app_deployments[app][0]].to_json()
    from sevalla_async._convert import converter

    deployment = converter.structure(shown, Deployment)
    assert deployment.build == Build(shown["commit_sha"], shown["docker_image_url"])


# --- current_build ------------------------------------------------------------------------


async def test_current_build_reads_past_failures(fake: FakeSevalla, client: SevallaClient) -> None:
    app = fake.add_app()
    good = fake.current_build(app)
    for _ in range(30):  # more than the first page of 10
        fake.add_deployment(app, script=["failed"])
    fake.add_deployment(app, script=["inProgress"])

    build = await client.deployments.current_build(str(app))

    assert build is not None
    assert build == good
    sizes = [r.query["limit"] for r in fake.requests_to("GET", "/deployments")]
    assert sizes == ["10", "100"]
    assert {r.method for r in fake.requests} == {"GET"}


async def test_current_build_reads_one_small_page_when_the_latest_succeeded(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app = fake.add_app()
    assert await client.deployments.current_build(app) == fake.current_build(app)
    assert [r.query["limit"] for r in fake.requests] == ["10"]


async def test_current_build_is_none_for_an_app_that_never_succeeded(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app = fake.add_app(deployed=False)
    fake.add_deployment(app, script=["failed"])
    assert await client.deployments.current_build(app) is None
    assert fake.current_build(app) is None


async def test_current_build_stops_at_the_page_cap(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app = fake.add_app()
    for _ in range(1100):
        fake.add_deployment(app, script=["failed"])
    assert await client.deployments.current_build(app) is None
    offsets = [int(r.query["offset"]) for r in fake.requests]
    assert len(offsets) == 11  # 10, then ten pages of 100: 1,010 deployments read
    assert max(offsets) < 1000


async def test_current_build_checks_the_id_before_sending(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    with pytest.raises(ValueError, match=r"^app_id: "):
        await client.deployments.current_build("nope")
    assert fake.requests == []
    with pytest.raises(NotFoundError):
        await client.deployments.current_build(uuid.uuid4())


# --- the fake: deploy lands a new build ---------------------------------------------------


async def test_deploy_lands_a_new_build_with_a_new_sha_each_time(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app = fake.add_app()
    seen = {fake.current_build(app)}
    for _ in range(5):
        made = fake.deploy(app)
        await client.deployments.wait(app, made.id, poll_interval=1)
        build = await client.deployments.current_build(app)
        assert build == fake.current_build(app)
        assert build not in seen
        seen.add(build)
    shas = {b.commit_sha for b in seen if b is not None}
    assert len(shas) == 6
    assert all(len(s) == 40 for s in shas)


async def test_deploy_while_a_promotion_is_waited_for(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    pipeline = fake.add_pipeline()
    source, target = pipeline.stages[0].app_ids[0], pipeline.stages[1].app_ids[0]
    before = fake.current_build(source)
    fake.script_deployments(["waiting", "inProgress", "success"], every=30)

    async def push_midway() -> None:
        while not any("/deployments/" in r.path for r in fake.requests):  # noqa: ASYNC110
            await asyncio.sleep(0)
        fake.deploy(source, script=["success"])

    pushed = asyncio.create_task(push_midway())
    [deployment] = await client.pipelines.promote_and_wait(
        pipeline.id, source_app_id=source, target_app_ids=[target]
    )
    await pushed

    assert deployment.succeeded
    assert deployment.build == before  # the promotion carried the build of its time
    assert fake.current_build(target) == before
    now = fake.current_build(source)
    assert now is not None
    assert now != before
    assert await client.deployments.current_build(source) == now
