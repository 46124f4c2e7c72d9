"""Prometheus metrics of the operator: syncs, Atlassian requests, actions and accounts per org."""

from __future__ import annotations

import contextlib
import platform
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from importlib.metadata import version
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.metrics import MetricWrapperBase

from atlassian_operator import __version__
from atlassian_operator.core.resources import ObjectRef

# `_created` series double every counter's cardinality and nobody alerts on them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ["namespace", "org"]
        self.syncs = Counter(
            "atlassian_operator_syncs",
            "Org syncs by result",
            [*labels, "result"],
            registry=self.registry,
        )
        self.sync_seconds = Histogram(
            "atlassian_operator_sync_duration_seconds",
            "Duration of org syncs",
            labels,
            registry=self.registry,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
        )
        self.last_success = Gauge(
            "atlassian_operator_last_successful_sync_timestamp_seconds",
            "Unix time of the last complete listing",
            labels,
            registry=self.registry,
        )
        self.requests = Counter(
            "atlassian_operator_atlassian_requests",
            "Atlassian API responses by endpoint and status code (0: none)",
            [*labels, "endpoint", "code"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "atlassian_operator_atlassian_rate_limited",
            "429 responses from Atlassian",
            [*labels, "endpoint"],
            registry=self.registry,
        )
        self.retries = Counter(
            "atlassian_operator_atlassian_retries",
            "Waits before a retry or to pace requests, by reason",
            [*labels, "endpoint", "reason"],
            registry=self.registry,
        )
        self.actions = Counter(
            "atlassian_operator_lifecycle_actions",
            "Lifecycle calls (Suspend, Reactivate) by result: Succeeded or the failure reason",
            [*labels, "action", "result"],
            registry=self.registry,
        )
        self.sync_failures = Counter(
            "atlassian_operator_sync_failures",
            "Failed syncs by reason (SecretNotUsable, AuthenticationFailed, InvalidSpec, ...)",
            [*labels, "reason"],
            registry=self.registry,
        )
        self.enrichment_failures = Counter(
            "atlassian_operator_enrichment_failures",
            "Syncs whose v2 user search failed or was abandoned, by reason (the sync itself "
            "succeeded; lifecycle calls were checked with the user management API first)",
            [*labels, "reason"],
            registry=self.registry,
        )
        self.inactivity_accounts = Gauge(
            "atlassian_operator_inactivity_accounts",
            "AtlassianAccounts under the org's inactivity policy: eligible (the operator would "
            "suspend them), eligible_billable (reclaimable seats), suspended (by the policy), "
            "warned (in the warning period of spec.inactivity.warnAfterDays, not eligible yet), "
            "refused (taken up by the policy, but an identity provider's, an admin, unmanaged "
            "or protected), refused_billable, kept_by_intent (idle, pinned desiredState Active)",
            [*labels, "state"],
            registry=self.registry,
        )
        self.inactivity_as_of = Gauge(
            "atlassian_operator_inactivity_as_of_timestamp_seconds",
            "Unix time of the listing the inactivity counts come from: while syncs fail or the "
            "API key is unusable the counts keep their last good values, and this ages",
            labels,
            registry=self.registry,
        )
        self.unreadable_last_active = Gauge(
            "atlassian_operator_unreadable_last_active_users",
            "Users of the org whose last-active time (of the account or of a product) Atlassian "
            "sent in a layout the operator cannot read, from the last listing: the inactivity "
            "policy never suspends them",
            labels,
            registry=self.registry,
        )
        self.account_states = Gauge(
            "atlassian_operator_accounts",
            "AtlassianAccounts by their Ready condition and its reason (False: not in the "
            "desired state; alert on a stuck offboarding)",
            [*labels, "ready", "reason"],
            registry=self.registry,
        )
        self.build_info = Gauge(
            "atlassian_operator_build_info",
            "The running operator's version (always 1)",
            ["version", "python", "kopf"],
            registry=self.registry,
        )
        self.build_info.labels(__version__, platform.python_version(), _version_of("kopf")).set(1)
        self.leader = Gauge(
            "atlassian_operator_leader",
            "1 while this process acts (it holds the leader-election Lease, or runs without "
            "--leader-election), 0 while it waits for the Lease as a standby",
            registry=self.registry,
        )
        self.paused_calls = Gauge(
            "atlassian_operator_paused_lifecycle_calls",
            "Lifecycle calls (suspensions and re-enables) the brake on mass calls holds until a "
            "person approves them (0: not paused); alert on it",
            labels,
            registry=self.registry,
        )
        self.accounts = Gauge(
            "atlassian_operator_org_users",
            "Users of the org by mapped state, from the last complete listing",
            [*labels, "state"],
            registry=self.registry,
        )

        # Every label set used per org, so that an org's series go when the org goes.
        self._series: dict[tuple[str, str], set[tuple[MetricWrapperBase, tuple[str, ...]]]] = (
            defaultdict(set)
        )

    def _labels(self, metric: MetricWrapperBase, ref: ObjectRef, *extra: str) -> Any:
        values = (ref.namespace, ref.name, *extra)
        self._series[(ref.namespace, ref.name)].add((metric, values))
        return metric.labels(*values)

    def forget(self, ref: ObjectRef) -> None:
        """Drop every series of an org that is gone."""
        for metric, values in self._series.pop((ref.namespace, ref.name), set()):
            metric.remove(*values)

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        start_http_server(port, addr=addr, registry=self.registry)

    def response(self, ref: ObjectRef, endpoint: str, status: int) -> None:
        self._labels(self.requests, ref, endpoint, str(status)).inc()
        if status == 429:
            self._labels(self.rate_limited, ref, endpoint).inc()

    def waiting(self, ref: ObjectRef, endpoint: str, reason: str) -> None:
        self._labels(self.retries, ref, endpoint, reason).inc()

    def sync_done(self, ref: ObjectRef, seconds: float) -> None:
        self._labels(self.syncs, ref, "succeeded").inc()
        self._labels(self.sync_seconds, ref).observe(seconds)
        self._labels(self.last_success, ref).set_to_current_time()

    def sync_failed(self, ref: ObjectRef, reason: str, seconds: float | None) -> None:
        """A sync that failed, before listing (no key, a refused URL) or while listing."""
        self._labels(self.syncs, ref, "failed").inc()
        self._labels(self.sync_failures, ref, reason).inc()
        if seconds is not None:
            self._labels(self.sync_seconds, ref).observe(seconds)

    def inactivity(self, ref: ObjectRef, counts: Mapping[str, Any] | None) -> None:
        """The policy's counts (status.inactivity) and their asOf; None (no policy) drops the
        series."""
        for key, state in _INACTIVITY_STATES:
            labels = (ref.namespace, ref.name, state)
            if counts is None:
                with contextlib.suppress(KeyError):
                    self.inactivity_accounts.remove(*labels)
            else:
                self._labels(self.inactivity_accounts, ref, state).set(counts.get(key, 0))
        as_of = _unix_time(counts.get("asOf")) if counts is not None else None
        if as_of is None:
            with contextlib.suppress(KeyError):
                self.inactivity_as_of.remove(ref.namespace, ref.name)
        else:
            self._labels(self.inactivity_as_of, ref).set(as_of)

    def unreadable_times(self, ref: ObjectRef, users: int) -> None:
        self._labels(self.unreadable_last_active, ref).set(users)

    def enrichment_failed(self, ref: ObjectRef, reason: str) -> None:
        self._labels(self.enrichment_failures, ref, reason).inc()

    def accounts_by_readiness(self, ref: ObjectRef, counts: Tally[tuple[str, str]]) -> None:
        """How many accounts are Ready or not, by reason; vanished reasons drop to 0."""
        known = {
            v[2:] for m, v in self._series[(ref.namespace, ref.name)] if m is self.account_states
        }
        for ready, reason in known | set(counts):
            self._labels(self.account_states, ref, ready, reason).set(counts[(ready, reason)])

    def paused(self, ref: ObjectRef, calls: int) -> None:
        self._labels(self.paused_calls, ref).set(calls)

    def snapshot(self, ref: ObjectRef, counts: dict[str, int]) -> None:
        for state in ("active", "suspended", "deprovisioned"):
            self._labels(self.accounts, ref, state).set(counts[state])

    def action(self, ref: ObjectRef, action: str, result: str) -> None:
        self._labels(self.actions, ref, str(action), result).inc()


_INACTIVITY_STATES = (
    ("eligible", "eligible"),
    ("eligibleBillable", "eligible_billable"),
    ("suspended", "suspended"),
    ("warned", "warned"),
    ("refused", "refused"),
    ("refusedBillable", "refused_billable"),
    ("keptByIntent", "kept_by_intent"),
)


def _unix_time(text: object) -> float | None:
    """An RFC 3339 time of a status (`2026-12-06T10:00:00Z`) as Unix time; None if unreadable."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _version_of(package: str) -> str:
    try:
        return version(package)
    except Exception:  # not installed as a distribution: say so rather than fail
        return "unknown"
