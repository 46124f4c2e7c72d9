"""The one place that talks HTTP to Atlassian: listing an org's users and the lifecycle calls."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import quote

import httpx
import pydantic

from ._errors import (
    AccountNotFound,
    AtlassianError,
    AtlassianUnavailable,
    AuthenticationFailed,
    Forbidden,
    MalformedResponse,
    OrgNotFound,
    RateLimited,
)
from ._models import User, UserListing, UserPage, format_validation_error
from ._observe import ClientObserver, NullObserver, RequestStats
from ._ratelimit import Pacer, backoff_delay, parse_rate_limit_headers, server_wait_hint

__all__ = ["AtlassianClient"]

logger = logging.getLogger("atlassian_operator.atlassian")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Pacing pauses shorter than this are clock noise (wall vs monotonic rounding), not pacing.
_MIN_PAUSE = 0.05

# What a 403 `forbidden.action` restriction reason (spec `Manageability.RestrictionReason`)
# means for the person reading the condition message.
_RESTRICTION_ADVICE = {
    "externalDirectory.scim": (
        "the account is managed by an external SCIM directory; change it in the identity provider"
    ),
    "externalDirectory.google": (
        "the account is synced from Google Workspace; change it in Google Workspace"
    ),
    "administrative": "the action is reserved for administrators of the account's organization",
    "administrative.notMyself": "an administrator cannot do this to their own account",
    "myselfOnly": "only the account's owner can do this",
    "managedAccount": (
        "only the administrator of the organization that manages the account can do this"
    ),
    "blocked.exportControl": (
        "the account is blocked by US export controls and cannot be changed through the API"
    ),
}

_FORBIDDEN_ADVICE = {
    "forbidden.targetUnverified": (
        "the account is not managed by the organization (its email domain is not verified); "
        "verify or claim the domain at admin.atlassian.com"
    ),
    "forbidden.insufficientScope": (
        "the API key was created with scopes; the user management API needs an org API key "
        "created without scopes"
    ),
}


@dataclass(frozen=True)
class _Call:
    """What a request is for, in words for log lines and error messages."""

    endpoint: str  # "list_users" | "disable" | "enable", as the observer sees it
    action: str  # "listing users of org 'x' (page 2)"
    subject: str  # "org 'x'"
    org_id: str | None = None
    account_id: str | None = None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _display_url(url: httpx.URL) -> str:
    """The URL without credentials or query values: cursors and the like stay out of messages."""
    shown = str(url.copy_with(query=None, fragment=None, userinfo=b""))
    if url.query:
        shown += "?" + "&".join(f"{name}=…" for name in url.params)
    return shown


class _BearerAuth(httpx.Auth):
    """Adds the API key, and only ever toward the configured Atlassian origin."""

    def __init__(self, api_key: str, origin: tuple[str, str, int | None]) -> None:
        self.__key = api_key
        self._origin = origin

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _origin(request.url) == self._origin:
            request.headers["Authorization"] = f"Bearer {self.__key}"
        yield request

    def scrub(self, text: str) -> str:
        """The text with the key blanked out, should a server have echoed it back."""
        return text.replace(self.__key, "[redacted]")

    def __repr__(self) -> str:
        return "<_BearerAuth>"


class AtlassianClient:
    """An async client for the Atlassian admin APIs an org sync needs, with retries and pacing.

    One instance per organization (its API key), shared by everything that works on that org:
    the semaphore, the pacing state and the counters are per instance. Use it as an async context
    manager, or call `aclose()`.

    Every request carries the key as a bearer token, has a timeout, and is retried on 429, 5xx,
    timeouts and transport errors up to `max_attempts` attempts and `max_wait` seconds of
    waiting (both per request, i.e. per page of a listing). A 429 waits as long as
    `Retry-After` or `X-RateLimit-Reset` says, otherwise exponential backoff with full jitter
    (`backoff_base` doubling up to `backoff_cap`). When a response says few requests are left in
    the rate-limit window, later requests are spread until its reset. `sleep` and `clock` are
    seams for tests; `transport` replaces the network.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.atlassian.com",
        timeout: float = 30.0,
        max_concurrency: int = 4,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 60.0,
        max_wait: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: ClientObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Keys pasted into Secrets often end in a newline; anything else that cannot go into a
        # header is refused here, without echoing the key.
        key = api_key.strip()
        if not key:
            raise ValueError("the Atlassian API key is empty")
        if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
            raise ValueError(
                "the Atlassian API key contains whitespace or non-ASCII characters; "
                "check that the Secret holds the key exactly as Atlassian showed it"
            )
        self._base_url = base_url.strip().rstrip("/")
        try:
            base = httpx.URL(self._base_url)
        except httpx.InvalidURL as exc:
            raise ValueError(f"invalid Atlassian base URL {self._base_url!r}: {exc}") from None
        if base.scheme not in _DEFAULT_PORTS or not base.host:
            raise ValueError(
                f"invalid Atlassian base URL {self._base_url!r}: expected http(s)://host[/path]"
            )
        if max_concurrency < 1 or max_attempts < 1:
            raise ValueError("max_concurrency and max_attempts must be at least 1")
        self._origin = _origin(base)
        # The key lives only inside the auth object, whose repr does not show it.
        self._auth = _BearerAuth(key, self._origin)
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_wait = max_wait
        self._observer: ClientObserver = observer if observer is not None else NullObserver()
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._pacer = Pacer()
        self._requests = self._rate_limited = self._retries = 0
        self._http = httpx.AsyncClient(
            auth=self._auth,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            # A redirect could lead anywhere; Atlassian's admin APIs do not redirect.
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "atlassian-operator"},
        )

    def __repr__(self) -> str:
        return f"AtlassianClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def stats(self) -> RequestStats:
        """A snapshot of the cumulative counters (a new object on every read)."""
        return RequestStats(
            requests=self._requests, rate_limited=self._rate_limited, retries=self._retries
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AtlassianClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the user listing ---------------------------------------------------------------------

    async def list_users(self, org_id: str) -> AsyncIterator[User]:
        """Yield every user of the organization, page by page, following `links.next`.

        An exception can come after some users were yielded: a caller that needs the truth
        about the whole org must treat it as "listing incomplete" (or use `list_org_users`).
        """
        async for page in self._pages(org_id):
            for user in page.data:
                yield user

    async def _pages(self, org_id: str) -> AsyncIterator[UserPage]:
        if not org_id:
            raise ValueError("org_id is empty")
        first = httpx.URL(f"{self._base_url}/admin/v1/orgs/{quote(org_id, safe='')}/users")
        url, page, fetched = first, 0, {str(first)}
        while True:
            page += 1
            call = _Call(
                endpoint="list_users",
                action=f"listing users of org '{org_id}' (page {page})",
                subject=f"org '{org_id}'",
                org_id=org_id,
            )
            response = await self._request(call, "GET", url)
            user_page = self._parse_page(call, url, response)
            yield user_page
            link = user_page.next
            if link is None:
                return
            url = self._next_page_url(call, first, link)
            if str(url) in fetched:
                self._fail(
                    MalformedResponse,
                    f"Atlassian's reply to {call.action} links back to a page already read "
                    f"({_display_url(url)}); the listing would never end, so it is abandoned",
                )
            fetched.add(str(url))

    async def list_org_users(self, org_id: str) -> UserListing:
        """Every user of the organization, with what the listing says about its own completeness.

        Never partial: an error on any page raises. A listing can still contradict itself
        (a user twice, fewer users than `meta.total`) when the org changes under the cursor;
        `UserListing.contradiction` says so, and the caller decides what to trust.
        """
        users: dict[str, User] = {}
        duplicates: list[str] = []
        total: int | None = None
        async for page in self._pages(org_id):
            for user in page.data:
                if user.account_id in users:
                    duplicates.append(user.account_id)
                users[user.account_id] = user  # the later copy is the newer
            total = page.total if page.total is not None else total
        return UserListing(list(users.values()), total, tuple(duplicates))

    async def list_all_users(self, org_id: str) -> list[User]:
        """The complete user list of the organization, or an exception: never a partial list."""
        listing = await self.list_org_users(org_id)
        if listing.duplicates:
            logger.warning(
                "org %r listed %d accounts twice; keeping the later copies",
                org_id,
                len(listing.duplicates),
            )
        return listing.users

    def _parse_page(self, call: _Call, url: httpx.URL, response: httpx.Response) -> UserPage:
        where = _display_url(url)
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            self._fail(
                MalformedResponse,
                f"Atlassian's reply to {call.action} is not JSON ({where}, HTTP "
                f"{response.status_code}, {len(response.content)} bytes): {exc}",
                cause=exc,
            )
        try:
            return UserPage.model_validate(body)
        except pydantic.ValidationError as exc:
            self._fail(
                MalformedResponse,
                f"Atlassian's reply to {call.action} does not match the spec's UserPage "
                f"({where}): {format_validation_error(exc)}",
                cause=exc,
            )

    def _next_page_url(self, call: _Call, first: httpx.URL, link: str) -> httpx.URL:
        """Where the next page is: `links.next` is normally a full URL, sometimes a bare cursor."""
        text = link.strip()
        if "://" not in text:
            return first.copy_set_param("cursor", text)
        try:
            target = httpx.URL(text)
        except httpx.InvalidURL as exc:
            self._fail(
                MalformedResponse,
                f"Atlassian's reply to {call.action} has an unreadable links.next: {exc}",
                cause=exc,
            )
        if _origin(target) == self._origin:
            return target
        # Never send the key elsewhere: take the cursor and ask our own origin for the page.
        cursor = target.params.get("cursor")
        if not cursor:
            self._fail(
                MalformedResponse,
                f"Atlassian's reply to {call.action} points links.next at another host "
                f"({_display_url(target)}) without a cursor; not following it with the API key",
            )
        logger.warning(
            "links.next of %s points at %s; asking %s for the next page instead",
            call.subject,
            target.host,
            self._base_url,
        )
        return first.copy_set_param("cursor", cursor)

    # -- the lifecycle calls ------------------------------------------------------------------

    async def disable(self, account_id: str, message: str | None = None) -> None:
        """Deactivate the account (`POST /users/{id}/manage/lifecycle/disable`).

        `message` is shown with the block; Atlassian uses a default message when it is None.
        """
        call = _Call(
            endpoint="disable",
            action=f"disabling account '{account_id}'",
            subject=f"account '{account_id}'",
            account_id=account_id,
        )
        # The spec requires a body; go-atlassian sends `{}` when there is no message.
        body: dict[str, str] = {} if message is None else {"message": message}
        await self._request(call, "POST", self._lifecycle_url(account_id, "disable"), body=body)

    async def enable(self, account_id: str) -> None:
        """Re-activate the account (`POST /users/{id}/manage/lifecycle/enable`, no body)."""
        call = _Call(
            endpoint="enable",
            action=f"enabling account '{account_id}'",
            subject=f"account '{account_id}'",
            account_id=account_id,
        )
        await self._request(call, "POST", self._lifecycle_url(account_id, "enable"))

    def _lifecycle_url(self, account_id: str, action: str) -> httpx.URL:
        if not account_id:
            raise ValueError("account_id is empty")
        return httpx.URL(
            f"{self._base_url}/users/{quote(account_id, safe='')}/manage/lifecycle/{action}"
        )

    # -- one request, with its retries ---------------------------------------------------------

    async def _request(
        self, call: _Call, method: str, url: httpx.URL, *, body: Any = None
    ) -> httpx.Response:
        """Send until a 2xx (returned), a final error (raised) or an exhausted retry budget.

        Retrying the lifecycle POSTs is safe: disable and enable set a state rather than toggle
        it, so a repeat of a request whose answer was lost has the same effect as the original.
        """
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            if attempt > 1:
                self._retries += 1
            hint: tuple[float, str] | None = None
            try:
                response = await self._send(call, method, url, body)
            except httpx.TransportError as exc:
                self._notify_response(call.endpoint, 0)
                failure: httpx.TransportError | httpx.Response = exc
                reason = "transport"
            else:
                status = response.status_code
                self._notify_response(call.endpoint, status)
                if 200 <= status < 300:
                    return response
                if status == 429:
                    self._rate_limited += 1
                    reason = "rate_limited"
                    hint = self._wait_hint(response, reset_too=True)
                elif status >= 500 or status == 408:
                    reason = "server_error"
                    hint = self._wait_hint(response, reset_too=False)
                else:
                    self._raise_for_status(call, url, response)
                failure = response

            if hint is not None:
                delay, source = hint
            else:
                delay = backoff_delay(
                    attempt,
                    base=self._backoff_base,
                    cap=self._backoff_cap,
                    jitter=self._random.random(),
                )
                source = "backoff"
            if attempt >= self._max_attempts or waited + delay > self._max_wait:
                self._give_up(call, url, failure, attempt, waited, hint)
            if reason == "rate_limited":
                # The whole org shares one rate limit: hold the other requests as well.
                self._pacer.block(until=self._clock() + delay)
            logger.info(
                "%s: %s; retrying in %.2fs (%s), attempt %d of %d",
                call.action,
                self._describe(failure),
                delay,
                source,
                attempt + 1,
                self._max_attempts,
            )
            self._notify_waiting(call.endpoint, delay, reason)
            await self._sleep(delay)
            waited += delay

    async def _send(self, call: _Call, method: str, url: httpx.URL, body: Any) -> httpx.Response:
        async with self._semaphore:
            pause = self._pacer.reserve(now=self._clock())
            # A pause longer than the whole retry budget means the headers are off; send and let
            # the server decide rather than stall the caller.
            if _MIN_PAUSE <= pause <= self._max_wait:
                logger.debug("%s: pacing %.2fs before sending", call.action, pause)
                self._notify_waiting(call.endpoint, pause, "pacing")
                await self._sleep(pause)
            self._requests += 1
            logger.debug("%s %s (%s)", method, _display_url(url), call.action)
            started = self._clock()
            response = await self._http.request(method, url, json=body)
            logger.debug(
                "%s %s -> %d in %.3fs",
                method,
                _display_url(url),
                response.status_code,
                self._clock() - started,
            )
            self._observe_rate_limit(response)
            return response

    def _observe_rate_limit(self, response: httpx.Response) -> None:
        headers = parse_rate_limit_headers(
            response.headers.get("X-RateLimit-Limit"),
            response.headers.get("X-RateLimit-Remaining"),
            response.headers.get("X-RateLimit-Reset"),
        )
        if headers.remaining is None or headers.reset is None:
            return
        reset_in = (headers.reset - datetime.now(UTC)).total_seconds()
        self._pacer.observe(headers, reset_in=reset_in, now=self._clock())

    @staticmethod
    def _wait_hint(response: httpx.Response, *, reset_too: bool) -> tuple[float, str] | None:
        return server_wait_hint(
            response.headers.get("Retry-After"),
            response.headers.get("X-RateLimit-Reset") if reset_too else None,
            now=datetime.now(UTC),
        )

    # -- errors --------------------------------------------------------------------------------

    def _fail(
        self,
        cls: type[AtlassianError],
        message: str,
        *,
        cause: BaseException | None = None,
        **extra: Any,
    ) -> NoReturn:
        # A server could echo the Authorization header back in a body we quote: scrub the key.
        error = cls(self._auth.scrub(message), **extra)
        raise error from cause

    def _describe(self, failure: httpx.TransportError | httpx.Response) -> str:
        if isinstance(failure, httpx.Response):
            # Logged before any error is raised, so scrubbed here too.
            detail = self._auth.scrub(_server_detail(failure))
            return f"HTTP {failure.status_code}" + (f" ({detail})" if detail else "")
        if isinstance(failure, httpx.TimeoutException):
            return f"no answer within {self._timeout:g}s ({type(failure).__name__})"
        return f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__

    def _give_up(
        self,
        call: _Call,
        url: httpx.URL,
        failure: httpx.TransportError | httpx.Response,
        attempts: int,
        waited: float,
        hint: tuple[float, str] | None,
    ) -> NoReturn:
        where = _display_url(url)
        tried = f"{attempts} attempt{'s' if attempts != 1 else ''} over {waited:.1f}s of waiting"
        if isinstance(failure, httpx.Response) and failure.status_code == 429:
            retry_after = hint[0] if hint is not None else None
            advice = (
                f"Atlassian asks to wait {retry_after:.0f}s more"
                if retry_after is not None
                else "try again later or make fewer requests"
            )
            self._fail(
                RateLimited,
                f"Atlassian kept rate-limiting (429) {call.action} after {tried} ({where}); "
                f"{advice}",
                retry_after=retry_after,
            )
        last = self._describe(failure)
        cause = failure if isinstance(failure, BaseException) else None
        if isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout):
            self._fail(
                AtlassianUnavailable,
                f"cannot reach Atlassian at {self._base_url} while {call.action} after {tried}: "
                f"{last}; check the API base URL and the network path to it (DNS, proxy, "
                "egress policy)",
                cause=cause,
            )
        status = failure.status_code if isinstance(failure, httpx.Response) else None
        self._fail(
            AtlassianUnavailable,
            f"Atlassian is unavailable: {call.action} failed after {tried} ({where}); last: {last}",
            cause=cause,
            status=status,
        )

    def _raise_for_status(self, call: _Call, url: httpx.URL, response: httpx.Response) -> NoReturn:
        status, where = response.status_code, _display_url(url)
        body = _json_object(response)
        if status == 401:
            self._fail(
                AuthenticationFailed,
                f"Atlassian rejected the API key (401) for {call.subject} ({where}); check that "
                "the Secret holds a valid, unexpired, unscoped org API key",
            )
        if status == 403:
            key, reason = _forbidden_key(body)
            label = key + (f", reason {reason}" if reason else "")
            if reason is not None:
                advice = _RESTRICTION_ADVICE.get(
                    reason, f"Atlassian does not allow this for the account ({reason})"
                )
            elif key in _FORBIDDEN_ADVICE:
                advice = _FORBIDDEN_ADVICE[key]
            else:
                detail = _server_detail(response)
                advice = (f"{detail}; " if detail else "") + (
                    "the API key must be an unscoped org API key created by an admin of the "
                    "organization"
                )
            self._fail(
                Forbidden,
                f"Atlassian refused {call.action} (403 {label}): {advice} ({where})",
                key=key,
                reason=reason,
            )
        if status == 404:
            documented = _is_documented_not_found(body, lifecycle=call.account_id is not None)
            suffix = (
                ""
                if documented
                else f"; the reply is not an Atlassian error body, so check the API base URL "
                f"{self._base_url}"
            )
            if call.account_id is not None:
                found_key = body.get("key") if body is not None else None
                code = f"404 {found_key}" if isinstance(found_key, str) else "404"
                self._fail(
                    AccountNotFound,
                    f"Atlassian has no account '{call.account_id}' ({code} from {where}); "
                    f"check the account ID{suffix}",
                    account_id=call.account_id,
                )
            self._fail(
                OrgNotFound,
                f"Atlassian has no organization '{call.org_id}' (404 from {where}); check the "
                f"org ID and that the API key belongs to that organization{suffix}",
                org_id=call.org_id,
            )
        detail = _server_detail(response)
        self._fail(
            AtlassianError,
            f"Atlassian answered HTTP {status} to {call.action} ({where})"
            + (f": {detail}" if detail else ""),
            status=status,
        )

    # -- observer ------------------------------------------------------------------------------

    def _notify_response(self, endpoint: str, status: int) -> None:
        try:
            self._observer.response(endpoint, status)
        except Exception:
            logger.exception("the client observer failed on response(%r, %d)", endpoint, status)

    def _notify_waiting(self, endpoint: str, seconds: float, reason: str) -> None:
        try:
            self._observer.waiting(endpoint, seconds, reason)
        except Exception:
            logger.exception("the client observer failed on waiting(%r, %r)", endpoint, reason)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _forbidden_key(body: dict[str, Any] | None) -> tuple[str, str | None]:
    """Atlassian's key and restriction reason from any of the 403 bodies the APIs send."""
    if body is None:
        return "forbidden", None
    key = body.get("key")
    if isinstance(key, str) and key:
        # User management API: {"key": "forbidden.action", "context": {"reason": {"key": R}}}.
        context = body.get("context")
        reason_obj = context.get("reason") if isinstance(context, dict) else None
        reason = reason_obj.get("key") if isinstance(reason_obj, dict) else None
        return key, reason if isinstance(reason, str) and reason else None
    # Organizations API: NoPermsError {"status": 403, "message": ...} or {"errors": [...]}.
    return "forbidden", None


def _is_documented_not_found(body: dict[str, Any] | None, *, lifecycle: bool) -> bool:
    if body is None:
        return False
    if lifecycle:
        return body.get("key") in ("accountNotFound", "notFound")
    # The listing's documented 404 is ADMIN-404-2; ADMIN-404-1 "Unknown resource" means the
    # path itself is wrong, i.e. the base URL.
    errors = body.get("errors")
    return isinstance(errors, list) and any(
        isinstance(error, dict) and error.get("code") == "ADMIN-404-2" for error in errors
    )


def _server_detail(response: httpx.Response) -> str:
    """A short, single-line account of what the server said, for messages and logs."""
    body = _json_object(response)
    text = ""
    if body is not None:
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = " ".join(
                str(first[k]) for k in ("code", "title", "detail") if first.get(k) is not None
            )
        elif isinstance(body.get("message"), str):
            text = body["message"]
        elif isinstance(body.get("context"), dict) and isinstance(
            body["context"].get("message"), str
        ):
            text = body["context"]["message"]
        elif isinstance(body.get("key"), str):
            text = body["key"]
    elif response.content and "json" not in response.headers.get("content-type", ""):
        text = response.content[:200].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text[:200] + ("…" if len(text) > 200 else "")
