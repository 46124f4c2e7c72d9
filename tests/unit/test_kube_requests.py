"""Every Kubernetes request of the operator has a deadline, and a request that gets no answer
(timed out, refused, reset) fails the way an API error does, so that each caller's handling of
a failed write, read or Event applies (tests/e2e/test_reliability_controlplane.py shows it with
connections that go silent)."""

from __future__ import annotations

from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from atlassian_operator.core.resources import ObjectRef
from atlassian_operator.reconcile.kube import REQUEST_TIMEOUT, KubeApi, KubeError


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
