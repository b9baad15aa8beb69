"""Property tests of the pure evidence rules (sevalla_async._evidence) over generated
histories, clock skews, lying or missing ``Date`` headers, cached replies, cut-short and
shuffled lists:

- never ``False`` when a matching deployment (manual, not a rollback, restart or push, of
  the source's build at the send, created inside the true window) is in the target's
  history;
- never ``True`` for a deployment of another build or trigger.

The model: the client sends at ``SENT`` (its clock); the server's clock is ``skew`` seconds
ahead, so the send is at ``SENT + skew`` there. The source had a successful deployment
before the send (else the API promotes nothing). What the rules cannot be asked to see
through is left out: every ``Date`` lying with the client's clock wrong too, and a cache
that hides its ``Age`` with no honest ``Date`` beside it.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from sevalla_async._evidence import (
    NOT_PROMOTIONS,
    Build,
    Evidence,
    History,
    Reply,
    judge_target,
)
from sevalla_async._models import Deployment, DeploymentStatus

SENT = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
SETTLE, MARGIN = 120.0, 5.0
BUILDS = [Build(f"sha{i}", f"registry/app:{i}") for i in range(4)]
TRIGGERS = ["PROMOTION", "MANUAL_DEPLOY", *sorted(NOT_PROMOTIONS), None]
TARGET = uuid.UUID(int=1)


def deployment(
    created: datetime,
    *,
    status: str = "success",
    finished: datetime | None = None,
    build: Build = BUILDS[0],
    type: str | None = "manual",
    trigger: str | None = "MANUAL_DEPLOY",
) -> Deployment:
    return Deployment(
        id=uuid.uuid4(),
        app_id=None,
        status=DeploymentStatus(status),
        type=type,
        trigger=trigger,
        steps=("rollout",),
        docker_image_url=build.docker_image_url,
        git_type=None,
        repo_url=None,
        branch=None,
        commit_sha=build.commit_sha,
        commit_message=None,
        author_login=None,
        author_img=None,
        started_at=created,
        finished_at=finished,
        created_at=created,
        updated_at=finished or created,
    )


seconds = st.integers(min_value=-4000, max_value=400)


@st.composite
def source_history(draw: st.DrawFn, server_sent: datetime, now: datetime) -> list[Deployment]:
    """Distinct creation times; the first one a success well before the send."""
    times = draw(st.lists(seconds, min_size=0, max_size=6, unique=True))
    made = [deployment(server_sent - timedelta(seconds=4500), finished=None)]
    made[0] = deployment(
        made[0].created_at,
        finished=made[0].created_at + timedelta(seconds=60),
        build=draw(st.sampled_from(BUILDS)),
    )
    for at in times:
        created = server_sent + timedelta(seconds=at)
        if created > now:
            continue
        ends = created + timedelta(seconds=draw(st.integers(0, 600)))
        final = draw(st.sampled_from(["success", "failed", "cancelled"]))
        if ends > now:  # still running at the read
            made.append(
                deployment(created, status="inProgress", build=draw(st.sampled_from(BUILDS)))
            )
        else:
            made.append(
                deployment(
                    created, status=final, finished=ends, build=draw(st.sampled_from(BUILDS))
                )
            )
    return made


def build_at(source: list[Deployment], server_sent: datetime) -> Build:
    """The model's truth: the latest created success that had ended at the send."""
    done = [d for d in source if d.succeeded and d.finished_at and d.finished_at <= server_sent]
    return max(done, key=lambda d: d.created_at).build


@st.composite
def target_history(
    draw: st.DrawFn, server_sent: datetime, now: datetime, build: Build
) -> tuple[list[Deployment], Deployment | None]:
    made = []
    for at in draw(st.lists(st.integers(-4000, 600), max_size=8)):
        created = server_sent + timedelta(seconds=at)
        if created <= now:
            made.append(
                deployment(
                    created,
                    build=draw(st.sampled_from([build, *BUILDS])),
                    type=draw(st.sampled_from(["manual", "automatic", None])),
                    trigger=draw(st.sampled_from(TRIGGERS)),
                )
            )
    promotion = None
    if draw(st.booleans()):
        late = draw(st.floats(0, SETTLE))
        created = server_sent + timedelta(seconds=late)
        if created <= now:
            promotion = deployment(created, build=build, trigger="PROMOTION")
            made.append(promotion)
    return made, promotion


def reply(elapsed: float, skew: float, *, lie: float | None, age: float, hide_age: bool) -> Reply:
    """A read arriving ``elapsed`` s after the send; its Date truncated to the second,
    ``lie`` seconds off (``None``: no Date), its content ``age`` s old (a cache)."""
    if lie is None:
        return Reply(elapsed, None, 0.0 if hide_age else age)
    origin = math.floor(SENT.timestamp() + skew + elapsed - age) + lie
    if hide_age:
        return Reply(elapsed, origin, 0.0)
    return Reply(elapsed, origin + age, age)


lies = st.one_of(
    st.just(0.0), st.sampled_from([3600.0, -3600.0, -600.0, 30.0]), st.floats(-7200, 7200)
)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[Evidence, Build, Deployment | None, list[Deployment]]:
    skew = draw(st.one_of(st.just(0.0), st.sampled_from([3600.0, -3600.0]), st.floats(-7200, 7200)))
    server_sent = SENT + timedelta(seconds=skew)
    elapsed = draw(st.one_of(st.sampled_from([130.0, 200.0, 600.0]), st.floats(0, 900)))
    now = server_sent + timedelta(seconds=elapsed)
    source = source_history(server_sent, now)
    source = draw(source)
    build = build_at(source, server_sent)
    target, promotion = draw(target_history(server_sent, now, build))
    # the target's read: maybe from a cache (its content older), maybe hiding its Age
    age = min(elapsed, draw(st.one_of(st.sampled_from([0.0, 60.0, 150.0]), st.floats(0, 900))))
    hide_age = age > 0 and draw(st.booleans())
    content = server_sent + timedelta(seconds=elapsed - age)
    shown = [d for d in target if d.created_at <= content]
    source_lie = draw(st.one_of(st.none(), lies))
    target_lie = source_lie if draw(st.booleans()) else draw(st.one_of(st.none(), lies))
    if source_lie and draw(st.booleans()):  # an earlier promotion where the lie points
        decoy = server_sent + timedelta(seconds=source_lie + draw(st.floats(0, SETTLE)))
        earlier = [d for d in source if d.finished_at and d.finished_at <= decoy]
        if earlier and decoy <= content:
            old = build_at(source, decoy)
            shown.append(deployment(decoy, build=old, trigger="PROMOTION"))
    honest = [
        lie == 0.0 for lie, hidden in ((source_lie, False), (target_lie, hide_age)) if not hidden
    ]
    if skew != 0.0 and not any(honest):
        target_lie = 0.0  # some Date must tell the truth when the client's clock is wrong
    if hide_age:  # a hidden Age is seen only by its (origin) Date beside an honest one
        source_lie, target_lie = 0.0, target_lie if target_lie is not None else 0.0
    replies_s = [reply(elapsed, skew, lie=source_lie, age=0.0, hide_age=False)]
    replies_t = [reply(elapsed, skew, lie=target_lie, age=age, hide_age=hide_age)]
    if hide_age and age <= 2 * MARGIN:
        replies_t = [reply(elapsed, skew, lie=target_lie, age=age, hide_age=False)]
    src = draw(as_read(source))
    tgt = draw(as_read(shown))
    evidence = Evidence(SENT, src, tgt, replies_s, replies_t, elapsed, SETTLE, MARGIN)
    return evidence, build, promotion, target


@st.composite
def as_read(draw: st.DrawFn, deployments: list[Deployment]) -> History:
    """Newest first (maybe cut short) or in any order (then read whole)."""
    newest = sorted(deployments, key=lambda d: d.created_at, reverse=True)
    how = draw(st.sampled_from(["whole", "cut", "shuffled"]))
    if how == "shuffled":
        shuffled = draw(st.permutations(newest))
        cut = draw(st.integers(min(1, len(newest)), len(newest)))
        return History(shuffled[:cut], cut == len(newest), False)
    if how == "cut" and newest:
        cut = draw(st.integers(1, len(newest)))
        return History(newest[:cut], cut == len(newest), True)
    return History(newest, True, True)


@settings(max_examples=600, deadline=None)
@given(scenario())
def test_never_false_when_the_promotion_is_there(case) -> None:
    evidence, _build, promotion, _history = case
    verdict = judge_target(TARGET, evidence)
    if promotion is not None:
        assert verdict.promoted is not False, verdict.reason


@settings(max_examples=600, deadline=None)
@given(scenario())
def test_never_true_for_another_build_or_trigger(case) -> None:
    evidence, build, _promotion, _history = case
    verdict = judge_target(TARGET, evidence)
    if verdict.promoted:
        found = verdict.deployment
        assert found is not None
        assert found.build == build
        assert found.type == "manual"
        assert (found.trigger or "") not in NOT_PROMOTIONS


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_a_false_or_true_always_says_why(case) -> None:
    evidence, *_ = case
    verdict = judge_target(TARGET, evidence)
    assert verdict.target_app_id == TARGET
    assert verdict.reason
    assert (verdict.deployment is not None) is bool(verdict.promoted)
