"""The simulator's v2 search, manage endpoint and v2 population, as a client sees them."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from atlassian_operator.simulator.search import parse_request
from atlassian_operator.simulator.state import OrgState
from support.simulator import Simulator, SimulatorError, start_simulator

ALL_EXPAND = ["platformRoles", "counts.resources", "productAccess", "groups"]
UNKNOWN_ID = "5b10ac8d82e05b22cc7d4ef5"
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_NANOS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z")


@pytest.fixture(scope="module")
def _population() -> Iterator[Simulator]:
    with start_simulator(
        users=120, seed=7, page_size=50, scim_every=10, admins=2, unmanaged=3
    ) as sim:
        yield sim


@pytest.fixture
def simulator(_population: Simulator) -> Simulator:
    """120 users (seed 7, every 10th SCIM-synced), 2 org admins, 3 unmanaged users; reset."""
    _population.reset()
    return _population


def _search(
    sim: Simulator,
    body: Any = None,
    *,
    directory: str = "-",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return sim.http.post(
        sim.search_url(directory),
        headers=sim.auth_headers if headers is None else headers,
        json={} if body is None else body,
    )


def _walk(sim: Simulator, body: dict[str, Any], *, resend: bool = True) -> list[dict[str, Any]]:
    """Every page: later pages send the cursor with the first body, or the cursor alone."""
    pages: list[dict[str, Any]] = []
    request = body
    while True:
        response = _search(sim, request)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["links"].get("next")
        if cursor is None:
            return pages
        request = {**body, "cursor": cursor} if resend else {"cursor": cursor}


def _users(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [user for page in pages for user in page["data"]]


def _ids(pages: list[dict[str, Any]]) -> list[str]:
    return [user["accountId"] for user in _users(pages)]


def _v1_ids(sim: Simulator) -> list[str]:
    ids: list[str] = []
    url: str | None = sim.users_url
    while url is not None:
        page = sim.http.get(url, headers=sim.auth_headers).json()
        ids += [user["account_id"] for user in page["data"]]
        url = page["links"].get("next")
    return ids


def _entries(sim: Simulator) -> dict[str, dict[str, Any]]:
    return {entry["user"]["account_id"]: entry for entry in sim.users()}


def _pick(
    sim: Simulator, *, claim: str = "managed", scim: bool = False, status: str = "active"
) -> str:
    for account_id, entry in _entries(sim).items():
        user = entry["user"]
        wanted = (entry["claimStatus"], entry["scim"], user["account_status"]) == (
            claim,
            scim,
            status,
        )
        if wanted and not entry["platformRoles"]:
            return account_id
    raise AssertionError(f"no {claim} user with scim={scim} and status {status}")


def _error(response: httpx.Response) -> tuple[int, str]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    return response.status_code, errors[0]["code"]


# --- the population ---------------------------------------------------------------------------


def test_the_population_has_admins_unmanaged_and_synced_users(simulator: Simulator) -> None:
    entries = list(_entries(simulator).values())

    admins = [e for e in entries if "atlassian/org-admin" in e["platformRoles"]]
    unmanaged = [e for e in entries if e["claimStatus"] == "unmanaged"]
    synced = [e for e in entries if e["managementSource"] == "synced"]

    assert len(entries) == 125
    assert sorted(e["user"]["email"] for e in admins) == [
        "org.admin1@acme.example",
        "org.admin2@acme.example",
    ]
    for admin in admins:
        user = admin["user"]
        assert admin["claimStatus"] == "managed" and admin["managementSource"] == "invited"
        assert user["account_status"] == "active" and user["access_billable"] is True
        assert user["product_access"] and not admin["scim"]
    assert len(unmanaged) == 3
    for entry in unmanaged:
        assert re.fullmatch(r"[a-z]+\.[a-z]+\d@partner\.example", entry["user"]["email"])
        assert entry["user"]["product_access"] and entry["platformRoles"] == []
    assert synced == [e for e in entries if e["scim"]] and len(synced) == 12
    others = [e for e in entries if e not in admins and e not in unmanaged and e not in synced]
    assert {(e["claimStatus"], e["managementSource"]) for e in others} == {("managed", "invited")}
    assert all(e["platformRoles"] == [] for e in others)


# v1 listing bytes of OrgState(org_id="org-golden", users=300, seed=7, page_size=40,
# scim_every=25) at base URL http://sim.invalid, every page in turn, as served by the simulator
# of commit 6e03f8b, before v2 existed.
_V1_LISTING_BEFORE_V2 = "8bd7bbfc32ac697a9994e2fb8d54cc16a8edd5047ea03c8b0a88519e8c6483d9"


@pytest.mark.parametrize("unmanaged", [0, 4])
def test_the_v1_listing_is_byte_identical_to_the_one_before_v2(unmanaged: int) -> None:
    org = OrgState(
        org_id="org-golden", users=300, seed=7, page_size=40, scim_every=25, unmanaged=unmanaged
    )
    org.base_url = "http://sim.invalid"
    digest, cursor = hashlib.sha256(), None
    while True:
        page = org.page(cursor)
        digest.update(org.render_page(page, cursor))
        if (cursor := page.next_cursor) is None:
            break

    assert digest.hexdigest() == _V1_LISTING_BEFORE_V2
    assert len(org) == 300 + unmanaged


def _v1_listing(sim: Simulator) -> bytes:
    raw, url = b"", sim.users_url
    while url is not None:
        response = sim.http.get(url, headers=sim.auth_headers)
        raw += response.content
        url = response.json()["links"].get("next")
    return raw.replace(sim.url.encode(), b"BASE")


def _unlinked(user: dict[str, Any]) -> str:
    return json.dumps({name: value for name, value in user.items() if name != "links"})


def test_the_new_flags_leave_the_v1_users_as_they_were() -> None:
    with ExitStack() as stack, ThreadPoolExecutor(3) as pool:
        starts = [
            pool.submit(start_simulator, users=80, seed=5, page_size=30, **extra)
            for extra in ({}, {"unmanaged": 4}, {"admins": 2, "unmanaged": 4})
        ]
        plain, with_unmanaged, with_both = [stack.enter_context(s.result()) for s in starts]
        listings = [_v1_listing(sim) for sim in (plain, with_unmanaged)]
        # Links hold each simulator's own base URL; the rest must be the same bytes.
        before = {e["user"]["account_id"]: _unlinked(e["user"]) for e in plain.users()}
        after = {e["user"]["account_id"]: _unlinked(e["user"]) for e in with_both.users()}
        v1_with_both = _v1_ids(with_both)

    assert listings[0] == listings[1]
    added = set(after) - set(before)
    assert len(added) == 6 and all(after[i] == before[i] for i in before)
    admins = {i for i in added if '"org.admin' in after[i]}
    assert len(admins) == 2
    assert set(v1_with_both) == set(before) | admins  # admins are managed, unmanaged are not


# --- the search: paging and cursors -----------------------------------------------------------


def test_the_search_lists_every_user_once_over_opaque_cursors(simulator: Simulator) -> None:
    pages = _walk(simulator, {"limit": 40})

    ids = _ids(pages)
    assert [len(page["data"]) for page in pages] == [40, 40, 40, 5]
    assert ids == sorted(_entries(simulator))
    for page in pages:
        for token in page["links"].values():
            assert _TOKEN.fullmatch(token) and len(token) < 100, token
    assert all("next" in page["links"] for page in pages[:-1])
    assert "next" not in pages[-1]["links"]


def test_unmanaged_users_are_in_v2_but_not_in_v1(simulator: Simulator) -> None:
    v2 = {user["accountId"]: user for user in _users(_walk(simulator, {"limit": 100}))}
    v1_ids = _v1_ids(simulator)
    first_v1_page = simulator.http.get(simulator.users_url, headers=simulator.auth_headers)

    unmanaged = set(v2) - set(v1_ids)
    assert len(unmanaged) == 3 and set(v1_ids) < set(v2)
    assert {v2[i]["claimStatus"] for i in unmanaged} == {"unmanaged"}
    assert {v2[i]["claimStatus"] for i in v1_ids} == {"managed"}
    assert first_v1_page.json()["meta"]["total"] == 122


def test_the_default_limit_is_50_and_1_and_100_are_accepted(simulator: Simulator) -> None:
    sizes = [
        len(_search(simulator, body).json()["data"]) for body in ({}, {"limit": 1}, {"limit": 100})
    ]

    assert sizes == [50, 1, 100]


@pytest.mark.parametrize("limit", [0, 101, -5, "10", True, 2.5, None])
def test_a_limit_outside_1_to_100_is_refused(simulator: Simulator, limit: Any) -> None:
    response = _search(simulator, {"limit": limit})

    assert _error(response) == (400, "ADMIN-400-24")
    assert "limit" in response.json()["errors"][0]["detail"]


def test_a_cursor_alone_continues_the_original_search(simulator: Simulator) -> None:
    body = {
        "limit": 7,
        "claimStatus": "managed",
        "accountStatus": ["active"],
        "expand": ["platformRoles"],
    }

    resent = _walk(simulator, body)
    alone = _walk(simulator, body, resend=False)

    assert [page["data"] for page in alone] == [page["data"] for page in resent]
    assert len(alone) > 2 and all(len(page["data"]) == 7 for page in alone[:-1])
    users = _users(alone)
    assert {u["claimStatus"] for u in users} == {"managed"}
    assert {u["accountStatus"] for u in users} == {"active"}
    assert all("platformRoles" in u for u in users)


def test_the_cursor_wins_over_different_fields(simulator: Simulator) -> None:
    first = _search(simulator, {"limit": 5, "claimStatus": "managed"}).json()
    cursor = first["links"]["next"]

    alone = _search(simulator, {"cursor": cursor}).json()
    other = _search(
        simulator,
        {"cursor": cursor, "limit": 2, "claimStatus": "unmanaged", "expand": ["productAccess"]},
    ).json()

    assert other == alone
    assert len(alone["data"]) == 5 and {u["claimStatus"] for u in alone["data"]} == {"managed"}
    assert "productAccess" not in alone["data"][0]
    assert _ids([alone])[0] > _ids([first])[-1]


def test_self_names_the_page_it_is_on(simulator: Simulator) -> None:
    pages = _walk(simulator, {"limit": 30, "expand": ["groups"]})

    again = [_search(simulator, {"cursor": page["links"]["self"]}).json() for page in pages]

    assert [page["data"] for page in again] == [page["data"] for page in pages]


def test_users_added_and_removed_between_pages_are_never_skipped_or_repeated(
    simulator: Simulator,
) -> None:
    before = sorted(_entries(simulator))
    first = _search(simulator, {"limit": 40}).json()
    seen_last, unseen = first["data"][-1]["accountId"], before[80]
    simulator.remove_user(seen_last)
    simulator.remove_user(unseen)
    for account_id in ("000000000000000000000000", before[90] + "0", "ffffffffffffffffffff"):
        simulator.add_user(account_id=account_id)

    rest = _walk(simulator, {"cursor": first["links"]["next"]})

    listed = Counter(_ids([first, *rest]))
    assert max(listed.values()) == 1
    assert set(before) - {seen_last, unseen} <= set(listed) and unseen not in listed
    assert before[90] + "0" in listed and "ffffffffffffffffffff" in listed
    assert "000000000000000000000000" not in listed  # arrived behind the cursor


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "",
        "AAAAAAAAAAAAAAAAAAAA",
        "kloHX1ZQVasDAkx_P48NYQ",  # the spec's own example: Atlassian's, not ours
        "https://api.atlassian.com/x?cursor=abc",
    ],
    ids=["garbage", "empty", "zeros", "spec-example", "url"],
)
def test_an_unreadable_cursor_is_refused(simulator: Simulator, cursor: str) -> None:
    assert _error(_search(simulator, {"cursor": cursor})) == (400, "ADMIN-400-1")


def test_a_tampered_or_v1_cursor_is_refused(simulator: Simulator) -> None:
    token = _search(simulator, {"limit": 5}).json()["links"]["next"]
    altered = [
        token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
        for at in (0, len(token) // 2, len(token) - 3)
    ]
    v1_next = simulator.http.get(simulator.users_url, headers=simulator.auth_headers).json()
    v1_cursor = httpx.URL(v1_next["links"]["next"]).params["cursor"]

    answers = [_search(simulator, {"cursor": c}) for c in (*altered, v1_cursor)]

    assert _search(simulator, {"cursor": token}).status_code == 200
    assert [_error(a) for a in answers] == [(400, "ADMIN-400-1")] * 4


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_by_nickname_pages_in_that_order(simulator: Simulator, direction: str) -> None:
    body = {"limit": 30, "sortBy": [{"field": "nick_name", "direction": direction}]}

    users = _users(_walk(simulator, body, resend=False))

    keys = [(u["nickname"].casefold(), u["accountId"]) for u in users]
    assert keys == sorted(keys, reverse=direction == "desc")
    assert len(users) == 125 and keys != sorted(keys, reverse=direction == "asc")


# --- the search: filters and expand -----------------------------------------------------------


def _everyone(sim: Simulator) -> list[dict[str, Any]]:
    return _users(_walk(sim, {"limit": 100, "expand": ALL_EXPAND}))


def _matching(sim: Simulator, body: dict[str, Any]) -> set[str]:
    return set(_ids(_walk(sim, {"limit": 100, **body})))


def test_each_filter_selects_what_it_names(simulator: Simulator) -> None:
    simulator.update_user(_pick(simulator), platformRoles=["atlassian/site-admin"])
    entries = _entries(simulator)
    everyone = {u["accountId"]: u for u in _everyone(simulator)}
    someone = next(e["user"] for e in entries.values() if "email" in e["user"])
    group = everyone[someone["account_id"]]["groups"][0]["id"]
    resource = everyone[someone["account_id"]]["productAccess"][0]["id"]
    name_part = someone["name"].split()[1][1:4].upper()

    def where(test: Any) -> set[str]:
        return {i for i, e in entries.items() if test(e, e["user"])}

    expected: list[tuple[dict[str, Any], set[str]]] = [
        ({"claimStatus": "unmanaged"}, where(lambda e, u: e["claimStatus"] == "unmanaged")),
        ({"accountStatus": ["closed"]}, where(lambda e, u: u["account_status"] == "closed")),
        ({"status": ["deactivated"]}, where(lambda e, u: u["account_status"] == "inactive")),
        ({"status": ["active"]}, where(lambda e, u: u["account_status"] == "active")),
        ({"membershipStatus": ["active"]}, set(entries)),
        ({"membershipStatus": ["suspended", "no_membership"]}, set()),
        (
            {"roleIds": ["atlassian/org-admin"]},
            where(lambda e, u: "atlassian/org-admin" in e["platformRoles"]),
        ),
        (
            {"roleIds": ["atlassian/site-admin", "atlassian/user"]},
            where(lambda e, u: "atlassian/site-admin" in e["platformRoles"]),
        ),
        (
            {"emailDomains": ["PARTNER.example"]},
            where(lambda e, u: u.get("email", "").endswith("@partner.example")),
        ),
        ({"emails": [someone["email"].upper(), "nobody@acme.example"]}, {someone["account_id"]}),
        (
            {"searchTerm": name_part},
            where(
                lambda e, u: (
                    name_part.casefold() in u["name"].casefold()
                    or name_part.casefold() in u.get("email", "").casefold()
                )
            ),
        ),
        ({"accountIds": [someone["account_id"], UNKNOWN_ID]}, {someone["account_id"]}),
        ({"mfaEnabled": False}, {i for i, u in everyone.items() if not u["mfaEnabled"]}),
        ({"directoryIds": [simulator.state()["directory_id"]]}, set(entries)),
        ({"directoryIds": ["another-directory"]}, set()),
        (
            {"groupIds": [group]},
            {i for i, u in everyone.items() if group in {g["id"] for g in u["groups"]}},
        ),
        (
            {"resourceIds": [resource]},
            {i for i, u in everyone.items() if resource in {p["id"] for p in u["productAccess"]}},
        ),
    ]
    catch_all = (
        {"membershipStatus": ["active"]},
        {"directoryIds": [simulator.state()["directory_id"]]},
    )
    nothing = (
        {"membershipStatus": ["suspended", "no_membership"]},
        {"directoryIds": ["another-directory"]},
    )
    for body, wanted in expected:
        assert _matching(simulator, body) == wanted, body
        # Each filter really narrows, so that the comparison above can fail.
        if body in catch_all:
            assert wanted == set(entries)
        elif body in nothing:
            assert wanted == set()
        else:
            assert 0 < len(wanted) < len(entries), body


def test_filters_combine_with_and_across_fields_and_or_within_arrays(simulator: Simulator) -> None:
    entries = _entries(simulator)

    both = _matching(
        simulator, {"accountStatus": ["inactive", "closed"], "emailDomains": ["acme.example"]}
    )

    wanted = {
        i
        for i, e in entries.items()
        if e["user"]["account_status"] in ("inactive", "closed")
        and e["user"].get("email", "").endswith("@acme.example")
    }
    assert both == wanted and len(wanted) > 0
    assert len(wanted) < len(_matching(simulator, {"accountStatus": ["inactive", "closed"]}))


@pytest.mark.parametrize(
    "expand",
    [[], ["platformRoles"], ["productAccess"], ["counts.resources", "groups"], ALL_EXPAND],
    ids=["none", "roles", "product-access", "counts-groups", "all"],
)
def test_expand_adds_exactly_the_fields_asked_for(simulator: Simulator, expand: list[str]) -> None:
    users = _search(simulator, {"limit": 100, "expand": expand}).json()["data"]

    fields = {"platformRoles": "platformRoles", "counts.resources": "counts"}
    fields |= {"productAccess": "productAccess", "groups": "groups"}
    for user in users:
        present = {value for value, field in fields.items() if field in user}
        assert present == set(expand), user["accountId"]


def test_product_access_is_v1_activity_with_nanoseconds_and_site_aris(simulator: Simulator) -> None:
    entries = _entries(simulator)

    users = _everyone(simulator)

    cloud_ids: dict[str, set[str]] = {}
    for user in users:
        v1 = entries[user["accountId"]]["user"].get("product_access", [])
        assert len(user["productAccess"]) == len(v1) == user["counts"]["resources"]
        for v2, old in zip(user["productAccess"], v1, strict=True):
            assert _NANOS.fullmatch(v2["lastActiveTimestamp"]), v2
            assert v2["lastActiveTimestamp"][:19] == old["last_active"][:19]
            assert v2["key"] == ("jira" if old["key"].startswith("jira") else old["key"])
            product, _, cloud_id = v2["id"].removeprefix("ari:cloud:").partition("::site/")
            assert product == v2["key"]
            cloud_ids.setdefault(httpx.URL(old["url"]).host, set()).add(cloud_id)
    # One cloud id per site, shared by its products; two sites, two ids.
    assert {host: len(ids) for host, ids in cloud_ids.items()} == {
        "acme.atlassian.net": 1,
        "acme-support.atlassian.net": 1,
    }
    unmanaged = [u for u in users if u["claimStatus"] == "unmanaged"]
    assert unmanaged and all(u["productAccess"] for u in unmanaged)


def test_status_follows_the_account_status(simulator: Simulator) -> None:
    users = _everyone(simulator)

    pairs = {(u["accountStatus"], u.get("status")) for u in users}
    assert pairs == {("active", "active"), ("inactive", "deactivated"), ("closed", None)}
    assert {u["membershipStatus"] for u in users} == {"active"}


def test_management_source_follows_scim_unless_set(simulator: Simulator) -> None:
    synced, invited, undetermined = (
        _pick(simulator, scim=True),
        _pick(simulator),
        _pick(simulator, status="inactive"),
    )
    simulator.update_user(invited, scim=True)
    simulator.update_user(synced, scim=False)
    simulator.update_user(undetermined, managementSource=None)

    found = {
        u["accountId"]: u["managementSource"]
        for u in _search(simulator, {"accountIds": [synced, invited, undetermined]}).json()["data"]
    }

    assert found == {synced: "invited", invited: "synced", undetermined: None}
    assert simulator.user(undetermined)["managementSource"] is None


def test_customer_accounts_are_not_in_the_directory(simulator: Simulator) -> None:
    simulator.add_user(account_id="customer-1", account_type="customer")

    assert "customer-1" in _v1_ids(simulator)
    assert _matching(simulator, {"accountIds": ["customer-1"]}) == set()


# --- the search: refusals ---------------------------------------------------------------------


def test_a_post_without_a_body_is_415(simulator: Simulator) -> None:
    bare = simulator.http.post(simulator.search_url(), headers=simulator.auth_headers)
    as_text = simulator.http.post(
        simulator.search_url(),
        headers={**simulator.auth_headers, "Content-Type": "text/plain"},
        content=b"{}",
    )
    with_charset = simulator.http.post(
        simulator.search_url(),
        headers={**simulator.auth_headers, "Content-Type": "application/json; charset=utf-8"},
        content=b"",
    )

    assert "content-type" not in bare.request.headers
    assert _error(bare) == _error(as_text) == (415, "ADMIN-UAM-415-1")
    assert bare.json()["errors"][0]["title"] == "Unsupported Media Type"
    assert with_charset.status_code == 200 and len(with_charset.json()["data"]) == 50


def test_search_term_with_emails_is_400(simulator: Simulator) -> None:
    response = _search(simulator, {"searchTerm": "ada", "emails": ["ada@acme.example"]})

    assert _error(response) == (400, "ADMIN-400-24")
    assert "mutually exclusive" in response.json()["errors"][0]["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"accountIDs": ["x"]},
        {"status": "active"},
        {"status": ["enabled"]},
        {"claimStatus": ["managed"]},
        {"mfaEnabled": "yes"},
        {"expand": ["roles"]},
        {"roleIds": ["atlassian/owner"]},
        {"emails": "a@acme.example"},
        {"sortBy": [{"field": "nick_name", "direction": "asc"}] * 2},
        {"sortBy": [{"field": "name", "direction": "asc"}]},
        {"cursor": 42},
        [],
    ],
    ids=[
        "unknown-field",
        "status-not-array",
        "status-value",
        "claim-array",
        "mfa-type",
        "expand-value",
        "role-value",
        "emails-not-array",
        "two-sorts",
        "sort-field",
        "cursor-type",
        "not-an-object",
    ],
)
def test_a_body_outside_the_request_shape_is_400(simulator: Simulator, body: Any) -> None:
    assert _error(_search(simulator, body)) == (400, "ADMIN-400-24")


def test_a_body_that_is_not_json_is_400(simulator: Simulator) -> None:
    response = simulator.http.post(
        simulator.search_url(),
        headers={**simulator.auth_headers, "Content-Type": "application/json"},
        content=b'{"limit": ',
    )

    assert _error(response) == (400, "ADMIN-400-24")


def test_directory_is_dash_or_the_orgs_own(simulator: Simulator) -> None:
    directory_id = simulator.state()["directory_id"]

    dash = _search(simulator, {"limit": 10})
    own = _search(simulator, {"limit": 10}, directory=directory_id)
    other = _search(simulator, {"limit": 10}, directory="0f0e0d0c-0000-4000-8000-000000000000")
    org = simulator.http.post(
        simulator.search_url().replace("/org-test/", "/org-other/"),
        headers=simulator.auth_headers,
        json={},
    )

    assert dash.json()["data"] == own.json()["data"]
    assert _error(other) == (404, "ADMIN-404-1") and _error(org) == (404, "ADMIN-404-2")
    assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", directory_id)


def test_a_wrong_key_gets_401_in_the_errors_envelope(simulator: Simulator) -> None:
    wrong = _search(simulator, headers={"Authorization": "Bearer leaked-secret-5678"})
    missing = _search(simulator, headers={})

    assert _error(wrong) == _error(missing) == (401, "ADMIN-401-2")
    assert "leaked-secret-5678" not in json.dumps(simulator.requests()) + simulator.log_text()


# --- the manage endpoint and lifecycle of unmanaged users --------------------------------------


def _manage(
    sim: Simulator, account_id: str, query: Any = None, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    headers = sim.auth_headers if headers is None else headers
    return sim.http.get(sim.manage_url(account_id), params=query, headers=headers)


@pytest.mark.parametrize(
    ("who", "status", "body"),
    [
        ("invited", 200, {"lifecycle.enablement": {"allowed": True}}),
        (
            "synced",
            200,
            {
                "lifecycle.enablement": {
                    "allowed": False,
                    "reason": {"key": "externalDirectory.scim"},
                }
            },
        ),
        ("admin", 200, {"lifecycle.enablement": {"allowed": True}}),
        ("unmanaged", 403, {"key": "forbidden.targetUnverified"}),
        ("closed", 403, {"key": "forbidden"}),
        ("unknown", 404, {"key": "accountNotFound"}),
        ("wrong-key", 401, {"key": "unauthorized"}),
    ],
)
def test_manage_says_whether_lifecycle_calls_are_allowed(
    simulator: Simulator, who: str, status: int, body: dict[str, Any]
) -> None:
    entries = _entries(simulator)
    account_id = {
        "invited": lambda: _pick(simulator),
        "synced": lambda: _pick(simulator, scim=True),
        "admin": lambda: next(i for i, e in entries.items() if e["platformRoles"]),
        "unmanaged": lambda: _pick(simulator, claim="unmanaged"),
        "closed": lambda: _pick(simulator, status="closed"),
        "unknown": lambda: UNKNOWN_ID,
        "wrong-key": lambda: _pick(simulator),
    }[who]()
    headers = {"Authorization": "Bearer wrong"} if who == "wrong-key" else simulator.auth_headers

    response = _manage(
        simulator, account_id, {"privileges": "lifecycle.enablement"}, headers=headers
    )

    assert (response.status_code, response.json()) == (status, body)


def test_manage_answers_the_privileges_asked_for(simulator: Simulator) -> None:
    account_id = _pick(simulator, scim=True)

    none = _manage(simulator, account_id).json()
    repeated = _manage(
        simulator,
        account_id,
        [("privileges", "lifecycle.enablement"), ("privileges", "apiToken.read")],
    ).json()
    joined = _manage(
        simulator, account_id, {"privileges": "lifecycle.enablement,apiToken.read"}
    ).json()
    profile = _manage(simulator, account_id, {"privileges": "profile.write"}).json()
    unknown = _manage(simulator, account_id, {"privileges": "lifecycle.everything"})

    assert list(none) == ["lifecycle.enablement"]
    assert repeated == joined
    assert list(joined) == ["lifecycle.enablement", "apiToken.read"]
    assert joined["apiToken.read"] == {"allowed": True}
    assert profile["profile.write"]["name"]["reason"]["key"] == "externalDirectory.scim"
    assert profile["profile.write"]["locale"] == {"allowed": True}
    assert (unknown.status_code, unknown.json()) == (400, {"key": "badRequest"})


def test_manage_follows_the_scim_flag(simulator: Simulator) -> None:
    account_id = _pick(simulator)
    before = _manage(simulator, account_id).json()

    simulator.update_user(account_id, scim=True)

    after = _manage(simulator, account_id).json()
    assert before["lifecycle.enablement"] == {"allowed": True}
    assert after["lifecycle.enablement"]["reason"] == {"key": "externalDirectory.scim"}


@pytest.mark.parametrize("action", ["disable", "enable"])
def test_lifecycle_calls_on_unmanaged_users_are_target_unverified(
    simulator: Simulator, action: str
) -> None:
    account_id = _pick(simulator, claim="unmanaged")

    response = simulator.http.post(
        simulator.lifecycle_url(account_id, action), headers=simulator.auth_headers, json={}
    )

    assert (response.status_code, response.json()) == (403, {"key": "forbidden.targetUnverified"})
    entry = simulator.user(account_id)
    assert entry["user"]["account_status"] == "active" and entry["lifecycle"] == []


def test_a_user_made_unmanaged_leaves_v1_and_is_refused(simulator: Simulator) -> None:
    account_id = _pick(simulator)

    simulator.update_user(account_id, claimStatus="unmanaged")
    refused = simulator.http.post(
        simulator.lifecycle_url(account_id, "disable"), headers=simulator.auth_headers, json={}
    )
    absent = account_id not in _v1_ids(simulator)
    simulator.update_user(account_id, claimStatus="managed")

    assert absent and refused.status_code == 403
    assert account_id in _v1_ids(simulator)
    assert _matching(simulator, {"accountIds": [account_id], "claimStatus": "managed"}) == {
        account_id
    }


# --- /_sim additions --------------------------------------------------------------------------


def test_admin_adds_users_with_v2_attributes(simulator: Simulator) -> None:
    added = simulator.add_user(
        account_id="guest-1",
        email="guest@elsewhere.example",
        claimStatus="unmanaged",
        platformRoles=["atlassian/ai-access"],
        managementSource=None,
    )
    synced = simulator.add_user(account_id="synced-1", scim=True)

    found = _search(simulator, {"accountIds": ["guest-1", "synced-1"], "expand": ["platformRoles"]})

    assert (added["claimStatus"], added["platformRoles"], added["managementSource"]) == (
        "unmanaged",
        ["atlassian/ai-access"],
        None,
    )
    assert synced["managementSource"] == "synced" and synced["claimStatus"] == "managed"
    assert [
        (u["accountId"], u["platformRoles"], u["managementSource"]) for u in found.json()["data"]
    ] == [
        ("guest-1", ["atlassian/ai-access"], None),
        ("synced-1", [], "synced"),
    ]
    assert "guest-1" not in _v1_ids(simulator)


@pytest.mark.parametrize(
    "fields",
    [
        {"claimStatus": "verified"},
        {"claimStatus": None},
        {"platformRoles": ["atlassian/user"]},
        {"platformRoles": "atlassian/org-admin"},
        {"managementSource": "scim"},
    ],
    ids=["claim-value", "claim-null", "product-role", "roles-not-list", "source-value"],
)
def test_admin_refuses_v2_attributes_outside_section_9(
    simulator: Simulator, fields: dict[str, Any]
) -> None:
    account_id = _pick(simulator)
    before = simulator.user(account_id)

    with pytest.raises(SimulatorError, match="400") as refused:
        simulator.update_user(account_id, **fields)
    with pytest.raises(SimulatorError, match="400"):
        simulator.add_user(account_id="new-user", **fields)

    assert next(iter(fields)) in str(refused.value)
    assert simulator.user(account_id) == before


# --- faults, request log, rate limit ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["status", "malformed", "reset"])
def test_a_search_fault_hits_the_second_page_of_any_walk(simulator: Simulator, kind: str) -> None:
    simulator.add_fault(endpoint="search_users", page=2, kind=kind, times=2, status=503)
    unfiltered = _search(simulator, {"limit": 40}).json()
    filtered = _search(simulator, {"limit": 10, "claimStatus": "managed"}).json()

    outcomes = []
    for request in (
        {"limit": 40},
        {"cursor": unfiltered["links"]["next"]},
        {"cursor": filtered["links"]["next"], "claimStatus": "managed"},
        {"cursor": unfiltered["links"]["next"]},
    ):
        try:
            response = _search(simulator, request)
        except httpx.TransportError:
            outcomes.append("dropped")
            continue
        try:
            response.json()
            outcomes.append(f"{response.status_code}/json")
        except ValueError:
            outcomes.append(f"{response.status_code}/not-json")

    faulty = {"status": "503/json", "malformed": "200/not-json", "reset": "dropped"}[kind]
    assert outcomes == ["200/json", faulty, faulty, "200/json"]
    faults = [entry["fault"] for entry in simulator.requests("search_users")]
    assert faults == [None, None, None, kind, kind, None]
    assert simulator.faults() == []


def test_a_search_fault_of_status_500_is_an_errors_envelope(simulator: Simulator) -> None:
    simulator.add_fault(endpoint="search_users", kind="status", status=500)

    assert _error(_search(simulator)) == (500, "ADMIN-500-1")


def test_a_manage_fault_hits_only_its_account(simulator: Simulator) -> None:
    target, other = _pick(simulator), _pick(simulator, status="inactive")
    simulator.add_fault(endpoint="manage", kind="status", status=503, account_id=target)

    answers = [_manage(simulator, a).status_code for a in (other, target, target)]

    assert answers == [200, 503, 200]


def test_a_fault_page_on_manage_is_refused(simulator: Simulator) -> None:
    with pytest.raises(SimulatorError, match="400"):
        simulator.add_fault(endpoint="manage", kind="status", page=2)
    with pytest.raises(SimulatorError, match="400"):
        simulator.add_fault(endpoint="search_users", kind="status", account_id=UNKNOWN_ID)


def test_the_request_log_names_the_new_endpoints(simulator: Simulator) -> None:
    account_id = _pick(simulator)
    _search(simulator, {"limit": 3, "expand": ["platformRoles"]})
    simulator.http.post(simulator.search_url(), headers=simulator.auth_headers)
    _manage(simulator, account_id, {"privileges": "lifecycle.enablement"})

    log = simulator.requests()

    assert [(e["endpoint"], e["method"], e["status"]) for e in log] == [
        ("search_users", "POST", 200),
        ("search_users", "POST", 415),
        ("manage", "GET", 200),
    ]
    assert log[0]["body"] == {"limit": 3, "expand": ["platformRoles"]} and log[1]["body"] is None
    assert log[2]["query"] == {"privileges": "lifecycle.enablement"}
    assert log[2]["path"] == f"/users/{account_id}/manage"


def test_the_search_and_manage_share_the_rate_limit(simulator: Simulator) -> None:
    simulator.set_rate_limit(2, signal="retry-after", window_seconds=3600)

    answers = [
        _search(simulator, {"limit": 1}),
        _manage(simulator, _pick(simulator)),
        _search(simulator, {"limit": 1}),
        _manage(simulator, _pick(simulator)),
    ]

    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0", "0"]
    assert all("X-RateLimit-Reset" in a.headers for a in answers)
    assert _error(answers[2]) == (429, "ADMIN-429-1") and "Retry-After" in answers[2].headers
    assert answers[3].json() == {"code": 429, "message": "Rate limit exceeded. Retry later."}


def test_ten_thousand_users_page_quickly_in_process() -> None:
    org = OrgState(
        org_id="org", users=10_000, seed=3, page_size=100, scim_every=25, admins=1, unmanaged=2
    )

    started = time.perf_counter()
    body: dict[str, Any] = {"limit": 100, "expand": ["platformRoles", "productAccess"]}
    pages, start = 0, parse_request(body)
    while True:
        page = org.search(start)
        assert len(json.loads(org.render_search(page))["data"]) == len(page.account_ids)
        pages += 1
        if page.next_cursor is None:
            break
        start = parse_request({**body, "cursor": page.next_cursor})
    walked = time.perf_counter() - started

    assert pages == 101
    assert walked < 5.0
