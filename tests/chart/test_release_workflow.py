""".github/workflows/release.yml: actionlint accepts it; the versions it checks agree in the
repository; and a tag vX.Y.Z becomes image tag and chart version X.Y.Z. The workflow cannot run
here (no Docker, no registry): its version step and its `helm package` line are run as written.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import CHART, ROOT, Helm, docs_of, run

WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE = WORKFLOWS / "release.yml"


@pytest.fixture(scope="module")
def workflow() -> Any:
    return yaml.safe_load(RELEASE.read_text())


def step(workflow: Any, job: str, step_id: str) -> Any:
    [found] = [s for s in workflow["jobs"][job]["steps"] if s.get("id") == step_id]
    return found


IMAGE = "ghcr.io/atlassian-operator/atlassian-operator"


def uses(workflow: Any, job: str, action: str) -> Any:
    [found] = [
        s for s in workflow["jobs"][job]["steps"] if s.get("uses", "").startswith(action + "@")
    ]
    return found


def run_step(
    script: str, env: dict[str, str], cwd: Path, tmp_path: Path
) -> tuple[int, str, dict[str, str]]:
    """Run a `run:` script as GitHub runs it (bash -e -o pipefail); its $GITHUB_OUTPUT."""
    output = tmp_path / "github_output"
    output.write_text("")
    script_file = tmp_path / "step.sh"
    script_file.write_text(script)
    proc = run(
        "env", "-i", f"PATH={os.environ['PATH']}", f"GITHUB_OUTPUT={output}",
        *(f"{k}={v}" for k, v in env.items()),
        "bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file),
        cwd=cwd,
    )  # fmt: skip
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return proc.returncode, proc.stdout + proc.stderr, outputs


def test_actionlint_passes(actionlint: str) -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.y*ml"))
    assert str(RELEASE) in files
    proc = run(actionlint, "-no-color", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_can_fail(actionlint: str, tmp_path: Path) -> None:
    broken = tmp_path / "release.yml"
    broken.write_text(
        RELEASE.read_text().replace("steps.build.outputs.digest", "steps.bild.outputs.digest")
    )
    proc = run(actionlint, "-no-color", str(broken))
    assert proc.returncode != 0 and "bild" in proc.stdout


def test_the_repository_versions_agree() -> None:
    """pyproject.toml's version, the kustomize base's image tag, and the chart's appVersion and
    version: the release workflow refuses a tag that differs from any of them."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    base = yaml.safe_load((ROOT / "manifests" / "base" / "kustomization.yaml").read_text())
    [image] = base["images"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert image["newName"] == "ghcr.io/atlassian-operator/atlassian-operator"
    assert (image["newTag"], chart["appVersion"], chart["version"]) == (pyproject,) * 3


def test_the_version_step_takes_the_tag_without_its_v(workflow: Any, tmp_path: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    script = step(workflow, "image", "version")["run"]
    rc, log, outputs = run_step(script, {"GITHUB_REF_NAME": f"v{version}"}, ROOT, tmp_path)
    assert rc == 0, log
    assert outputs == {"version": version}
    assert workflow["jobs"]["image"]["outputs"]["version"] == "${{ steps.version.outputs.version }}"


@pytest.mark.parametrize(
    "file",
    ["pyproject.toml", "manifests/base/kustomization.yaml", "charts/atlassian-operator/Chart.yaml"],
)
def test_the_version_step_refuses_a_tag_the_repository_does_not_have(
    workflow: Any, tmp_path: Path, file: str
) -> None:
    """A copy of the three files, one bumped to 9.9.9, and the tag v9.9.9: the others differ."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    repo = tmp_path / "repo"
    files = [
        "pyproject.toml",
        "manifests/base/kustomization.yaml",
        "charts/atlassian-operator/Chart.yaml",
    ]
    for name in files:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, repo / name)
    bumped = repo / file
    text = bumped.read_text()
    pattern = rf'(^version = "|newTag: |^appVersion: "?){re.escape(version)}'
    assert len(re.findall(pattern, text, flags=re.M)) == 1, text
    bumped.write_text(re.sub(pattern, r"\g<1>9.9.9", text, flags=re.M))
    script = step(workflow, "image", "version")["run"]
    rc, log, outputs = run_step(script, {"GITHUB_REF_NAME": "v9.9.9"}, repo, tmp_path)
    assert rc != 0 and outputs == {}
    assert "::error::tag v9.9.9 is version 9.9.9, but" in log
    named = log.split("but", 1)[1].split("has", 1)[0]
    assert file not in named  # one the tag's version was not bumped in


def test_the_image_is_tagged_with_the_version_multi_arch_attested_and_signed(workflow: Any) -> None:
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as true
    assert workflow["env"]["IMAGE"] == "ghcr.io/atlassian-operator/atlassian-operator"
    job = workflow["jobs"]["image"]
    assert job["permissions"] == {"contents": "read", "packages": "write", "id-token": "write"}
    meta = uses(workflow, "image", "docker/metadata-action")
    assert meta["id"] == "meta" and meta["with"]["images"] == "${{ env.IMAGE }}"
    # metadata-action's semver {{version}} of the tag v0.1.0 is 0.1.0 (the tag's v dropped).
    assert meta["with"]["tags"].splitlines()[0] == "type=semver,pattern={{version}}"
    build = uses(workflow, "image", "docker/build-push-action")
    assert build["with"]["tags"] == "${{ steps.meta.outputs.tags }}"
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["push"] is True
    assert (build["with"]["sbom"], build["with"]["provenance"]) == (True, "mode=max")
    for action in (
        "docker/setup-qemu-action",
        "docker/setup-buildx-action",
        "docker/login-action",
        "sigstore/cosign-installer",
    ):
        uses(workflow, "image", action)
    sign = [s for s in job["steps"] if "cosign sign" in s.get("run", "")]
    assert [s["env"]["DIGEST"] for s in sign] == ["${{ steps.build.outputs.digest }}"]
    assert '"${IMAGE}@${DIGEST}"' in sign[0]["run"] and "--yes" in sign[0]["run"]


PINNED = re.compile(r"[\w-]+/[\w-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+")


def test_actions_are_pinned_by_commit_with_the_tag_in_a_comment(workflow: Any) -> None:
    """A tag can be moved to other code, a commit cannot. Read as text: YAML drops comments."""
    lines = [ln.strip() for ln in RELEASE.read_text().splitlines() if "uses:" in ln]
    refs = [ln.split("uses:", 1)[1].strip() for ln in lines]
    steps = [s for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
    assert len(refs) == len(steps) > 0, refs
    unpinned = [r for r in refs if not PINNED.fullmatch(r)]
    assert unpinned == [], f"pin by full commit SHA with '# vX.Y.Z' after it: {unpinned}"
    # One commit per action: two pins of one action would drift apart.
    by_action: dict[str, set[str]] = {}
    for r in refs:
        by_action.setdefault(r.split("@")[0], set()).add(r)
    assert all(len(pins) == 1 for pins in by_action.values()), by_action


def test_the_base_image_is_pinned_by_digest() -> None:
    """The Dockerfile's FROM lines take BASE_IMAGE, whose default names a tag and a digest."""
    text = (ROOT / "Dockerfile").read_text()
    [default] = re.findall(r"^ARG BASE_IMAGE=(\S+)$", text, flags=re.M)
    assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", default), default
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert froms == ["${BASE_IMAGE}", "${BASE_IMAGE}"], froms


def digest_step(workflow: Any, digest: str, tmp_path: Path) -> tuple[int, str, Path]:
    """The chart job's digest step, run as written on a copy of the chart."""
    work = tmp_path / "checkout"
    shutil.copytree(CHART, work / "charts" / "atlassian-operator")
    rc, log, _ = run_step(
        step(workflow, "chart", "digest")["run"], {"DIGEST": digest}, work, tmp_path
    )
    return rc, log, work / "charts" / "atlassian-operator"


def test_the_published_chart_deploys_the_released_digest(
    workflow: Any, helm: Helm, tmp_path: Path
) -> None:
    assert workflow["jobs"]["image"]["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"
    assert step(workflow, "chart", "digest")["env"] == {
        "DIGEST": "${{ needs.image.outputs.digest }}"
    }
    digest = f"sha256:{'c' * 64}"
    rc, log, chart = digest_step(workflow, digest, tmp_path)
    assert rc == 0, log
    objs = docs_of(helm("template", "atlassian-operator", str(chart)).stdout)
    [deployment] = [o for o in objs if o["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/atlassian-operator/atlassian-operator@{digest}"
    shown = yaml.safe_load(helm("show", "chart", str(chart)).stdout)
    images = yaml.safe_load(shown["annotations"]["artifacthub.io/images"])
    assert images == [
        {"name": "atlassian-operator", "image": f"{IMAGE}:{shown['appVersion']}@{digest}"}
    ]


def test_the_digest_step_refuses_a_missing_digest(workflow: Any, tmp_path: Path) -> None:
    rc, log, chart = digest_step(workflow, "", tmp_path)
    assert rc != 0 and "the image job gave no sha256 digest" in log
    assert (chart / "values.yaml").read_text() == (CHART / "values.yaml").read_text()


def test_the_chart_is_signed_and_carries_the_sbom(workflow: Any) -> None:
    job = workflow["jobs"]["chart"]
    assert job["permissions"] == {"contents": "read", "packages": "write", "id-token": "write"}
    push = step(workflow, "chart", "push")
    assert "echo \"digest=$(sed -n 's/^Digest: *//p' dist/push.log)\"" in push["run"]
    [attach] = [s for s in job["steps"] if "cosign attest" in s.get("run", "")]
    assert attach["env"] == {
        "IMAGE_DIGEST": "${{ needs.image.outputs.digest }}",
        "CHART_DIGEST": "${{ steps.push.outputs.digest }}",
    }
    script = attach["run"]
    assert 'cosign sign --yes "$chart"' in script
    assert "--type spdxjson" in script and "for platform in linux/amd64 linux/arm64" in script
    names = [s.get("uses", "").split("@")[0] for s in job["steps"]]
    assert names.index("sigstore/cosign-installer") < job["steps"].index(attach)


def test_the_chart_job_packages_the_tag_version(workflow: Any, helm: Helm, tmp_path: Path) -> None:
    """The job's `helm package` line, run as written with VERSION=9.8.7: the packaged chart has
    version and appVersion 9.8.7, so its default image is :9.8.7, the tag the image job pushed."""
    job = workflow["jobs"]["chart"]
    assert job["needs"] == "image"
    [package] = [s for s in job["steps"] if "helm package" in s.get("run", "")]
    assert package["env"]["VERSION"] == "${{ needs.image.outputs.version }}"
    [line] = [ln for ln in package["run"].splitlines() if ln.startswith("helm package")]
    assert 'helm push "dist/atlassian-operator-$VERSION.tgz" "$CHARTS"' in package["run"]
    assert workflow["env"]["CHARTS"] == "oci://ghcr.io/atlassian-operator/charts"
    assert (
        uses(workflow, "chart", "azure/setup-helm")["with"]["version"]
        == "${{ steps.pins.outputs.helm }}"
    )

    work = tmp_path / "checkout"
    (work / "charts").mkdir(parents=True)
    (work / "charts" / "atlassian-operator").symlink_to(CHART)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "helm").symlink_to(helm.path)
    rc, log, _ = run_step(
        line, {"VERSION": "9.8.7", "PATH": f"{bin_dir}:{os.environ['PATH']}"}, work, tmp_path
    )
    assert rc == 0, log
    packaged = work / "dist" / "atlassian-operator-9.8.7.tgz"
    shown = yaml.safe_load(helm("show", "chart", str(packaged)).stdout)
    assert (shown["version"], shown["appVersion"]) == ("9.8.7", "9.8.7")
    objs = docs_of(helm("template", "atlassian-operator", str(packaged)).stdout)
    [deployment] = [o for o in objs if o["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/atlassian-operator/atlassian-operator:9.8.7"


def test_the_chart_job_uses_the_pinned_helm(workflow: Any, tmp_path: Path) -> None:
    script = step(workflow, "chart", "pins")["run"]
    rc, log, outputs = run_step(script, {}, ROOT, tmp_path)
    pins = dict(
        line.split("=", 1)
        for line in (ROOT / "hack" / "tools" / "versions.env").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert rc == 0, log
    assert outputs == {"helm": pins["HELM_VERSION"]}
