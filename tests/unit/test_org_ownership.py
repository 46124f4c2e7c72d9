"""One AtlassianOrg acts for each Atlassian org: who, when several name the same `orgId`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from atlassian_operator.reconcile.fleet import OrgObject, first_by_org_id

MONDAY = datetime(2026, 12, 7, tzinfo=UTC)
TUESDAY = datetime(2026, 12, 8, tzinfo=UTC)


def org(namespace: str, name: str, org_id: str, created: datetime | None) -> OrgObject:
    return OrgObject(namespace, name, f"uid-{namespace}-{name}", org_id, created)


# (orgs known, the (namespace, name) that acts for each orgId)
CASES = [
    pytest.param(
        [org("a", "acme", "org-1", MONDAY)],
        {"org-1": ("a", "acme")},
        id="alone-it-acts",
    ),
    pytest.param(
        [org("a", "acme", "org-1", MONDAY), org("b", "beta", "org-2", MONDAY)],
        {"org-1": ("a", "acme"), "org-2": ("b", "beta")},
        id="two-orgIds-two-owners",
    ),
    pytest.param(
        [org("z-team", "acme", "org-1", MONDAY), org("a-team", "acme", "org-1", TUESDAY)],
        {"org-1": ("z-team", "acme")},
        id="the-earlier-created-acts-whatever-its-namespace",
    ),
    pytest.param(
        [org("team", "new", "org-1", TUESDAY), org("team", "old", "org-1", MONDAY)],
        {"org-1": ("team", "old")},
        id="two-names-in-one-namespace-the-earlier-acts",
    ),
    pytest.param(
        [org("b", "acme", "org-1", MONDAY), org("a", "zeta", "org-1", MONDAY)],
        {"org-1": ("a", "zeta")},
        id="same-second-the-first-namespace-acts",
    ),
    pytest.param(
        [org("a", "zeta", "org-1", MONDAY), org("a", "acme", "org-1", MONDAY)],
        {"org-1": ("a", "acme")},
        id="same-second-same-namespace-the-first-name-acts",
    ),
    pytest.param(
        [org("a", "acme", "org-1", None), org("b", "beta", "org-1", TUESDAY)],
        {"org-1": ("b", "beta")},
        id="an-unreadable-creation-time-ranks-last",
    ),
    pytest.param([], {}, id="no-orgs-no-owners"),
]


@pytest.mark.parametrize(("orgs", "expected"), CASES)
def test_the_earliest_atlassian_org_object_acts_for_its_org_id(
    orgs: list[OrgObject], expected: dict[str, tuple[str, str]]
) -> None:
    for order in itertools.permutations(orgs):  # the order events arrive in changes nothing
        first = first_by_org_id(order)
        assert {k: (o.namespace, o.name) for k, o in first.items()} == expected


def body(**meta: Any) -> dict[str, Any]:
    metadata = {"namespace": "team", "name": "acme", "uid": "u1",
                "creationTimestamp": "2026-12-07T00:00:00Z", **meta}  # fmt: skip
    return {"metadata": metadata, "spec": {"orgId": "org-1"}}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(body(), OrgObject("team", "acme", "u1", "org-1", MONDAY), id="an-org"),
        pytest.param(
            body(creationTimestamp="yesterday"),
            OrgObject("team", "acme", "u1", "org-1", None),
            id="unreadable-creation-time",
        ),
        pytest.param(
            body(deletionTimestamp="2026-12-08T00:00:00Z"), None, id="being-deleted-claims-nothing"
        ),
        pytest.param({**body(), "spec": {}}, None, id="no-orgId-claims-nothing"),
    ],
)
def test_an_org_object_from_its_watch_event(
    given: dict[str, Any], expected: OrgObject | None
) -> None:
    assert OrgObject.of(given) == expected
