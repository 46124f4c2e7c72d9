"""Chart.yaml's Artifact Hub annotations say what the repository says: the CRDs, the examples and
the CHANGELOG section of the chart's version (hack/chart_metadata.py generates them); and
CHANGELOG.md keeps the Keep a Changelog structure that generation reads.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import yaml
from chart_support import CHART, ROOT

sys.path.insert(0, str(ROOT / "hack"))
import chart_metadata

CHANGELOG = ROOT / "CHANGELOG.md"
KINDS = ["Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"]


@pytest.fixture(scope="module")
def chart() -> Any:
    return yaml.safe_load((CHART / "Chart.yaml").read_text())


def annotation(chart: Any, name: str) -> Any:
    return yaml.safe_load(chart["annotations"][f"artifacthub.io/{name}"])


def test_chart_yaml_is_generated_from_the_current_sources() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "chart_metadata.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_the_crds_annotation_lists_each_crd_in_its_storage_version(chart: Any) -> None:
    crds = [yaml.safe_load(p.read_text()) for p in sorted((CHART / "crds").glob("*.yaml"))]
    wanted = {
        (c["spec"]["names"]["kind"], v["name"], c["spec"]["names"]["plural"])
        for c in crds
        for v in c["spec"]["versions"]
        if v["storage"]
    }
    listed = {(c["kind"], c["version"], c["name"]) for c in annotation(chart, "crds")}
    assert listed == wanted
    assert all(c["description"] and c["displayName"] for c in annotation(chart, "crds"))


def test_the_examples_are_the_repository_examples(chart: Any) -> None:
    docs = [
        d
        for p in sorted((ROOT / "manifests" / "examples").glob("*.yaml"))
        for d in yaml.safe_load_all(p.read_text())
        if d and d["apiVersion"].startswith("atlassian.operators.dev/")
    ]
    examples = annotation(chart, "crdsExamples")
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(examples, key=key) == sorted(docs, key=key)
    # Every kind has an example, written in the version the CRDs store.
    versions = {
        (c["kind"], f"atlassian.operators.dev/{c['version']}") for c in annotation(chart, "crds")
    }
    assert {(d["kind"], d["apiVersion"]) for d in examples} == versions


def changelog_bullets(version: str) -> list[tuple[str, str]]:
    """The (kind, first words) of each bullet of CHANGELOG.md's section for version, read here
    independently of hack/chart_metadata.py."""
    section = CHANGELOG.read_text().split(f"\n## [{version}]", 1)[1].split("\n## ", 1)[0]
    out, kind = [], ""
    for line in section.splitlines():
        if line.startswith("### "):
            kind = line[4:].lower()
        elif line.startswith("- "):
            out.append((kind, " ".join(line[2:].replace("`", "").split()[:6])))
    return out


def test_the_changes_are_the_changelog_section_of_the_chart_version(chart: Any) -> None:
    changes = annotation(chart, "changes")
    got = [(c["kind"], " ".join(c["description"].split()[:6])) for c in changes]
    assert got == changelog_bullets(chart["version"]) and got


def test_the_other_annotations(chart: Any) -> None:
    notes = chart["annotations"]
    assert notes["artifacthub.io/operator"] == "true"
    assert notes["artifacthub.io/operatorCapabilities"] == "Basic Install"
    license_ = notes["artifacthub.io/license"]
    assert f'license = "{license_}"' in (ROOT / "pyproject.toml").read_text()
    [image] = annotation(chart, "images")
    assert image["image"] == f"ghcr.io/atlassian-operator/atlassian-operator:{chart['appVersion']}"
    assert {link["name"] for link in annotation(chart, "links")} >= {"source", "changelog"}


def test_a_version_without_a_changelog_section_is_refused() -> None:
    with pytest.raises(chart_metadata.ChangelogError, match=r"no section '## \[9.9.9\]'"):
        chart_metadata.changelog_section(CHANGELOG.read_text(), "9.9.9")


def test_a_heading_that_is_not_a_kind_of_change_is_refused() -> None:
    text = "## [1.0.0] - 2026-01-01\n\n### Improvements\n\n- faster\n"
    with pytest.raises(chart_metadata.ChangelogError, match="'### Improvements' is not one of"):
        chart_metadata.changelog_section(text, "1.0.0")


def test_the_changelog_follows_keep_a_changelog() -> None:
    text = CHANGELOG.read_text()
    assert text.startswith("# Changelog\n")
    assert "https://keepachangelog.com/en/1.1.0/" in text
    headings = re.findall(r"^## (.*)$", text, flags=re.M)
    assert headings[0] == "[Unreleased]", headings
    released = [re.fullmatch(r"\[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})", h) for h in headings[1:]]
    assert released and all(released), headings
    versions = [m.group(1) for m in released if m]
    dates = [m.group(2) for m in released if m]
    as_tuple = lambda v: tuple(map(int, v.split(".")))  # noqa: E731
    assert versions == sorted(versions, key=as_tuple, reverse=True) and dates == sorted(dates)[::-1]
    for kind in re.findall(r"^### (.*)$", text, flags=re.M):
        assert kind in KINDS, f"'### {kind}' is not a Keep a Changelog kind"
    # Every version heading has its link at the bottom.
    for name in ["Unreleased", *versions]:
        assert re.search(rf"^\[{re.escape(name)}\]: https://", text, flags=re.M), name
    assert "0.1.0" in versions
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    for item in ["v1beta1", "migrate-storage", "kstatus", "admission guard", "Printer columns",
                 "CRDs being deleted", "Least-privilege Secret access", "Structured logs",
                 "NetworkPolicy", "probes"]:  # fmt: skip
        assert item in unreleased, item


def test_a_hand_edit_of_the_annotations_does_not_survive_generation() -> None:
    """The annotations block is generated whole: an edit there is stale, and --check says so."""
    text = (CHART / "Chart.yaml").read_text()
    edited = text.replace("- kind: added", "- kind: fixed", 1)
    assert edited != text and chart_metadata.render(edited) == text
