"""The roles for people (manifests/base/user-roles.yaml), proven on a real API server.

The roles are applied as documented and bound in the test namespace with
`kubectl create rolebinding --clusterrole=... --user=...`: jane is an editor, victor a viewer,
olga an org admin. Their rights are checked twice: with `kubectl auth can-i --as=USER`, and with
real requests made as that user (`kubectl --as=USER`: the admin impersonates them, and the
API server authorizes each request as the user).

Aggregation into the built-in view, edit and admin roles is done by kube-controller-manager's
clusterrole-aggregation controller. The local control plane runs only etcd and kube-apiserver,
so here the tests check what the API server itself holds (the labels on our roles, and the
built-in roles' selectors that those labels must match). Binding people to the built-in roles
themselves needs a controller-manager, which the real-node work (issue 11) brings.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
USER_ROLES = ROOT / "manifests" / "base" / "user-roles.yaml"
GROUP = "atlassian.operators.dev"
ORGS, ACCOUNTS = f"atlassianorgs.{GROUP}", f"atlassianaccounts.{GROUP}"
VIEWER, EDITOR, ORG_ADMIN = (
    "atlassian-operator-viewer",
    "atlassian-operator-editor",
    "atlassian-operator-org-admin",
)
PEOPLE = {"victor": VIEWER, "jane": EDITOR, "olga": ORG_ADMIN}
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
SECRET = "atlassian-api-key"
KEY = "not-a-real-key-0123456789"

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete")
VERBS = (*READ, *WRITE, "deletecollection")
# (resource, subresource) -> verbs each person may use; anything else is denied.
RIGHTS: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    "victor": {(ORGS, ""): READ, (ORGS, "status"): READ, (ACCOUNTS, ""): READ},
    "jane": {(ORGS, ""): READ, (ORGS, "status"): READ, (ACCOUNTS, ""): READ + WRITE},
    "olga": {(ORGS, ""): READ + WRITE, (ORGS, "status"): READ, (ACCOUNTS, ""): READ + WRITE},
}
for _rights in RIGHTS.values():
    _rights[(ACCOUNTS, "status")] = READ  # nobody but the operator writes status
CHECKED = [(ORGS, ""), (ORGS, "status"), (ACCOUNTS, ""), (ACCOUNTS, "status"), ("secrets", "")]


def render(path: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [KUBECTL, "kustomize", str(ROOT / path)], capture_output=True, text=True, check=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def file_roles() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(USER_ROLES.read_text()) if d]


@pytest.fixture(scope="module")
def user_roles(control_plane: Any, crds: None) -> list[dict[str, Any]]:
    """The roles, applied as a cluster admin does: `kubectl apply -f user-roles.yaml`."""
    subprocess.run(
        [KUBECTL, f"--kubeconfig={control_plane.kubeconfig}", "apply", "-f", str(USER_ROLES)],
        capture_output=True,
        text=True,
        check=True,
    )
    return file_roles()


def can_i(kube: Any, user: str, verb: str, resource: str, subresource: str = "") -> bool:
    args = ["auth", "can-i", verb, resource, f"--as={user}"]
    if subresource:
        args.append(f"--subresource={subresource}")
    proc = kube.kubectl(*args, check=False)
    answer = proc.stdout.strip()
    # 0 and "yes", or 1 and "no": anything else (an unknown resource, an error) is no answer.
    assert (proc.returncode, answer[:3].strip()) in ((0, "yes"), (1, "no")), (args, proc)
    assert "doesn't have a resource type" not in proc.stderr, proc.stderr
    return proc.returncode == 0


def as_user(kube: Any, user: str, *args: str, input: str | None = None) -> Any:
    return kube.kubectl(f"--as={user}", *args, input=input, check=False)


def assert_forbidden(proc: Any, user: str, verb: str, resource: str) -> None:
    assert proc.returncode != 0, f"{user} could {verb} {resource}: {proc.stdout}"
    assert f'User "{user}" cannot {verb} resource "{resource}"' in proc.stderr, proc.stderr


def org(name: str, **suspension: Any) -> str:
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/v1beta1",
            "kind": "AtlassianOrg",
            "metadata": {"name": name},
            "spec": {
                "orgId": f"org-{name}",
                "apiKeySecretRef": {"name": SECRET},
                "suspension": {"maxPerSync": 10, **suspension},
            },
        }
    )


def account(name: str, **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/v1beta1",
            "kind": "AtlassianAccount",
            "metadata": {"name": name},
            "spec": {"orgRef": {"name": "acme"}, "email": f"{name}@acme.example", **spec},
        }
    )


def spec(kube: Any, kind: str, name: str) -> dict[str, Any]:
    return kube.get_json(kind, name)["spec"]  # type: ignore[no-any-return]


def bind(kube: Any, user: str, clusterrole: str) -> None:
    """The documented command. Callers wait (can_i) until the authorizer has seen it."""
    kube.kubectl(
        "create",
        "rolebinding",
        f"{user}-atlassian",
        f"--clusterrole={clusterrole}",
        f"--user={user}",
    )


@pytest.fixture
def people(kube: Any, user_roles: list[dict[str, Any]]) -> Iterator[Any]:
    """jane (editor), victor (viewer) and olga (org admin) in the test namespace, which holds
    an org `acme`, its Secret and an account `john-smith` with an observed status."""
    kube.kubectl("create", "secret", "generic", SECRET, f"--from-literal=api-key={KEY}")
    kube.kubectl("label", "secret", SECRET, f"{GROUP}/api-key=true")
    kube.kubectl("create", "-f", "-", input=org("acme"))
    kube.kubectl("create", "-f", "-", input=account("john-smith"))
    kube.kubectl(
        "patch",
        "aacct",
        "john-smith",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"accountStatus":"Active"}}',
    )
    for user, role in PEOPLE.items():
        bind(kube, user, role)
    for user in PEOPLE:
        kube.wait_for(
            lambda user=user: can_i(kube, user, "list", ACCOUNTS), 10, f"{user}'s RoleBinding"
        )
    yield kube


def test_kustomize_installs_the_same_roles_with_aggregation_labels(
    kube: Any, user_roles: list[dict[str, Any]]
) -> None:
    """`kubectl apply -k manifests` and `kubectl apply -f user-roles.yaml` install the same
    three roles; the API server holds them with one aggregation label each, and no wildcard."""
    rendered = [d for d in render("manifests") if d["metadata"]["name"] in PEOPLE.values()]
    assert sorted(rendered, key=lambda d: d["metadata"]["name"]) == sorted(
        user_roles, key=lambda d: d["metadata"]["name"]
    )
    aggregate = {VIEWER: "view", EDITOR: "edit", ORG_ADMIN: "admin"}
    for name, target in aggregate.items():
        role = json.loads(
            kube.kubectl("get", "clusterrole", name, "-o", "json", namespaced=False).stdout
        )
        labels = role["metadata"]["labels"]
        assert {k: v for k, v in labels.items() if k.startswith(AGGREGATE)} == {
            f"{AGGREGATE}{target}": "true"
        }, (name, labels)
        for rule in role["rules"]:
            assert rule["apiGroups"] == [GROUP], (name, rule)
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], (name, rule)
            writes = set(rule["verbs"]) - set(READ)
            assert not (writes and any(r.endswith("/status") for r in rule["resources"])), rule


def test_each_person_may_do_exactly_what_their_role_says(people: Any) -> None:
    """kubectl auth can-i, for every verb on orgs, accounts, their status and Secrets."""
    questions = [
        (user, verb, resource, sub)
        for user in PEOPLE
        for resource, sub in CHECKED
        for verb in (VERBS if resource != "secrets" else READ)
    ]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda q: can_i(people, *q), questions))
    got = {q: a for q, a in zip(questions, answers, strict=True)}
    expected = {q: q[1] in RIGHTS[q[0]].get((q[2], q[3]), ()) for q in questions}
    wrong = {q: got[q] for q in questions if got[q] != expected[q]}
    assert wrong == {}, "can-i answers that differ from the roles' intent (True = allowed)"
    # The point of the split: the editor suspends people, only the org admin creates orgs.
    assert got[("jane", "patch", ACCOUNTS, "")] and not got[("jane", "create", ORGS, "")]
    assert got[("olga", "create", ORGS, "")]


def test_editor_suspends_people_but_cannot_touch_orgs_secrets_or_status(people: Any) -> None:
    kube = people
    # jane creates an account and offboards another one.
    created = as_user(kube, "jane", "create", "-f", "-", input=account("jane-new"))
    assert created.returncode == 0, created.stderr
    assert spec(kube, "aacct", "jane-new")["email"] == "jane-new@acme.example"
    patched = as_user(
        kube,
        "jane",
        "patch",
        "aacct",
        "john-smith",
        "--type=merge",
        "-p",
        '{"spec":{"desiredState":"Suspended","suspensionMessage":"left"}}',
    )
    assert patched.returncode == 0, patched.stderr
    assert spec(kube, "aacct", "john-smith")["desiredState"] == "Suspended"

    # She cannot create an org (which names a Secret and a base URL) or change one.
    assert_forbidden(
        as_user(kube, "jane", "create", "-f", "-", input=org("rogue")),
        "jane",
        "create",
        "atlassianorgs",
    )
    assert kube.kubectl("get", "aorg", "rogue", check=False).returncode != 0
    assert_forbidden(
        as_user(
            kube,
            "jane",
            "patch",
            "aorg",
            "acme",
            "--type=merge",
            "-p",
            '{"spec":{"suspension":{"maxPerSync":1000}}}',
        ),
        "jane",
        "patch",
        "atlassianorgs",
    )
    assert spec(kube, "aorg", "acme")["suspension"]["maxPerSync"] == 10

    # She cannot read the API key.
    secret = as_user(kube, "jane", "get", "secret", SECRET, "-o", "yaml")
    assert_forbidden(secret, "jane", "get", "secrets")
    assert KEY not in secret.stdout + secret.stderr

    # She cannot forge what the operator reports.
    assert_forbidden(
        as_user(
            kube,
            "jane",
            "patch",
            "aacct",
            "john-smith",
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status":{"accountStatus":"Suspended"}}',
        ),
        "jane",
        "patch",
        "atlassianaccounts/status",
    )
    assert kube.get_json("aacct", "john-smith")["status"]["accountStatus"] == "Active"

    # Deleting an account is hers too (the operator never acts on deletion).
    deleted = as_user(kube, "jane", "delete", "aacct", "jane-new")
    assert deleted.returncode == 0, deleted.stderr


def test_viewer_reads_but_changes_nothing(people: Any) -> None:
    kube = people
    listed = as_user(kube, "victor", "get", "aorg,aacct", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == {
        f"atlassianorg.{GROUP}/acme",
        f"atlassianaccount.{GROUP}/john-smith",
    }
    got = as_user(kube, "victor", "get", "aacct", "john-smith", "-o", "json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["status"]["accountStatus"] == "Active"

    assert_forbidden(
        as_user(kube, "victor", "create", "-f", "-", input=account("victor-new")),
        "victor",
        "create",
        "atlassianaccounts",
    )
    assert_forbidden(
        as_user(
            kube,
            "victor",
            "patch",
            "aacct",
            "john-smith",
            "--type=merge",
            "-p",
            '{"spec":{"desiredState":"Suspended"}}',
        ),
        "victor",
        "patch",
        "atlassianaccounts",
    )
    assert "desiredState" not in spec(kube, "aacct", "john-smith")
    assert_forbidden(
        as_user(kube, "victor", "create", "-f", "-", input=org("rogue")),
        "victor",
        "create",
        "atlassianorgs",
    )
    assert_forbidden(
        as_user(
            kube,
            "victor",
            "patch",
            "aorg",
            "acme",
            "--type=merge",
            "-p",
            '{"spec":{"suspension":{"dryRun":true}}}',
        ),
        "victor",
        "patch",
        "atlassianorgs",
    )
    assert spec(kube, "aorg", "acme")["suspension"]["dryRun"] is False  # the default
    assert_forbidden(as_user(kube, "victor", "get", "secrets"), "victor", "list", "secrets")


def test_org_admin_creates_and_tunes_an_org_but_not_its_status(people: Any) -> None:
    kube = people
    created = as_user(kube, "olga", "create", "-f", "-", input=org("beta"))
    assert created.returncode == 0, created.stderr
    assert spec(kube, "aorg", "beta")["apiKeySecretRef"]["name"] == SECRET
    patched = as_user(
        kube,
        "olga",
        "patch",
        "aorg",
        "beta",
        "--type=merge",
        "-p",
        '{"spec":{"suspension":{"protectedAccounts":["ceo@acme.example"]}}}',
    )
    assert patched.returncode == 0, patched.stderr
    assert spec(kube, "aorg", "beta")["suspension"]["protectedAccounts"] == ["ceo@acme.example"]
    # The role grants nothing on Secrets (the built-in admin role does) or on status.
    assert_forbidden(as_user(kube, "olga", "get", "secret", SECRET), "olga", "get", "secrets")
    assert_forbidden(
        as_user(
            kube,
            "olga",
            "patch",
            "aorg",
            "acme",
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status":{"users":{"total":1}}}',
        ),
        "olga",
        "patch",
        "atlassianorgs/status",
    )
    # Only the schema's default (observedGeneration 0, for health checks) is there.
    assert kube.get_json("aorg", "acme")["status"] == {"observedGeneration": 0}


def builtin_roles(kube: Any) -> dict[str, dict[str, Any]]:
    return {
        name: json.loads(
            kube.kubectl("get", "clusterrole", name, "-o", "json", namespaced=False).stdout
        )
        for name in ("view", "edit", "admin")
    }


def selected_by(builtins: dict[str, dict[str, Any]], labels: dict[str, str]) -> set[str]:
    """The built-in roles whose aggregationRule selects a role with these labels, directly or
    through another built-in role it lands in (view is labelled to land in edit, edit in admin)."""

    def selects(role: dict[str, Any], candidate: dict[str, str]) -> bool:
        for selector in role["aggregationRule"]["clusterRoleSelectors"]:
            assert set(selector) <= {"matchLabels"}, selector  # what the built-in roles use
            if selector["matchLabels"].items() <= candidate.items():
                return True
        return False

    landed: set[str] = set()
    while True:
        sources = [labels, *(builtins[n]["metadata"].get("labels", {}) for n in landed)]
        more = {n for n, role in builtins.items() if any(selects(role, s) for s in sources)}
        if more <= landed:
            return landed
        landed |= more


def test_labels_match_the_builtin_roles_aggregation_selectors(
    kube: Any, user_roles: list[dict[str, Any]]
) -> None:
    """Read back from the API server: the built-in view/edit/admin roles' selectors pick the
    viewer into view (and so edit and admin), the editor into edit and admin, and the org
    admin into admin only. This is what the aggregation controller acts on; it is not the
    aggregation itself (test_builtin_roles_include_ours shows that where it runs)."""
    builtins = builtin_roles(kube)
    landed = {}
    for name in PEOPLE.values():
        role = json.loads(
            kube.kubectl("get", "clusterrole", name, "-o", "json", namespaced=False).stdout
        )
        landed[name] = selected_by(builtins, role["metadata"]["labels"])
    assert landed == {
        VIEWER: {"view", "edit", "admin"},
        EDITOR: {"edit", "admin"},
        ORG_ADMIN: {"admin"},
    }
