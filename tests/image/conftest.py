"""Fixtures for the image tests: the operator and pause images that hack/image/build.sh makes.

build.sh runs once in pytest_collection_finish, before any test's timeout starts (a first
build takes minutes: debootstrap, wheels, podman build), showing its progress; the
module-scoped `images` fixture runs it again, which takes seconds when nothing changed, and
reads what it printed. The images live in podman's storage under the cache
(hack/image/podman.sh reaches it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from image_support import BUILD_SH, Images, run_build

HERE = Path(__file__).parent


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the images (first time only: minutes) before any test's timeout starts."""
    if session.config.option.collectonly or os.geteuid() != 0:
        return
    if not any(Path(item.path).is_relative_to(HERE) for item in session.items):
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():  # show build.sh's progress
        # A failure is reported by the `images` fixture, which runs build.sh again.
        subprocess.run([str(BUILD_SH)], stdout=subprocess.DEVNULL, check=False)


@pytest.fixture(scope="module")
def images() -> Images:
    if os.geteuid() != 0:
        pytest.fail("the image tests need root: hack/image/build.sh runs debootstrap and podman")
    return run_build()[1]
