"""What a deployment runs: :class:`Build`, and how a text names one (pure)."""

from __future__ import annotations

import re

import attrs

from ._logsafe import printable

__all__ = ["Build", "check_build_text", "image_tag"]

SHORT_SHA = 7
"""Characters of a commit sha shown, and the shortest prefix accepted as naming one."""

_HEX = re.compile(r"[0-9a-fA-F]{7,64}", re.ASCII)
# What tells an image reference from a sha: a registry path, a tag or a digest.
_IMAGE_MARKS = ("/", ":", "@", ".")


def image_tag(url: str) -> str:
    """The tag of an image URL: the part after its last ``:`` (unless that ``:`` belongs to
    a registry's port, i.e. a ``/`` follows it); the whole URL when it has no tag."""
    head, colon, tag = url.rpartition(":")
    if not colon or not head or not tag or "/" in tag:
        return url
    return tag


def check_build_text(text: str) -> tuple[str, str]:
    """How ``text`` names a build: ``("sha", lower-case hex)`` for a full or at least
    7-character commit sha (prefix), ``("image", text)`` for an image URL. Anything else
    (shorter, not hex and not an image reference, not a string) is a ``ValueError`` naming
    ``expect_build``."""
    if not isinstance(text, str):
        raise ValueError(f"expect_build: expected a Build or a string, got {type(text).__name__}")
    value = text.strip()
    if _HEX.fullmatch(value):
        return "sha", value.lower()
    if value and value == text and any(mark in value for mark in _IMAGE_MARKS):
        return "image", value
    raise ValueError(
        f"expect_build: {text[:80]!r} is neither a commit sha (at least {SHORT_SHA} hex "
        "characters, at most 64) nor an image URL"
    )


@attrs.frozen(slots=True)
class Build:
    """What a deployment runs: the commit it was built from and its image
    (:attr:`Deployment.build`, :meth:`Deployments.current_build`).

    Two builds are the same when both fields are equal. ``str(build)`` is the short sha (7
    characters), else the image's tag (``registry/app:v42`` gives ``v42``), else the image
    URL (``"unknown"`` when the API gave neither), its control and bidi characters
    escaped (the fields keep the server's text).
    """

    commit_sha: str | None = None
    docker_image_url: str | None = None

    def __str__(self) -> str:
        if self.commit_sha:
            return printable(self.commit_sha[:SHORT_SHA])
        if self.docker_image_url:
            return printable(image_tag(self.docker_image_url))
        return "unknown"

    @property
    def known(self) -> bool:
        """The API gave a commit or an image (a build with neither names nothing)."""
        return self.commit_sha is not None or self.docker_image_url is not None

    @property
    def short_sha(self) -> str | None:
        """The first 7 characters of the commit sha (``None`` without one)."""
        return self.commit_sha[:SHORT_SHA] if self.commit_sha else None

    @property
    def image_tag(self) -> str | None:
        """The image's tag (the part after the last ``:``; the URL when it has none;
        ``None`` without an image)."""
        return image_tag(self.docker_image_url) if self.docker_image_url else None

    def matches(self, text: str) -> bool:
        """True when ``text`` names this build: the full commit sha or a prefix of at least
        7 characters (hex, any case), or the exact image URL.

        ``ValueError`` (naming ``expect_build``, where the text comes from) when ``text``
        can name no build at all: a sha shorter than 7 characters, or a string that is
        neither hex nor an image reference (one with a ``/``, ``:``, ``@`` or ``.``).
        """
        kind, value = check_build_text(text)
        if kind == "image":
            return value == self.docker_image_url
        sha = self.commit_sha
        return sha is not None and sha.lower().startswith(value)
