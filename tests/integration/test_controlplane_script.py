"""hack/controlplane/controlplane.py as a developer uses it (`make cluster-up`/`cluster-down`):
`down` returns only once every process it started has exited, so that the next `up` (or a
rebuild of the binaries) never races a server that is still shutting down."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "hack" / "controlplane" / "controlplane.py"


def exited(pid: int) -> bool:
    """Gone, or a zombie (it has exited; only its parent has not collected it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def test_down_returns_once_every_process_has_exited(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = [sys.executable, str(SCRIPT), "up", "--dir", str(state)]
    subprocess.run([*up, "--kubeconfig", str(tmp_path / "kubeconfig")], check=True)
    pids = {
        n: p["pid"] for n, p in json.loads((state / "state.json").read_text())["processes"].items()
    }
    assert set(pids) == {"etcd", "kube-apiserver"}
    assert not any(exited(pid) for pid in pids.values())
    subprocess.run([sys.executable, str(SCRIPT), "down", "--dir", str(state)], check=True)
    assert {name: exited(pid) for name, pid in pids.items()} == {n: True for n in pids}
    assert not state.exists() and not (tmp_path / "kubeconfig").exists()
