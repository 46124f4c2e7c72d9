"""One test's view of a cluster: its own namespace, and the real kubectl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


@dataclass
class Kube:
    """One test's view of the cluster: its own namespace, and the real kubectl."""

    namespace: str
    kubeconfig: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, namespaced: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [KUBECTL, f"--kubeconfig={self.kubeconfig}"]
        if namespaced:
            cmd.append(f"--namespace={self.namespace}")
        proc = subprocess.run(
            [*cmd, *args], input=input, capture_output=True, text=True, env=self.env, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def get_json(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)  # type: ignore[no-any-return]

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 30.0, describe: str = "condition"
    ) -> Any:
        """Poll predicate() until truthy; return its value. Fail with the last value/error seen."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = predicate()
                if last:
                    return last
            except Exception as e:
                last = e
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout}s waiting for {describe}; last seen: {last!r}"
                )
            time.sleep(0.2)
