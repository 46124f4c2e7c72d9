"""Fixtures of tests/chart: the helm and actionlint binaries.

hack/tools/helm.sh and hack/tools/actionlint.sh build the pinned versions once into the cache
(`make helm`, which `make test` runs first). pytest_collection_finish runs them before any test's
timeout starts, as tests/conftest.py does for the control plane; the session fixtures run them
again (instant once built) and fail, never skip, when they cannot.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from chart_support import ROOT, Helm

HERE = Path(__file__).resolve().parent
TOOLS = {
    "helm": ROOT / "hack" / "tools" / "helm.sh",
    "actionlint": ROOT / "hack" / "tools" / "actionlint.sh",
}


def _build(tool: str) -> subprocess.CompletedProcess[str]:
    # stderr (the build's progress on the first, slow, run) is not captured.
    return subprocess.run([str(TOOLS[tool])], stdout=subprocess.PIPE, text=True, check=False)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build helm and actionlint (first time only) before any test's timeout starts."""
    if session.config.option.collectonly:
        return
    if not any(Path(str(item.path)).is_relative_to(HERE) for item in session.items):
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():  # show the build's progress
        for tool in TOOLS:
            _build(tool)  # a failure is reported by the fixture, which runs the script again


def _tool(tool: str) -> str:
    proc = _build(tool)
    path = proc.stdout.strip()
    if proc.returncode != 0 or not Path(path).is_file():
        pytest.fail(f"{TOOLS[tool]} failed ({proc.returncode}): see its stderr", pytrace=False)
    return path


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(_tool("helm"))


@pytest.fixture(scope="session")
def actionlint() -> str:
    return _tool("actionlint")
