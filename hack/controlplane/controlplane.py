#!/usr/bin/env python3
"""A real, local Kubernetes control plane (etcd + kube-apiserver) without Docker.

Module and script. The binaries are built once from Go modules by build.sh (see
/work/shared/CONTROLPLANE.md) into a cache outside the repository; this file starts them
as plain processes on free 127.0.0.1 ports, the way controller-runtime's envtest does:

    python hack/controlplane/controlplane.py up --dir .dev/controlplane --kubeconfig .dev/kubeconfig
    python hack/controlplane/controlplane.py status --dir .dev/controlplane
    python hack/controlplane/controlplane.py down --dir .dev/controlplane

    from controlplane import ControlPlane
    cp = ControlPlane.start(workdir)      # returns when /readyz is ok and namespaces exist
    ... cp.kubeconfig, cp.server ...
    cp.stop()

By default there is no kube-controller-manager, scheduler or kubelet: namespaces never
finish deleting, there is no garbage collection and no `default` ServiceAccount per namespace.
etcd listens on plain http on loopback only; the API server serves TLS, authenticates
clients with certificates signed by a local CA, and authorizes with RBAC.

With a node (`up --node`, `ControlPlane.start(..., node=True)`; root only, one per machine)
localnode.py adds containerd + runc + kubelet, kube-controller-manager, kube-scheduler and
kube-proxy, so that a Deployment becomes a running Pod. The API server then listens on the
node's bridge address (localnode.NODE_IP) instead of 127.0.0.1, so that Pods reach it too.

Depends only on the standard library and `cryptography`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import localnode as _node

HERE = Path(__file__).resolve().parent
BUILD_SH = HERE / "build.sh"
STATE_FILE = "state.json"
MARKER = "atlassian-operator controlplane"
SERVICE_CIDR = "10.0.0.0/24"
SERVICE_IP = "10.0.0.1"
SA_ISSUER = "https://kubernetes.default.svc"
CONTEXT = "atlassian-operator-local"
DEFAULT_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
LOG_TAIL = 40

__all__ = ["ControlPlane", "ControlPlaneError", "ensure_binaries", "image_archives"]
CORE = ("etcd", "kube-apiserver")
NODE = ("kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy")
IMAGE_BUILD_SH = HERE.parent / "image" / "build.sh"


class ControlPlaneError(RuntimeError):
    """Building, starting or stopping the control plane failed; the message says why."""


# --------------------------------------------------------------------------- binaries


def ensure_binaries(node: bool = False) -> Path:
    """Return the directory holding `etcd` and `kube-apiserver`, building them if missing.

    With `node`, also the kubelet, kube-controller-manager, kube-scheduler and kube-proxy.
    CONTROLPLANE_BIN_DIR overrides the cache (a directory with the binaries). Otherwise
    build.sh is run: it does nothing when the binaries exist, and otherwise builds them
    (15-30 minutes the first time on 2 cores; its progress goes to stderr).
    """
    override = os.environ.get("CONTROLPLANE_BIN_DIR")
    if override:
        bin_dir = Path(override)
    else:
        proc = subprocess.run(
            [str(BUILD_SH), *(["node"] if node else [])],
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ControlPlaneError(
                f"{BUILD_SH} failed with exit code {proc.returncode} (its output is above)"
            )
        lines = proc.stdout.strip().splitlines()
        if not lines:
            raise ControlPlaneError(f"{BUILD_SH} printed no bin directory")
        bin_dir = Path(lines[-1])
    for name in (*CORE, *(NODE if node else ())):
        if not os.access(bin_dir / name, os.X_OK):
            raise ControlPlaneError(f"binary missing or not executable: {bin_dir / name}")
    return bin_dir


def image_archives() -> dict[str, str]:
    """Build (first time only) the operator and pause images; their refs and archive paths.

    hack/image/build.sh prints `key=value` lines: image, archive, pause_image, pause_archive.
    """
    proc = subprocess.run(
        [str(IMAGE_BUILD_SH)], stdout=subprocess.PIPE, stderr=None, text=True, check=False
    )
    if proc.returncode != 0:
        raise ControlPlaneError(
            f"{IMAGE_BUILD_SH} failed with exit code {proc.returncode} (its output is above)"
        )
    found = dict(
        line.split("=", 1) for line in proc.stdout.splitlines() if re.match(r"^\w+=", line)
    )
    missing = {"image", "archive", "pause_image", "pause_archive"} - found.keys()
    if missing:
        raise ControlPlaneError(f"{IMAGE_BUILD_SH} did not print {', '.join(sorted(missing))}")
    return found


# --------------------------------------------------------------------------- certificates


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.write_bytes(data)
    path.chmod(mode)


def _make_pki(pki: Path) -> dict[str, Path]:
    """A CA, a serving cert, an admin client cert and the service-account key pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    pki.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=365)

    def name(cn: str, org: str | None = None) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    def pem_key(key: Any) -> bytes:
        return key.private_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    # ECDSA P-256 for TLS: generating it takes microseconds, RSA-2048 tens of milliseconds.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("atlassian-operator-local-ca")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        subject: x509.Name, usage: Any, sans: list[x509.GeneralName] | None
    ) -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    serving_sans: list[x509.GeneralName] = [
        x509.DNSName(n)
        for n in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    serving_sans += [
        x509.IPAddress(ipaddress.ip_address(ip))
        for ip in ("127.0.0.1", "::1", SERVICE_IP, _node.NODE_IP)
    ]
    srv_key, srv_cert = leaf(name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, serving_sans)
    adm_key, adm_cert = leaf(name("admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH, None)
    # The kubelet's identity, for the Node authorizer and NodeRestriction.
    node_key, node_cert = leaf(
        name(f"system:node:{_node.NODE_NAME}", "system:nodes"),
        ExtendedKeyUsageOID.CLIENT_AUTH,
        None,
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    pem = serialization.Encoding.PEM
    paths = {
        "ca_cert": pki / "ca.crt",
        "ca_key": pki / "ca.key",
        "serving_cert": pki / "apiserver.crt",
        "serving_key": pki / "apiserver.key",
        "admin_cert": pki / "admin.crt",
        "admin_key": pki / "admin.key",
        "node_cert": pki / "node.crt",
        "node_key": pki / "node.key",
        "sa_key": pki / "sa.key",
        "sa_pub": pki / "sa.pub",
    }
    _write(paths["ca_cert"], ca_cert.public_bytes(pem))
    _write(paths["ca_key"], pem_key(ca_key), 0o600)
    _write(paths["serving_cert"], srv_cert.public_bytes(pem))
    _write(paths["serving_key"], pem_key(srv_key), 0o600)
    _write(paths["admin_cert"], adm_cert.public_bytes(pem))
    _write(paths["admin_key"], pem_key(adm_key), 0o600)
    _write(paths["node_cert"], node_cert.public_bytes(pem))
    _write(paths["node_key"], pem_key(node_key), 0o600)
    _write(paths["sa_key"], pem_key(sa_key), 0o600)
    _write(
        paths["sa_pub"],
        sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
    )
    return paths


def _b64(path: Path) -> str:
    import base64

    return base64.b64encode(path.read_bytes()).decode()


def _write_kubeconfig(path: Path, server: str, pki: dict[str, Path], user: str = "admin") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"""\
apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {server}
    certificate-authority-data: {_b64(pki["ca_cert"])}
users:
- name: {CONTEXT}-admin
  user:
    client-certificate-data: {_b64(pki[f"{user}_cert"])}
    client-key-data: {_b64(pki[f"{user}_key"])}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}-admin
    namespace: default
current-context: {CONTEXT}
preferences: {{}}
"""
    tmp = path.with_name(path.name + ".tmp")
    _write(tmp, text.encode(), 0o600)
    tmp.replace(path)


# --------------------------------------------------------------------------- processes


def _free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (all bound at once, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path | None, n: int = LOG_TAIL) -> str:
    if path is None or not path.exists():
        return "(no log)"
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join(lines[-n:]) or "(empty log)"


def _proc_starttime(pid: int) -> int | None:
    """Start time of a pid (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _proc_exe(pid: int) -> str | None:
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    return exe.removesuffix(" (deleted)")


@dataclass
class _Proc:
    name: str
    pid: int
    exe: str
    starttime: int | None
    log: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    args: list[str] = field(default_factory=list, repr=False)

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _proc_starttime(self.pid) is not None

    def is_ours(self) -> bool:
        """The pid still runs the binary we started (not a recycled pid)."""
        if not self.alive():
            return False
        if _proc_exe(self.pid) != self.exe:
            return False
        return self.starttime is None or _proc_starttime(self.pid) == self.starttime

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        if not self.is_ours():
            if self.popen is not None:
                self.popen.poll()
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self.popen is not None:
                    try:
                        self.popen.wait(timeout=0.05)
                    except subprocess.TimeoutExpired:
                        continue
                    return
                if _proc_starttime(self.pid) != self.starttime:
                    return
                time.sleep(0.05)
        if self.popen is not None:
            self.popen.wait(timeout=5)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "exe": self.exe,
            "starttime": self.starttime,
            "log": str(self.log),
            "args": self.args,
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> _Proc:
        return cls(
            name, data["pid"], data["exe"], data["starttime"], Path(data["log"]),
            args=list(data.get("args", [])),
        )  # fmt: skip


def _spawn(name: str, exe: Path, args: list[str], log: Path, cwd: Path) -> _Proc:
    with log.open("ab") as out:
        popen = subprocess.Popen(
            [str(exe), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,  # detached: survives the script, no terminal signals
            env={k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
        )
    return _Proc(
        name, popen.pid, str(exe.resolve()), _proc_starttime(popen.pid), log, popen, list(args)
    )


# --------------------------------------------------------------------------- the control plane


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver pair (or, with `external`, someone else's cluster)."""

    kubeconfig: Path
    server: str | None = None
    workdir: Path | None = None
    bin_dir: Path | None = None
    ca_cert: Path | None = None
    admin_cert: Path | None = None
    admin_key: Path | None = None
    etcd_url: str | None = None
    startup_seconds: float | None = None
    owned: bool = True
    node: bool = False
    _procs: list[_Proc] = field(default_factory=list, repr=False)

    ensure_binaries = staticmethod(ensure_binaries)

    # ---- starting

    @classmethod
    def start(
        cls,
        workdir: str | os.PathLike[str],
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        bin_dir: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        node: bool = False,
    ) -> ControlPlane:
        """Start etcd and kube-apiserver with their state under `workdir`.

        Returns once /readyz is ok and namespaces default and kube-system exist. The
        kubeconfig (embedded certificates, admin = system:masters) goes to `kubeconfig`,
        default `workdir/../kubeconfig`. Raises ControlPlaneError with the log tail.
        With `node`, also starts a real node (localnode.py) and returns once it is Ready and
        the `default` ServiceAccount exists; the pause image must be imported by then, so
        the images are built first (hack/image/build.sh).
        """
        t0 = time.monotonic()
        workdir = Path(workdir).resolve()
        kcfg = Path(kubeconfig).resolve() if kubeconfig else workdir.parent / "kubeconfig"
        bins = Path(bin_dir) if bin_dir else ensure_binaries(node=node)
        for name in (*CORE, *(NODE if node else ())):
            if not os.access(bins / name, os.X_OK):
                raise ControlPlaneError(f"binary missing or not executable: {bins / name}")
        images = {}
        if node:
            try:
                _node.require_host()
            except _node.NodeError as e:
                raise ControlPlaneError(str(e)) from None
            images = image_archives()

        state = workdir / STATE_FILE
        if workdir.exists() and any(workdir.iterdir()):
            if not state.exists():
                raise ControlPlaneError(
                    f"{workdir} is not empty and was not created by this script; refusing to use it"
                )
            old = cls.attach(workdir)
            if old.running():
                raise ControlPlaneError(
                    f"a control plane is already running from {workdir} ({old.server}); "
                    "stop it first"
                )
            old.stop()
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / STATE_FILE).write_text(json.dumps({"marker": MARKER}))
        pki = _make_pki(workdir / "pki")
        (workdir / "logs").mkdir(exist_ok=True)

        last_error: ControlPlaneError | None = None
        for _attempt in range(2):  # a second try only if a chosen port was taken meanwhile
            cp = cls(
                kubeconfig=kcfg,
                workdir=workdir,
                bin_dir=bins,
                ca_cert=pki["ca_cert"],
                admin_cert=pki["admin_cert"],
                admin_key=pki["admin_key"],
                node=node,
            )
            try:
                if node:
                    cp._prepare_node_host()
                cp._launch(pki, timeout=max(1.0, timeout - (time.monotonic() - t0)))
                if node:
                    remaining = max(1.0, timeout - (time.monotonic() - t0))
                    cp._launch_node(pki, images, timeout=remaining + _node.NODE_READY_TIMEOUT)
            except _PortClash as exc:
                cp._stop_processes()
                last_error = exc
                continue
            except BaseException:
                cp._stop_processes()
                raise
            cp.startup_seconds = time.monotonic() - t0
            cp._save()
            return cp
        assert last_error is not None
        raise last_error

    def _launch(self, pki: dict[str, Path], timeout: float) -> None:
        assert self.workdir is not None and self.bin_dir is not None
        deadline = time.monotonic() + timeout
        etcd_client, etcd_peer, secure = _free_ports(3)
        self.etcd_url = f"http://127.0.0.1:{etcd_client}"
        address = _node.NODE_IP if self.node else "127.0.0.1"
        self.server = f"https://{address}:{secure}"
        data = self.workdir / "etcd"
        shutil.rmtree(data, ignore_errors=True)
        logs = self.workdir / "logs"
        peer = f"http://127.0.0.1:{etcd_peer}"
        self._procs.append(
            _spawn(
                "etcd",
                self.bin_dir / "etcd",
                [
                    "--name=controlplane",
                    f"--data-dir={data}",
                    f"--listen-client-urls={self.etcd_url}",
                    f"--advertise-client-urls={self.etcd_url}",
                    f"--listen-peer-urls={peer}",
                    f"--initial-advertise-peer-urls={peer}",
                    f"--initial-cluster=controlplane={peer}",
                    "--initial-cluster-state=new",
                    "--unsafe-no-fsync",
                    "--log-level=warn",
                ],
                logs / "etcd.log",
                self.workdir,
            )
        )
        self._procs.append(
            _spawn(
                "kube-apiserver",
                self.bin_dir / "kube-apiserver",
                [
                    f"--etcd-servers={self.etcd_url}",
                    f"--bind-address={address}",
                    f"--secure-port={secure}",
                    f"--cert-dir={self.workdir / 'pki'}",
                    f"--tls-cert-file={pki['serving_cert']}",
                    f"--tls-private-key-file={pki['serving_key']}",
                    f"--client-ca-file={pki['ca_cert']}",
                    f"--service-account-issuer={SA_ISSUER}",
                    f"--service-account-signing-key-file={pki['sa_key']}",
                    f"--service-account-key-file={pki['sa_pub']}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--profiling=false",
                    *(self._node_apiserver_args(pki) if self.node else _PROCESS_ONLY_ARGS),
                ],
                logs / "kube-apiserver.log",
                self.workdir,
            )
        )
        self._save()
        _write_kubeconfig(self.kubeconfig, self.server, pki)
        self._wait_ready(deadline)

    # ---- the node

    def _node_apiserver_args(self, pki: dict[str, Path]) -> list[str]:
        return [
            f"--advertise-address={_node.NODE_IP}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            # `kubectl logs` and `exec`: the API server calls the kubelet as admin.
            f"--kubelet-client-certificate={pki['admin_cert']}",
            f"--kubelet-client-key={pki['admin_key']}",
            "--kubelet-preferred-address-types=InternalIP",  # the node's name is not in DNS
        ]

    def _prepare_node_host(self) -> None:
        assert self.workdir is not None
        try:
            _node.claim(self.workdir, _node_running)
            _node.record_host(self.workdir)
            _node.make_bridge()
        except _node.NodeError as e:
            raise ControlPlaneError(str(e)) from None

    def _launch_node(self, pki: dict[str, Path], images: dict[str, str], timeout: float) -> None:
        assert self.workdir is not None and self.bin_dir is not None and self.server
        deadline = time.monotonic() + timeout
        layout = _node.NodeLayout(self.workdir / "node")
        layout.create()
        logs = self.workdir / "logs"
        admin = self.workdir / "pki" / "admin.kubeconfig"
        node_kcfg = self.workdir / "pki" / "node.kubeconfig"
        _write_kubeconfig(admin, self.server, pki)
        _write_kubeconfig(node_kcfg, self.server, pki, user="node")
        layout.containerd_config.write_text(_node.containerd_config(layout))
        (layout.cni_conf_dir / "10-atlassian-operator-node.conflist").write_text(
            _node.cni_config(layout)
        )
        kubelet_port, kubelet_healthz, kcm_port, sched_port, proxy_metrics, proxy_healthz = (
            _free_ports(6)
        )
        layout.kubelet_config.write_text(
            _node.kubelet_config(
                layout, ca_cert=pki["ca_cert"], port=kubelet_port, healthz_port=kubelet_healthz
            )
        )
        containerd = shutil.which("containerd") or "/usr/bin/containerd"
        self._procs.append(
            _spawn(
                "containerd",
                Path(containerd),
                ["--config", str(layout.containerd_config)],
                logs / "containerd.log",
                self.workdir,
            )
        )
        self._save()
        self._wait_for(
            lambda: layout.containerd_socket.exists() or None, deadline, "containerd's socket"
        )
        for archive in (images["pause_archive"], images["archive"]):
            try:
                _node.import_image(layout, Path(archive))
            except _node.NodeError as e:
                raise ControlPlaneError(str(e)) from None
        b = self.bin_dir
        common = [f"--kubeconfig={admin}", "--bind-address=127.0.0.1"]
        auth = [f"--authentication-kubeconfig={admin}", f"--authorization-kubeconfig={admin}"]
        components = [
            (
                "kubelet",
                [
                    f"--config={layout.kubelet_config}",
                    f"--kubeconfig={node_kcfg}",
                    f"--hostname-override={_node.NODE_NAME}",
                    f"--node-ip={_node.NODE_IP}",
                    f"--root-dir={layout.kubelet_dir}",
                    f"--cert-dir={layout.root / 'kubelet' / 'pki'}",
                ],
            ),
            (
                "kube-controller-manager",
                [
                    *common,
                    *auth,
                    f"--secure-port={kcm_port}",
                    "--leader-elect=false",
                    f"--service-account-private-key-file={pki['sa_key']}",
                    f"--root-ca-file={pki['ca_cert']}",
                    "--use-service-account-credentials=false",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                ],
            ),
            (
                "kube-scheduler",
                [*common, *auth, f"--secure-port={sched_port}", "--leader-elect=false"],
            ),
            (
                "kube-proxy",
                [
                    f"--kubeconfig={admin}",
                    f"--hostname-override={_node.NODE_NAME}",
                    f"--cluster-cidr={_node.POD_CIDR}",
                    "--proxy-mode=iptables",
                    f"--metrics-bind-address=127.0.0.1:{proxy_metrics}",
                    f"--healthz-bind-address=127.0.0.1:{proxy_healthz}",
                    "--conntrack-max-per-core=0",  # leave the host's conntrack sysctls alone
                ],
            ),
        ]
        for name, args in components:
            self._procs.append(_spawn(name, b / name, args, logs / f"{name}.log", self.workdir))
        self._save()
        ctx = self._ssl()

        def node_ready() -> bool | None:
            status, body = self._get(f"/api/v1/nodes/{_node.NODE_NAME}", ctx)
            if status != 200:
                return None
            conditions = json.loads(body).get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) or None

        def default_account() -> bool | None:
            return (
                self._get("/api/v1/namespaces/default/serviceaccounts/default", ctx)[0] == 200
                or None
            )

        self._wait_for(node_ready, deadline, f"node {_node.NODE_NAME} Ready")
        self._wait_for(default_account, deadline, "the default ServiceAccount (controller-manager)")

    def _wait_for(self, check: Any, deadline: float, what: str) -> None:
        while True:
            for p in self._procs:
                if not p.alive():
                    raise ControlPlaneError(
                        f"{p.name} exited while waiting for {what}; "
                        f"last lines of {p.log}:\n{_tail(p.log)}"
                    )
            try:
                if check():
                    return
            except (OSError, ssl.SSLError, ValueError):
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {p.log}:\n{_tail(p.log, 15)}" for p in self._procs if p.name in NODE
                )
                raise ControlPlaneError(f"not ready by the deadline: {what}\n{logs}")
            time.sleep(0.2)

    def _stop_node(self) -> None:
        """Stop the node and undo its changes to the host, leaving no Pod behind."""
        assert self.workdir is not None
        layout = _node.NodeLayout(self.workdir / "node")
        by_name = {p.name: p for p in self._procs}
        for name in ("kube-controller-manager", "kube-scheduler"):  # nothing recreates Pods
            if name in by_name:
                by_name[name].stop()
        if "kubelet" in by_name and by_name["kubelet"].is_ours() and self.ready():
            self._delete_all_pods()
            deadline = time.monotonic() + _node.POD_DRAIN_TIMEOUT
            while _node.node_tasks(layout) and time.monotonic() < deadline:
                time.sleep(0.2)
        for name in ("kube-proxy", "kubelet"):
            if name in by_name:
                by_name[name].stop()
        if "containerd" in by_name and by_name["containerd"].is_ours():
            _node.kill_tasks(layout)
            by_name["containerd"].stop()
        for pid in _node.shim_pids(layout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _node.unmount_under(self.workdir)
        problems = _node.restore_host(self.workdir)
        _node.release(self.workdir)
        if problems:
            print("warning: could not undo on the host: " + "; ".join(problems), file=sys.stderr)

    def _delete_all_pods(self) -> None:
        """Delete every Pod now (grace 0): the kubelet stops their containers and networks."""
        assert self.server is not None
        ctx = self._ssl()
        status, body = self._get("/api/v1/pods", ctx)
        if status != 200:
            return
        for pod in json.loads(body).get("items", []):
            meta = pod["metadata"]
            req = urllib.request.Request(
                f"{self.server}/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
                "?gracePeriodSeconds=0",
                method="DELETE",
            )
            with contextlib.suppress(urllib.error.URLError, OSError):
                urllib.request.urlopen(req, context=ctx, timeout=5).close()

    def _ssl(self) -> ssl.SSLContext:
        assert self.ca_cert and self.admin_cert and self.admin_key
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        ctx.load_cert_chain(str(self.admin_cert), str(self.admin_key))
        return ctx

    def _get(self, path: str, ctx: ssl.SSLContext, timeout: float = 5.0) -> tuple[int, str]:
        assert self.server is not None
        try:
            with urllib.request.urlopen(self.server + path, context=ctx, timeout=timeout) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def _wait_ready(self, deadline: float) -> None:
        ctx = self._ssl()
        seen = "nothing yet"
        while True:
            for p in self._procs:
                if not p.alive():
                    code = p.popen.poll() if p.popen else "?"
                    log = _tail(p.log)
                    exc_type = _PortClash if "address already in use" in log else ControlPlaneError
                    raise exc_type(
                        f"{p.name} exited (code {code}) before the control plane was ready; "
                        f"last lines of {p.log}:\n{log}"
                    )
            try:
                status, body = self._get("/readyz", ctx)
                failing = [ln for ln in body.splitlines() if ln.startswith("[-]")]
                seen = f"/readyz: {status} {' '.join(failing) or body.strip()[:200]}"
                if status == 200 and body.strip() == "ok":
                    missing = [
                        ns
                        for ns in ("default", "kube-system")
                        if self._get(f"/api/v1/namespaces/{ns}", ctx)[0] != 200
                    ]
                    if not missing:
                        return
                    seen = f"/readyz ok but namespaces missing: {', '.join(missing)}"
            except (OSError, ssl.SSLError) as e:
                seen = f"/readyz: {e}"
            if time.monotonic() > deadline:
                apiserver = self._component("kube-apiserver").log
                raise ControlPlaneError(
                    f"kube-apiserver at {self.server} not ready by the deadline; last seen: "
                    f"{seen}\nlast lines of {apiserver}:\n{_tail(apiserver)}"
                )
            time.sleep(0.1)

    # ---- state

    def _save(self) -> None:
        assert self.workdir is not None
        data = {
            "marker": MARKER,
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "bin_dir": str(self.bin_dir),
            "ca_cert": str(self.ca_cert),
            "admin_cert": str(self.admin_cert),
            "admin_key": str(self.admin_key),
            "etcd_url": self.etcd_url,
            "startup_seconds": self.startup_seconds,
            "node": self.node,
            "processes": {p.name: p.to_json() for p in self._procs},
        }
        for p in self._procs:
            (self.workdir / f"{p.name}.pid").write_text(f"{p.pid}\n")
        tmp = self.workdir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.workdir / STATE_FILE)

    @classmethod
    def attach(cls, workdir: str | os.PathLike[str]) -> ControlPlane:
        """The control plane recorded in `workdir` (started by `up` or `start`)."""
        workdir = Path(workdir).resolve()
        try:
            data = json.loads((workdir / STATE_FILE).read_text())
        except (OSError, ValueError) as e:
            raise ControlPlaneError(f"no control plane state in {workdir}: {e}") from e
        if data.get("marker") != MARKER:
            raise ControlPlaneError(f"{workdir / STATE_FILE} was not written by this script")

        def opt_path(key: str) -> Path | None:
            return Path(data[key]) if data.get(key) and data[key] != "None" else None

        return cls(
            kubeconfig=Path(data.get("kubeconfig") or workdir.parent / "kubeconfig"),
            server=data.get("server"),
            workdir=workdir,
            bin_dir=opt_path("bin_dir"),
            ca_cert=opt_path("ca_cert"),
            admin_cert=opt_path("admin_cert"),
            admin_key=opt_path("admin_key"),
            etcd_url=data.get("etcd_url"),
            startup_seconds=data.get("startup_seconds"),
            node=bool(data.get("node")),
            _procs=[_Proc.from_json(n, d) for n, d in data.get("processes", {}).items()],
        )

    @classmethod
    def external(cls, kubeconfig: str | os.PathLike[str]) -> ControlPlane:
        """Someone else's cluster: stop() leaves it alone."""
        return cls(kubeconfig=Path(kubeconfig).resolve(), owned=False)

    # ---- inspecting and stopping

    def running(self) -> bool:
        return bool(self._procs) and all(p.is_ours() for p in self._procs)

    def ready(self) -> bool:
        try:
            return self._get("/readyz", self._ssl(), timeout=2.0) == (200, "ok")
        except (OSError, ssl.SSLError, AssertionError):
            return False

    def pids(self) -> dict[str, int]:
        return {p.name: p.pid for p in self._procs}

    def stop_component(self, name: str) -> None:
        """Stop one process (e.g. kube-apiserver or etcd, for an outage test); its state stays."""
        self._component(name).stop()

    def start_component(self, name: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Start a stopped process again with its own arguments (etcd keeps its data, the API
        server its port); for kube-apiserver, returns once /readyz is ok."""
        old = self._component(name)
        if old.is_ours():
            raise ControlPlaneError(f"{name} is still running (pid {old.pid})")
        assert self.workdir is not None
        new = _spawn(name, Path(old.exe), old.args, old.log, self.workdir)
        self._procs[self._procs.index(old)] = new
        self._save()
        if name == "kube-apiserver":
            self._wait_ready(time.monotonic() + timeout)

    def _component(self, name: str) -> _Proc:
        for p in self._procs:
            if p.name == name:
                return p
        raise ControlPlaneError(f"no process named {name} (have: {', '.join(self.pids())})")

    def _stop_processes(self) -> None:
        if self.node:
            self._stop_node()
        for p in reversed(self._procs):  # the node's first, then apiserver, then etcd
            p.stop()

    def stop(self, *, keep_logs: bool = False) -> None:
        """Stop exactly the processes started here and remove their state (and kubeconfig)."""
        if not self.owned:
            return
        self._stop_processes()
        self._procs = []
        wd = self.workdir
        if wd is None or not (wd / STATE_FILE).exists():
            return
        if self.kubeconfig.exists() and not _is_inside(self.kubeconfig, wd):
            self.kubeconfig.unlink()
        if keep_logs:
            for child in wd.iterdir():
                if child.name != "logs":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            shutil.rmtree(wd, ignore_errors=True)


class _PortClash(ControlPlaneError):
    pass


# Without a node, no controller-manager creates ServiceAccounts, so their admission is off.
_PROCESS_ONLY_ARGS = ("--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount")


def _node_running(workdir: Path) -> bool:
    try:
        return ControlPlane.attach(workdir).running()
    except ControlPlaneError:
        return False


def _is_inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="controlplane.py", description="local etcd + kube-apiserver for tests and demos"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start (returns when ready; processes keep running)")
    up.add_argument(
        "--dir", required=True, type=Path, help="state directory, e.g. .dev/controlplane"
    )
    up.add_argument("--kubeconfig", type=Path, help="where to write it (default DIR/../kubeconfig)")
    up.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="readiness deadline (s)")
    up.add_argument(
        "--node",
        action="store_true",
        help="also a real node (containerd, kubelet, controller-manager, scheduler, kube-proxy)",
    )
    down = sub.add_parser("down", help="stop the processes started by `up` and remove the state")
    down.add_argument("--dir", required=True, type=Path)
    down.add_argument("--keep-logs", action="store_true")
    status = sub.add_parser("status", help="exit 0 if running and ready")
    status.add_argument("--dir", required=True, type=Path)
    build = sub.add_parser("build", help="build the binaries if missing; print the bin directory")
    build.add_argument("--node", action="store_true", help="also the node's binaries")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            print(ensure_binaries(node=args.node))
            return 0
        if args.command == "up":
            if (args.dir / STATE_FILE).exists():
                old = ControlPlane.attach(args.dir)
                if old.running() and old.ready():
                    print(f"already running: {old.server}  kubeconfig: {old.kubeconfig}")
                    return 0
            cp = ControlPlane.start(
                args.dir, kubeconfig=args.kubeconfig, timeout=args.timeout, node=args.node
            )
            print(f"control plane ready in {cp.startup_seconds:.1f}s: {cp.server}")
            print(f"pids: {cp.pids()}  logs: {args.dir / 'logs'}")
            print(f"export KUBECONFIG={cp.kubeconfig}")
            return 0
        if not (args.dir / STATE_FILE).exists():
            print(f"no control plane recorded in {args.dir}")
            return 0 if args.command == "down" else 1
        cp = ControlPlane.attach(args.dir)
        if args.command == "down":
            pids = cp.pids()
            cp.stop(keep_logs=args.keep_logs)
            print(f"stopped {pids}; removed {args.dir}")
            return 0
        running, ready = cp.running(), cp.ready()
        print(f"server: {cp.server}  pids: {cp.pids()}  running: {running}  ready: {ready}")
        print(f"kubeconfig: {cp.kubeconfig}")
        return 0 if running and ready else 1
    except ControlPlaneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
