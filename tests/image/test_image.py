"""The operator and pause images as the kubelet and a user meet them, built without a registry.

The operator image runs as it does in manifests/base/deployment.yaml: a numeric non-root user,
a read-only root filesystem, no capabilities, no new privileges. And with every shell in the
image replaced by /dev/null, so that a command that needed one would fail: the first test
shows that this masking does stop each shell, the others run the operator under it.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import tarfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import IO, Any

import pytest
from image_support import PODMAN_SH, ROOT, Images, podman, run_build

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
ENTRYPOINT = "/opt/venv/bin/atlassian-operator"
PYTHON = "/opt/venv/bin/python"


def hardened(network: str = "none") -> list[str]:
    """`podman run` options for what the Deployment's securityContext enforces, and more."""
    return [
        "--rm",
        f"--network={network}",
        "--read-only",
        "--read-only-tmpfs=false",  # not even /tmp, /run writable
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--user=10001:10001",
    ]


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    )
    out: str = proc.stdout
    return out


@pytest.fixture(scope="module")
def config(images: Images) -> dict[str, Any]:
    inspected = json.loads(ok(podman("image", "inspect", images.image)))
    cfg: dict[str, Any] = inspected[0]["Config"]
    return cfg


@pytest.fixture(scope="module")
def shells(images: Images) -> dict[str, str]:
    """Every shell in the image (/etc/shells and /bin/sh) -> the file it resolves to."""
    script = (
        "import json, os\n"
        "names = [line.strip() for line in open('/etc/shells') if line.startswith('/')]\n"
        "names += ['/bin/sh', '/usr/bin/sh']\n"
        "print(json.dumps({n: os.path.realpath(n) for n in names if os.path.exists(n)}))\n"
    )
    out = ok(podman("run", *hardened(), "--entrypoint", PYTHON, images.image, "-c", script))
    found: dict[str, str] = json.loads(out)
    assert "/bin/sh" in found, f"the image has no /bin/sh at all? {found}"
    return found


@pytest.fixture(scope="module")
def no_shell(shells: dict[str, str]) -> list[str]:
    """`podman run` options that put /dev/null over every shell binary of the image."""
    return [f"--volume=/dev/null:{target}:ro" for target in sorted(set(shells.values()))]


def test_masking_stops_every_shell(images: Images, shells: dict[str, str], no_shell: list[str]):
    for shell in shells:
        # The control: the same hardened run can start this shell when it is not masked...
        ok(podman("run", *hardened(), "--entrypoint", shell, images.image, "-c", "exit 0"))
        # ...and cannot when it is, so a run that succeeds under the mask used no shell.
        masked = podman("run", *hardened(), *no_shell, "--entrypoint", shell, images.image)
        assert masked.returncode != 0, f"{shell} still runs under {no_shell}"
        assert "permission denied" in masked.stderr, masked.stderr


def test_config_is_numeric_non_root_exec_form(config: dict[str, Any]):
    assert config["User"] == "10001:10001"  # numeric: the kubelet can check runAsNonRoot
    # Exec form, by absolute path: a shell form would read ["/bin/sh", "-c", ...].
    assert config["Entrypoint"] == [ENTRYPOINT]
    assert config["Cmd"] == ["run", "--all-namespaces"]
    assert set(config["ExposedPorts"]) == {"8080/tcp", "8081/tcp"}
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]


def test_version_and_help_need_no_shell_nor_a_writable_root(images: Images, no_shell: list[str]):
    version = ok(podman("run", *hardened(), *no_shell, images.image, "--version"))
    assert version.strip() == f"atlassian-operator {VERSION}"
    usage = ok(podman("run", *hardened(), *no_shell, images.image, "--help"))
    assert usage.startswith("usage: atlassian-operator")
    for command in ("run", "simulate", "report"):
        assert re.search(rf"^\s+{command}\b", usage, re.M), f"no '{command}' in:\n{usage}"
    run_usage = ok(podman("run", *hardened(), *no_shell, images.image, "run", "--help"))
    assert "--all-namespaces" in run_usage and "--metrics-port" in run_usage


def test_the_operator_imports_and_the_image_has_no_pip_nor_bytecode(
    images: Images, no_shell: list[str]
):
    script = (
        "import importlib.util, json, os\n"
        # What `atlassian-operator run` imports: kopf, the Kubernetes client, the handlers.
        "import kopf, kubernetes.client, httpx, pydantic, aiohttp, prometheus_client\n"
        "import atlassian_operator.runner, atlassian_operator.handlers\n"
        "print(json.dumps({\n"
        "  'absent': [m for m in ('pip', 'setuptools') if importlib.util.find_spec(m) is None],\n"
        "  'pycache': [r for r, _, _ in os.walk('/opt/venv') if r.endswith('__pycache__')],\n"
        "}))\n"
    )
    out = ok(
        podman("run", *hardened(), *no_shell, "--entrypoint", PYTHON, images.image, "-c", script)
    )
    found = json.loads(out)
    assert found["absent"] == ["pip", "setuptools"]
    assert found["pycache"] == []


def _lines(stream: IO[str]) -> queue.Queue[str | None]:
    """The lines of `stream`, read by a thread; None once it is closed."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_simulator_serves_from_the_image_and_stops_on_sigterm(images: Images, no_shell: list[str]):
    """A server runs under the same constraints, and gets SIGTERM itself (exec form)."""
    name = f"atlassian-operator-test-{uuid.uuid4().hex[:8]}"
    args = ["simulate", "--host=127.0.0.1", "--port=0", "--org-id=org-image", "--api-key=k3y"]
    args += ["--users=3", "--admins=0", "--unmanaged=0", "--scim-every=0"]
    cmd = [str(PODMAN_SH), "run", f"--name={name}", *hardened("host"), *no_shell, images.image]
    with subprocess.Popen(
        [*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            lines = _lines(proc.stdout)
            deadline = time.monotonic() + 60
            url = None
            while url is None:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    line = None
                if line is None:
                    proc.kill()
                    pytest.fail(f"the simulator did not start listening: {proc.stderr.read()}")
                if m := re.match(r"simulator listening on (http://\S+)", line):
                    url = m.group(1)
            users = f"{url}/admin/v1/orgs/org-image/users"
            request = urllib.request.Request(users, headers={"Authorization": "Bearer k3y"})
            with urllib.request.urlopen(request, timeout=10) as response:
                page = json.load(response)
            assert page["meta"]["total"] == 3 and len(page["data"]) == 3
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(users, timeout=10).close()
            refused.value.close()
            assert refused.value.code == 401

            # Well within the grace period: a shell as PID 1 would not pass SIGTERM on, and
            # the container would be killed after 30 s (exit 137).
            ok(podman("stop", "--time=30", name))
            proc.wait(timeout=30)
            stderr = proc.stderr.read()
            assert proc.returncode == 0, f"exit {proc.returncode}: {stderr}"
            assert "simulator stopping" in stderr
        finally:
            if proc.poll() is None:
                proc.kill()
            podman("rm", "--force", "--ignore", name)


def _archive_config(archive: Path) -> tuple[str, dict[str, Any]]:
    """The reference an OCI archive names (containerd's import uses it) and the image config."""
    with tarfile.open(archive) as tar:

        def blob(digest: str) -> Any:
            member = tar.extractfile(f"blobs/{digest.replace(':', '/')}")
            assert member is not None, digest
            return json.load(member)

        index_file = tar.extractfile("index.json")
        assert index_file is not None
        (manifest_desc,) = json.load(index_file)["manifests"]
        manifest = blob(manifest_desc["digest"])
        return manifest_desc["annotations"]["org.opencontainers.image.ref.name"], blob(
            manifest["config"]["digest"]
        )["config"]


def test_archives_hold_the_images_under_their_names(images: Images):
    ref, cfg = _archive_config(images.archive)
    assert ref == images.image
    assert cfg["User"] == "10001:10001" and cfg["Entrypoint"] == [ENTRYPOINT]
    ref, cfg = _archive_config(images.pause_archive)
    # The name containerd's CRI asks for as the sandbox image: registry.k8s.io/pause:<TAG>.
    assert ref == images.pause_image
    assert re.fullmatch(r"registry\.k8s\.io/pause:\d+\.\d+(\.\d+)?", ref)
    assert cfg["Entrypoint"] == ["/pause"] and cfg["User"] == "65535:65535"


def test_pause_image_runs_and_exits_on_sigterm(images: Images):
    version = ok(podman("run", "--rm", "--network=none", images.pause_image, "-v"))
    assert version.startswith(f"pause.c v{images.pause_image.rsplit(':', 1)[1]}-")
    name = f"atlassian-pause-test-{uuid.uuid4().hex[:8]}"
    try:
        ok(
            podman(
                "run", "--detach", f"--name={name}", "--network=none", "--read-only",
                "--cap-drop=ALL", "--security-opt=no-new-privileges", images.pause_image,
            )
        )  # fmt: skip
        ok(podman("stop", "--time=30", name))  # SIGTERM; SIGKILL only after 30 s
        state = ok(podman("inspect", "--format={{.State.ExitCode}}", name)).strip()
        assert state == "0", ok(podman("logs", name))
        assert "Shutting down, got signal: Terminated" in podman("logs", name).stderr
    finally:
        podman("rm", "--force", "--ignore", name)


def test_a_second_build_changes_nothing(images: Images):
    image_id = ok(podman("image", "inspect", "--format={{.Id}}", images.image))
    mtimes = (images.archive.stat().st_mtime_ns, images.pause_archive.stat().st_mtime_ns)
    proc, again = run_build()
    assert again == images
    assert "is up to date" in proc.stderr
    assert (images.archive.stat().st_mtime_ns, images.pause_archive.stat().st_mtime_ns) == mtimes
    assert ok(podman("image", "inspect", "--format={{.Id}}", images.image)) == image_id
