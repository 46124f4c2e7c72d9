"""`make demo`: the product end to end on this machine, with nothing but embedded defaults.

A local kube-apiserver + etcd, the Atlassian simulator with a sample org, the operator as a
process, and the example resources from manifests/examples; then `kubectl get` before and after
an offboarding. Pass --keep to leave everything running and poke at it yourself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "hack" / "controlplane"), str(ROOT / "tests")]

from controlplane import ControlPlane  # noqa: E402

from support.operator import OperatorProcess  # noqa: E402
from support.simulator import Simulator, start_simulator  # noqa: E402

NAMESPACE = "atlassian-operator"  # the one namespace of the docs: install, examples, demo
API_KEY = "demo-org-api-key"
EXAMPLE_USERS = [
    {
        "account_id": "5b10ac8d82e05b22cc7d4ef4",
        "name": "Ada Admin",
        "email": "admin@acme.example",  # in the org's spec.suspension.protectedAccounts
        "account_status": "active",
    },
    {
        "account_id": "5b10ac8d82e05b22cc7d4ef5",
        "name": "Ravi Patel",
        "email": "ravi.patel@acme.example",
        "account_status": "active",
    },
    {
        "account_id": "5b10ac8d82e05b22cc7d4ef6",
        "name": "Jane Doe",
        "email": "jane.doe@acme.example",
        "account_status": "active",
    },
    {
        "account_id": "5b10ac8d82e05b22cc7d4ef7",
        "name": "John Smith",
        "email": "john.smith@acme.example",
        "account_status": "active",
    },
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave everything running")
    args = parser.parse_args()
    state = ROOT / ".dev" / "demo"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "hack/controlplane/controlplane.py"),
            "down",
            "--dir",
            str(state / "controlplane"),
        ],
        capture_output=True,
        check=False,
    )
    step("starting a local control plane (kube-apiserver + etcd)")
    cp = ControlPlane.start(state / "controlplane", kubeconfig=state / "kubeconfig")
    os.environ["KUBECONFIG"] = str(cp.kubeconfig)
    logs = state / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    sim = op = None
    try:
        kubectl("apply", "-k", str(ROOT / "crds"))
        kubectl(
            "wait",
            "--for=condition=Established",
            "crd/atlassianorgs.atlassian.operators.dev",
            "crd/atlassianaccounts.atlassian.operators.dev",
        )
        step("starting the Atlassian simulator: org acme, 200 users on 2 sites")
        sim = start_simulator(
            users=200,
            seed=42,
            org_id="6665kc2j-4644-14k8-j32c-68cc0b1d15b8",
            api_key=API_KEY,
            page_size=50,
            log_dir=logs,
            admins=1,
            unmanaged=2,
        )
        for user in EXAMPLE_USERS:
            sim.add_user(
                **user,
                last_active="2026-11-27T16:20:00Z",
                access_billable=True,
                product_access=[
                    {
                        "key": "jira-software",
                        "name": "Jira Software",
                        "url": "https://acme.atlassian.net",
                        "last_active": "2026-11-27T16:20:00Z",
                    },
                    {
                        "key": "confluence",
                        "name": "Confluence",
                        "url": "https://acme.atlassian.net/wiki",
                        "last_active": "2026-11-26T09:05:00Z",
                    },
                ],
            )
        step("starting the operator")
        # The simulator stands in for https://api.atlassian.com: a cluster admin allows it.
        op = OperatorProcess(cp.kubeconfig, [NAMESPACE], allow=[sim.url], log_dir=logs).start()
        step("applying manifests/examples (Secret, AtlassianOrg, AtlassianAccounts)")
        kubectl("create", "namespace", NAMESPACE)
        # So that `kubectl get aorg,aacct` with this kubeconfig needs no -n.
        kubectl("config", "set-context", "--current", f"--namespace={NAMESPACE}")
        kubectl(
            "-n",
            NAMESPACE,
            "create",
            "secret",
            "generic",
            "atlassian-api-key",
            f"--from-literal=api-key={API_KEY}",
        )
        kubectl(
            "-n", NAMESPACE, "label", "secret", "atlassian-api-key",
            "atlassian.operators.dev/api-key=true",
        )  # fmt: skip
        org = (
            (ROOT / "manifests/examples/org.yaml")
            .read_text()
            .replace(
                "  syncInterval: 5m",
                f"  apiBaseURL: {sim.url}   # the simulator\n  syncInterval: 5m",
            )
        )
        kubectl("-n", NAMESPACE, "apply", "-f", "-", input=org)
        kubectl("-n", NAMESPACE, "apply", "-f", str(ROOT / "manifests/examples/accounts.yaml"))
        kubectl(
            "-n",
            NAMESPACE,
            "wait",
            "--for=condition=Ready",
            "--timeout=60s",
            "aorg/acme",
            "aacct/jane-doe",
            "aacct/ravi-patel",
        )
        show("kubectl get aorg,aacct", "get", "aorg,aacct")

        step("offboarding John Smith: kubectl apply -f manifests/examples/offboarding.yaml")
        kubectl("-n", NAMESPACE, "apply", "-f", str(ROOT / "manifests/examples/offboarding.yaml"))
        kubectl(
            "-n",
            NAMESPACE,
            "wait",
            "--for=jsonpath={.status.accountStatus}=Suspended",
            "--timeout=60s",
            "aacct/john-smith",
        )
        show("kubectl get aorg,aacct", "get", "aorg,aacct")
        show(
            "kubectl get events",
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=john-smith",
        )
        calls = sim.requests("disable")
        print(
            f"\nthe simulator received {len(calls)} disable call(s): "
            + ", ".join(f"{c['path']} {c['body']}" for c in calls)
        )

        step("an offboarding of a protected account: the org protects admin@acme.example")
        refused(PROTECTED_OFFBOARDING, "ada-admin", "ProtectedAccount")
        show(
            "kubectl get events --field-selector involvedObject.name=ada-admin",
            "get", "events", "--field-selector", "involvedObject.name=ada-admin",
        )  # fmt: skip
        print(f"\nstill {len(sim.requests('disable'))} disable call(s): protection held")

        scim = next(
            e["user"] for e in sim.users() if e["scim"] and e["user"]["account_status"] == "active"
        )
        step(
            f"an offboarding of {scim['name']}, synced from an identity provider: the v2 search "
            "says so, and the operator refuses without a call"
        )
        refused(IDP_OFFBOARDING % scim["account_id"], "idp-user", "ManagedByIdentityProvider")
        show(
            "kubectl get aorg acme -o jsonpath='{.status.enrichment}'",
            "get", "aorg", "acme", "-o", "jsonpath={.status.enrichment}",
        )  # fmt: skip
        print(
            f"\n\nstill {len(sim.requests('disable'))} disable call(s), "
            f"{len(sim.requests('manage'))} permission check(s)\n"
            f"\nmetrics: {op.metrics_url}   health: {op.health_url}\n"
            f"logs: {logs}"
        )
        licence_reclaim(sim)
        access_review(state)
        if args.keep:
            pids = [p.process.pid for p in (op, sim) if p.process is not None]
            (state / "pids").write_text(" ".join(map(str, pids)))
            print(
                f"\nleft running. export KUBECONFIG={cp.kubeconfig}; kubectl get aorg,aacct\n"
                f"simulator: {sim.url}/_sim/users  operator log: {op.log}\n"
                "stop with: make demo-down"
            )
        return 0
    finally:
        if not args.keep:
            for proc in (op, sim):
                if proc is not None:
                    proc.stop()
            cp.stop()


PROTECTED_OFFBOARDING = """
apiVersion: atlassian.operators.dev/v1beta1
kind: AtlassianAccount
metadata:
  name: ada-admin
spec:
  orgRef:
    name: acme
  email: admin@acme.example
  desiredState: Suspended
"""


IDP_OFFBOARDING = """
apiVersion: atlassian.operators.dev/v1beta1
kind: AtlassianAccount
metadata:
  name: idp-user
spec:
  orgRef:
    name: acme
  accountId: "%s"
  desiredState: Suspended
"""


def refused(manifest: str, name: str, reason: str) -> None:
    """Apply an offboarding the operator refuses, wait for the reason, and show the account."""
    kubectl("-n", NAMESPACE, "apply", "-f", "-", input=manifest)
    ready_reason = '{.status.conditions[?(@.type=="Ready")].reason}'
    kubectl(
        "-n", NAMESPACE, "wait", f"--for=jsonpath={ready_reason}={reason}", "--timeout=60s",
        f"aacct/{name}",
    )  # fmt: skip
    show(f"kubectl get aacct {name} -o wide", "get", "aacct", name, "-o", "wide")


def licence_reclaim(sim: Simulator) -> None:
    """Account discovery on, then the inactivity policy in Enforce: most of the demo's users
    have been idle for months, far more than a day's threshold, so the brake on mass calls
    pauses the org until a person approves the number waiting."""
    step("licence reclaim: account discovery on, every org user gets an observe-only account")
    patch("aorg/acme", {"spec": {"accountDiscovery": {"enabled": True}}})
    total = int(kubectl("-n", NAMESPACE, "get", "aorg", "acme", "-o",
                        "jsonpath={.status.users.total}"))  # fmt: skip
    wait_until(lambda: len(kubectl("-n", NAMESPACE, "get", "aacct", "-o", "name").split()) >= total,
               f"an AtlassianAccount for each of the org's {total} users")  # fmt: skip
    show("kubectl get aorg acme", "get", "aorg", "acme")

    step("mode: Enforce on the demo org: the brake pauses it, and nothing is sent")
    patch("aorg/acme", {"spec": {"inactivity": {"mode": "Enforce"}}})
    paused = '{.status.conditions[?(@.type=="ActionsPaused")].reason}'
    kubectl("-n", NAMESPACE, "wait", f"--for=jsonpath={paused}=MassSuspensionPaused",
            "--timeout=60s", "aorg/acme")  # fmt: skip
    message = 'jsonpath={.status.conditions[?(@.type=="ActionsPaused")].message}'
    show(f"kubectl get aorg acme -o '{message}'", "get", "aorg", "acme", "-o", message)
    waiting = int(kubectl("-n", NAMESPACE, "get", "aorg", "acme", "-o",
                          "jsonpath={.status.suspensionBrake.waiting}"))  # fmt: skip
    before = len(sim.requests("disable"))
    print(f"\n\n{waiting} suspensions wait; still {before} disable call(s)")

    step(f"a person approves exactly {waiting}: kubectl annotate aorg acme "
         f"atlassian.operators.dev/approve-suspensions={waiting}")  # fmt: skip
    kubectl("-n", NAMESPACE, "annotate", "--overwrite", "aorg/acme",
            f"atlassian.operators.dev/approve-suspensions={waiting}")  # fmt: skip
    # maxPerSync: 10 calls in any 5m window, John Smith's among them; the policy's share of a
    # window is half of it (spec.inactivity.maxPerSync), so explicit offboardings keep room.
    room = min(10 - before, 5)
    wait_until(lambda: len(sim.requests("disable")) >= before + room,
               f"the window's {room} calls (the policy's share of maxPerSync)")  # fmt: skip
    show(
        "kubectl get aorg acme -o jsonpath='{.status.suspensionBrake}'",
        "get", "aorg", "acme", "-o", "jsonpath={.status.suspensionBrake}",
    )  # fmt: skip
    sent = len(sim.requests("disable")) - before
    print(f"\n\n{sent} sent now, the longest idle first; the rest follow at the policy's share "
          "of maxPerSync (5 of 10 calls in any 5m window)")  # fmt: skip


def patch(target: str, body: dict[str, object]) -> None:
    kubectl("-n", NAMESPACE, "patch", target, "--type", "merge", "-p", json.dumps(body))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def kubectl(*args: str, input: str | None = None) -> str:
    result = subprocess.run(
        ["kubectl", *args], input=input, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def show(title: str, *args: str) -> None:
    print(f"\n$ {title}\n{kubectl('-n', NAMESPACE, *args)}", end="", flush=True)


def access_review(state: Path) -> None:
    """The access review of the demo namespace: the HTML page and a screenshot of it."""
    page, shot = state / "report.html", state / "report.png"
    step(f"access review: kubectl atlassian report -n {NAMESPACE} --format html -o {page}")
    plugin = Path(sys.executable).parent / "kubectl-atlassian"  # on PATH: `kubectl atlassian`
    result = subprocess.run(
        [str(plugin), "report", "-n", NAMESPACE, "--format", "html", "-o", str(page)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"kubectl atlassian report failed:\n{result.stderr}")
    shot.unlink(missing_ok=True)
    chromium = Path("/usr/bin/chromium")
    if chromium.is_file():
        with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
            # Debian's chromium (make browser), headless, with no network of its own.
            subprocess.run(
                [str(chromium), "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                 "--hide-scrollbars", "--window-size=1440,1600", f"--screenshot={shot}",
                 page.as_uri()],
                capture_output=True, timeout=120, check=False,
            )  # fmt: skip
    print(f"\nHTML report: {page}")
    print(f"screenshot:  {shot}" if shot.is_file() else "screenshot:  not taken (make browser)")


if __name__ == "__main__":
    sys.exit(main())
