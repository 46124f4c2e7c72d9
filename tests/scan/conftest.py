"""Fixtures of tests/scan: the scanners and helm, installed by their hack/tools scripts.

`make scanners` (a prerequisite of `make test`) installs them once into the cache;
pytest_collection_finish runs the scripts before any test's timeout starts (instant once
installed), and the fixtures fail, never skip, when a script cannot install its tool.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import scan_support

HERE = Path(__file__).resolve().parent

INSTALLS = sorted({s.install for s in scan_support.SCANNERS} | {"scanners.sh", "helm.sh"})


def pytest_collection_finish(session: pytest.Session) -> None:
    """Install the scanners (first time only) before any test's timeout starts."""
    if session.config.option.collectonly:
        return
    if not any(Path(str(item.path)).is_relative_to(HERE) for item in session.items):
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():  # show the install's progress
        for script in INSTALLS:
            # A failure is reported by the fixture, which runs the script again.
            with contextlib.suppress(RuntimeError):
                scan_support.tool_path(script)


@pytest.fixture(scope="session")
def tools() -> dict[str, str]:
    """hack/tools script -> what it printed (a binary, or the scanners' venv bin directory)."""
    try:
        return {script: scan_support.tool_path(script) for script in INSTALLS}
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
