"""The package's public surface and packaging promises."""

from __future__ import annotations

import asyncio
import importlib.metadata
import pathlib
import sys

import sevalla_async
import sevalla_async.testing


def test_version_matches_the_installed_metadata() -> None:
    assert importlib.metadata.version("sevalla-async") == sevalla_async.__version__


def test_public_api_is_exactly_all() -> None:
    for name in sevalla_async.__all__:
        assert hasattr(sevalla_async, name), name
    public = {n for n in vars(sevalla_async) if n[0] not in "_@" and n != "testing"}
    assert public <= set(sevalla_async.__all__)
    for name in sevalla_async.testing.__all__:
        assert hasattr(sevalla_async.testing, name), name


def test_every_public_name_is_documented() -> None:
    for module in (sevalla_async, sevalla_async.testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if name == "__version__":
                continue
            assert (obj.__doc__ or "").strip(), f"{module.__name__}.{name} has no docstring"


def test_modules_other_than_the_api_are_private() -> None:
    root = pathlib.Path(sevalla_async.__file__).parent
    allowed = {"__init__.py", "__main__.py", "py.typed", "testing"}
    for path in root.iterdir():
        if path.name == "__pycache__":
            continue
        assert path.name.startswith("_") or path.name in allowed, path.name
    assert (root / "py.typed").exists()


def test_console_entry_point_is_declared() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts")
    (script,) = [s for s in scripts if s.name == "sevalla-async"]
    assert script.value == "sevalla_async._cli:main"
    plugins = importlib.metadata.entry_points(group="pytest11")
    assert any(p.value == "sevalla_async.testing.pytest_plugin" for p in plugins)


async def test_demo_runs_as_a_module() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        "-m",
        "sevalla_async",
        "demo",
        "--pipelines",
        "3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    # piped: the story goes to stderr, the results are JSON lines on stdout
    assert "no account, no network" in err.decode()
    assert "Done:" in err.decode()
    assert all(line.startswith("{") for line in out.decode().splitlines())
