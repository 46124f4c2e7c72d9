"""Injected failures (error status, malformed body, reset connection, slow answer) for tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("list_users", "disable", "enable", "search_users", "manage")
# Listings are faulted by page (1-based, in the order a client walks them), calls by account.
PAGED_ENDPOINTS = ("list_users", "search_users")
ACCOUNT_ENDPOINTS = ("disable", "enable", "manage")
KINDS = ("status", "malformed", "reset", "slow")
_KEYS = {"endpoint", "kind", "page", "status", "delay_seconds", "times", "account_id", "headers"}


class FaultSpecError(ValueError):
    """A fault request that cannot be honoured as written."""


@dataclass
class Fault:
    endpoint: str
    kind: str
    times: int
    page: int | None = None
    account_id: str | None = None
    status: int = 503
    delay_seconds: float = 1.0
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, endpoint: str, page: int | None, account_id: str | None) -> bool:
        return (
            self.endpoint == endpoint
            and (self.page is None or self.page == page)
            and (self.account_id is None or self.account_id == account_id)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "kind": self.kind,
            "times": self.times,
            "page": self.page,
            "account_id": self.account_id,
            "status": self.status,
            "delay_seconds": self.delay_seconds,
            "headers": self.headers,
        }


def parse_fault(spec: Any) -> Fault:
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault is a JSON object")
    unknown = set(spec) - _KEYS
    if unknown:
        raise FaultSpecError(f"unknown fault fields: {sorted(unknown)}")
    endpoint, kind = spec.get("endpoint"), spec.get("kind")
    if endpoint not in ENDPOINTS:
        raise FaultSpecError(f"endpoint must be one of {list(ENDPOINTS)}")
    if kind not in KINDS:
        raise FaultSpecError(f"kind must be one of {list(KINDS)}")
    fault = Fault(endpoint=endpoint, kind=kind, times=_int(spec, "times", 1, minimum=1))
    if spec.get("page") is not None:
        if endpoint not in PAGED_ENDPOINTS:
            raise FaultSpecError(f"page only applies to {'/'.join(PAGED_ENDPOINTS)}")
        fault.page = _int(spec, "page", 1, minimum=1)
    if spec.get("account_id") is not None:
        if endpoint not in ACCOUNT_ENDPOINTS or not isinstance(spec["account_id"], str):
            raise FaultSpecError(
                f"account_id is a string and only applies to {'/'.join(ACCOUNT_ENDPOINTS)}"
            )
        fault.account_id = spec["account_id"]
    fault.status = _int(spec, "status", 503, minimum=400)
    if fault.status > 599:
        raise FaultSpecError("status must be an HTTP error status (400-599)")
    delay = spec.get("delay_seconds", 1.0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise FaultSpecError("delay_seconds must be a non-negative number")
    fault.delay_seconds = float(delay)
    headers = spec.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise FaultSpecError("headers must map strings to strings")
    fault.headers = headers
    return fault


def _int(spec: dict[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FaultSpecError(f"{name} must be an integer >= {minimum}")
    return value


class FaultBook:
    """Pending faults, first added first used; each one is spent after `times` hits."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        return [fault.to_json() for fault in self._faults]

    def take(self, endpoint: str, page: int | None, account_id: str | None) -> Fault | None:
        for fault in self._faults:
            if fault.matches(endpoint, page, account_id):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None
