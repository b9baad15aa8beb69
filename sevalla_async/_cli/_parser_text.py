"""The long help texts of ``sevalla-async`` (the parser is built from a table in
:mod:`._parser`)."""

from __future__ import annotations

import textwrap

__all__ = [
    "DEMO_DESCRIPTION",
    "DESCRIPTION",
    "EPILOG",
    "EXPECT_BUILD_HELP",
    "FAILURE_LOGS_HELP",
    "FAKE_SERVER_DESCRIPTION",
    "PLAN_HELP",
    "RELEASE_DESCRIPTION",
    "RELEASE_HELP",
    "RELEASE_RESUME_HELP",
    "REPIN_HELP",
    "SKIP_CURRENT_HELP",
    "WAIT_DESCRIPTION",
]

DESCRIPTION = """\
Promote Sevalla pipelines and inspect deployments from the command line.

The API key comes from --api-key or SEVALLA_API_KEY (prefer the variable: command lines are
visible to other users), the API root from --base-url or SEVALLA_BASE_URL.
"""

EPILOG = """\
exit status:
  0    success
  1    the API refused or failed (or, for promote-many, at least one promotion did);
       wait and --wait: a deployment did not end in success, or the wait timed out
  2    bad arguments or input (nothing was sent)
  (release: 0 every wave passed, 1 stopped by a failed wave, 2 invalid plan)
  (reconcile: 0 every target decided, 1 some target undecided: run it again later)
  130  interrupted (Ctrl-C); what was already sent is reported on stderr
  143  stopped by SIGTERM (reported as for Ctrl-C)

examples:
  sevalla-async pipelines list
  sevalla-async promote PIPELINE --source APP --target APP --target APP
  sevalla-async promote PIPELINE --source APP --target APP --wait
  sevalla-async wait APP DEPLOYMENT --wait-timeout 600
  sevalla-async promote-many plan.json --concurrency 8 > results.jsonl
  sevalla-async release waves.json --on-failure rollback
  sevalla-async promote-many plan.json --journal run.jsonl      # resumable
  sevalla-async promote-many plan.json --resume run.jsonl       # after a crash
  sevalla-async reconcile --pipeline P --source S --target T --sent-at 2025-01-31T09:30:00Z
  sevalla-async fake-server      # a local fake API to try all of this
  sevalla-async demo             # a fan-out, a wait and a release on an embedded fake API
"""

PLAN_HELP = """\
The plan is a JSON list of objects, one per promotion, or JSON Lines (one object per
line):

  [{"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["...", "..."]}]

The whole plan is checked first; any bad entry is reported with its index (from 0) and
field, and nothing is sent (exit status 2); so is an entry with a target an earlier entry
already promotes (same pipeline and source). Results are printed as each promotion
finishes: with --output json one line per entry with its "index", "ok", "promotions" and
"error". With --wait each entry is promoted, then its deployments are waited for (the
--wait-timeout counts per entry); its line gains "deployments" (each one's "app_id",
"deployment_id", final "status" and "error") and it is ok only when all ended in
success. On a terminal a progress line is kept on stderr. Exit status 0 when every
promotion succeeded, 1 when any failed. Ctrl-C stops at once and reports which
promotions were sent without a reply (they may have happened), which were being waited
for (their deployments keep running) and which were not sent; SIGTERM does the same.

Journal and resume: with --journal FILE every entry's events are appended to FILE as they
happen ("sent" before the request leaves, then its "result" with its state: promoted,
rejected, not_sent or unknown), so even a killed run leaves a record. --resume FILE runs
the same plan again: what was promoted or rejected is reported from the journal, what
is unknown is reconciled first, and nothing is promoted twice. The journal is off by
default: on an orderly stop (an error, Ctrl-C, SIGTERM, a closed pipe) every entry is
already reported on stdout/stderr, and a file written unasked into the current directory
surprises in CI and read-only containers; turn it on for any run you may need to resume
after a crash.
"""

RELEASE_HELP = """\
The plan is a JSON list of waves, each a list of promotions:

  [[{"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["..."]}],
   [{"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["...", "..."]}]]

or JSON Lines, one promotion per line with a "wave" number (waves run in ascending order):

  {"wave": 0, "pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["..."]}

The whole plan is checked first; any problem is reported with its wave, entry (from 0)
and field, and nothing is sent (exit status 2). A target in two entries is refused. On a
terminal one row per change of a target's status (WAVE, TARGET APP, STATUS) and a line per
wave; otherwise JSON lines, one per event ("event": "wave", "target", "entry", and a last
"release" with "completed" and "stopped_at"). --dry-run prints the requests instead.

The release pins each source's build before its first wave (a "source ...: build ...
(pinned)" line; JSON: a "pins" event) and deploys only that build: a source that moves
stops the release before the next wave (its reason is printed). With --journal the pins
are journaled, and --resume keeps them (--repin pins again). Targets that already run
their source's build are not sent (--no-skip-current sends them too).

exit status:
  0    every wave passed
  1    a wave failed (a deployment did not succeed): the release stopped there
  2    the plan or the arguments are invalid: nothing was sent
  130  interrupted (Ctrl-C): entries in flight are reported on stderr
"""

RELEASE_DESCRIPTION = (
    "Promote the waves of PLAN (a JSON or JSON Lines file, or - for stdin) one after the "
    "other: each wave is promoted, its deployments waited for, and the next wave starts "
    "only if every deployment succeeded.\n\n" + RELEASE_HELP
)

RELEASE_RESUME_HELP = (
    "continue the release journaled in FILE (same plan): entries promoted are not sent "
    "again (their deployments are waited for and gated); unknown ones are reconciled "
    "from the target apps' deployment histories and only targets verified not promoted "
    "are sent; the others are sent. Finished waves pass again without a promotion. The "
    "journal goes on in FILE"
)

WAIT_DESCRIPTION = textwrap.dedent(
    """\
    Poll deployment DEPLOYMENT of APP until it has finished and print it. Exit
    status 0 when it ended in success; 1 when it ended failed, cancelled or skipped,
    or the wait timed out (stderr says which, with the last status seen). On a
    terminal (or with --progress) each status change is shown on stderr. Ctrl-C
    stops waiting, not the deployment."""
)

FAKE_SERVER_DESCRIPTION = textwrap.dedent(
    """\
    Run FakeSevalla, the SDK's fake of the Sevalla API, until Ctrl-C. It seeds a few
    pipelines and prints its URL, its key and commands to copy. With --output json
    (or --output auto when stdout is not a terminal) it prints one JSON line:
    base_url, api_key and the seeded pipelines."""
)

DEMO_DESCRIPTION = (
    "Promote a handful of pipelines on an embedded fake API, wait for the deployments, "
    "then release in waves: the canary wave fails and is rolled back (no account, no "
    "network). Like every command it prints a table on a "
    "terminal and JSON lines otherwise (--output); the story goes to stderr then."
)

FAILURE_LOGS_HELP = (
    "show the last N ERROR lines of the log of each deployment that ended failed, under "
    "its row (with --output json: its 'logs' field); 0 reads no log (default 20)"
)

EXPECT_BUILD_HELP = (
    "the build the source app must run (a commit sha of 7+ hex characters, or an image "
    "URL): a source that runs another build is refused before anything is sent "
    "(BuildChangedError, state not_sent), and a deployment of another build is reported "
    "after it. For a plan: every entry without an expect_build of its own"
)

SKIP_CURRENT_HELP = (
    "send only to the targets that do not already run the source's build; the others "
    "are shown 'current' (JSON: \"already_current\": true) and not deployed again"
)

REPIN_HELP = (
    "with --resume: pin the sources' current builds again instead of the builds the "
    "journal pinned (by default a resumed release deploys only the builds it pinned "
    "first, and stops if a source moved)"
)
