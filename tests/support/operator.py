"""Run the real operator as a process, as a user runs it: for tests, the demo and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

START_DEADLINE_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OperatorProcess:
    """`atlassian-operator run` in a subprocess, its log in a file, restartable."""

    def __init__(
        self,
        kubeconfig: Path | str,
        namespaces: Sequence[str],
        extra_args: Sequence[str] = (),
        launcher: Sequence[str] = ("-m", "atlassian_operator.cli"),
        allow: Sequence[str] = (),
        log_dir: Path | None = None,
    ) -> None:
        """`launcher`: the interpreter arguments before `run`, e.g. to run it under cProfile.

        `allow`: base URLs (simulators) the operator may send API keys to, as a cluster admin
        allows them with `--allow-api-base-url`. `log_dir`: where its log goes (default: the
        system's temporary folder).
        """
        self.kubeconfig = str(kubeconfig)
        self.namespaces = list(namespaces)
        self.extra_args = [*extra_args]
        for url in allow:
            self.extra_args += ["--allow-api-base-url", url]
        self.launcher = list(launcher)
        fd, name = tempfile.mkstemp(prefix="atlassian-operator-", suffix=".log", dir=log_dir)
        os.close(fd)
        self.log = Path(name)
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/healthz"

    def start(self) -> Self:
        args = [sys.executable, *self.launcher, "run",
                "--metrics-port", str(self.metrics_port), "--health-port", str(self.health_port),
                "--bind", "127.0.0.1", *self.extra_args]  # fmt: skip
        for namespace in self.namespaces:
            args += ["--namespace", namespace]
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"operator exited with {self.process.returncode}:\n{self.log_text()[-4000:]}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"operator not healthy within {START_DEADLINE_SECONDS}s:\n{self.log_text()[-4000:]}"
        )

    def healthy(self) -> bool:
        """The liveness endpoint answers 200 (it fails when an org's loop died or stalled)."""
        return self._answers("/healthz")

    def ready(self) -> bool:
        """The readiness endpoint answers 200 (it fails while the operator cannot act, e.g.
        while its CRDs are not installed)."""
        return self._answers("/readyz")

    def _answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}{path}", timeout=5
            ) as response:
                return response.status == 200
        except OSError:
            return False

    def running(self) -> bool:
        """The process has not exited."""
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            text: str = response.read().decode()
            return text

    def assert_clean_log(self, secrets: Iterable[str], *, errors_allowed: bool = False) -> None:
        """No traceback, no API key and (unless `errors_allowed`) no ERROR line in the log."""
        log = self.log_text()
        assert "Traceback" not in log, f"operator logged a traceback:\n{log[-5000:]}"
        if not errors_allowed:
            errors = [line for line in log.splitlines() if "[ERROR" in line]
            assert not errors, "the operator logged errors:\n" + "\n".join(errors[:5])
        for secret in secrets:
            assert secret not in log, "an API key appeared in the operator's log"

    def kill(self) -> None:
        """SIGKILL: no clean-up, as when a node dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
