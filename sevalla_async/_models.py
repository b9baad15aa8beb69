"""The API's data, as frozen attrs classes.

Requests validate on construction (a ``ValueError`` naming the field); replies are built by
the package's cattrs converter (:mod:`sevalla_async._convert`) and ignore fields they do not
know yet.
"""

from __future__ import annotations

import enum
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

import attrs

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover - Python 3.10
    from typing_extensions import NotRequired

from ._build import Build, check_build_text
from ._ids import IdCollection, TargetAppIds, to_uuid, to_uuid_list

__all__ = [
    "Build",
    "Deployment",
    "DeploymentStatus",
    "LogEntry",
    "Pipeline",
    "PipelineStage",
    "PromoteRequest",
    "PromoteRequestDict",
    "Promotion",
    "TargetVerdict",
]


@attrs.frozen(slots=True)
class Promotion:
    """One target of a promotion: the app that received it and its new deployment.

    ``already_current`` (``skip_current=True``): the target already ran the source's
    build, so nothing was sent for it; ``deployment_id`` is then the deployment that put
    that build there (already finished: waiting on it returns at once).
    """

    target_app_id: uuid.UUID
    deployment_id: uuid.UUID
    already_current: bool = False


# The converters' parameter types are the public constructor's: type checkers (mypy's attrs
# plugin, pyright's dataclass_transform) read them, so ``PromoteRequest(123, ...)`` is a type
# error. At run time anything is still checked and refused with a ValueError naming the field.
def _pipeline_id(value: str | uuid.UUID) -> uuid.UUID:
    return to_uuid(value, "pipeline_id")


def _source_app_id(value: str | uuid.UUID) -> uuid.UUID:
    return to_uuid(value, "source_app_id")


def _target_app_ids(value: TargetAppIds) -> tuple[uuid.UUID, ...]:
    return to_uuid_list(value, "target_app_ids")


def _targets_repr(ids: Sequence[uuid.UUID]) -> str:
    return "[" + ", ".join(f"'{u}'" for u in ids) + "]"


class PromoteRequestDict(TypedDict):
    """A plan entry as a mapping: the typed form of the dicts that
    :meth:`Pipelines.promote_many`, :meth:`Pipelines.promote_iter` and
    :meth:`PromoteRequest.from_dict` accept (the keys of the API's promote body)."""

    pipeline_id: str | uuid.UUID
    source_app_id: str | uuid.UUID
    target_app_ids: IdCollection[str | uuid.UUID]
    expect_build: NotRequired[str | None]


def _expect_build(value: Build | str | None) -> Build | str | None:
    if value is None or isinstance(value, Build):
        return value
    if isinstance(value, str):
        check_build_text(value)  # ValueError naming expect_build
        return value
    raise ValueError(
        f"expect_build: expected a Build, a commit sha or an image URL, got {type(value).__name__}"
    )


@attrs.frozen(slots=True)
class PromoteRequest:
    """What to promote: the latest successful build of ``source_app_id`` in pipeline
    ``pipeline_id`` to every app of ``target_app_ids``.

    Ids may be given as :class:`uuid.UUID` or canonical strings (the constructor's types
    say so; the fields are always :class:`uuid.UUID`, ``target_app_ids`` a tuple); they are
    checked against the API's UUID pattern at construction. ``target_app_ids`` needs at
    least one id, without duplicates and without the source app. Any violation raises
    ``ValueError`` naming the
    field (``target_app_ids[2]: 'nope' is not a valid UUID ...``).

    ``expect_build`` (keyword, not sent to the API): the build the source must run when the
    request is sent (a :class:`Build`, a commit sha of at least 7 characters, or an image
    URL); otherwise :class:`BuildChangedError` and nothing is sent.
    """

    pipeline_id: uuid.UUID = attrs.field(converter=_pipeline_id)
    source_app_id: uuid.UUID = attrs.field(converter=_source_app_id)
    target_app_ids: tuple[uuid.UUID, ...] = attrs.field(
        converter=_target_app_ids, repr=_targets_repr
    )
    expect_build: Build | str | None = attrs.field(
        default=None, kw_only=True, converter=_expect_build
    )

    def __attrs_post_init__(self) -> None:
        source = self.source_app_id.int  # int compares skip UUID.__eq__ (hot path)
        for index, target in enumerate(self.target_app_ids):
            if target.int == source:
                raise ValueError(
                    f"target_app_ids[{index}]: {self.source_app_id} is the source app; "
                    "an app cannot be promoted to itself"
                )

    @classmethod
    def from_dict(cls, data: PromoteRequestDict | Mapping[str, object]) -> PromoteRequest:
        """Build from a mapping with the API's keys (``pipeline_id``, ``source_app_id``,
        ``target_app_ids``; a :class:`PromoteRequestDict`) and optionally
        ``expect_build``, as found in a plan file. Errors name the missing key or the bad
        value."""
        if not isinstance(data, Mapping):
            raise ValueError(
                f"expected an object with pipeline_id, source_app_id and "
                f"target_app_ids, got {type(data).__name__}"
            )
        try:
            values: tuple[Any, Any, Any] = (
                data["pipeline_id"],
                data["source_app_id"],
                data["target_app_ids"],
            )
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]}: required field is missing") from None
        expected: Any = data.get("expect_build")
        if len(data) != 3 + ("expect_build" in data):
            unknown = sorted(set(data) - _PLAN_KEYS)
            raise ValueError(f"{unknown[0]}: unknown field")
        return cls(*values, expect_build=expected)


_PLAN_KEYS = frozenset({"pipeline_id", "source_app_id", "target_app_ids", "expect_build"})


class DeploymentStatus(str, enum.Enum):
    """Where a deployment is in its lifecycle: the spec's values, plus ``UNKNOWN``.

    ``UNKNOWN`` stands for a status this version of the SDK does not know yet (the API may
    add one): replies carrying it still decode, and it counts as not finished, so
    :meth:`Deployments.wait` keeps polling until a known terminal status or its deadline.
    """

    WAITING = "waiting"
    IN_PROGRESS = "inProgress"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> DeploymentStatus | None:
        # Only strings: DeploymentStatus(5) stays a ValueError.
        return cls.UNKNOWN if isinstance(value, str) else None

    @property
    def is_terminal(self) -> bool:
        """True when the deployment will not change any more (success, failed, cancelled,
        skipped)."""
        return self in _TERMINAL

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset(
    {
        DeploymentStatus.SUCCESS,
        DeploymentStatus.FAILED,
        DeploymentStatus.CANCELLED,
        DeploymentStatus.SKIPPED,
    }
)


@attrs.frozen(slots=True)
class Deployment:
    """A deployment of an application (``getDeploymentV3`` / ``listDeploymentsV3``).

    Every field of the spec's deployment object is here and required in replies; the
    nullable ones are ``None`` when the API sends ``null``. ``status`` is ``None`` while the
    API has not assigned one (such a deployment is not finished). Timestamps are
    timezone-aware :class:`datetime` objects.

    Fields the spec restricts to a set of values are plain strings, so that a value the API
    adds later never breaks decoding: ``type`` (``"manual"``, ``"automatic"``), ``git_type``
    (``"github"``, ``"bitbucket"``, ``"gitlab"``), ``steps`` (``"checkout"``, ``"build"``,
    ``"rollout"``, ``"syncConnections"``). ``trigger`` is free text such as
    ``"MANUAL_DEPLOY"`` or ``"ROLLBACK_DEPLOYMENT"``.

    Use :attr:`is_finished` and :attr:`succeeded` to tell where it ended.
    """

    id: uuid.UUID
    app_id: uuid.UUID | None
    status: DeploymentStatus | None
    type: str | None
    trigger: str | None
    steps: tuple[str, ...]
    docker_image_url: str | None
    git_type: str | None
    repo_url: str | None
    branch: str | None
    commit_sha: str | None
    commit_message: str | None
    author_login: str | None
    author_img: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_finished(self) -> bool:
        """True when the status is terminal (success, failed, cancelled or skipped)."""
        return self.status is not None and self.status.is_terminal

    @property
    def succeeded(self) -> bool:
        """True only when the deployment finished with ``success``; ``False`` while it
        runs and when it ended failed, cancelled or skipped."""
        return self.status is DeploymentStatus.SUCCESS

    @property
    def build(self) -> Build:
        """What it deploys: its ``commit_sha`` and ``docker_image_url`` as a :class:`Build`."""
        return Build(self.commit_sha, self.docker_image_url)


@attrs.frozen(slots=True)
class LogEntry:
    """One line of a deployment's build and rollout log (:meth:`Deployments.logs`).

    Log text is the server's and untrusted: every control character in it is written as
    an escape (``\\n``, ``\\x1b``), and ``message`` is cut at 4,096 characters (``id``,
    ``severity``, ``service``, tag and attribute keys at 256, their values at 1,024), the
    cut marked ``... [truncated, N characters]``. ``timestamp`` is an aware UTC datetime
    (from the API's ``unix_timestamp``); ``severity`` is the API's text (``INFO``,
    ``WARN``, ``ERROR``, ``DEBUG``...) and ``service`` the producing service
    (``APP_DEPLOYMENT``...). ``tags`` and ``attributes`` map names to text: a value that
    is not a string is given as its compact JSON. They are left out of ``hash()``.
    """

    id: str
    timestamp: datetime
    severity: str
    message: str
    service: str
    tags: Mapping[str, str] = attrs.field(hash=False)
    attributes: Mapping[str, str] = attrs.field(hash=False)


@attrs.frozen(slots=True)
class PipelineStage:
    """One stage of a pipeline.

    ``listPipelinesV3`` gives only ``id``, ``display_name``, ``type`` and ``order``; the
    other fields come with ``getPipelineV3`` and are ``None`` on stages from a list
    (``branch`` is ``None`` in both cases for a stage without a branch). ``type`` is a plain
    string (``"preview"``, ``"standard"`` or ``"prod"`` today); ``order`` is the position,
    from 0.
    """

    id: uuid.UUID
    display_name: str
    type: str
    order: int
    pipeline_id: uuid.UUID | None = None
    branch: str | None = None
    auto_create_app: bool | None = None
    delete_stale_apps: bool | None = None
    stale_app_days: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen(slots=True)
class Pipeline:
    """A pipeline and its stages, in the API's order (``listPipelinesV3`` /
    ``getPipelineV3``).

    ``company_id`` and ``project_id`` come only with :meth:`Pipelines.get` (``project_id``
    may be ``None`` there too); on pipelines from :meth:`Pipelines.list` they are ``None``.
    ``type`` is a plain string (``"trunk"`` or ``"branch"`` today).
    """

    id: uuid.UUID
    display_name: str
    type: str
    stages: tuple[PipelineStage, ...]
    created_at: datetime
    updated_at: datetime
    company_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None


@attrs.frozen(slots=True)
class TargetVerdict:
    """What the evidence says about one target of an ``unknown`` promotion.

    Attributes:
        target_app_id: the target app.
        promoted: ``True``: the promotion was made, ``deployment`` is the deployment it
            created; ``False``: the evidence shows it was not made (safe to promote again);
            ``None``: the evidence cannot decide yet.
        deployment: the deployment found (``promoted=True``), else ``None``.
        reason: why, in words (for logs and people).
    """

    target_app_id: uuid.UUID
    promoted: bool | None
    deployment: Deployment | None
    reason: str
