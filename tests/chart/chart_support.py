"""Helpers of tests/chart: run helm and kubectl, and the parity test's normalization."""

from __future__ import annotations

import copy
import difflib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "atlassian-operator"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}
# Helm's standard labels (templates/_helpers.tpl); manifests/ uses none of them.
HELM_LABELS = frozenset(
    {
        "helm.sh/chart",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
    }
)

Obj = dict[str, Any]
Key = tuple[str, str, str]  # kind, namespace ("" when cluster-scoped), name


def run(
    *args: str, input: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, input=input, capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )


def docs_of(text: str) -> list[Obj]:
    return [d for d in yaml.safe_load_all(text) if d]


@dataclass(frozen=True)
class Helm:
    path: str

    def __call__(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run(self.path, *args, cwd=cwd)

    def template(
        self,
        *args: str,
        release: str = "atlassian-operator",
        namespace: str = "atlassian-operator",
        chart: Path | str = CHART,
    ) -> list[Obj]:
        """`helm template` the chart: the rendered objects (a failure fails the test)."""
        proc = self("template", release, str(chart), "--namespace", namespace, *args)
        assert proc.returncode == 0, proc.stderr
        return docs_of(proc.stdout)


def kustomize(path: str) -> list[Obj]:
    proc = run(KUBECTL, "kustomize", str(ROOT / path))
    assert proc.returncode == 0, proc.stderr
    return docs_of(proc.stdout)


def key(obj: Obj) -> Key:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace", ""), meta["name"]


def by_key(objs: list[Obj]) -> dict[Key, Obj]:
    keyed = {key(o): o for o in objs}
    assert len(keyed) == len(objs), f"duplicate objects: {sorted(map(key, objs))}"
    return keyed


def normalize(obj: Obj) -> Obj:
    """The only differences the parity tests allow between a chart object and its manifests/ twin.

    1. Helm's standard labels (HELM_LABELS) are dropped from the object's and its pod template's
       labels. manifests/ has none of them (test_manifests_use_no_helm_label), so this hides no
       difference in a label manifests/ sets; selectors are compared as they are.
    2. A CRD's labels are dropped: Helm installs crds/ verbatim, the repository's crds/*.yaml byte
       for byte (test_chart_crds_are_the_repository_crds), and kustomize adds the base's
       `labels:` (app.kubernetes.io/part-of) to them.
    Everything else (spec, rules, args, probes, resources, annotations, namespace) must be equal.
    The Namespace object of manifests/ is not compared at all: Helm installs into an existing
    namespace (`helm install --namespace NS --create-namespace`) and creates no Namespace object.
    """
    obj = copy.deepcopy(obj)
    meta = obj["metadata"]
    template_meta = obj.get("spec", {}).get("template", {}).get("metadata", {})
    for holder in (meta, template_meta):
        labels = holder.get("labels", {})
        for label in HELM_LABELS:
            labels.pop(label, None)
        if obj["kind"] == "CustomResourceDefinition":
            labels.clear()
        if "labels" in holder and not labels:
            del holder["labels"]
    return obj


def differences(chart: list[Obj], manifests: list[Obj]) -> str:
    """'' when the normalized objects are the same; else what differs, as unified diffs."""
    ours = {k: normalize(o) for k, o in by_key(chart).items()}
    theirs = {k: normalize(o) for k, o in by_key(manifests).items()}
    out = []
    if only := sorted(set(ours) - set(theirs)):
        out.append(f"only in the chart: {only}")
    if only := sorted(set(theirs) - set(ours)):
        out.append(f"only in manifests/: {only}")
    for k in sorted(set(ours) & set(theirs)):
        if ours[k] != theirs[k]:
            a = yaml.safe_dump(theirs[k], sort_keys=True).splitlines()
            b = yaml.safe_dump(ours[k], sort_keys=True).splitlines()
            diff = difflib.unified_diff(a, b, "manifests/", "chart", lineterm="", n=2)
            out.append(f"{k} differs:\n" + "\n".join(diff))
    return "\n".join(out)
