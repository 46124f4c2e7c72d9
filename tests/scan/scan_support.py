"""The scanners of tests/scan, as a table, the installs they check, and the allow-list.

Each manifest scanner is one `ManifestScanner` in SCANNERS: the script in hack/tools that installs
it (and prints its binary, or the bin directory of its venv), the command that scans one file of
rendered YAML, and a parser from its output to `Finding`s. To add one (kubeconform, for example:
hack/tools/kubeconform.sh prints its path), add an entry; every render below is then scanned by it
and its findings are held to hack/scan/allow.yaml like the others'.

A finding names the scanner, the check and the object as `Kind/namespace/name` (`Kind/name` when
cluster-scoped), so that one allow-list entry covers the same finding in every render.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "hack" / "tools"
ALLOW = ROOT / "hack" / "scan" / "allow.yaml"
CHART = ROOT / "charts" / "atlassian-operator"


@dataclass(frozen=True)
class Finding:
    scanner: str
    check: str
    object: str  # Kind/namespace/name, or Kind/name
    message: str
    fix: str = ""  # the scanner's own hint or guideline, when it gives one

    def describe(self, render: str) -> str:
        how = f"; fix: {self.fix}" if self.fix else ""
        return (
            f"{self.scanner} {self.check} on {self.object} ({render}): {self.message}{how}. "
            f"Fix it (manifests/, the chart, the workflow), or add to {ALLOW.relative_to(ROOT)} "
            f"{{scanner: {self.scanner}, check: {self.check}, objects: ['{self.object}'], "
            "reason: <why it is right here>}"
        )


def object_name(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def tool_path(script: str) -> str:
    """Run hack/tools/<script> (instant once installed): what it prints, or a clear failure."""
    proc = subprocess.run(
        [str(TOOLS / script)], stdout=subprocess.PIPE, text=True, check=False, timeout=1200
    )
    path = proc.stdout.strip()
    if proc.returncode != 0 or not Path(path).exists():
        raise RuntimeError(f"hack/tools/{script} failed ({proc.returncode}): see its stderr")
    return path


# --- checkov ------------------------------------------------------------------------------------


def checkov_command(tool: str, manifest: Path) -> list[str]:
    # One render a run (~5 s each), never a directory of them: checkov's graph checks (CKV2_*)
    # join resources across all the files of a run, so one render's NetworkPolicy would hide
    # another's missing one.
    return [f"{tool}/checkov", "--framework", "kubernetes", "--quiet", "--compact",
            "--skip-download", "--output", "json", "--file", str(manifest)]  # fmt: skip


def checkov_object(resource: str) -> str:
    """checkov's 'Deployment.ns.name' (or 'Kind.name' or 'Kind.default.name'), as Kind/ns/name.
    Its Pod graph resources ('Pod.ns.name.<selector>') name the workload's namespace and name."""
    kind, _, rest = resource.partition(".")
    namespace, _, name = rest.partition(".")
    if not name:
        return object_name(kind, None, namespace)
    if kind == "Pod":
        name = name.split(".", 1)[0]
    return object_name(kind, namespace, name)


def checkov_findings(stdout: str, returncode: int) -> list[Finding]:
    if returncode not in (0, 1) or not stdout.strip().startswith(("{", "[")):
        raise RuntimeError(f"checkov failed ({returncode}): {stdout[-2000:]}")
    reports = json.loads(stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [
        Finding("checkov", f["check_id"], checkov_object(f["resource"]), f["check_name"],
                f.get("guideline") or "")
        for report in reports
        for f in report.get("results", {}).get("failed_checks", [])
    ]  # fmt: skip


# --- kube-score ---------------------------------------------------------------------------------


def kube_score_command(tool: str, manifest: Path) -> list[str]:
    # The checks of removed APIs depend on the Kubernetes version.
    return [
        tool,
        "score",
        "--output-format",
        "json",
        "--kubernetes-version",
        "v1.34",
        str(manifest),
    ]


def kube_score_findings(stdout: str, returncode: int) -> list[Finding]:
    if returncode not in (0, 1) or not stdout.strip().startswith("["):
        raise RuntimeError(f"kube-score failed ({returncode}): {stdout[-2000:]}")
    out = []
    for obj in json.loads(stdout):
        meta = obj["object_meta"]
        name = object_name(obj["type_meta"]["kind"], meta.get("namespace"), meta["name"])
        for check in obj["checks"]:
            # grade 1 critical, 5 warning, 10 ok; skipped checks say so.
            if check["skipped"] or check["grade"] >= 10:
                continue
            for comment in check.get("comments") or [{}]:
                out.append(
                    Finding(
                        "kube-score", check["check"]["id"], name,
                        " ".join(filter(None, [comment.get("path"), comment.get("summary")])),
                        comment.get("description", ""),
                    )
                )  # fmt: skip
    return out


@dataclass(frozen=True)
class ManifestScanner:
    name: str
    install: str  # the script in hack/tools
    command: Callable[[str, Path], list[str]]  # (installed path, manifest file) -> argv
    findings: Callable[[str, int], list[Finding]]  # (stdout, exit code) -> findings


SCANNERS = [
    ManifestScanner("checkov", "scanners.sh", checkov_command, checkov_findings),
    ManifestScanner("kube-score", "kube-score.sh", kube_score_command, kube_score_findings),
]


def slug(render: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", render.lower()).strip("-") + ".yaml"


def scan_renders(
    scanner: ManifestScanner, tool: str, renders: dict[str, str]
) -> dict[str, list[Finding]]:
    """Each render's findings: render name -> rendered YAML in, render name -> findings out."""
    out: dict[str, list[Finding]] = {name: [] for name in renders}
    with tempfile.TemporaryDirectory() as tmp:
        files = {slug(name): name for name in renders}
        assert len(files) == len(renders), f"two renders share a file name: {sorted(renders)}"
        for file, name in files.items():
            (Path(tmp) / file).write_text(renders[name])
        for file, name in files.items():
            proc = run(*scanner.command(tool, Path(tmp) / file))
            out[name] = scanner.findings(proc.stdout, proc.returncode)
    return out


def scan(scanner: ManifestScanner, tool: str, manifests: str) -> list[Finding]:
    return scan_renders(scanner, tool, {"rendered": manifests})["rendered"]


# --- zizmor ---------------------------------------------------------------------------------------


def zizmor_findings(tool: str, *paths: Path) -> list[Finding]:
    """zizmor offline (no GitHub API) on workflow files, every severity and confidence."""
    proc = run(f"{tool}/zizmor", "--offline", "--no-progress", "--format", "json",
               *map(str, paths))  # fmt: skip
    if not proc.stdout.strip().startswith("["):
        raise RuntimeError(f"zizmor failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = []
    for f in json.loads(proc.stdout):
        where = "?"
        for location in f["locations"][:1]:
            symbolic = location["symbolic"]
            path = Path(symbolic["key"].get("Local", {}).get("verbatim_path", "?")).name
            route = ".".join(
                str(c.get("Key", c.get("Index", ""))) for c in symbolic["route"]["route"]
            )
            where = f"{path}:{route}" if route else path
        out.append(Finding("zizmor", f["ident"], f"Workflow/{where}", f["desc"], f.get("url", "")))
    return out


def workflow_files(root: Path = ROOT) -> list[Path]:
    """.github/workflows, and every tracked YAML file elsewhere that is a GitHub Actions workflow
    (`on:` and `jobs:` whose jobs have `runs-on`): a recipe in examples/ or docs/ gets copied into
    users' repositories, so zizmor holds it to the same rules."""
    proc = run("git", "-C", str(root), "ls-files", "*.yml", "*.yaml")
    found = []
    for name in proc.stdout.split():
        path = root / name
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue  # a Helm template, not YAML until rendered
        if any(
            (True in d or "on" in d)
            and isinstance(d.get("jobs"), dict)
            and all(isinstance(j, dict) and "runs-on" in j for j in d["jobs"].values())
            for d in docs
        ):
            found.append(path)
    return sorted(found)


# --- renders ------------------------------------------------------------------------------------


def kustomize(path: str, components: tuple[str, ...] = ()) -> str:
    """`kubectl kustomize` of manifests/<path>, with components added the way a user adds them
    (a kustomization of their own that names the base and the components)."""
    if not components:
        proc = run("kubectl", "kustomize", str(ROOT / "manifests" / path))
    else:
        with tempfile.TemporaryDirectory(dir=ROOT / "manifests") as tmp:
            rel = Path("..") / path
            kustomization = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [str(rel)],
                "components": [str(Path("..") / "components" / c) for c in components],
            }
            (Path(tmp) / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
            proc = run("kubectl", "kustomize", tmp)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl kustomize manifests/{path} failed: {proc.stderr}")
    return proc.stdout


def helm_template(helm: str, *values: str) -> str:
    proc = run(helm, "template", "atlassian-operator", str(CHART), "--namespace",
               "atlassian-operator", *values)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"helm template {' '.join(values)} failed: {proc.stderr}")
    return proc.stdout


# What users install: the kustomize base, its overlays, each component on the base, and the chart
# with its default values and the value sets that add or change objects.
KUSTOMIZE_RENDERS: dict[str, Callable[[], str]] = {
    "kustomize base": lambda: kustomize("base"),
    "kustomize namespaced": lambda: kustomize("overlays/namespaced"),
    "kustomize sharded": lambda: kustomize("overlays/sharded"),
    "kustomize +admission-guard": lambda: kustomize("base", ("admission-guard",)),
    "kustomize +network-policy": lambda: kustomize("base", ("network-policy",)),
    "kustomize +secret-access-cluster-wide": lambda: kustomize(
        "base", ("secret-access-cluster-wide",)
    ),
}
HELM_RENDERS: dict[str, tuple[str, ...]] = {
    "chart default": (),
    "chart namespaced": ("-f", str(CHART / "ci" / "namespaced-values.yaml")),
    "chart guard+netpol+monitor": (
        "--set", "admissionGuard.enabled=true,networkPolicy.enabled=true",
        "--set", "serviceMonitor.enabled=true",
    ),
    "chart cluster-wide secrets": ("--set", "secretAccess.clusterWide=true"),
    "chart by digest": ("--set", f"image.digest=sha256:{'0' * 64}"),
}  # fmt: skip


# --- the allow-list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowed:
    scanner: str
    check: str
    objects: tuple[str, ...]  # fnmatch patterns of Kind/namespace/name
    reason: str

    def covers(self, finding: Finding) -> bool:
        return (
            finding.scanner == self.scanner
            and finding.check == self.check
            and any(fnmatch.fnmatchcase(finding.object, p) for p in self.objects)
        )


def load_allow_list(path: Path = ALLOW) -> list[Allowed]:
    """hack/scan/allow.yaml; an entry without a reason, or with an unknown key, is refused."""
    entries = yaml.safe_load(path.read_text()) or []
    out = []
    for i, entry in enumerate(entries):
        where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} entry {i + 1}"
        if not isinstance(entry, dict) or set(entry) != {"scanner", "check", "objects", "reason"}:
            raise ValueError(
                f"{where}: needs exactly scanner, check, objects and reason: {entry!r}"
            )
        if not str(entry["reason"]).strip():
            raise ValueError(f"{where}: the reason is empty: say why the finding is right here")
        out.append(
            Allowed(entry["scanner"], entry["check"], tuple(entry["objects"]), entry["reason"])
        )
    return out


def not_allowed(findings: list[Finding], allowed: list[Allowed]) -> list[Finding]:
    return [f for f in findings if not any(a.covers(f) for a in allowed)]


def count_by_object(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.object] = counts.get(f.object, 0) + 1
    return counts


def as_json(findings: list[Finding]) -> Any:
    return [f.__dict__ for f in findings]
