"""Refusing a fan-out entry that would promote a target again (pure): the rule the SDK's
fan-out applies to every entry, and the CLI's plan check to a whole plan before sending.

A promotion is not idempotent: two entries of one fan-out that promote the same target
from the same source in the same pipeline would deploy it twice. :class:`RepeatGuard`
tells, for each entry, which earlier entry already promotes one of its targets
(:class:`Repeat`), and :func:`repeat_error` is the error an entry so refused carries.
"""

from __future__ import annotations

import hashlib
import uuid

import attrs

from ._models import PromoteRequest

__all__ = ["Repeat", "RepeatGuard", "repeat_error"]


@attrs.frozen(slots=True)
class Repeat:
    """An entry of a fan-out that would promote ``target`` again: ``entry`` (its input
    position) already promotes it from the same source in the same pipeline."""

    entry: int
    target: uuid.UUID


class RepeatGuard:
    """Tells when a request of a fan-out promotes a target that an earlier one already
    promotes: same pipeline, same source, same target app (an exact repeat, its targets in
    any order, is the commonest case). A promotion is not idempotent: that target would be
    deployed twice.

    Memory stays bounded per target, whatever the requests: each (pipeline, source,
    target) promoted is remembered by a 16-byte BLAKE2b digest of the three ids (a chance
    collision, which would refuse a valid entry, is about 2**-128 per pair) mapped to its
    entry's input position: about 135 bytes a target in CPython (the dict slot, a 16-byte
    ``bytes`` key and the index), so 100,000 single-target entries hold about 13 MB, and
    nothing of the requests themselves. A refused entry's targets are not remembered (it
    is not sent).
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[bytes, int] = {}

    def earlier(self, request: PromoteRequest, index: int) -> Repeat | None:
        """Which earlier entry already promotes a target of ``request`` (``None`` when none
        does); when none does, remembers this one's targets."""
        prefix = hashlib.blake2b(
            request.pipeline_id.bytes + request.source_app_id.bytes, digest_size=16
        )
        digests = []
        for target in request.target_app_ids:
            one = prefix.copy()
            one.update(target.bytes)
            digest = one.digest()
            first = self._seen.get(digest)
            if first is not None:
                return Repeat(first, target)
            digests.append(digest)
        self._seen.update(dict.fromkeys(digests, index))
        return None


def repeat_error(repeat: Repeat) -> ValueError:
    """The error of an entry that would promote a target of entry ``repeat.entry`` again."""
    return ValueError(
        f"target_app_ids: {repeat.target} is already a target of entry {repeat.entry} (same "
        "pipeline and source): a promotion is not idempotent, so it would be deployed twice; "
        "remove it from one of them"
    )
