"""What the apps run now, and the check a promote makes before sending.

The API promotes "the latest successful build of the source" at the moment the request
arrives. A caller that verified a build (``expect_build``) or wants to promote only the
targets that are behind (``skip_current``) needs to know, before sending, which build that
is: :func:`prepare` reads the source's latest successful deployment (and, to skip, each
target's), refuses a source that moved (:class:`BuildChangedError`, nothing sent), and
narrows the request to the targets that do not run that build yet. Reads only (GETs).
After sending, :func:`off_build` finds the deployments the promotion started that carry
another build (the source moved between this check and the POST).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from .. import _protocol
from .._build import Build
from .._models import Deployment, PromoteRequest, Promotion
from .._replies import DeploymentPage
from .._result_errors import BuildChangedError
from ._paging import iterate_pages

if TYPE_CHECKING:
    from .._core import Core

__all__ = [
    "CURRENT_BUILD_SCAN",
    "Prepared",
    "current_deployment",
    "latest_success",
    "off_build",
    "prepare",
    "same_build",
]

CURRENT_BUILD_SCAN = 1000
"""Deployments :func:`current_deployment` reads at most (newest first)."""
_FIRST_PAGE = 10  # the latest success is usually among the last few: a small first page


async def latest_success(
    deployments: AsyncIterator[Deployment], *, under_way: bool = False
) -> Deployment | None:
    """The first deployment that succeeded among the first :data:`CURRENT_BUILD_SCAN` of
    ``deployments`` (an app's history, newest first), or ``None``. With ``under_way``, a
    deployment not finished yet counts too: the one the app is bound to run."""
    seen = 0
    async for deployment in deployments:
        if deployment.succeeded or (under_way and not deployment.is_finished):
            return deployment
        seen += 1
        if seen >= CURRENT_BUILD_SCAN:
            break
    return None


async def current_deployment(
    core: Core, app: uuid.UUID, *, under_way: bool = False
) -> Deployment | None:
    """The app's latest successful deployment (what it runs, and what a promotion from it
    deploys), or ``None``: read newest first, a first page of 10, then pages of 100. With
    ``under_way``, a newer deployment still running wins (what the app will run)."""

    async def fetch(limit: int, offset: int) -> tuple[list[Deployment], int]:
        size = min(limit, _FIRST_PAGE) if offset == 0 else limit
        page: DeploymentPage = await core.request(
            _protocol.list_deployments_request(app, limit=size, offset=offset), DeploymentPage
        )
        return page.data, page.total

    pages = iterate_pages(fetch, page_size=100, key=lambda d: d.id)
    return await latest_success(pages, under_way=under_way)


def same_build(expected: Build | str, actual: Build | None) -> bool:
    """``actual`` is the ``expected`` build (a :class:`Build`, or a sha / image URL)."""
    if actual is None or not actual.known:
        return False
    return actual == expected if isinstance(expected, Build) else actual.matches(expected)


@attrs.frozen
class Prepared:
    """What to send after the check: ``request`` (``None`` when every target already runs
    the build), the targets ``current`` already (their promotion: the deployment that put
    the build there), and the source's ``build`` that was checked."""

    request: PromoteRequest | None
    current: dict[uuid.UUID, Promotion]
    build: Build | None


async def prepare(core: Core, request: PromoteRequest, *, skip_current: bool) -> Prepared:
    """The check before sending (see the module docstring); ``BuildChangedError`` when the
    source does not run ``request.expect_build``."""
    source = await current_deployment(core, request.source_app_id)
    build = None if source is None else source.build
    expected = request.expect_build
    if expected is not None and not same_build(expected, build):
        raise BuildChangedError(
            f"the source app {request.source_app_id} runs "
            f"{build if build is not None else 'no successful build'}, not the expected "
            f"{expected}: nothing was sent",
            expected=expected,
            actual=build,
        )
    current: dict[uuid.UUID, Promotion] = {}
    if skip_current and build is not None and build.known:
        for target in request.target_app_ids:  # one at a time: reads share the budget
            # A deployment under way decides: of this build (an earlier promotion still
            # rolling out), the target is current and it is waited for, not sent twice;
            # of another build, the target will not run this one, so it is sent.
            running = await current_deployment(core, target, under_way=True)
            if running is not None and running.build == build:
                current[target] = Promotion(target, running.id, already_current=True)
    rest = [t for t in request.target_app_ids if t not in current]
    if not rest:
        return Prepared(None, current, build)
    if current:
        request = attrs.evolve(request, target_app_ids=rest)
    return Prepared(request, current, build)


def in_order(request: PromoteRequest, *parts: Iterable[Promotion]) -> list[Promotion]:
    """The promotions of ``parts`` in the target order of ``request`` (a later part wins)."""
    by_target = {p.target_app_id: p for part in parts for p in part}
    return [by_target[t] for t in request.target_app_ids if t in by_target]


def off_build(
    build: Build | None, promotions: Sequence[Promotion], deployments: Sequence[Deployment]
) -> list[Deployment]:
    """The deployments the promotion *started* (not those of ``already_current`` targets)
    that carry another build than ``build``, the one checked before sending."""
    if build is None or not build.known:
        return []
    started = {p.deployment_id for p in promotions if not p.already_current}
    return [d for d in deployments if d.id in started and d.build.known and d.build != build]
