"""Every default the docs state is the code's default.

The docs state a default in one recognisable form: an option's name (``poll_interval``,
``--poll-interval SECONDS``, ``client.deployments.max_polls_per_minute``), then, in the same
clause, ``default VALUE`` (``(default 1 s)``, ``, default 0.5:``, ``defaults to 1 s``), or the
value alone in parentheses (``(0.1)``), or a row of a table with a ``default`` column. This
test finds every such statement in README.md, docs/**/*.md, the demo's text and every
``--help`` of the CLI, and compares the value with the code's: :data:`DEFAULTS`, the
``DEFAULT_*`` constants, the defaults in the public methods' signatures, the fields of
:class:`WaitOptions` and :class:`RetryPolicy`, and the CLI's own argparse defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from sevalla_async import (
    Deployments,
    Pipelines,
    Releases,
    RetryPolicy,
    SevallaClient,
    WaitOptions,
    _client,
    _fanout,
    _reconcile,
    _releases,
    _wait,
)
from sevalla_async._cli import _demo, _waiting
from sevalla_async._cli._parser import build_parser
from sevalla_async._options import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]

# Names a DEFAULT_* constant stands for, besides its own lower-cased name.
CONSTANT_NAMES = {
    "DEFAULT_SETTLE": ["settle", "reconcile_settle"],
    "DEFAULT_RECONCILE_TIMEOUT": ["reconcile_timeout"],
    "DEFAULT_TIMEOUT": ["timeout", "wait_timeout"],
    "DEFAULT_WAIT_TIMEOUT": ["wait_timeout"],
    "DEFAULT_CONCURRENCY": ["concurrency"],
    "DEFAULT_WAIT_CONCURRENCY": ["concurrency"],
    "DEFAULT_ROLLBACK_CONCURRENCY": ["rollback_concurrency"],
    "DEFAULT_POLL_INTERVAL": ["poll_interval"],
    "DEFAULT_BUDGET_SHARE": ["budget_share"],
}
# Flags whose argparse default is None ("not given"): the SDK option that resolves them.
FLAGS = {"--polls-per-minute": "max_polls_per_minute"}
# Plain words the prose uses for an option.
WORDS = {"poll": "poll_interval", "polls": "poll_interval", "polling": "poll_interval"}
# The units a stated default may carry: seconds, bytes, a fraction.
UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "minute": 60, "minutes": 60}
UNITS |= {"mib": 1024 * 1024, "%": 0.01}


def code_defaults() -> dict[str, set[Any]]:
    """Option name -> every default the code gives an option of that name."""
    values: dict[str, set[Any]] = defaultdict(set)
    for name, value in DEFAULTS.items():
        values[name].add(value)
    for module in (_client, _fanout, _reconcile, _releases, _wait, _waiting):
        for constant, value in vars(module).items():
            if constant.startswith("DEFAULT_") and isinstance(value, (int, float)):
                for name in CONSTANT_NAMES.get(constant, [constant[8:].lower()]):
                    values[name].add(value)
    functions = [SevallaClient.__init__, SevallaClient.with_options, Releases.run]
    for resource in (Pipelines, Deployments):
        functions += [f for n, f in vars(resource).items() if inspect.isfunction(f)]
    for function in functions:
        for p in inspect.signature(function).parameters.values():
            if p.default is not p.empty and p.default is not _client.NOT_GIVEN:
                values[p.name].add(p.default)
    for cls in (WaitOptions, RetryPolicy):
        for field in attrs.fields(cls):
            if field.default is not attrs.NOTHING:
                values[field.name].add(field.default)
    values["max_polls_per_minute"].add(SevallaClient("key").deployments.max_polls_per_minute)
    for flag, value in cli_defaults().items():
        values[flag] |= value
    return values


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def cli_defaults() -> dict[str, set[Any]]:
    """``--flag`` -> its argparse defaults; a flag whose argparse default is ``None``
    ("not given") stands for the SDK option of the same name (``--poll-interval``:
    ``poll_interval``), which resolves it."""
    values: dict[str, set[Any]] = defaultdict(set)
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            for flag in action.option_strings:
                default = action.default
                if isinstance(default, list):  # an appending flag: no default to state
                    continue
                if flag.startswith("--") and default not in (None, False, "==SUPPRESS=="):
                    values[flag].add(default)
    return values


def cli_help() -> str:
    texts = []
    for parser in _parsers(build_parser()):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            parser.print_help()
        texts.append(out.getvalue())
    return "\n\n".join(texts)


# --- finding the stated defaults ----------------------------------------------------------

_NAME = re.compile(
    r"`(?P<code>[A-Za-z_][\w.]*|--[\w-]+)(?:=| [A-Z]+)?`"  # `name`, `--flag N`, `name=`
    r"|(?P<bare>--[a-z][\w-]+|\b[a-z]+_[a-z_]+\b)"  # --flag, snake_case
    r"|\b(?P<word>(?i:poll|polls|polling))\b"
)
_NUMBER = r"[0-9][0-9,_]*(?:\.[0-9]+)?(?![.\d])"
_VALUE = (
    rf"(?P<value>`?(?:None|True|False|none)`?|`?{_NUMBER}`?(?:\s?(?:s|sec|seconds?|minutes?|MiB|%)\b)?"
    r"|`?\"[a-z_]+\"`?|`[a-z_]+`)"
)
_STATED = re.compile(rf"\bdefaults?(?:\s+(?:to|is|of|starts at))?:?\s+{_VALUE}")
_PARENTHESIS = re.compile(rf"`(?P<name>[\w.]+)`\s+\({_VALUE}[;,):]")


@attrs.frozen
class Stated:
    source: str
    name: str
    value: Any
    text: str


def _value(text: str) -> Any:
    text = text.strip("`").strip()
    if text.lower() == "none":
        return None
    if text in ("True", "False"):
        return text == "True"
    if text.startswith('"'):
        return text.strip('"')
    if text[0].isalpha():
        return text
    number = re.match(_NUMBER, text)
    assert number is not None
    unit = text[number.end() :].strip().lower()
    return float(number.group().replace(",", "").replace("_", "")) * UNITS.get(unit, 1)


def _canonical(match: re.Match[str]) -> str:
    name = match["code"] or match["bare"] or ""
    if match["word"]:
        return WORDS[match["word"].lower()]
    return name if name.startswith("--") else name.rsplit(".", 1)[-1]


def stated(source: str, text: str) -> Iterator[Stated]:
    """The defaults ``text`` states, with the name each belongs to."""
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        for match in _STATED.finditer(flat):
            before = flat[max(0, match.start() - 120) : match.start()]
            clause = re.split(r"[.;] |\. ?\(|\)\.", before)[-1]
            names = list(_NAME.finditer(clause))
            named = [n for n in names if not n["word"]]  # a name wins over a plain word
            names = named or names
            if names:
                yield Stated(source, _canonical(names[-1]), _value(match["value"]), match.group())
        for match in _PARENTHESIS.finditer(flat):
            name = match["name"].rsplit(".", 1)[-1]
            yield Stated(source, name, _value(match["value"]), match.group())
        yield from _table(source, paragraph)


def _table(source: str, paragraph: str) -> Iterator[Stated]:
    rows = [r for r in paragraph.splitlines() if r.startswith("|")]
    if len(rows) < 3:
        return
    header = [c.strip().lower() for c in rows[0].strip("|").split("|")]
    if "default" not in header:
        return
    column = header.index("default")
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name, value = cells[0], cells[column]
        if re.fullmatch(_VALUE, value) and re.fullmatch(r"`[\w.]+`", name):
            yield Stated(source, name.strip("`"), _value(value), row)


def documents() -> Iterator[tuple[str, str]]:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    yield "sevalla-async demo", inspect.getsource(_demo)
    yield "sevalla-async --help", cli_help()


def _matches(value: Any, known: set[Any]) -> bool:
    for candidate in known:
        if candidate is None or isinstance(candidate, (bool, str)) or value is None:
            if value == candidate and type(value) is type(candidate):
                return True
        elif isinstance(value, float) and abs(value - candidate) < 1e-9:
            return True
    return False


STATEMENTS = [s for source, text in documents() for s in stated(source, text)]


def _option(name: str, known: dict[str, set[Any]]) -> str:
    """``name``, or for a ``--flag`` without an argparse default, the SDK option it sets."""
    if name.startswith("--") and name not in known:
        return FLAGS.get(name, name[2:].replace("-", "_"))
    return name


def test_every_stated_default_is_the_codes() -> None:
    known = code_defaults()
    wrong = [
        f"{s.source}: {s.name} is said to default to {s.value!r} ({s.text!r}); "
        f"the code says {' or '.join(sorted(map(repr, known[option])))}"
        for s in STATEMENTS
        if (option := _option(s.name, known)) in known and not _matches(s.value, known[option])
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "name",
    [
        "poll_interval",
        "budget_share",
        "poll_jitter",
        "max_polls_per_minute",
        "wait_timeout",
        "reconcile_settle",
        "reconcile_timeout",
        "concurrency",
        "timeout",
        "max_retries",
        "max_response_size",
        "--poll-interval",
        "--wait-timeout",
        "--reconcile-settle",
        "--reconcile-timeout",
    ],
)
def test_the_docs_state_the_default_of(name: str) -> None:
    """The defaults people ask about are written down, so the test above checks them."""
    assert any(s.name == name and s.source.startswith("docs/") for s in STATEMENTS), name


def test_the_parser_reads_the_forms_the_docs_use() -> None:
    text = (
        "`poll_interval` (default 1 s; jitter). Past `timeout` (default 15 minutes), it\n"
        "raises. `--polls-per-minute N` (default 300). `poll_jitter` (0.1), and\n"
        "`budget_share`, default 0.5: half. Polls start at 2 s (the client's default\n"
        "starts at 2s). `max_response_size` (default 1 MiB) `x` (default: `None`)\n\n"
        "| option | default |\n|---|---|\n| `max_retries` | `3` |\n"
    )
    found = [(s.name, s.value) for s in stated("t", text)]
    assert found == [
        ("poll_interval", 1.0),
        ("timeout", 900.0),
        ("--polls-per-minute", 300.0),
        ("budget_share", 0.5),
        ("poll_interval", 2.0),
        ("max_response_size", 1048576.0),
        ("x", None),
        ("poll_jitter", 0.1),
        ("max_retries", 3.0),
    ]
