"""The probes' endpoints: alive while waiting for the CRDs, not ready; liveness asks the
running loop, so a dead org loop or a blocked event loop fails it."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from atlassian_operator.health import Health, serve


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def served() -> Iterator[tuple[Health, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    health = Health()
    stop = serve(health, "127.0.0.1", port)
    yield health, port
    stop()


def test_waiting_for_the_crds_is_alive_and_not_ready(served: tuple[Health, int]) -> None:
    health, port = served
    assert get(port, "/healthz") == (200, "ok\n")
    assert get(port, "/readyz") == (200, "ok\n")
    health.not_ready("the CRDs are not installed")
    assert get(port, "/healthz") == (200, "ok\n")
    assert get(port, "/readyz") == (503, "the CRDs are not installed\n")
    assert get(port, "/metrics")[0] == 404


async def test_liveness_asks_the_running_loop(served: tuple[Health, int]) -> None:
    health, port = served
    problems: list[str] = []
    health.watch(asyncio.get_running_loop(), lambda: problems)
    assert await asyncio.to_thread(get, port, "/healthz") == (200, "ok\n")
    problems.append("the loop of AtlassianOrg ns/acme ended")
    assert await asyncio.to_thread(get, port, "/healthz") == (
        503,
        "the loop of AtlassianOrg ns/acme ended\n",
    )
    health.watch(None, None)
    assert await asyncio.to_thread(get, port, "/healthz") == (200, "ok\n")


def test_a_loop_that_does_not_answer_fails_liveness(
    served: tuple[Health, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    health, port = served
    monkeypatch.setattr("atlassian_operator.health.LOOP_TIMEOUT_SECONDS", 0.1)
    loop = asyncio.new_event_loop()  # never run: as a blocked loop
    try:
        health.watch(loop, lambda: [])
        status, text = get(port, "/healthz")
        assert status == 503 and "did not answer" in text
    finally:
        loop.close()
