"""The pull-request validation recipe (examples/gitops/ci/validate.sh) run as a reviewer's CI runs
it: the real kubeconform against the JSON schemas generated from our CRDs, then the real
`kubectl apply --dry-run=server` against the local API server with the CRDs installed.

A correct change passes; an offboarding pull request that writes `desiredState: suspended`
(lowercase) fails, with both tools naming the field and the allowed values, and nothing is
stored. The schemas in the repository are the ones the generator makes from crds/ today, and the
other GitOps examples (Flux's objects, the Receiver, Argo CD's Application) are valid against
the schemas generated the same way from those tools' own CRDs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.gitops import (
    EXAMPLE,
    ROOT,
    Repository,
    gitops_crds_dir,
    kubeconform_binary,
    render_local_flux_objects,
)

pytestmark = pytest.mark.e2e

VALIDATE = EXAMPLE / "ci" / "validate.sh"
SCHEMAS = EXAMPLE / "ci" / "schemas"
GENERATOR = ROOT / "hack" / "crd_schemas.py"
OFFBOARDING = EXAMPLE / "offboarding" / "0001-Offboard-John-Smith-HR-1234.patch"
LAYOUT = "{{.ResourceKind}}-{{.Group}}-{{.ResourceAPIVersion}}.json"


def validate(
    *paths: Path, kube: Any = None, extra_schemas: str = "", offline: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KUBECONFORM": str(kubeconform_binary()),
        "EXTRA_SCHEMA_LOCATIONS": extra_schemas,
    }
    if kube is not None:
        env.update(KUBECONFIG=str(kube.kubeconfig), NAMESPACE=kube.namespace)
    args = [str(VALIDATE), *(["--offline"] if offline else []), *map(str, paths)]
    return subprocess.run(args, capture_output=True, text=True, env=env, check=False)


def generate(out: Path, *crds: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(GENERATOR), *(["--check"] if check else []), str(out)]
    return subprocess.run([*args, *map(str, crds)], capture_output=True, text=True, check=False)


def test_the_schemas_in_the_repository_are_generated_from_the_crds_of_today(
    tmp_path: Path,
) -> None:
    current = generate(SCHEMAS, ROOT / "crds", check=True)
    assert current.returncode == 0, current.stderr
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == [
        "atlassianaccount-atlassian.operators.dev-v1alpha1.json",
        "atlassianaccount-atlassian.operators.dev-v1beta1.json",
        "atlassianorg-atlassian.operators.dev-v1alpha1.json",
        "atlassianorg-atlassian.operators.dev-v1beta1.json",
    ]
    # A CRD change without regenerating is caught, and the message says what to run.
    changed = tmp_path / "crds"
    shutil.copytree(ROOT / "crds", changed)
    accounts = changed / "atlassianaccounts.yaml"
    accounts.write_text(
        accounts.read_text().replace("[Active, Suspended]", "[Active, Suspended, Gone]")
    )
    stale = generate(SCHEMAS, changed, check=True)
    assert stale.returncode == 1
    assert "changed atlassianaccount-atlassian.operators.dev-v1beta1.json" in stale.stderr
    assert "python hack/crd_schemas.py" in stale.stderr


def test_the_recipe_passes_the_example_accounts(kube: Any, crds: None) -> None:
    proc = validate(EXAMPLE / "atlassian", kube=kube)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Valid: 5, Invalid: 0, Errors: 0, Skipped: 0" in out
    assert out.count("(server dry run)") == 5, out  # each object went to the API server
    assert kube.kubectl("get", "atlassianaccounts,atlassianorgs", "-o", "name").stdout == ""


def test_an_offboarding_with_a_lowercase_state_fails_in_review(
    kube: Any, crds: None, tmp_path: Path
) -> None:
    """The example's offboarding pull request, with one letter wrong, as a reviewer gets it."""
    repo = Repository(tmp_path / "platform")
    repo.copy_tree(EXAMPLE / "atlassian", "atlassian")
    repo.commit("Atlassian accounts")
    repo.am(OFFBOARDING)
    john = "atlassian/accounts/john-smith.yaml"
    assert "desiredState: Suspended" in repo.read(john)
    repo.write(john, repo.read(john).replace("desiredState: Suspended", "desiredState: suspended"))
    repo.commit("Offboard John Smith (typo)")

    proc = validate(repo.path / "atlassian", kube=kube)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # kubeconform, offline, from the generated schema:
    assert "AtlassianAccount john-smith is invalid" in out
    assert "at '/spec/desiredState': value must be one of 'Active', 'Suspended'" in out
    assert "Valid: 4, Invalid: 1" in out
    # The API server's own validation, in the dry run:
    assert 'spec.desiredState: Unsupported value: "suspended"' in out
    assert 'supported values: "Active", "Suspended"' in out
    assert kube.kubectl("get", "atlassianaccounts", "-o", "name").stdout == ""  # nothing stored

    # The same change with the state spelt right passes both steps.
    repo.write(john, repo.read(john).replace("desiredState: suspended", "desiredState: Suspended"))
    fixed = validate(repo.path / "atlassian", kube=kube)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_a_misspelt_field_fails_offline(tmp_path: Path) -> None:
    """Unknown fields are errors, as with kubectl's strict field validation: without it a
    `desiredstate: Suspended` would pass review and suspend no one."""
    account = tmp_path / "john-smith.yaml"
    text = (EXAMPLE / "atlassian" / "accounts" / "john-smith.yaml").read_text()
    account.write_text(text.replace("desiredState: Active", "desiredstate: Suspended"))
    proc = validate(account, offline=True)
    assert proc.returncode == 1, proc.stdout
    assert "additional properties 'desiredstate' not allowed" in proc.stdout


def test_the_gitops_examples_are_valid_for_flux_and_argo_cd(tmp_path: Path) -> None:
    """The operator's install (OCIRepository, Kustomizations), the Receiver and Argo CD's
    Application, against schemas generated from Flux's, notification-controller's and Argo
    CD's own CRDs: none skipped, so each kind was really checked."""
    schemas = tmp_path / "schemas"
    made = generate(schemas, gitops_crds_dir())
    assert made.returncode == 0, made.stderr
    assert (schemas / "receiver-notification.toolkit.fluxcd.io-v1.json").is_file()
    assert (schemas / "application-argoproj.io-v1alpha1.json").is_file()
    # clusters/local is a kustomization over production's file: its output is what is applied.
    local = tmp_path / "local.yaml"
    local.write_text(render_local_flux_objects())
    dirs = [EXAMPLE / "clusters" / "production", EXAMPLE / "argocd", local]
    proc = validate(*dirs, offline=True, extra_schemas=str(schemas / LAYOUT))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Valid: 11, Invalid: 0, Errors: 0, Skipped: 0" in proc.stdout

    # And the check is real: a Receiver with an unknown type fails.
    broken = tmp_path / "receiver.yaml"
    receiver = (EXAMPLE / "clusters" / "production" / "receiver.yaml").read_text()
    broken.write_text(receiver.replace("type: github ", "type: gihtub "))
    bad = validate(broken, offline=True, extra_schemas=str(schemas / LAYOUT))
    assert bad.returncode == 1
    assert "at '/spec/type'" in bad.stdout


def test_the_workflow_example_passes_actionlint() -> None:
    actionlint = subprocess.run(
        [str(ROOT / "hack" / "tools" / "actionlint.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    proc = subprocess.run(
        [actionlint, "-no-color", str(EXAMPLE / "ci" / "validate.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
