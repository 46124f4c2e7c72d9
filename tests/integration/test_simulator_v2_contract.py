"""Every v2 answer the simulator serves, checked against the contract of API-NOTES-v2 §9."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from test_simulator_contract import DISABLE_PATH, ENABLE_PATH, SPECS

from atlassian_operator.simulator import directory, manage
from support.simulator import Simulator, start_simulator

# Transcribed from ../shared/atlassian/API-NOTES-v2.md §9 ("Contract for implementation and
# simulator"), with §1.2/§1.5/§5 where §9 abbreviates. Enums are closed here: §9 makes them open
# for clients but says the simulator must never emit a value outside them. Two deliberate
# readings: `sortBy` may be null (§1.2: "null/absent = default order"), and the request object
# admits no other keys (§9 lists every field; the simulator refuses unknown ones).
_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_STRINGS = {"type": "array", "items": {"type": "string"}}
_REASONS = [
    "administrative", "administrative.notMyself", "myselfOnly", "managedAccount",
    "externalDirectory.scim", "externalDirectory.google", "blocked.exportControl",
]  # fmt: skip
_PRIVILEGES = [
    "profile", "profile.write", "profile.read", "email.set", "lifecycle.enablement",
    "lifecycle.delete", "apiToken.read", "apiToken.delete",
]  # fmt: skip


def _enum_array(*values: str) -> dict[str, Any]:
    return {"type": "array", "items": {"enum": list(values)}}


SECTION_9: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "DateTime": {"type": "string", "pattern": _DATETIME},
        "Ari": {"type": "string", "pattern": f"^ari:cloud:[a-z][a-z-]*::site/{_UUID}$"},
        # "opaque token, not a URL": base64url characters only.
        "Cursor": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
        "RoleId": {
            "enum": [
                "atlassian/user",
                "atlassian/admin",
                "atlassian/guest",
                "atlassian/customer",
                "atlassian/user-access-admin",
                "atlassian/contributor",
                "atlassian/basic",
                "atlassian/stakeholder",
                "atlassian/org-admin",
                "atlassian/site-admin",
                "atlassian/ai-access",
            ]
        },
        "UserSearchRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cursor": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "accountIds": _STRINGS,
                "directoryIds": _STRINGS,
                "resourceIds": _STRINGS,
                "groupIds": _STRINGS,
                "mfaEnabled": {"type": "boolean"},
                "claimStatus": {"enum": ["managed", "unmanaged"]},
                "status": _enum_array(
                    "active", "suspended", "not_invited", "deactivated", "for_deletion"
                ),
                "accountStatus": _enum_array("active", "inactive", "closed"),
                "membershipStatus": _enum_array("active", "suspended", "no_membership"),
                "roleIds": {"type": "array", "items": {"$ref": "#/$defs/RoleId"}},
                "emailDomains": _STRINGS,
                "searchTerm": {"type": "string"},
                "emails": _STRINGS,
                "expand": _enum_array(
                    "platformRoles", "counts.resources", "productAccess", "groups"
                ),
                "sortBy": {
                    "type": ["array", "null"],
                    "maxItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["field", "direction"],
                        "properties": {
                            "field": {"const": "nick_name"},
                            "direction": {"enum": ["asc", "desc"]},
                        },
                    },
                },
            },
            # "both present -> 400"
            "not": {"required": ["searchTerm", "emails"]},
        },
        "UserSearchPage": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {"type": "array", "items": {"$ref": "#/$defs/User"}},
                "links": {
                    "type": "object",
                    "properties": {
                        name: {"anyOf": [{"$ref": "#/$defs/Cursor"}, {"type": "null"}]}
                        for name in ("self", "prev", "next")
                    },
                },
            },
        },
        "User": {
            "type": "object",
            "properties": {
                "accountId": {"type": "string"},
                "accountType": {"const": "atlassian"},
                "status": {
                    "enum": ["active", "suspended", "not_invited", "deactivated", "for_deletion"]
                },
                "accountStatus": {"enum": ["active", "inactive", "closed"]},
                "membershipStatus": {"enum": ["active", "suspended", "no_membership"]},
                "addedToOrg": {"$ref": "#/$defs/DateTime"},
                "name": {"type": "string"},
                "nickname": {"type": "string"},
                "email": {"type": "string"},
                "emailVerified": {"type": "boolean"},
                "claimStatus": {"enum": ["managed", "unmanaged"]},
                "managementSource": {"enum": ["invited", "synced", None]},
                "mfaEnabled": {"type": "boolean"},
                "jobTitle": {"type": "string"},
                **{
                    name: {"type": ["string", "null"]}
                    for name in ("department", "organization", "location", "timeZone")
                },
                "picture": {"type": "string"},
                "avatar": {"type": "string"},
                "platformRoles": _enum_array(
                    "atlassian/org-admin",
                    "atlassian/site-admin",
                    "atlassian/user-access-admin",
                    "atlassian/ai-access",
                ),
                "counts": {"type": "object", "properties": {"resources": {"type": "integer"}}},
                "productAccess": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "key": {"type": "string"},
                            "id": {"$ref": "#/$defs/Ari"},
                            "lastActiveTimestamp": {"$ref": "#/$defs/DateTime"},
                        },
                    },
                },
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "name": {"type": ["string", "null"]},
                            "description": {"type": ["string", "null"]},
                        },
                    },
                },
                "links": {
                    "type": "object",
                    "properties": {
                        "self": {"anyOf": [{"$ref": "#/$defs/Cursor"}, {"type": "null"}]}
                    },
                },
            },
            # "tolerate extra keys": a client must; the strict check below holds the
            # simulator to the declared ones.
        },
        "Errors": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "status": {"type": ["string", "number"]},
                            "code": {"type": "string"},
                            "title": {"type": "string"},
                            "detail": {"type": "string"},
                        },
                    },
                }
            },
        },
        "ManageRule": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["allowed"],
                    "properties": {"allowed": {"const": True}},
                },
                {
                    "type": "object",
                    "required": ["allowed", "reason"],
                    "properties": {
                        "allowed": {"const": False},
                        "reason": {
                            "type": "object",
                            "required": ["key"],
                            "properties": {"key": {"enum": _REASONS}},
                        },
                    },
                },
            ]
        },
        "Manage": {
            "type": "object",
            "properties": {
                name: (
                    {"type": "object", "additionalProperties": {"$ref": "#/$defs/ManageRule"}}
                    if name in ("profile", "profile.write")
                    else {"$ref": "#/$defs/ManageRule"}
                )
                for name in _PRIVILEGES
            },
        },
        "ManageUnauthorized": {
            "type": "object",
            "required": ["key"],
            "properties": {"key": {"const": "unauthorized"}},
        },
        "ManageForbidden": {
            "type": "object",
            "required": ["key"],
            "properties": {"key": {"enum": ["forbidden", "forbidden.targetUnverified"]}},
        },
        "ManageNotFound": {
            "type": "object",
            "required": ["key"],
            "properties": {"key": {"enum": ["accountNotFound", "notFound"]}},
        },
    },
}


def _strict(schema: Any) -> Any:
    """§9's schema with `additionalProperties: false` on every object that lists properties."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if "properties" in strict and "additionalProperties" not in strict:
        strict["additionalProperties"] = False
    return strict


def _validator(name: str, *, strict: bool = False) -> jsonschema.Draft202012Validator:
    root = copy.deepcopy(SECTION_9)
    if strict:
        root = _strict(root)
    root["$ref"] = f"#/$defs/{name}"
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(root)


def _problems(instance: Any, name: str, *, strict: bool = False) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in _validator(name, strict=strict).iter_errors(instance)
    ]


def assert_conforms(instance: Any, name: str) -> None:
    """Valid for §9 and nothing undeclared: what the simulator emits is all in §9."""
    assert _problems(instance, name, strict=True) == [], str(instance)[:2000]


@pytest.fixture(scope="module")
def _population() -> Iterator[Simulator]:
    with start_simulator(
        users=150, seed=9, page_size=50, scim_every=7, admins=2, unmanaged=3
    ) as sim:
        yield sim


@pytest.fixture
def simulator(_population: Simulator) -> Simulator:
    """150 users (seed 9, every 7th SCIM-synced), 2 org admins, 3 unmanaged users; reset."""
    _population.reset()
    return _population


def _search(sim: Simulator, body: Any) -> httpx.Response:
    return sim.http.post(sim.search_url(), headers=sim.auth_headers, json=body)


def _all_pages(sim: Simulator, body: dict[str, Any]) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    request = body
    while True:
        response = _search(sim, request)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        pages.append(response.json())
        cursor = pages[-1]["links"].get("next")
        if cursor is None:
            return pages
        request = {**body, "cursor": cursor}


def _everyone(sim: Simulator, expand: list[str]) -> list[dict[str, Any]]:
    return [u for page in _all_pages(sim, {"limit": 100, "expand": expand}) for u in page["data"]]


def _with_the_rare_shapes(sim: Simulator) -> None:
    """Users that generation alone may not give: undetermined source, every platform role."""
    entries = [e for e in sim.users() if e["claimStatus"] == "managed" and not e["scim"]]
    sim.update_user(entries[0]["user"]["account_id"], managementSource=None)
    sim.update_user(entries[1]["user"]["account_id"], platformRoles=list(directory.PLATFORM_ROLES))


# --- the search answers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "expand",
    [[], ["platformRoles", "counts.resources", "productAccess", "groups"]],
    ids=["plain", "expanded"],
)
def test_every_search_page_of_a_mixed_population_is_a_user_search_page(
    simulator: Simulator, expand: list[str]
) -> None:
    _with_the_rare_shapes(simulator)

    pages = _all_pages(simulator, {"limit": 40, "expand": expand})

    assert len(pages) == 4
    for page in pages:
        assert_conforms(page, "UserSearchPage")
    users = [user for page in pages for user in page["data"]]
    # The shapes a client must handle are all among the validated pages.
    assert {u["claimStatus"] for u in users} == {"managed", "unmanaged"}
    assert {u["managementSource"] for u in users} == {"invited", "synced", None}
    assert {u["accountStatus"] for u in users} == {"active", "inactive", "closed"}
    assert any("status" not in u for u in users) and any("email" not in u for u in users)
    if expand:
        assert {role for u in users for role in u["platformRoles"]} == set(directory.PLATFORM_ROLES)
        assert any(u["productAccess"] == [] for u in users)
        assert any(len(u["productAccess"]) > 1 for u in users)
        assert all(u["groups"] for u in users if u["productAccess"])


def test_the_simulator_never_emits_a_value_outside_section_9(simulator: Simulator) -> None:
    _with_the_rare_shapes(simulator)
    users = _everyone(simulator, ["platformRoles", "counts.resources", "productAccess", "groups"])
    user = SECTION_9["$defs"]["User"]["properties"]

    def emitted(name: str) -> set[Any]:
        return {u[name] for u in users if name in u}

    for name in ("status", "accountStatus", "membershipStatus", "claimStatus", "managementSource"):
        assert emitted(name) <= set(user[name]["enum"]), name
    assert emitted("accountType") == {"atlassian"}
    roles = {role for u in users for role in u["platformRoles"]}
    assert roles <= set(user["platformRoles"]["items"]["enum"])
    assert {name for u in users for name in u} <= set(user)
    products = [p for u in users for p in u["productAccess"]]
    assert {p["key"] for p in products} == {"jira", "confluence"}
    assert {name for p in products for name in p} == {"key", "id", "lastActiveTimestamp"}


def test_the_simulators_own_vocabulary_is_section_9s() -> None:
    defs = SECTION_9["$defs"]
    request, user = defs["UserSearchRequest"]["properties"], defs["User"]["properties"]

    assert list(directory.STATUSES) == user["status"]["enum"] == request["status"]["items"]["enum"]
    assert list(directory.ACCOUNT_STATUSES) == user["accountStatus"]["enum"]
    assert list(directory.MEMBERSHIP_STATUSES) == user["membershipStatus"]["enum"]
    assert list(directory.CLAIM_STATUSES) == user["claimStatus"]["enum"]
    assert [*directory.MANAGEMENT_SOURCES, None] == user["managementSource"]["enum"]
    assert list(directory.PLATFORM_ROLES) == user["platformRoles"]["items"]["enum"]
    assert list(directory.ROLE_IDS) == defs["RoleId"]["enum"]
    assert list(directory.EXPAND) == request["expand"]["items"]["enum"]
    assert list(manage.PRIVILEGES) == _PRIVILEGES


# Each body with what §9 says of it: valid, or not (and then the simulator's 400 must agree).
REQUESTS = [
    pytest.param({}, True, id="empty"),
    pytest.param({"limit": 100, "expand": ["platformRoles", "productAccess"]}, True, id="operator"),
    pytest.param(
        {
            "limit": 1,
            "accountIds": ["a"],
            "directoryIds": ["d"],
            "resourceIds": ["ari:cloud:jira::site/1"],
            "groupIds": ["g"],
            "mfaEnabled": True,
            "claimStatus": "managed",
            "status": ["active", "for_deletion"],
            "accountStatus": ["closed"],
            "membershipStatus": ["no_membership"],
            "roleIds": ["atlassian/stakeholder"],
            "emailDomains": ["acme.example"],
            "emails": ["a@acme.example"],
            "expand": ["groups", "counts.resources"],
            "sortBy": [{"field": "nick_name", "direction": "desc"}],
        },
        True,
        id="every-field",
    ),
    pytest.param({"searchTerm": "ada"}, True, id="search-term"),
    pytest.param({"sortBy": None}, True, id="sort-null"),
    pytest.param({"sortBy": []}, True, id="sort-empty"),
    pytest.param({"searchTerm": "a", "emails": []}, False, id="term-and-emails"),
    pytest.param({"limit": 0}, False, id="limit-0"),
    pytest.param({"limit": 101}, False, id="limit-101"),
    pytest.param({"limit": "5"}, False, id="limit-string"),
    pytest.param({"claimStatus": "all"}, False, id="claim-value"),
    pytest.param({"status": ["closed"]}, False, id="status-value"),
    pytest.param({"accountStatus": "active"}, False, id="account-status-scalar"),
    pytest.param({"membershipStatus": ["inactive"]}, False, id="membership-value"),
    pytest.param({"roleIds": ["org-admin"]}, False, id="role-value"),
    pytest.param({"expand": ["links"]}, False, id="expand-value"),
    pytest.param({"mfaEnabled": 1}, False, id="mfa-number"),
    pytest.param({"emails": [1]}, False, id="emails-item"),
    pytest.param({"accountIds": "abc"}, False, id="ids-scalar"),
    pytest.param({"searchTerm": ["ada"]}, False, id="term-array"),
    pytest.param({"sortBy": [{"field": "nick_name"}]}, False, id="sort-no-direction"),
    pytest.param(
        {"sortBy": [{"field": "nick_name", "direction": "asc"}] * 2}, False, id="sort-two"
    ),
    pytest.param({"sortBy": {"field": "nick_name", "direction": "asc"}}, False, id="sort-object"),
    pytest.param({"page": 2}, False, id="unknown-field"),
    pytest.param(["limit"], False, id="array-body"),
]


@pytest.mark.parametrize(("body", "valid"), REQUESTS)
def test_the_request_schema_and_the_simulator_accept_what_section_9_accepts(
    simulator: Simulator, body: Any, valid: bool
) -> None:
    response = _search(simulator, body)

    assert (_problems(body, "UserSearchRequest") == []) is valid
    assert response.status_code == (200 if valid else 400), response.text
    if valid:
        assert_conforms(response.json(), "UserSearchPage")
    else:
        assert_conforms(response.json(), "Errors")
        assert response.json()["errors"][0]["code"] == "ADMIN-400-24"


def test_a_cursor_from_a_page_is_a_valid_request(simulator: Simulator) -> None:
    first = _search(simulator, {"limit": 10, "claimStatus": "unmanaged"}).json()
    cursor = _search(simulator, {"limit": 10}).json()["links"]["next"]

    follow_up = {"cursor": cursor, "limit": 10}

    assert "next" not in first["links"] and len(first["data"]) == 3
    assert _problems(follow_up, "UserSearchRequest") == []
    assert_conforms(_search(simulator, follow_up).json(), "UserSearchPage")


ERROR_CASES = [
    pytest.param(400, "ADMIN-400-24", {"body": {"limit": 500}}, id="bad-body"),
    pytest.param(400, "ADMIN-400-24", {"body": {"searchTerm": "a", "emails": ["a"]}}, id="both"),
    pytest.param(400, "ADMIN-400-1", {"body": {"cursor": "bm90LW91cnM"}}, id="bad-cursor"),
    pytest.param(401, "ADMIN-401-2", {"headers": {"Authorization": "Bearer no"}}, id="wrong-key"),
    pytest.param(404, "ADMIN-404-2", {"org": "org-unknown"}, id="unknown-org"),
    pytest.param(404, "ADMIN-404-1", {"directory": "d-unknown"}, id="unknown-directory"),
    pytest.param(415, "ADMIN-UAM-415-1", {"no_body": True}, id="no-body"),
    pytest.param(429, "ADMIN-429-1", {"rate_limited": True}, id="rate-limited"),
    pytest.param(500, "ADMIN-500-1", {"fault": 500}, id="internal-fault"),
    pytest.param(403, "ADMIN-403-3", {"fault": 403}, id="forbidden-fault"),
]


@pytest.mark.parametrize(("status", "code", "case"), ERROR_CASES)
def test_search_errors_are_the_errors_envelope(
    simulator: Simulator, status: int, code: str, case: dict[str, Any]
) -> None:
    url = simulator.search_url(case.get("directory", "-"))
    if "org" in case:
        url = url.replace(f"/orgs/{simulator.org_id}/", f"/orgs/{case['org']}/")
    if case.get("rate_limited"):
        simulator.set_rate_limit(1, window_seconds=3600)
        simulator.http.post(url, headers=simulator.auth_headers, json={})
    if "fault" in case:
        simulator.add_fault(endpoint="search_users", kind="status", status=case["fault"])
    headers = case.get("headers", simulator.auth_headers)

    if case.get("no_body"):
        response = simulator.http.post(url, headers=headers)
    else:
        response = simulator.http.post(url, headers=headers, json=case.get("body", {}))

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert_conforms(response.json(), "Errors")
    error = response.json()["errors"][0]
    assert (error["status"], error["code"]) == (str(status), code)


# --- the manage endpoint ----------------------------------------------------------------------


def _account(sim: Simulator, case: str) -> str:
    """A user of that kind: invited, synced, unmanaged, closed; anything else: an unknown id."""
    for entry in sim.users():
        user = entry["user"]
        kind = {
            ("managed", False, "active"): "invited",
            ("managed", True, "active"): "synced",
            ("managed", False, "closed"): "closed",
            ("unmanaged", False, "active"): "unmanaged",
        }.get((entry["claimStatus"], entry["scim"], user["account_status"]))
        if kind == case:
            return str(user["account_id"])
    assert case == "unknown", f"the population has no {case} user"
    return "5b10ac8d82e05b22cc7d4ef5"


MANAGE_PATH = "/users/{account_id}/manage"


@pytest.mark.parametrize(
    ("case", "query", "status", "schema"),
    [
        ("invited", {"privileges": "lifecycle.enablement"}, 200, "Manage"),
        ("synced", {"privileges": "lifecycle.enablement"}, 200, "Manage"),
        ("synced", {"privileges": ",".join(_PRIVILEGES)}, 200, "Manage"),
        ("invited", None, 200, "Manage"),
        ("unmanaged", {"privileges": "lifecycle.enablement"}, 403, "ManageForbidden"),
        ("closed", {"privileges": "lifecycle.enablement"}, 403, "ManageForbidden"),
        ("unknown", {"privileges": "lifecycle.enablement"}, 404, "ManageNotFound"),
        ("wrong-key", {"privileges": "lifecycle.enablement"}, 401, "ManageUnauthorized"),
    ],
    ids=[
        "invited",
        "synced",
        "synced-every-privilege",
        "no-privileges",
        "unmanaged",
        "closed",
        "unknown",
        "wrong-key",
    ],
)
def test_manage_answers_are_section_9s_and_the_official_specs(
    simulator: Simulator, case: str, query: dict[str, str] | None, status: int, schema: str
) -> None:
    account_id = _account(simulator, "invited" if case == "wrong-key" else case)
    headers = {"Authorization": "Bearer no"} if case == "wrong-key" else simulator.auth_headers

    response = simulator.http.get(simulator.manage_url(account_id), params=query, headers=headers)

    assert response.status_code == status
    assert_conforms(response.json(), schema)
    official = SPECS.user.response_pointer(MANAGE_PATH, "get", status)
    assert SPECS.user.errors(response.json(), official) == []
    # Profile rules are maps (additionalProperties), which the undeclared-field walk cannot read.
    if "profile" not in response.json():
        assert SPECS.user.undeclared(response.json(), official) == []
    if status == 200:
        requested = query["privileges"].split(",") if query else ["lifecycle.enablement"]
        assert list(response.json()) == requested
        rule = response.json()["lifecycle.enablement"]
        assert rule["allowed"] is (case != "synced")


@pytest.mark.parametrize("path", [DISABLE_PATH, ENABLE_PATH], ids=["disable", "enable"])
def test_lifecycle_on_an_unmanaged_user_is_the_documented_403(
    simulator: Simulator, path: str
) -> None:
    account_id = _account(simulator, "unmanaged")
    action = path.rsplit("/", 1)[1]

    response = simulator.http.post(
        simulator.lifecycle_url(account_id, action), headers=simulator.auth_headers, json={}
    )

    assert response.status_code == 403
    assert response.json() == {"key": "forbidden.targetUnverified"}
    SPECS.user.assert_conforms(response.json(), SPECS.user.response_pointer(path, "post", 403))
