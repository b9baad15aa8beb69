"""The builds a release pins: the build you verified, the one every wave deploys.

The API promotes whatever the source runs when each request arrives, and a staging app
deploys on every push: without a pin, the second wave of a release may deploy a build no
canary ever checked. :class:`Pins` reads each distinct source's current build before the
release's first wave and pins it; before each later wave it reads that wave's sources
again, and a source that moved stops the release before anything of that wave is sent
(:meth:`Pins.check` says why). Every request of the release carries its source's pin as
``expect_build``, so a build that moves between that check and a POST is refused before
sending, or reported after it (:class:`BuildChangedError`): never silently deployed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence

import attrs

from ._build import Build
from ._models import PromoteRequest

__all__ = ["Pins", "ReadBuild"]

ReadBuild = Callable[[uuid.UUID], Awaitable["Build | None"]]
"""The current build of an app (``None``: it never succeeded)."""


class Pins:
    """The builds of one release (see the module docstring).

    ``pinned``: builds an earlier run pinned (a resumed release keeps them; a source of
    the release that is not in it is pinned as the release starts). ``on_pin`` is called
    with every build pinned, once, as it is pinned (to journal it).
    """

    def __init__(
        self,
        read: ReadBuild,
        *,
        pinned: Mapping[uuid.UUID, Build] | None = None,
        on_pin: Callable[[uuid.UUID, Build], object] | None = None,
    ) -> None:
        builds: dict[uuid.UUID, Build] = {}
        for source, build in (pinned or {}).items():
            if not isinstance(source, uuid.UUID) or not isinstance(build, Build):
                raise ValueError("builds: expected a mapping of source app ids to Build objects")
            builds[source] = build
        if on_pin is not None and not callable(on_pin):
            raise ValueError("on_pin: expected a callable taking (source app id, Build)")
        self._read = read
        self._on_pin = on_pin
        self.builds = builds
        self._started = False

    async def check(self, waves: Sequence[Sequence[PromoteRequest]], wave: int) -> str | None:
        """Before wave ``wave`` of ``waves``: pin every source not pinned yet (the first
        time: every source of the release), read again the sources pinned earlier that
        this wave promotes from; why the release must stop (a source moved), else
        ``None``."""
        first = not self._started
        self._started = True
        checked = waves[wave:] if first else waves[wave : wave + 1]
        for source in dict.fromkeys(r.source_app_id for w in checked for r in w):  # once each
            build = await self._read(source)
            pinned = self.builds.get(source)
            if pinned is None:
                if build is not None and build.known:
                    self.builds[source] = build
                    if self._on_pin is not None:
                        self._on_pin(source, build)
                continue
            if build != pinned:
                now = "no successful build" if build is None else f"build {build}"
                return (
                    f"the source app {source} moved from build {pinned} to {now} before "
                    f"wave {wave}: that wave was not sent (the release deploys only the "
                    "pinned build)"
                )
        return None

    def apply(self, request: PromoteRequest) -> PromoteRequest:
        """``request`` expecting its source's pinned build (unless it names its own)."""
        pinned = self.builds.get(request.source_app_id)
        if pinned is None or request.expect_build is not None:
            return request
        return attrs.evolve(request, expect_build=pinned)
