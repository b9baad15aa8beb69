"""The builds a ``release`` pins (``releases.run(pin_build=True)``), as the CLI shows and
journals them: a ``source S: build B (pinned)`` line per source (JSON: one ``{"event":
"pins", "builds": {...}}`` line) at the head of the output, a ``pin`` event in the journal
as each is pinned, and, to resume, the pins the journal holds (unless ``--repin``)."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from .. import Build
from ._console import UsageError
from ._journal import JournalError, load_pins

__all__ = ["PinsHeader", "build_json", "resumed_pins"]


def build_json(build: Build) -> dict[str, Any]:
    """A build as data: ``commit_sha`` and ``docker_image_url`` (``null`` when unknown)."""
    return {"commit_sha": build.commit_sha, "docker_image_url": build.docker_image_url}


def resumed_pins(args: argparse.Namespace) -> dict[uuid.UUID, Build]:
    """The pins a resumed release keeps: those its journal holds (none for a journal of
    an earlier version, or with ``--repin``); :class:`UsageError` for ``--repin`` without
    ``--resume`` or a journal whose pins cannot be read."""
    if args.repin and args.resume is None:
        raise UsageError("--repin: only with --resume (a new release always pins afresh)")
    if args.resume is None or args.repin:
        return {}
    try:
        return load_pins(args.resume)
    except JournalError as exc:
        raise UsageError(f"--resume: {exc}") from None


class PinsHeader:
    """The pinned builds, shown once before the release's first row: ``pinned`` (from the
    journal) and those :meth:`pin` adds as the release pins them. ``show(data, text)``
    prints the JSON line or the text lines."""

    def __init__(
        self,
        show: Callable[[dict[str, Any], str], None],
        pinned: Mapping[uuid.UUID, Build] | None = None,
    ) -> None:
        self._show = show
        self.builds: dict[uuid.UUID, Build] = dict(pinned or {})
        self._earlier = set(self.builds)
        self._shown = False

    def pin(self, source: uuid.UUID, build: Build) -> None:
        self.builds[source] = build

    def flush(self) -> None:
        """Show the pins (once; nothing when there are none)."""
        if self._shown or not self.builds:
            return
        self._shown = True
        lines = [
            f"source {source}: build {build} (pinned"
            + (", from the journal)" if source in self._earlier else ")")
            for source, build in self.builds.items()
        ]
        data = {
            "event": "pins",
            "builds": {str(s): build_json(b) for s, b in self.builds.items()},
        }
        self._show(data, "\n".join(lines))
