"""Every Kubernetes request of the operator has a deadline, and a request that gets no answer
(timed out, refused, reset) fails the way an API error does, so that each caller's handling of
a failed write, read or Event applies (tests/e2e/test_reliability_controlplane.py shows it with
connections that go silent)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from atlassian_operator.core.resources import ObjectRef
from atlassian_operator.reconcile.kube import REQUEST_TIMEOUT, KubeApi, KubeError, SecretProblem


@pytest.fixture
def kube() -> KubeApi:
    return KubeApi(client.ApiClient(client.Configuration()))


async def test_every_request_carries_the_deadline(kube: KubeApi) -> None:
    seen: dict[str, Any] = {}

    def request(*args: Any, **kwargs: Any) -> str:
        seen.update(kwargs)
        return "ok"

    assert await kube._call(request, "x") == "ok"
    assert seen["_request_timeout"] == REQUEST_TIMEOUT


async def test_no_answer_fails_like_an_api_error(kube: KubeApi) -> None:
    def silent(*args: Any, **kwargs: Any) -> None:
        raise urllib3.exceptions.ReadTimeoutError(None, "/x", "Read timed out.")  # type: ignore[arg-type]

    with pytest.raises(ApiException) as caught:
        await kube._call(silent)
    assert caught.value.status == 0 and "ReadTimeoutError" in str(caught.value.reason)
    kube._custom.patch_namespaced_custom_object_status = silent  # type: ignore[method-assign]
    with pytest.raises(KubeError) as failed:  # a status write the owner retries
        await kube.patch_status(ObjectRef("AtlassianOrg", "ns", "acme"), {})
    assert failed.value.status == 0


async def test_orgs_of_a_namespace_asking_at_once_read_its_pages_once(kube: KubeApi) -> None:
    pages = {
        None: {"items": [_account("a", "a1"), _account("b", "b1")], "metadata": {"continue": "2"}},
        "2": {"items": [_account("a", "a2"), {"spec": {}}], "metadata": {}},
    }
    asked: list[str | None] = []

    def list_page(*args: Any, _continue: str | None = None, **kwargs: Any) -> dict[str, Any]:
        assert args[2:] == ("team", "atlassianaccounts") and kwargs["limit"] == 500
        asked.append(_continue)
        return pages[_continue]

    kube._custom.list_namespaced_custom_object = list_page  # type: ignore[method-assign]
    a, b, c = await asyncio.gather(*(kube.account_claims("team", org) for org in "abc"))
    assert [sorted(n for claim in x for n in claim.names) for x in (a, b, c)] == [
        ["a1", "a2"],
        ["b1"],
        [],
    ]
    assert asked == [None, "2"]  # one paged LIST for the three orgs


def _account(org: str, account_id: str) -> dict[str, Any]:
    return {"spec": {"orgRef": {"name": org}, "accountId": account_id}}


async def test_a_forbidden_secret_becomes_the_problem_the_org_reports(kube: KubeApi) -> None:
    """A 403 on the Secret (its namespace not granted) names the namespace and the fix; the
    org's Ready condition carries this text (reason SecretNotUsable; tests/e2e/test_rbac.py)."""

    def forbidden(name: str, namespace: str, **kwargs: Any) -> None:
        raise ApiException(status=403, reason="Forbidden")

    kube._core.read_namespaced_secret = forbidden  # type: ignore[method-assign]
    with pytest.raises(SecretProblem) as problem:
        await kube.read_api_key("team-a", "atlassian-api-key", "api-key")
    message = str(problem.value)
    assert "Secret team-a/atlassian-api-key (403)" in message
    assert "add team-a to the Helm value secretAccess.namespaces" in message
