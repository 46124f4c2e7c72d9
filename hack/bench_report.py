#!/usr/bin/env python3
"""How long `kubectl atlassian report` takes for N accounts (default 10,000), per format.

A local control plane (kube-apiserver + etcd, as `make demo` starts it), the CRDs, one org and
N AtlassianAccounts with realistic statuses (two products each, one in ten Suspended), created
through the Kubernetes client on a thread pool as hack/bench.py does. Then, for each format,
the real `kubectl-atlassian report` end to end (process start, LIST from the API server, rows,
rendering, writing the file), median of --runs; and the same in-process, split into reading
the cluster, building the review and rendering. Prints seconds; asserts nothing.

    .venv/bin/python hack/bench_report.py [--accounts 10000] [--runs 3] [--kubeconfig FILE]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "hack" / "controlplane"), str(ROOT / "tests" / "report")]

from controlplane import ControlPlane  # noqa: E402
from review_world import AS_OF, bulk_accounts  # noqa: E402

FORMATS = ("table", "csv", "json", "html", "manifests")
BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kubeconfig", help="use this cluster (with the CRDs) instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp)
        cp = None
        if args.kubeconfig:
            kubeconfig = Path(args.kubeconfig)
        else:
            cp = ControlPlane.start(work / "state", kubeconfig=work / "kubeconfig")
            kubeconfig = cp.kubeconfig
        try:
            run(kubeconfig, work, args.accounts, args.runs)
        finally:
            if cp is not None:
                cp.stop()
    return 0


def kubectl(kubeconfig: Path, *args: str) -> None:
    subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args], check=True, capture_output=True
    )


def run(kubeconfig: Path, work: Path, accounts: int, runs: int) -> None:
    kubectl(kubeconfig, "apply", "-k", str(ROOT / "crds"))
    kubectl(kubeconfig, "wait", "--for=condition=Established", "crd", "--all")
    namespace = f"bench-report-{int(time.time())}"
    kubectl(kubeconfig, "create", "namespace", namespace)
    start = time.monotonic()
    bulk_accounts(kubeconfig, namespace, accounts, workers=32)
    print(f"created {accounts} accounts with statuses in {time.monotonic() - start:.1f}s")

    common = [f"--kubeconfig={kubeconfig}", "-n", namespace, f"--as-of={AS_OF}"]
    print(f"\nend to end: kubectl-atlassian report -f FORMAT --inactive-days 90 (median of {runs})")
    print(f"{'format':<10} {'seconds':>8} {'output':>10}")
    for fmt in FORMATS:
        out = work / f"report.{fmt}"
        times = []
        for _ in range(runs):
            t0 = time.monotonic()
            subprocess.run(
                [str(BIN / "kubectl-atlassian"), "report", *common, "-f", fmt,
                 "--inactive-days", "90", "-o", str(out)],
                check=True, capture_output=True,
            )  # fmt: skip
            times.append(time.monotonic() - t0)
        size = out.stat().st_size
        print(f"{fmt:<10} {statistics.median(times):>8.2f} {size / 1e6:>8.1f}MB")
    for label, command in (
        ("who-has", ["who-has", "Confluence (acme)"]),
        ("explain", ["explain", "u00042"]),
    ):
        t0 = time.monotonic()
        subprocess.run(
            [str(BIN / "kubectl-atlassian"), *command, *common], check=True, capture_output=True
        )
        print(f"{label:<10} {time.monotonic() - t0:>8.2f}")
    in_process(kubeconfig, namespace)
    in_browser(work / "report.html", work)


def in_browser(page: Path, work: Path) -> None:
    """The HTML page in Debian's headless Chromium: load, one filter keystroke, one sort."""
    if not Path("/usr/bin/chromium").is_file():
        print("\nno /usr/bin/chromium (make browser): page not timed in a browser")
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={work / 'chromium'}", "--window-size=1440,1000",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(page.as_uri())
        loaded = driver.execute_script(
            "const t = performance.timing; return t.loadEventEnd - t.navigationStart"
        )
        rows = driver.execute_script(
            "return document.querySelectorAll('#accounts tbody tr').length"
        )
        filtered = driver.execute_script(
            "const box = document.getElementById('filter'), t = performance.now();"
            "box.value = 'user00042'; box.dispatchEvent(new Event('input'));"
            "return performance.now() - t"
        )
        sorted_ms = driver.execute_script(
            "const th = document.querySelectorAll('#accounts th')[5], t = performance.now();"
            "th.click(); return performance.now() - t"
        )
        print(
            f"\nin Chromium: {rows} account rows; load {loaded / 1000:.2f}s, "
            f"filter {filtered:.0f}ms, sort by days idle {sorted_ms:.0f}ms"
        )
    finally:
        driver.quit()


def in_process(kubeconfig: Path, namespace: str) -> None:
    from atlassian_operator.report import (
        format_csv,
        format_html,
        format_json,
        format_manifests,
        format_table,
    )
    from atlassian_operator.report.cluster import Cluster, Scope
    from atlassian_operator.report.review import build_review

    t0 = time.monotonic()
    cluster = Cluster(str(kubeconfig))
    inventory = cluster.read(Scope(namespace))
    cluster.close()
    t1 = time.monotonic()
    as_of = datetime.fromisoformat(AS_OF.replace("Z", "+00:00")).astimezone(UTC)
    review = build_review(inventory.orgs, inventory.accounts, as_of=as_of, inactive_days=90)
    t2 = time.monotonic()
    print(f"\nin process: LIST {len(inventory.accounts)} accounts {t1 - t0:.2f}s, "
          f"review {t2 - t1:.2f}s; rendering:")  # fmt: skip
    label = f"namespace {namespace}"
    renderers = {
        "table": lambda: format_table.review_table(review, all_namespaces=False),
        "csv": lambda: format_csv.rows_csv(review.rows()),
        "json": lambda: format_json.review_json(review, label),
        "html": lambda: format_html.review_html(review, label),
        "manifests": lambda: format_manifests.suspension_manifests(review, label),
    }
    for fmt, render in renderers.items():
        t = time.monotonic()
        render()
        print(f"  {fmt:<10} {time.monotonic() - t:.2f}s")


if __name__ == "__main__":
    sys.exit(main())
