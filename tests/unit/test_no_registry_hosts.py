"""The project names no package registry or mirror: each machine's own configuration (apt's
sources, pip's index, GOPROXY, ...) decides where packages come from, so a build works behind a
company mirror and never reaches past it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOSTS = (
    "deb.debian.org", "security.debian.org", "archive.ubuntu.com", "dl-cdn.alpinelinux.org",
    "pypi.org", "pythonhosted.org", "proxy.golang.org", "registry.npmjs.org", "crates.io",
    "repo1.maven.org", "repo.maven.apache.org",
)  # fmt: skip


def test_no_tracked_file_names_a_registry_or_mirror_host() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    named = [
        f"{name}: {host}"
        for name in files
        if name != "tests/unit/test_no_registry_hosts.py" and (ROOT / name).is_file()
        for host in HOSTS
        if host in (ROOT / name).read_text(errors="replace")
    ]
    assert named == [], "name 'the mirror apt uses' (or pip's index, GOPROXY) instead"
