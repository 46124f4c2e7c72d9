"""GitOps for real in tests: a Git repository served on loopback, Flux controllers as processes.

`GitServer` answers Git's smart HTTP protocol with `git http-backend` (Flux's Git client speaks
nothing older). `Repository` is the working copy a test commits to; the server serves its `.git`.
`FluxControllers` (source-controller and kustomize-controller, built by hack/flux/build.sh, watching
one namespace) and `OCIRegistry` live in hack/gitops/localflux.py, which `make gitops-up` runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# One implementation for the tests and `make gitops-up` (hack/gitops is on pytest's pythonpath).
from localflux import FluxControllers, OCIRegistry, flux_dir
from localflux import built as _built

__all__ = ["FluxControllers", "OCIRegistry", "flux_dir"]

ROOT = Path(__file__).resolve().parents[2]
ARGOCD_BUILD = ROOT / "hack" / "argocd" / "build.sh"
KUBECONFORM_BUILD = ROOT / "hack" / "tools" / "kubeconform.sh"
GITOPS_CRDS = ROOT / "hack" / "gitops" / "crds.sh"
HEALTH_LUA = ROOT / "manifests" / "argocd" / "health.lua"
EXAMPLE = ROOT / "examples" / "gitops"
GIT = shutil.which("git") or "/usr/bin/git"


def kubeconform_binary() -> Path:
    return _built(KUBECONFORM_BUILD)


def gitops_crds_dir() -> Path:
    """Flux's, notification-controller's and Argo CD's Application CRDs (hack/gitops/crds.sh)."""
    return _built(GITOPS_CRDS)


def render_local_flux_objects() -> str:
    """examples/gitops/clusters/local rendered, exactly as docs/tasks/install-gitops.md has a
    person apply it (the kustomization uses the production file beside it)."""
    proc = subprocess.run(
        ["kubectl", "kustomize", "--load-restrictor=LoadRestrictionsNone",
         str(EXAMPLE / "clusters" / "local")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize examples/gitops/clusters/local:\n{proc.stderr}")
    return proc.stdout


def argocd_health_binary() -> Path:
    return _built(ARGOCD_BUILD)


def argocd_health(objects: Sequence[dict[str, Any]], script: Path = HEALTH_LUA) -> list[Any]:
    """Each object's health as Argo CD's Lua runtime computes it with `script`."""
    proc = subprocess.run(
        [str(argocd_health_binary()), str(script)],
        input=json.dumps(list(objects)),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"argocd-health failed ({proc.returncode}): {proc.stderr}")
    results: list[Any] = json.loads(proc.stdout)
    return results


# --- Git ------------------------------------------------------------------------------------


class Repository:
    """A working copy with one branch, `main`, that tests commit to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "user.name", "Platform Team")
        self.git("config", "user.email", "platform@acme.example")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.path)}
        proc = subprocess.run(
            [GIT, "-C", str(self.path), *args], capture_output=True, text=True, env=env, check=False
        )
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def copy_tree(self, source: Path, into: str = ".") -> None:
        shutil.copytree(source, self.path / into, dirs_exist_ok=True)

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text()

    def commit(self, message: str) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        return self.head()

    def am(self, patch: Path) -> str:
        """Apply a `git format-patch` file as its own commit, as a merged pull request would."""
        self.git("am", "--quiet", str(patch))
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()


class _GitHandler(BaseHTTPRequestHandler):
    """Smart HTTP, read-only: `git http-backend` as a CGI program, one process per request."""

    server: _GitHTTPServer

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _backend(self) -> None:
        path, _, query = self.path.partition("?")
        if path.endswith("/git-receive-pack") or "service=git-receive-pack" in query:
            self.send_error(403, "read-only")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(
            [GIT, "http-backend"], input=body, capture_output=True, env=env, check=False
        )
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        with self.server.lock:
            self.server.requests.append(f"{self.command} {path}?{query} -> {status}")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request list above is the log


class _GitHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _GitHandler)
        self.root = root
        self.lock = threading.Lock()
        self.requests: list[str] = []


class GitServer:
    """Serves every repository under `root` at http://127.0.0.1:<port>/<name>."""

    def __init__(self, root: Path) -> None:
        self._server = _GitHTTPServer(root)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> GitServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}"

    @property
    def requests(self) -> list[str]:
        with self._server.lock:
            return list(self._server.requests)


# --- One test's GitOps world ----------------------------------------------------------------

KUSTOMIZATION = "atlassian-accounts"
SOURCE = "platform"


def condition_of(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return {}


class GitOps:
    """The example repository served over Git, Flux applying it, the operator acting on it."""

    def __init__(
        self,
        kube: Any,
        sim: Any,
        operator: Any,
        repo: Repository,
        server: GitServer,
        flux: FluxControllers,
    ) -> None:
        self.kube, self.sim, self.operator = kube, sim, operator
        self.repo, self.server, self.flux = repo, server, flux

    # -- Git

    def seed_repository(self, **org_spec: Any) -> str:
        """The example's accounts folder as the first commit, the org pointed at the simulator."""
        self.repo.copy_tree(EXAMPLE / "atlassian", "atlassian")
        self.edit_yaml("atlassian/org.yaml", lambda org: org["spec"].update(
            apiBaseURL=self.sim.url, **org_spec))  # fmt: skip
        return self.repo.commit("Atlassian accounts")

    def edit_yaml(self, relative: str, change: Any) -> None:
        import yaml

        doc = yaml.safe_load(self.repo.read(relative))
        change(doc)
        self.repo.write(relative, yaml.safe_dump(doc, sort_keys=False))

    # -- Flux objects

    def install_flux_objects(self, interval: str = "10s", timeout: str = "30s") -> None:
        """The example's GitRepository and Kustomization, in this test's namespace."""
        import yaml

        docs = list(
            yaml.safe_load_all((EXAMPLE / "clusters" / "production" / "atlassian.yaml").read_text())
        )
        for doc in docs:
            doc["metadata"]["namespace"] = self.kube.namespace
            # These tests run the operator as a process, not from atlassian-operator.yaml.
            doc["spec"].pop("dependsOn", None)
            doc["spec"]["interval"] = interval
            if doc["kind"] == "GitRepository":
                doc["spec"]["url"] = self.server.url("platform")
            else:
                doc["spec"]["targetNamespace"] = self.kube.namespace
                doc["spec"]["timeout"] = timeout
        self.kube.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    def kustomization(self) -> dict[str, Any]:
        return self.kube.get_json("kustomization.kustomize.toolkit.fluxcd.io", KUSTOMIZATION)  # type: ignore[no-any-return]

    def source(self) -> dict[str, Any]:
        return self.kube.get_json("gitrepository.source.toolkit.fluxcd.io", SOURCE)  # type: ignore[no-any-return]

    def request_reconcile(self, kind: str, name: str) -> str:
        """What `flux reconcile` does: the requestedAt annotation; returns its token."""
        token = str(time.time_ns())
        self.kube.kubectl(
            "annotate", "--overwrite", f"{kind}/{name}", f"reconcile.fluxcd.io/requestedAt={token}"
        )
        return token

    def fetch(self, commit: str, timeout: float = 30.0) -> str:
        """Ask source-controller to fetch now and wait until its artifact is `commit`."""
        self.request_reconcile("gitrepository.source.toolkit.fluxcd.io", SOURCE)
        revision = f"main@sha1:{commit}"
        self.kube.wait_for(
            lambda: (
                ((self.source().get("status") or {}).get("artifact") or {}).get("revision")
                == revision
            ),
            timeout,
            f"GitRepository artifact at {revision}",
        )
        return revision

    def wait_kustomization(
        self, predicate: Any, describe: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        last: dict[str, Any] = {}

        def check() -> Any:
            nonlocal last
            last = self.kustomization()
            return predicate(last)

        try:
            self.kube.wait_for(check, timeout, describe)
        except BaseException:
            print("last Kustomization status:", json.dumps(last.get("status"), indent=1))
            print(
                "kustomize-controller log tail:\n",
                self.flux.log_text("kustomize-controller")[-4000:],
            )
            print("operator log tail:\n", self.operator.log_text()[-3000:])
            raise
        return last

    def wait_ready(self, revision: str, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_kustomization(
            lambda k: (
                (k.get("status") or {}).get("lastAppliedRevision") == revision
                and condition_of(k, "Ready").get("status") == "True"
            ),
            f"Kustomization Ready at {revision}",
            timeout,
        )

    def operator_sync(
        self, org: str = "acme", timeout: float = 30.0, field_manager: str = "kubectl-annotate"
    ) -> str:
        """Ask the operator for a sync (the docs' sync-requested annotation) and wait for it."""
        token = str(time.time_ns())
        kind = "atlassianorg.atlassian.operators.dev"
        self.kube.kubectl(
            "annotate",
            "--overwrite",
            f"--field-manager={field_manager}",
            f"{kind}/{org}",
            f"atlassian.operators.dev/sync-requested={token}",
        )
        self.kube.wait_for(
            lambda: (
                (self.kube.get_json(kind, org).get("status") or {}).get("observedSyncRequest")
                == token
            ),
            timeout,
            f"the operator to answer sync request {token}",
        )
        return token
