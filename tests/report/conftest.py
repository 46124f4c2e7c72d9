"""Access-review fixtures: the CRDs on the real control plane, a known world, the CLI, a browser.

No operator runs: `world` writes the statuses the operator would have written (with the real
kubectl), and the tests run the real console scripts against it. `browser` is Debian's
Chromium driven by selenium through /usr/bin/chromedriver; `make browser` installs both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from review_world import AS_OF, populate

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's bin: kubectl-atlassian, atlassian-operator
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Cluster:
    """One namespace of the test control plane, the real kubectl and the report's commands."""

    kubeconfig: Path
    namespace: str

    @property
    def env(self) -> dict[str, str]:
        path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PATH": path}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> Result:
        proc = subprocess.run(
            [KUBECTL, f"--namespace={self.namespace}", *args],
            input=input, capture_output=True, text=True, env=self.env, check=False,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def run(self, program: str, *args: str, namespaced: bool = True, as_of: bool = True) -> Result:
        """A console script of the venv (`kubectl-atlassian`, `atlassian-operator`), or
        `kubectl` (then `kubectl atlassian ...` finds the plugin on PATH)."""
        extra = [f"--namespace={self.namespace}"] if namespaced else []
        if as_of:
            extra.append(f"--as-of={AS_OF}")
        executable = KUBECTL if program == "kubectl" else str(BIN / program)
        proc = subprocess.run(
            [executable, *args, *extra], capture_output=True, text=True, env=self.env, check=False
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def atlassian(self, *args: str, **kwargs: Any) -> Result:
        """`kubectl-atlassian ARGS -n NS --as-of AS_OF`; fails the test on a non-zero exit."""
        result = self.run("kubectl-atlassian", *args, **kwargs)
        assert result.code == 0, f"kubectl-atlassian {' '.join(args)}: {result.stderr}"
        return result

    @classmethod
    def create(cls, kubeconfig: Path, prefix: str) -> Cluster:
        """A new namespace (never deleted: without a controller-manager it would hang)."""
        made = cls(kubeconfig, f"{prefix}-{uuid.uuid4().hex[:6]}")
        subprocess.run(
            [KUBECTL, f"--kubeconfig={kubeconfig}", "create", "namespace", made.namespace],
            check=True, capture_output=True,
        )  # fmt: skip
        return made


@pytest.fixture(scope="session")
def crds(control_plane: Any) -> None:
    kubectl = [KUBECTL, f"--kubeconfig={control_plane.kubeconfig}"]
    subprocess.run([*kubectl, "apply", "-k", str(ROOT / "crds")], check=True, capture_output=True)
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "--timeout=60s",
         "crd/atlassianorgs.atlassian.operators.dev",
         "crd/atlassianaccounts.atlassian.operators.dev"],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def cluster(control_plane: Any, crds: None) -> Cluster:
    """An empty namespace of this test's own."""
    return Cluster.create(Path(control_plane.kubeconfig), "report")


@pytest.fixture(scope="module")
def module_cluster(control_plane: Any, crds: None) -> Cluster:
    """An empty namespace that the tests of one module share (they only read what it holds)."""
    return Cluster.create(Path(control_plane.kubeconfig), "report")


@pytest.fixture(scope="session")
def world(control_plane: Any, crds: None) -> Cluster:
    """review_world's orgs and accounts with their statuses; the tests only read it."""
    world = Cluster.create(Path(control_plane.kubeconfig), "review")
    populate(lambda *args, input=None: world.kubectl(*args, input=input))
    return world


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.fail(
            f"{CHROMIUM} or {CHROMEDRIVER} is missing: run `make browser` (hack/tools/browser.sh "
            "installs Debian's chromium and chromium-driver); the HTML report is tested in a "
            "real browser"
        )
    return CHROMIUM


@pytest.fixture
def browser(chromium: Path, tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium with the flags this closed network needs, and a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(chromium)
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1440,2000",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
