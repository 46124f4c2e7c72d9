"""Flux on this machine: an OCI registry on loopback and Flux's source-controller and
kustomize-controller as host processes, for the local control plane and for the tests.

`make gitops-up` (after `make cluster-up NODE=1`) runs `up`: Flux's CRDs into the cluster, the
registry on 127.0.0.1:5050, both controllers watching the flux-system namespace, and the
operator's install manifests (crds/ and manifests/ at HEAD) published to the registry as
`atlassian-operator/manifests:dev`, the artifact examples/gitops/clusters/local installs from.
Logs and pids go to .dev/gitops/; `make gitops-down` runs `down`, which stops them all.
tests/gitops and tests/node import `OCIRegistry` and `FluxControllers` from here, so what a
person runs is what the tests run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FLUX_BUILD = ROOT / "hack" / "flux" / "build.sh"
REGISTRY_BUILD = ROOT / "hack" / "tools" / "registry.sh"
PUBLISH_MANIFESTS = ROOT / "hack" / "gitops" / "publish-manifests.sh"
START_DEADLINE_SECONDS = 60.0
STOP_GRACE_SECONDS = 15.0
LOCAL_REGISTRY_PORT = 5050  # examples/gitops/clusters/local names it
LOCAL_REPOSITORY = "atlassian-operator/manifests"
LOCAL_TAG = "dev"
FLUX_NAMESPACE = "flux-system"  # where Flux's objects live, as after `flux bootstrap`


def free_port() -> int:
    """A port nothing on loopback listens on now (for ports nobody outside needs to know)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def built(script: Path) -> Path:
    """The output of a cached build script (it builds only the first time)."""
    proc = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def flux_dir() -> Path:
    """Where the Flux binaries (bin/) and their CRDs (crds/) are; built on first use."""
    return built(FLUX_BUILD)


def _wait_http_ok(url: str, process: subprocess.Popen[bytes], name: str, log: Path) -> None:
    """Wait until `url` answers 200, failing at once with the log's tail if `process` exits:
    a controller that cannot start says why in its log, not by timing out."""
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    raise RuntimeError(f"{name} not ready in {START_DEADLINE_SECONDS}s ({url}):\n{tail}")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class OCIRegistry:
    """The distribution project's registry (hack/tools/registry.sh) on loopback, plain HTTP,
    storing in `work`: where the operator's manifests are published for Flux to pull."""

    def __init__(self, work: Path, port: int | None = None, detach: bool = False) -> None:
        self.work = work
        self.port = port or free_port()
        self.detach = detach  # outlive this Python process (make gitops-up)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.work / "registry.log"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> OCIRegistry:
        self.work.mkdir(parents=True, exist_ok=True)
        config = self.work / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: info}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.work / 'data'}}}}}\n"
            f"http: {{addr: '{self.host}'}}\n"
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(built(REGISTRY_BUILD)), "serve", str(config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=self.detach,
            )  # fmt: skip
        _wait_http_ok(f"http://{self.host}/v2/", self.process, "registry", self.log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            _stop([self.process])

    def publish_manifests(self, repository: str, tag: str) -> str:
        """hack/gitops/publish-manifests.sh, as a release runs it; returns the manifest digest."""
        proc = subprocess.run(
            [str(PUBLISH_MANIFESTS), "--plain-http", f"{self.host}/{repository}:{tag}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"publish-manifests.sh failed:\n{proc.stdout}\n{proc.stderr}")
        reference = proc.stdout.strip().splitlines()[-1]
        return reference.rpartition("@")[2]


class FluxControllers:
    """source-controller and kustomize-controller as processes, for one namespace."""

    NAMES = ("source-controller", "kustomize-controller")

    def __init__(
        self, flux: Path, kubeconfig: Path, namespace: str, work: Path, detach: bool = False
    ) -> None:
        self.flux, self.kubeconfig, self.namespace, self.work = flux, kubeconfig, namespace, work
        self.detach = detach  # outlive this Python process (make gitops-up)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.health_ports: dict[str, int] = {}
        self.artifact_port = free_port()

    def log(self, name: str) -> Path:
        return self.work / f"{name}.log"

    def log_text(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def log_entries(self, name: str) -> Iterator[dict[str, Any]]:
        """The controller's JSON log lines."""
        for line in self.log_text(name).splitlines():
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue

    def start(self) -> FluxControllers:
        storage = self.work / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        artifact_addr = f"127.0.0.1:{self.artifact_port}"
        self._start(
            "source-controller",
            [f"--storage-path={storage}", f"--storage-addr={artifact_addr}",
             f"--storage-adv-addr={artifact_addr}"],
        )  # fmt: skip
        self._start("kustomize-controller", [])
        for name, process in self.processes.items():
            url = f"http://127.0.0.1:{self.health_ports[name]}/readyz"
            _wait_http_ok(url, process, name, self.log(name))
        return self

    def _start(self, name: str, extra: list[str]) -> None:
        self.health_ports[name] = free_port()
        args = [
            str(self.flux / "bin" / name),
            f"--metrics-addr=127.0.0.1:{free_port()}",
            f"--health-addr=127.0.0.1:{self.health_ports[name]}",
            "--enable-leader-election=false",
            "--watch-all-namespaces=false",
            "--events-addr=",
            "--log-level=debug",
            "--log-encoding=json",
            *extra,
        ]
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "RUNTIME_NAMESPACE": self.namespace,
        }
        with self.log(name).open("ab") as log:
            self.processes[name] = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=self.detach,
            )  # fmt: skip

    def stop(self) -> None:
        _stop(list(self.processes.values()))


# --- make gitops-up / gitops-down -----------------------------------------------------------


def _kubectl(kubeconfig: Path, *args: str) -> str:
    proc = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def _pid_file(work: Path) -> Path:
    return work / "pids"


def _recorded(work: Path) -> dict[str, int]:
    """What `up` started and `down` must stop: {name: pid}, from .dev/gitops/pids."""
    path = _pid_file(work)
    if not path.exists():
        return {}
    return {name: int(pid) for name, pid in json.loads(path.read_text()).items()}


def _is_ours(pid: int, binary_name: str) -> bool:
    """Whether `pid` still runs the program `up` started, named as its binary (`registry`,
    `source-controller`, ...): a recorded pid may since belong to another process."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and Path(cmdline[0].decode(errors="replace")).name == binary_name


def up(kubeconfig: Path, work: Path) -> None:
    """Flux's CRDs, the registry, both controllers, and the manifests at HEAD published."""
    if not kubeconfig.exists():
        raise SystemExit(
            f"error: no kubeconfig at {kubeconfig}: "
            "start the cluster first (make cluster-up NODE=1)"
        )
    running = {n: p for n, p in _recorded(work).items() if _is_ours(p, n)}
    if running:
        raise SystemExit(
            f"error: Flux already runs here ({', '.join(sorted(running))}, pids in "
            f"{_pid_file(work)}): run `make gitops-down` first"
        )
    work.mkdir(parents=True, exist_ok=True)
    flux = flux_dir()
    _kubectl(kubeconfig, "apply", "--server-side", "-f", str(flux / "crds"))
    _kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    namespace = _kubectl(
        kubeconfig, "create", "namespace", FLUX_NAMESPACE, "--dry-run=client", "-o", "yaml"
    )
    subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "apply", "-f", "-"],
        input=namespace, text=True, check=True, capture_output=True,
    )  # fmt: skip
    registry = OCIRegistry(work / "registry", port=LOCAL_REGISTRY_PORT, detach=True)
    controllers = FluxControllers(flux, kubeconfig.resolve(), FLUX_NAMESPACE, work, detach=True)
    try:
        registry.start()
        controllers.start()
        digest = registry.publish_manifests(LOCAL_REPOSITORY, LOCAL_TAG)
    except BaseException:
        controllers.stop()
        registry.stop()
        raise
    pids = {name: p.pid for name, p in controllers.processes.items()}
    assert registry.process is not None
    pids["registry"] = registry.process.pid
    _pid_file(work).write_text(json.dumps(pids))
    print(f"Flux runs: source-controller and kustomize-controller (namespace {FLUX_NAMESPACE})")
    print(f"published: oci://{registry.host}/{LOCAL_REPOSITORY}:{LOCAL_TAG}@{digest}")
    print(f"logs and pids: {work}/   stop with: make gitops-down")


def down(work: Path) -> None:
    """Stop what `up` started (and only that), waiting until each has exited."""
    stopped = []
    for name, pid in _recorded(work).items():
        if not _is_ours(pid, name):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while _is_ours(pid, name) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_ours(pid, name):
            os.kill(pid, signal.SIGKILL)
        stopped.append(name)
    _pid_file(work).unlink(missing_ok=True)
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--kubeconfig", type=Path, default=ROOT / ".dev" / "kubeconfig")
    parser.add_argument("--dir", type=Path, default=ROOT / ".dev" / "gitops")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(args.kubeconfig, args.dir.resolve())
        else:
            down(args.dir.resolve())
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
