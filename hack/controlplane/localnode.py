"""A real node for the local control plane: containerd + runc + kubelet, and the controllers
that turn a Deployment into a running Pod (kube-controller-manager, kube-scheduler, kube-proxy).

Used by controlplane.py (`up --node`, `ControlPlane.start(..., node=True)`); the facts and
workarounds for this kind of host are in /work/shared/NODE.md. What a node changes on the host
is recorded before it starts and undone by `stop()`:

- a bridge (BRIDGE, gateway NODE_IP) that the API server, the kubelet and the Pods share, so
  that all traffic stays on this machine;
- sysctls that the kubelet, kube-proxy and the CNI bridge plugin set (SYSCTLS);
- iptables chains that kube-proxy, the kubelet and CNI add (only chains that were not there
  before are removed, with the rules that jump to them);
- network namespaces, mounts and cgroups of the Pods.

Processes are the ones recorded when they were started; containerd's shims are found by the
node's own containerd socket in their command line. One node runs on a machine at a time:
kube-proxy's iptables chains are global (OWNER_FILE says which state directory owns the node).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NODE_NAME = "atlassian-operator-node"
BRIDGE = "aonode0"
POD_CIDR = "10.244.0.0/24"
NODE_IP = "10.244.0.1"
# Built by hack/image/build.sh from Kubernetes' own pause.c: no registry is reachable here.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
CNI_BIN_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins
RUNC = "/usr/sbin/runc"  # runc, not crun: crun refuses this host's hybrid cgroup layout
OWNER_FILE = Path("/run/atlassian-operator-node/owner")
HOST_STATE = "node-host.json"
SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
)
IPTABLES = ("iptables", "ip6tables")
TABLES = ("filter", "nat", "mangle")
CGROUP_ROOT = Path("/sys/fs/cgroup")
POD_CGROUP = "kubepods"
NODE_READY_TIMEOUT = 90.0
POD_DRAIN_TIMEOUT = 40.0


class NodeError(RuntimeError):
    """Preparing, starting or stopping the node failed; the message says why and what to do."""


def _run(*args: str, check: bool = True, input: str | None = None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, input=input, check=False)
    if check and proc.returncode != 0:
        raise NodeError(f"`{' '.join(args)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def require_host() -> None:
    """The node needs root and the Debian packages of hack/node/packages.sh."""
    if os.geteuid() != 0:
        raise NodeError("a real node needs root (containerd, kubelet, bridges, iptables)")
    missing = [
        tool
        for tool in ("containerd", "ctr", "ip", "iptables-save", "conntrack")
        if shutil.which(tool) is None
    ]
    missing += [p for p in (RUNC, f"{CNI_BIN_DIR}/bridge") if not os.access(p, os.X_OK)]
    if missing:
        raise NodeError(
            f"missing for a real node: {', '.join(missing)}; run hack/node/packages.sh "
            "(make node does)"
        )


# --------------------------------------------------------------------------- host changes


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def _chains(tool: str, table: str) -> list[str]:
    out = _run(f"{tool}-save", "-t", table, check=False)
    return re.findall(r"^:(\S+)", out, flags=re.MULTILINE)


def _cgroup_dirs() -> list[str]:
    if not CGROUP_ROOT.is_dir():
        return []
    return sorted(str(p) for p in CGROUP_ROOT.glob(f"*/{POD_CGROUP}"))


def _netns() -> list[str]:
    d = Path("/run/netns")
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def host_snapshot() -> dict[str, Any]:
    """What a node may change on the host, as it is now."""
    sysctls = {}
    for name in SYSCTLS:
        path = _sysctl_path(name)
        if path.exists():
            sysctls[name] = path.read_text().strip()
    return {
        "sysctls": sysctls,
        "chains": {f"{t}/{tb}": _chains(t, tb) for t in IPTABLES for tb in TABLES},
        "cgroups": _cgroup_dirs(),
        "netns": _netns(),
        "bridge": Path(f"/sys/class/net/{BRIDGE}").exists(),
    }


def host_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two snapshots, in words (empty when the host is as it was)."""
    found = []
    for name, value in before["sysctls"].items():
        if after["sysctls"].get(name) != value:
            found.append(f"sysctl {name} {value} -> {after['sysctls'].get(name)}")
    for key, chains in after["chains"].items():
        added = sorted(set(chains) - set(before["chains"].get(key, [])))
        if added:
            found.append(f"{key}: new chains {', '.join(added)}")
    for what in ("cgroups", "netns"):
        added = sorted(set(after[what]) - set(before[what]))
        if added:
            found.append(f"new {what}: {', '.join(added)}")
    if after["bridge"] and not before["bridge"]:
        found.append(f"bridge {BRIDGE} still exists")
    return found


def record_host(workdir: Path) -> dict[str, Any]:
    """Snapshot the host before the node starts (to HOST_STATE), for restore_host."""
    state = host_snapshot()
    (workdir / HOST_STATE).write_text(json.dumps(state, indent=2))
    return state


def restore_host(workdir: Path) -> list[str]:
    """Undo what the node changed on the host; returns what could not be undone."""
    try:
        state = json.loads((workdir / HOST_STATE).read_text())
    except (OSError, ValueError):
        return []
    problems: list[str] = []
    for name in set(_netns()) - set(state["netns"]):
        if name.startswith("cni-"):
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
    _run("ip", "link", "delete", BRIDGE, check=False)
    for key, before in state["chains"].items():
        tool, table = key.split("/")
        problems += _remove_chains(tool, table, set(before))
    for cg in sorted(set(_cgroup_dirs()) - set(state["cgroups"])):
        problems += _remove_cgroup_tree(Path(cg))
    for name, value in state["sysctls"].items():
        path = _sysctl_path(name)
        try:
            if path.read_text().strip() != value:
                path.write_text(value)
        except OSError as e:
            problems.append(f"sysctl {name}={value}: {e}")
    return problems


def _remove_chains(tool: str, table: str, before: set[str]) -> list[str]:
    """Restore `table` without the chains that were not there before, and rules using them."""
    saved = _run(f"{tool}-save", "-t", table, check=False)
    added = {c for c in re.findall(r"^:(\S+)", saved, flags=re.MULTILINE) if c not in before}
    if not added:
        return []
    kept = []
    for line in saved.splitlines():
        words = line.split()
        if line.startswith(":") and words[0][1:] in added:
            continue
        if line.startswith("-A") and (words[1] in added or _jumps_to(words, added)):
            continue
        kept.append(line)
    proc = subprocess.run(
        [f"{tool}-restore", "-T", table],
        input="\n".join(kept) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return [f"{tool}-restore -T {table}: {proc.stderr.strip()}"]
    return []


def _jumps_to(words: list[str], chains: set[str]) -> bool:
    return any(
        w in ("-j", "-g", "--jump", "--goto") and nxt in chains
        for w, nxt in itertools.pairwise(words)
    )


def _remove_cgroup_tree(root: Path) -> list[str]:
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            d.rmdir()
    try:
        root.rmdir()
    except OSError as e:
        return [f"cgroup {root}: {e}"]
    return []


def make_bridge() -> None:
    """The bridge the Pods attach to; its address is the node's (and the API server's)."""
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        _run("ip", "link", "delete", BRIDGE)
    _run("ip", "link", "add", BRIDGE, "type", "bridge")
    _run("ip", "addr", "add", f"{NODE_IP}/{POD_CIDR.split('/')[1]}", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")


def unmount_under(directory: Path) -> None:
    """Unmount what the Pods mounted under the node's directory, deepest first."""
    prefix = str(directory.resolve()) + "/"
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point.startswith(prefix):
            mounts.append(point)
    for point in sorted(set(mounts), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


# --------------------------------------------------------------------------- ownership


def claim(workdir: Path, running: Any) -> None:
    """One node per machine. `running(dir)` says whether the node recorded in dir still runs."""
    if OWNER_FILE.exists():
        other = Path(OWNER_FILE.read_text().strip())
        if other != workdir and running(other):
            raise NodeError(
                f"a node already runs from {other} (kube-proxy's iptables chains are global, so "
                f"two cannot share this machine); stop it: "
                f"python hack/controlplane/controlplane.py down --dir {other}"
            )
    OWNER_FILE.parent.mkdir(parents=True, exist_ok=True)
    OWNER_FILE.write_text(f"{workdir}\n")


def release(workdir: Path) -> None:
    if OWNER_FILE.exists() and Path(OWNER_FILE.read_text().strip()) == workdir:
        OWNER_FILE.unlink()


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class NodeLayout:
    """Where each component of the node keeps its configuration and state."""

    root: Path

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd" / "config.toml"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet" / "config.yaml"

    @property
    def kubelet_dir(self) -> Path:
        return self.root / "kubelet" / "root"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pods"

    def create(self) -> None:
        for d in (
            self.containerd_config.parent,
            self.cni_conf_dir,
            self.kubelet_dir,
            self.pod_logs,
            self.root / "cni" / "ipam",
        ):
            d.mkdir(parents=True, exist_ok=True)


def containerd_config(layout: NodeLayout) -> str:
    """containerd 1.6 with the CRI plugin; the workarounds this host needs are NODE.md's."""
    r = layout.root / "containerd"
    return f"""\
version = 2
root = "{r / "root"}"
state = "{r / "state"}"
# Other plugins would use the system's /opt/containerd and /var/lib/containerd.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{layout.containerd_socket}"

[ttrpc]
  address = "{layout.containerd_socket}.ttrpc"

[debug]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # No CAP_SYS_RESOURCE here: without this, runc fails every sandbox with
  # "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  disable_hugetlb_controller = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{layout.cni_conf_dir}"
"""


def cni_config(layout: NodeLayout) -> str:
    """A bridge with host-local addresses: Pods reach the node (and the API server) on it."""
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": "atlassian-operator-node",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,  # nothing leaves this machine
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(layout.root / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def kubelet_config(layout: NodeLayout, *, ca_cert: Path, port: int, healthz_port: int) -> str:
    return f"""\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {NODE_IP}
port: {port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {healthz_port}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {ca_cert}}}
authorization: {{mode: Webhook}}
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
protectKernelDefaults: false
containerRuntimeEndpoint: unix://{layout.containerd_socket}
imageServiceEndpoint: unix://{layout.containerd_socket}
podLogsDir: {layout.pod_logs}
staticPodPath: ""
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
# Images come from archives (no registry): the image garbage collector must never delete them,
# and a busy disk must not evict the Pods under test.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {{memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}}
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 10s
"""


def import_image(layout: NodeLayout, archive: Path) -> str:
    """Import an image archive into the node's containerd (namespace k8s.io)."""
    return _run(
        "ctr",
        "--address",
        str(layout.containerd_socket),
        "--namespace",
        "k8s.io",
        "images",
        "import",
        "--no-unpack",
        str(archive),
    )


def node_tasks(layout: NodeLayout) -> list[str]:
    out = _run(
        "ctr",
        "--address",
        str(layout.containerd_socket),
        "--namespace",
        "k8s.io",
        "tasks",
        "ls",
        "--quiet",
        check=False,
    )
    return out.split()


def kill_tasks(layout: NodeLayout) -> None:
    """Kill what is still running in the node's containerd (after the kubelet is gone)."""
    ctr = ["ctr", "--address", str(layout.containerd_socket), "--namespace", "k8s.io"]
    for task in node_tasks(layout):
        subprocess.run([*ctr, "tasks", "kill", "--signal", "SIGKILL", task], capture_output=True)
    deadline = time.monotonic() + 10
    while node_tasks(layout) and time.monotonic() < deadline:
        time.sleep(0.1)
    for task in node_tasks(layout):
        subprocess.run([*ctr, "tasks", "delete", "--force", task], capture_output=True)


def shim_pids(layout: NodeLayout) -> list[int]:
    """containerd-shim processes that serve this node's containerd (by its socket path)."""
    needle = str(layout.containerd_socket).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmdline and needle in cmdline:
            pids.append(int(proc.name))
    return pids
