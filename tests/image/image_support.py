"""What the image tests share: running hack/image/build.sh, and podman on the build's storage."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_SH = ROOT / "hack" / "image" / "build.sh"
PODMAN_SH = ROOT / "hack" / "image" / "podman.sh"


@dataclass(frozen=True)
class Images:
    """What build.sh printed: the two images' references and their OCI archives."""

    image: str
    archive: Path
    pause_image: str
    pause_archive: Path


def run_build() -> tuple[subprocess.CompletedProcess[str], Images]:
    """Run build.sh (seconds when nothing changed); fail the test with its output if it fails."""
    proc = subprocess.run(
        [str(BUILD_SH)], capture_output=True, text=True, check=False, timeout=1800
    )
    if proc.returncode != 0:
        pytest.fail(f"{BUILD_SH} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    found = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    missing = {"image", "archive", "pause_image", "pause_archive"} - found.keys()
    assert not missing, f"{BUILD_SH} did not print {sorted(missing)}:\n{proc.stdout}"
    images = Images(
        image=found["image"],
        archive=Path(found["archive"]),
        pause_image=found["pause_image"],
        pause_archive=Path(found["pause_archive"]),
    )
    return proc, images


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """hack/image/podman.sh ARGS: podman on the build's own storage. Never raises on failure."""
    return subprocess.run(
        [str(PODMAN_SH), *args], capture_output=True, text=True, check=False, timeout=timeout
    )
