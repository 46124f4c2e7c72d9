"""Starts the Atlassian simulator as a real process and steers it through its /_sim admin API."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

DEFAULT_API_KEY = "sim-key-0123456789abcdef"
_READY_PREFIX = "simulator listening on "
_START_DEADLINE_SECONDS = 20.0

# The command users run (`atlassian-operator simulate`), from the interpreter running the tests
# so that it is this checkout's code. `python -m atlassian_operator.simulator` takes the same
# flags and starts in half the time, as it skips the operator's imports.
_COMMAND = (sys.executable, "-m", "atlassian_operator.cli", "simulate")


class SimulatorError(RuntimeError):
    """The simulator did not start, or an admin call was refused."""


class Simulator:
    """A running simulator process: its base URL, credentials and admin calls."""

    def __init__(
        self, process: subprocess.Popen[str], url: str, org_id: str, api_key: str, log: Path
    ) -> None:
        self.process = process
        self.url = url
        self.org_id = org_id
        self.api_key = api_key
        self.log_path = log
        self._admin = httpx.Client(base_url=f"{url}/_sim", timeout=10.0)
        # For API calls from tests: one pooled client, since creating an httpx client costs
        # tens of milliseconds. No Authorization preset: pass `headers=auth_headers`.
        self.http = httpx.Client(timeout=10.0)

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminates the process and waits for it; safe to call twice."""
        self._admin.close()
        self.http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log_path.unlink(missing_ok=True)

    def log_text(self) -> str:
        """The simulator's stderr so far (its request log lines)."""
        return self.log_path.read_text(errors="replace")

    # --- conveniences for API calls -----------------------------------------------------------

    @property
    def users_url(self) -> str:
        return f"{self.url}/admin/v1/orgs/{quote(self.org_id, safe='')}/users"

    def lifecycle_url(self, account_id: str, action: str) -> str:
        return f"{self.url}/users/{quote(account_id, safe='')}/manage/lifecycle/{action}"

    def search_url(self, directory_id: str = "-") -> str:
        """The v2 user search (POST) in one directory, or in all of them with "-"."""
        org, directory = quote(self.org_id, safe=""), quote(directory_id, safe="")
        return f"{self.url}/admin/v2/orgs/{org}/directories/{directory}/users/search"

    def manage_url(self, account_id: str) -> str:
        """The user management permissions (GET, `?privileges=...`) of one account."""
        return f"{self.url}/users/{quote(account_id, safe='')}/manage"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    # --- admin API ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return self._object("GET", "/state")

    def reset(self) -> dict[str, Any]:
        """Back to the startup state: generated users, no faults, empty log, CLI rate limit."""
        return self._object("POST", "/reset")

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        params = {} if endpoint is None else {"endpoint": endpoint}
        result: list[dict[str, Any]] = self._call("GET", "/requests", params=params)["requests"]
        return result

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def users(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/users")["users"]
        return result

    def user(self, account_id: str) -> dict[str, Any]:
        return self._object("GET", f"/users/{quote(account_id, safe='')}")

    def add_user(self, **fields: Any) -> dict[str, Any]:
        return self._object("POST", "/users", json=fields)

    def update_user(self, account_id: str, **fields: Any) -> dict[str, Any]:
        return self._object("PATCH", f"/users/{quote(account_id, safe='')}", json=fields)

    def remove_user(self, account_id: str) -> None:
        self._call("DELETE", f"/users/{quote(account_id, safe='')}")

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        return self._object("POST", "/faults", json=spec)

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/faults")["faults"]
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_rate_limit(
        self, per_minute: int | None, signal: str = "retry-after", window_seconds: float = 60
    ) -> dict[str, Any]:
        body = {"per_minute": per_minute, "signal": signal, "window_seconds": window_seconds}
        return self._object("PUT", "/rate-limit", json=body)

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        result = self._call(method, path, **kwargs)
        assert isinstance(result, dict)
        return result

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._admin.request(method, path, **kwargs)
        if response.is_error:
            raise SimulatorError(
                f"{method} /_sim{path} -> {response.status_code}: {response.text[:500]}"
            )
        return response.json() if response.content else None


def start_simulator(
    *,
    users: int = 50,
    seed: int = 1,
    page_size: int = 100,
    org_id: str = "org-test",
    api_key: str = DEFAULT_API_KEY,
    rate_limit_per_minute: int | None = None,
    rate_limit_signal: str = "retry-after",
    scim_every: int | None = None,
    admins: int = 0,
    unmanaged: int = 0,
    extra_args: Sequence[str] = (),
    log_dir: Path | None = None,
    host: str = "127.0.0.1",
) -> Simulator:
    """Starts a simulator on a free port of `host` (loopback by default) and waits until it listens.

    Its log goes to a temporary file, or into `log_dir` (which the caller cleans up).
    `admins` and `unmanaged` default to none here (the command's own defaults add some), so that
    a test sees only the users it asks for.
    """
    args = [
        *_COMMAND,
        "--host", host,
        "--port", "0",
        "--org-id", org_id,
        "--api-key", api_key,
        "--users", str(users),
        "--seed", str(seed),
        "--page-size", str(page_size),
        "--rate-limit-signal", rate_limit_signal,
        "--admins", str(admins),
        "--unmanaged", str(unmanaged),
    ]  # fmt: skip
    if rate_limit_per_minute is not None:
        args += ["--rate-limit-per-minute", str(rate_limit_per_minute)]
    if scim_every is not None:
        args += ["--scim-every", str(scim_every)]
    args += list(extra_args)
    # stderr goes to a file: a pipe nobody reads would fill up and stall the simulator.
    fd, name = tempfile.mkstemp(prefix="atlassian-simulator-", suffix=".log", dir=log_dir)
    log = Path(name)
    with os.fdopen(fd, "wb") as stderr:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, text=True
        )
    try:
        url = _wait_for_url(process, log)
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        log.unlink(missing_ok=True)
        raise
    return Simulator(process, url, org_id, api_key, log)


def _wait_for_url(process: subprocess.Popen[str], log: Path) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + _START_DEADLINE_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=remaining):
                continue
            # The simulator prints nothing else on stdout, so a whole line follows at once.
            line = process.stdout.readline()
            if line.startswith(_READY_PREFIX):
                return line[len(_READY_PREFIX) :].strip()
            if not line:  # end of file: the process died
                break
    process.poll()
    tail = log.read_text(errors="replace")[-3000:]
    raise SimulatorError(
        f"simulator did not report listening within {_START_DEADLINE_SECONDS}s "
        f"(exit code {process.returncode}); stderr tail:\n{tail}"
    )
