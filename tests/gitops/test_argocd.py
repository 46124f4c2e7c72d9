"""Argo CD's side: the docs' health script is manifests/argocd/health.lua, run by Argo CD.

The script's verdicts on real objects are asserted in test_flux.py, where they are captured live;
here: that the GitOps docs page (docs/tasks/gitops.md) shows the file and its argocd-cm command
installs it, and that the runner
really is Argo CD's code (its own verdict on an invalid status).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.gitops import HEALTH_LUA, ROOT, argocd_health

HEALTH_KEY = "resource.customizations.health.atlassian.operators.dev_{kind}"


GITOPS_PAGE = ROOT / "docs" / "tasks" / "gitops.md"


def argocd_section() -> str:
    """The page's Argo CD part: from its heading to the next one (or the end)."""
    text = GITOPS_PAGE.read_text()
    match = re.search(r"^## Argo CD\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"{GITOPS_PAGE.relative_to(ROOT)} has no '## Argo CD' section"
    return match.group(1)


def fenced(section: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", section, re.S | re.M)


def test_the_docs_show_the_health_script_kept_in_the_repository() -> None:
    assert fenced(argocd_section(), "lua") == [HEALTH_LUA.read_text()]


@pytest.mark.e2e
def test_the_docs_command_installs_the_script_into_argocd_cm(kube: Any) -> None:
    command = next(
        (block for block in fenced(argocd_section(), "sh") if "argocd-cm" in block), None
    )
    assert command, "the docs' Argo CD section has no sh block installing the script in argocd-cm"
    # argocd-cm as Argo CD's installation leaves it, with a setting of its own.
    kube.kubectl("create", "configmap", "argocd-cm", "--from-literal=url=https://argocd.example")
    script = command.replace("-n argocd ", f"-n {kube.namespace} ")
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=kube.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = kube.get_json("configmap", "argocd-cm")["data"]
    assert data["url"] == "https://argocd.example"
    for kind in ("AtlassianOrg", "AtlassianAccount"):
        assert data[HEALTH_KEY.format(kind=kind)] == HEALTH_LUA.read_text()


def test_the_runner_is_argo_cds_own_lua_runtime(tmp_path: Path) -> None:
    """Argo CD turns a status it does not know into Unknown, and opens no string library."""
    invalid = tmp_path / "invalid.lua"
    invalid.write_text('return {status = "Fine", message = "not an Argo CD status"}')
    no_string = tmp_path / "string.lua"
    no_string.write_text('return {status = "Healthy", message = string.upper("x")}')
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "generation": 1}}
    assert argocd_health([obj], invalid) == [
        {"status": "Unknown", "message": "Lua returned an invalid health status"}
    ]
    [result] = argocd_health([obj], no_string)
    assert "string" in result["error"]
