"""Every answer the simulator serves, checked against the official Atlassian OpenAPI specs."""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT4

from atlassian_operator.simulator import schema as sim_schema
from support.simulator import Simulator

_REPO = Path(__file__).resolve().parents[2]
# The official specs, copied into the repository (specs/atlassian/SOURCES.md says from where).
_SPEC_DIRS = [
    *([Path(os.environ["ATLASSIAN_SPECS_DIR"])] if "ATLASSIAN_SPECS_DIR" in os.environ else []),
    _REPO / "specs" / "atlassian",
]
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _spec_file(name: str) -> Path:
    for folder in _SPEC_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise AssertionError(f"{name} not found in any of {[str(d) for d in _SPEC_DIRS]}")


_FORMATS = jsonschema.FormatChecker()


# jsonschema only checks date-time when an optional package is installed; check it always.
@_FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` is JSON Schema's `type: [T, "null"]`."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _openapi_to_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        if "type" in node:
            node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
    return node


class Spec:
    """One OpenAPI document; schemas are addressed by JSON pointer so `$ref`s resolve in it."""

    def __init__(self, file: Path, server_prefix: str) -> None:
        self.raw = json.loads(file.read_text())
        self.doc = _openapi_to_json_schema(copy.deepcopy(self.raw))
        self.prefix = server_prefix
        self.uri = f"urn:atlassian-spec:{file.stem}"
        self.registry: Registry[Any] = Registry().with_resource(
            self.uri, DRAFT4.create_resource(self.doc)
        )

    def at(self, pointer: str) -> Any:
        node = self.doc
        for segment in pointer.split("/")[1:]:
            key = segment.replace("~1", "/").replace("~0", "~")
            node = node[int(key)] if isinstance(node, list) else node[key]
        return node

    def response_pointer(self, path: str, method: str, status: int) -> str:
        """Where the JSON schema of that documented answer is; fails if it is undocumented."""
        responses = f"/paths/{_escape(path)}/{method}/responses"
        declared = self.at(responses)
        assert str(status) in declared, f"{method.upper()} {path} declares no {status}"
        pointer = f"{responses}/{status}"
        ref = self.at(pointer).get("$ref")
        if ref is not None:
            pointer = ref.removeprefix("#")
        return f"{pointer}/content/application~1json/schema"

    def schema_pointer(self, name: str) -> str:
        return f"/components/schemas/{_escape(name)}"

    def errors(self, instance: Any, pointer: str) -> list[str]:
        validator = jsonschema.Draft4Validator(
            {"$ref": f"{self.uri}#{quote(pointer, safe='/~')}"},
            registry=self.registry,
            format_checker=_FORMATS,
        )
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in validator.iter_errors(instance)
        ]

    def undeclared(self, instance: Any, pointer: str, where: str = "$") -> list[str]:
        """Fields of the instance that no applicable schema declares in its `properties`.

        The spec never sets additionalProperties: false, so plain validation would accept a
        misspelt field; this walk is what keeps the simulator to the spec's vocabulary.
        """
        branches = self._branches(pointer, instance)
        found: list[str] = []
        if isinstance(instance, dict):
            for key, value in instance.items():
                owners = [b for b in branches if key in self.at(b).get("properties", {})]
                if not owners:
                    found.append(f"{where}.{key}")
                for owner in owners:
                    found += self.undeclared(
                        value, f"{owner}/properties/{_escape(key)}", f"{where}.{key}"
                    )
        elif isinstance(instance, list):
            for owner in (b for b in branches if "items" in self.at(b)):
                for index, item in enumerate(instance):
                    found += self.undeclared(item, f"{owner}/items", f"{where}[{index}]")
        return sorted(set(found))

    def _branches(self, pointer: str, instance: Any) -> list[str]:
        node = self.at(pointer)
        if "$ref" in node:
            return self._branches(node["$ref"].removeprefix("#"), instance)
        branches = [pointer]
        for index in range(len(node.get("allOf", []))):
            branches += self._branches(f"{pointer}/allOf/{index}", instance)
        for keyword in ("oneOf", "anyOf"):
            for index in range(len(node.get(keyword, []))):
                branch = f"{pointer}/{keyword}/{index}"
                if not self.errors(instance, branch):
                    branches += self._branches(branch, instance)
        return branches

    def assert_conforms(self, instance: Any, pointer: str) -> None:
        assert self.errors(instance, pointer) == [], json.dumps(instance)[:2000]
        assert self.undeclared(instance, pointer) == []


class Specs:
    @cached_property
    def organization(self) -> Spec:
        return Spec(_spec_file("admin_organization.json"), "/admin")

    @cached_property
    def user(self) -> Spec:
        return Spec(_spec_file("admin_user.json"), "")


SPECS = Specs()
USERS_PATH = "/v1/orgs/{orgId}/users"
DISABLE_PATH = "/users/{account_id}/manage/lifecycle/disable"
ENABLE_PATH = "/users/{account_id}/manage/lifecycle/enable"


def _listing_answer(status: int) -> str:
    return SPECS.organization.response_pointer(USERS_PATH, "get", status)


def _all_pages(simulator: Simulator) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    url: str | None = simulator.users_url
    while url is not None:
        response = simulator.http.get(url, headers=simulator.auth_headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        pages.append(response.json())
        url = pages[-1]["links"].get("next")
    return pages


def _entry(simulator: Simulator, *, scim: bool, status: str) -> dict[str, Any]:
    for entry in simulator.users():
        if entry["scim"] is scim and entry["user"]["account_status"] == status:
            return entry
    raise AssertionError(f"the fixture has no user with scim={scim} and status {status}")


# --- the listing ------------------------------------------------------------------------------


def test_every_listing_page_is_a_user_page_of_the_spec(simulator: Simulator) -> None:
    pages = _all_pages(simulator)

    assert len(pages) == 5
    for page in pages:
        SPECS.organization.assert_conforms(page, _listing_answer(200))
    first, middle, last = pages[0]["links"], pages[2]["links"], pages[-1]["links"]
    assert "next" in first and "prev" not in first
    assert "next" in middle and "prev" in middle
    assert "prev" in last and "next" not in last


def test_listed_users_cover_the_optional_shapes_and_stay_in_the_spec_enums(
    simulator: Simulator,
) -> None:
    users = [user for page in _all_pages(simulator) for user in page["data"]]
    user_schema = SPECS.organization.at("/components/schemas/User")["properties"]
    product_keys = SPECS.organization.at("/components/schemas/Product")["properties"]["key"]

    # The optional shapes a client must handle are all among the validated pages.
    assert any("email" not in user for user in users)
    assert any("product_access" not in user for user in users)
    assert any(user.get("product_access") == [] for user in users)
    assert any("last_active" not in user for user in users)
    assert {user["account_status"] for user in users} == set(user_schema["account_status"]["enum"])
    assert {user["account_type"] for user in users} <= set(user_schema["account_type"]["enum"])
    listed_keys = {p["key"] for user in users for p in user.get("product_access", [])}
    assert listed_keys <= set(product_keys["enum"])
    assert len(listed_keys) >= 3


def test_a_user_added_through_admin_with_every_field_is_listed_in_the_spec_shape(
    simulator: Simulator,
) -> None:
    simulator.add_user(
        account_id="557058:0f3a9c1e-2b4d-4e6f-8a7b-9c0d1e2f3a4b",
        account_type="customer",
        account_status="inactive",
        name="Full Shape",
        picture="https://example.test/avatar.png",
        email="full.shape@acme.example",
        access_billable=False,
        last_active="2026-01-02T03:04:05.678+01:00",
        product_access=[{"key": "trello", "name": "Trello", "url": "https://trello.com"}],
    )

    users = {u["account_id"]: u for page in _all_pages(simulator) for u in page["data"]}

    user = users["557058:0f3a9c1e-2b4d-4e6f-8a7b-9c0d1e2f3a4b"]
    SPECS.organization.assert_conforms(user, SPECS.organization.schema_pointer("User"))
    assert user["product_access"] == [
        {"key": "trello", "name": "Trello", "url": "https://trello.com"}
    ]


def test_the_simulators_own_vocabulary_is_the_specs() -> None:
    schemas = SPECS.organization.raw["components"]["schemas"]
    user, product = schemas["User"]["properties"], schemas["Product"]["properties"]

    assert set(sim_schema.USER_FIELDS) | {"links"} == set(user)
    assert set(sim_schema.PRODUCT_FIELDS) == set(product)
    assert list(sim_schema.ACCOUNT_STATUSES) == user["account_status"]["enum"]
    assert list(sim_schema.ACCOUNT_TYPES) == user["account_type"]["enum"]
    assert list(sim_schema.PRODUCT_KEYS) == product["key"]["enum"]


@pytest.mark.parametrize(
    ("status", "headers", "org", "query"),
    [
        pytest.param(401, {}, None, {}, id="no-key"),
        pytest.param(401, {"Authorization": "Bearer wrong"}, None, {}, id="wrong-key"),
        pytest.param(404, None, "org-unknown", {}, id="unknown-org"),
        pytest.param(400, None, None, {"cursor": "not-a-cursor"}, id="bad-cursor"),
    ],
)
def test_listing_errors_are_the_documented_error_bodies(
    simulator: Simulator,
    status: int,
    headers: dict[str, str] | None,
    org: str | None,
    query: dict[str, str],
) -> None:
    url = simulator.users_url if org is None else f"{simulator.url}/admin/v1/orgs/{org}/users"

    response = simulator.http.get(
        url, params=query, headers=simulator.auth_headers if headers is None else headers
    )

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    SPECS.organization.assert_conforms(response.json(), _listing_answer(status))


def test_listing_rate_limited_answer_is_the_documented_429(simulator: Simulator) -> None:
    simulator.set_rate_limit(1, window_seconds=3600)
    simulator.http.get(simulator.users_url, headers=simulator.auth_headers)

    response = simulator.http.get(simulator.users_url, headers=simulator.auth_headers)

    assert response.status_code == 429
    SPECS.organization.assert_conforms(response.json(), _listing_answer(429))
    assert response.json()["code"] == 429


def test_listing_internal_error_fault_is_the_documented_500(simulator: Simulator) -> None:
    simulator.add_fault(endpoint="list_users", kind="status", status=500)

    response = simulator.http.get(simulator.users_url, headers=simulator.auth_headers)

    assert response.status_code == 500
    SPECS.organization.assert_conforms(response.json(), _listing_answer(500))


# --- lifecycle --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DISABLE_PATH, ENABLE_PATH], ids=["disable", "enable"])
@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("success", 204),
        ("wrong-key", 401),
        ("scim", 403),
        ("closed", 403),
        ("unknown", 404),
    ],
)
def test_lifecycle_answers_are_the_documented_ones(
    simulator: Simulator, path: str, case: str, status: int
) -> None:
    headers = simulator.auth_headers
    if case == "success":
        account_id = _entry(simulator, scim=False, status="active")["user"]["account_id"]
    elif case == "scim":
        account_id = _entry(simulator, scim=True, status="active")["user"]["account_id"]
    elif case == "closed":
        account_id = _entry(simulator, scim=False, status="closed")["user"]["account_id"]
    else:
        account_id = "5b10ac8d82e05b22cc7d4ef5"
        headers = {"Authorization": "Bearer wrong"} if case == "wrong-key" else headers
    action = path.rsplit("/", 1)[1]
    body = {"message": "contract"} if action == "disable" else None

    response = simulator.http.post(
        simulator.lifecycle_url(account_id, action), headers=headers, json=body
    )

    assert response.status_code == status
    schema = SPECS.user.response_pointer(path, "post", status)
    if status == 204:
        assert response.content == b""
        return
    SPECS.user.assert_conforms(response.json(), schema)
    if case == "scim":
        assert response.json()["context"]["reason"]["key"] == "externalDirectory.scim"


def test_rate_limited_lifecycle_answer_is_a_proxy_error(simulator: Simulator) -> None:
    # The user-management spec declares no 429 for disable/enable; the simulator answers as the
    # gateway does for the organizations API, whose 429 is a ProxyError.
    simulator.set_rate_limit(1, window_seconds=3600)
    url = simulator.lifecycle_url("5b10ac8d82e05b22cc7d4ef5", "enable")
    simulator.http.post(url, headers=simulator.auth_headers)

    response = simulator.http.post(url, headers=simulator.auth_headers)

    assert response.status_code == 429
    assert "429" not in SPECS.user.at(f"/paths/{_escape(ENABLE_PATH)}/post/responses")
    SPECS.organization.assert_conforms(
        response.json(), SPECS.organization.schema_pointer("ProxyError")
    )
