"""`make gitops-up` and `make gitops-down` (hack/gitops/localflux.py) as a person runs them:
`up` leaves Flux's controllers and the registry running after it returns, with the operator's
manifests published where examples/gitops/clusters/local points, so Flux's real
source-controller pulls them; a second `up` refuses instead of starting a second set; `down`
stops every process `up` started and nothing else. (The node test installs the operator from
the same files; docs/tasks/install-gitops.md has the whole walk-through.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from localflux import FLUX_NAMESPACE

from support.gitops import ROOT, condition_of, render_local_flux_objects

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LOCALFLUX = ROOT / "hack" / "gitops" / "localflux.py"
OCI = "ocirepository.source.toolkit.fluxcd.io"


def localflux(*args: str) -> subprocess.CompletedProcess[str]:
    """The script as `make gitops-up`/`gitops-down` run it, in its own process."""
    return subprocess.run(
        [sys.executable, str(LOCALFLUX), *args],
        capture_output=True, text=True, check=False, timeout=240,
    )  # fmt: skip


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


@pytest.fixture
def gitops_dir(control_plane: Any, tmp_path: Path) -> Iterator[Path]:
    work = tmp_path / "gitops"
    try:
        yield work
    finally:
        subprocess.run(
            ["kubectl", f"--kubeconfig={control_plane.kubeconfig}", "-n", FLUX_NAMESPACE,
             "delete", OCI, "--all", "--wait=true", "--timeout=60s"],
            capture_output=True, check=False,
        )  # fmt: skip
        localflux("down", "--dir", str(work))


def test_gitops_up_serves_the_local_example_and_down_stops_everything(
    control_plane: Any, kube: Any, gitops_dir: Path
) -> None:
    kubeconfig = str(control_plane.kubeconfig)
    up = localflux("up", "--kubeconfig", kubeconfig, "--dir", str(gitops_dir))
    assert up.returncode == 0, up.stdout + up.stderr
    digest = up.stdout.split("published: ", 1)[1].split()[0].rpartition("@")[2]
    pids = json.loads((gitops_dir / "pids").read_text())
    assert set(pids) == {"registry", "source-controller", "kustomize-controller"}
    assert all(alive(pid) for pid in pids.values()), pids  # they outlive `up`

    # Flux's source-controller pulls what `up` published, from the URL the example names.
    local = [d for d in yaml.safe_load_all(render_local_flux_objects()) if d]
    [source] = [d for d in local if d["kind"] == "OCIRepository"]
    source["spec"]["interval"] = "1m"
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(source), namespaced=False)

    def pulled() -> bool:
        got = json.loads(
            kube.kubectl(
                "get", OCI, "atlassian-operator", "-n", FLUX_NAMESPACE, "-o", "json",
                namespaced=False,
            ).stdout
        )  # fmt: skip
        artifact = (got.get("status") or {}).get("artifact") or {}
        return bool(
            condition_of(got, "Ready").get("status") == "True"
            and artifact.get("revision") == f"dev@{digest}"
        )

    kube.wait_for(pulled, 60, "the local OCIRepository Ready at the published digest")

    again = localflux("up", "--kubeconfig", kubeconfig, "--dir", str(gitops_dir))
    assert again.returncode != 0
    assert "already runs" in again.stderr and "make gitops-down" in again.stderr, again.stderr
    assert json.loads((gitops_dir / "pids").read_text()) == pids  # nothing more started

    kube.kubectl("delete", OCI, "atlassian-operator", "-n", FLUX_NAMESPACE, namespaced=False)
    down = localflux("down", "--dir", str(gitops_dir))
    assert down.returncode == 0, down.stderr
    assert not any(alive(pid) for pid in pids.values()), pids
    assert not (gitops_dir / "pids").exists()
    assert "nothing was running" in localflux("down", "--dir", str(gitops_dir)).stdout
