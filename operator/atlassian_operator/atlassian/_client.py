"""The one place that talks HTTP to Atlassian: the user listings, the pre-check, the lifecycle."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from ._directory import DirectoryListing, DirectoryPage, DirectoryUser
from ._errors import AtlassianError, Forbidden, ListingInconsistent, MalformedResponse, NotSent
from ._manage import TARGET_UNVERIFIED, LifecyclePermission, read_lifecycle_permission
from ._models import User, UserListing, UserPage, format_validation_error
from ._observe import ClientObserver, NullObserver, RequestStats
from ._paging import PageTally, max_pages, overrun, search_max_pages
from ._ratelimit import Pacer, parse_rate_limit_headers, parse_reset, parse_retry_after
from ._responses import (
    Call,
    describe_response,
    error_for_status,
    exhausted_error,
    outcome_unknown_error,
)
from ._retry import NO_HINTS, GiveUp, Retry, RetryPolicy, TransportFailure, WaitHints, next_step
from ._scrub import scrub_key
from .v2_choices import ALL_DIRECTORIES, cursor_from_next, manage_query, search_request

__all__ = ["AtlassianClient"]

logger = logging.getLogger("atlassian_operator.atlassian")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Pacing pauses shorter than this are clock noise (wall vs monotonic rounding), not pacing.
_MIN_PAUSE = 0.05

_Model = TypeVar("_Model", bound=pydantic.BaseModel)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _display_url(url: httpx.URL) -> str:
    """The URL without credentials or query values: cursors and the like stay out of messages."""
    shown = str(url.copy_with(query=None, fragment=None, userinfo=b""))
    if url.query:
        shown += "?" + "&".join(f"{name}=…" for name in url.params)
    return shown


def _failure_kind(exc: httpx.TransportError) -> TransportFailure:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return TransportFailure.CONNECT_FAILED
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure.TIMED_OUT
    return TransportFailure.OTHER


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
        return scrub_key(text, self.__key)

    def __repr__(self) -> str:
        return "<_BearerAuth>"


class AtlassianClient:
    """An async client for the Atlassian admin APIs an org sync needs, with retries and pacing.

    One instance per organization (its API key), shared by everything that works on that org:
    the semaphore, the pacing state and the counters are per instance. Use it as an async context
    manager, or call `aclose()`.

    Every request carries the key as a bearer token and has a timeout. Reads (the listings, the
    search, the pre-check) are retried on 429, 5xx, timeouts and transport errors up to
    `max_attempts` attempts and `max_wait` seconds of waiting (both per request, i.e. per page
    of a listing). Disable and enable are retried only when they certainly did not take effect
    (429, or no connection made); after a timeout or a 5xx they raise `OutcomeUnknown`. A 429
    waits as long as `Retry-After` or `X-RateLimit-Reset` says, otherwise exponential backoff
    with full jitter (`backoff_base` doubling up to `backoff_cap`). When a response says few
    requests are left in the rate-limit window, later requests are spread until its reset.
    `sleep` and `clock` are seams for tests; `transport` replaces the network.
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
        self._policy = RetryPolicy(
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_wait=max_wait,
        )
        self._observer: ClientObserver = observer if observer is not None else NullObserver()
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._sending = True
        self._pacer = Pacer()
        self._requests = self._rate_limited = self._retries = 0
        # meta.total of each org's v1 listing, last seen: the only count the v2 search, which
        # has none and runs beside the listing, can be held to.
        self._listed_totals: dict[str, int] = {}
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

    def stop_sending(self) -> None:
        """From now on, requests not yet sent fail with NotSent; those on the wire finish.

        On shutdown, calls queued behind the concurrency limit must not go out while the
        operator waits for the ones in flight: a successor could not know about them."""
        self._sending = False

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

    # -- the v1 user listing ------------------------------------------------------------------

    async def list_users(self, org_id: str) -> AsyncIterator[User]:
        """Yield every user of the organization, page by page, following `links.next`.

        An exception can come after some users were yielded: a caller that needs the truth
        about the whole org must treat it as "listing incomplete" (or use `list_org_users`).
        """
        async for page in self._pages(org_id):
            for user in page.data:
                yield user

    async def user_pages(self, org_id: str) -> AsyncGenerator[UserPage]:
        """The v1 listing page by page, with each page's `meta.total` and next link, for a
        caller that reads only the first pages (the preflight check estimates the rest)."""
        async for page in self._pages(org_id):
            yield page

    async def _pages(self, org_id: str) -> AsyncIterator[UserPage]:
        if not org_id:
            raise ValueError("org_id is empty")
        first = httpx.URL(f"{self._base_url}/admin/v1/orgs/{quote(org_id, safe='')}/users")
        url, fetched, tally = first, {str(first)}, PageTally()
        total: int | None = None
        while True:
            call = Call(
                endpoint="list_users",
                action=f"listing users of org '{org_id}' (page {tally.pages + 1})",
                subject=f"org '{org_id}'",
                where=_display_url(url),
                org_id=org_id,
            )
            response = await self._request(call, "GET", url)
            user_page = self._parse(call, response, UserPage, "the spec's UserPage")
            tally.read(len(user_page.data))
            if user_page.total is not None:
                total = self._listed_totals[org_id] = user_page.total
            yield user_page
            link = user_page.next
            if link is None:
                return
            allowed = max_pages(total, tally.largest) if total is not None else None
            if problem := overrun(tally, allowed):
                counted = (
                    f"meta.total says {total} users"
                    if total is not None
                    else "no page said how many users there are (meta.total)"
                )
                self._abandon(call, f"{problem}; {counted}")
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

    def _next_page_url(self, call: Call, first: httpx.URL, link: str) -> httpx.URL:
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

    # -- the v2 user search -------------------------------------------------------------------

    async def search_directory_users(
        self, org_id: str, *, unmanaged_only: bool = False
    ) -> DirectoryListing:
        """Every user the v2 search returns for the org, across all its directories.

        `POST /admin/v2/orgs/{orgId}/directories/-/users/search`, cursor-paged, with the page
        size, expand values and cursor handling of `v2_choices`. It includes the unmanaged
        accounts the v1 listing leaves out, and says per user how it is managed and which
        platform roles it holds; `unmanaged_only` asks for the unmanaged ones alone, with
        their product activity. Never partial: an error on any page raises.
        """
        users: dict[str, DirectoryUser] = {}
        duplicates: list[str] = []
        pages = 0
        async for page in self.search_directory_pages(org_id, unmanaged_only=unmanaged_only):
            pages += 1
            for user in page:
                if user.account_id in users:
                    duplicates.append(user.account_id)
                users[user.account_id] = user  # the later copy is the newer
        return DirectoryListing(list(users.values()), tuple(duplicates), pages)

    async def search_directory_pages(
        self, org_id: str, *, unmanaged_only: bool = False
    ) -> AsyncGenerator[list[DirectoryUser]]:
        """The same search, page by page, for a caller that keeps less than every user.

        An exception can come after some pages: the search is then incomplete.
        """
        if not org_id:
            raise ValueError("org_id is empty")
        url = httpx.URL(
            f"{self._base_url}/admin/v2/orgs/{quote(org_id, safe='')}"
            f"/directories/{ALL_DIRECTORIES}/users/search"
        )
        sent: set[str] = set()
        cursor: str | None = None
        tally = PageTally()
        while True:
            call = Call(
                endpoint="search_users",
                action=f"searching users of org '{org_id}' (v2, page {tally.pages + 1})",
                subject=f"org '{org_id}'",
                where=_display_url(url),
                org_id=org_id,
            )
            body = search_request(cursor, unmanaged_only=unmanaged_only)
            response = await self._request(call, "POST", url, body=body)
            result = self._parse(
                call, response, DirectoryPage, "the spec's MultiDirectoryUserSearchPage"
            )
            tally.read(len(result.data))
            yield result.data
            link = result.next
            if link is None:
                return
            listed = self._listed_totals.get(org_id)
            allowed = search_max_pages(listed, tally.largest) if listed is not None else None
            if problem := overrun(tally, allowed):
                counted = (
                    f"the v1 listing's meta.total says {listed} users (the search may hold as "
                    "many again who are unmanaged)"
                    if listed is not None
                    else "the search has no count of its own and the v1 listing gave none yet"
                )
                self._abandon(call, f"{problem}; {counted}")
            cursor = cursor_from_next(link)
            if cursor is None:
                self._fail(
                    MalformedResponse,
                    f"Atlassian's reply to {call.action} has a links.next URL without a cursor; "
                    "the next page cannot be asked for",
                )
            if cursor in sent:
                self._fail(
                    MalformedResponse,
                    f"Atlassian's reply to {call.action} did not advance: its links.next is a "
                    "cursor already sent; the search would never end, so it is abandoned",
                )
            sent.add(cursor)

    # -- the pre-check ------------------------------------------------------------------------

    async def lifecycle_permission(self, account_id: str) -> LifecyclePermission:
        """Whether the key may disable and enable the account, asked without acting.

        `GET /users/{account_id}/manage?privileges=lifecycle.enablement`. An account the org
        does not manage (403 forbidden.targetUnverified) is an answer: not allowed, with that
        key as the reason. Any other 403, and 401 or 404, raise as for the lifecycle calls.
        """
        url = self._account_url(account_id, "manage").copy_merge_params(manage_query())
        call = Call(
            endpoint="manage",
            action=f"reading what may be done to account '{account_id}'",
            subject=f"account '{account_id}'",
            where=_display_url(url),
            account_id=account_id,
        )
        try:
            response = await self._request(call, "GET", url)
        except Forbidden as exc:
            if exc.key == TARGET_UNVERIFIED:
                return LifecyclePermission(allowed=False, reason=TARGET_UNVERIFIED)
            raise
        body = self._parse_json(call, response)
        try:
            return read_lifecycle_permission(body)
        except ValueError as exc:
            self._fail(
                MalformedResponse,
                f"Atlassian's reply to {call.action} does not match the spec's "
                f"Manageability.Rule.Simple ({call.where}): {exc}",
                cause=exc,
            )

    # -- the lifecycle calls ------------------------------------------------------------------

    async def disable(self, account_id: str, message: str | None = None) -> None:
        """Deactivate the account (`POST /users/{id}/manage/lifecycle/disable`).

        `message` is shown with the block; Atlassian uses a default message when it is None.
        Raises `OutcomeUnknown` when the request was sent but its answer was lost.
        """
        # The spec requires a body; go-atlassian sends `{}` when there is no message.
        body: dict[str, str] = {} if message is None else {"message": message}
        await self._lifecycle("disable", "disabling", account_id, body)

    async def enable(self, account_id: str) -> None:
        """Re-activate the account (`POST /users/{id}/manage/lifecycle/enable`, no body).

        Raises `OutcomeUnknown` when the request was sent but its answer was lost.
        """
        await self._lifecycle("enable", "enabling", account_id, None)

    async def _lifecycle(
        self, action: str, doing: str, account_id: str, body: dict[str, str] | None
    ) -> None:
        url = self._account_url(account_id, f"manage/lifecycle/{action}")
        call = Call(
            endpoint=action,
            action=f"{doing} account '{account_id}'",
            subject=f"account '{account_id}'",
            where=_display_url(url),
            account_id=account_id,
        )
        # Not known to be idempotent (API-NOTES §6.5): repeated only when it certainly had no
        # effect. Whoever gets OutcomeUnknown observes the account before calling again.
        await self._request(call, "POST", url, body=body, repeatable=False)

    def _account_url(self, account_id: str, tail: str) -> httpx.URL:
        if not account_id:
            raise ValueError("account_id is empty")
        return httpx.URL(f"{self._base_url}/users/{quote(account_id, safe='')}/{tail}")

    # -- reading replies ----------------------------------------------------------------------

    def _parse_json(self, call: Call, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            self._fail(
                MalformedResponse,
                f"Atlassian's reply to {call.action} is not JSON ({call.where}, HTTP "
                f"{response.status_code}, {len(response.content)} bytes): {exc}",
                cause=exc,
            )

    def _parse(
        self, call: Call, response: httpx.Response, model: type[_Model], schema: str
    ) -> _Model:
        body = self._parse_json(call, response)
        try:
            return model.model_validate(body)
        except pydantic.ValidationError as exc:
            self._fail(
                MalformedResponse,
                f"Atlassian's reply to {call.action} does not match {schema} ({call.where}): "
                f"{format_validation_error(exc)}",
                cause=exc,
            )

    # -- one request, with its retries ---------------------------------------------------------

    async def _request(
        self,
        call: Call,
        method: str,
        url: httpx.URL,
        *,
        body: Any = None,
        repeatable: bool = True,
    ) -> httpx.Response:
        """Send until a 2xx (returned), a final error (raised) or an exhausted retry budget.

        `repeatable` says whether sending the request twice is harmless; `_retry.next_step`
        decides everything else.
        """
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            if attempt > 1:
                self._retries += 1
            result: httpx.Response | httpx.TransportError
            try:
                result = await self._send(call, method, url, body)
            except httpx.TransportError as exc:
                self._notify_response(call.endpoint, 0)
                result = exc
                outcome: int | TransportFailure = _failure_kind(exc)
                hints = NO_HINTS
            else:
                outcome = result.status_code
                self._notify_response(call.endpoint, outcome)
                if outcome == 429:
                    self._rate_limited += 1
                hints = self._wait_hints(result)
            step = next_step(
                self._policy,
                attempt=attempt,
                outcome=outcome,
                waited=waited,
                hints=hints,
                jitter=self._random.random(),
                repeatable=repeatable,
            )
            if not isinstance(step, Retry):
                if isinstance(step, GiveUp):
                    self._give_up(call, result, step, attempt, waited)
                assert isinstance(result, httpx.Response)  # Done comes only with a response
                return result
            if step.reason == "rate_limited":
                # The whole org shares one rate limit: hold the other requests as well.
                self._pacer.block(until=self._clock() + step.delay)
            logger.info(
                "%s: %s; retrying in %.2fs (%s), attempt %d of %d",
                call.action,
                self._describe(result),
                step.delay,
                step.source,
                attempt + 1,
                self._policy.max_attempts,
            )
            self._notify_waiting(call.endpoint, step.delay, step.reason)
            await self._sleep(step.delay)
            waited += step.delay

    async def _send(self, call: Call, method: str, url: httpx.URL, body: Any) -> httpx.Response:
        async with self._semaphore:
            pause = self._pacer.reserve(now=self._clock())
            # A pause longer than the whole retry budget means the headers are off; send and let
            # the server decide rather than stall the caller.
            if _MIN_PAUSE <= pause <= self._policy.max_wait:
                logger.debug("%s: pacing %.2fs before sending", call.action, pause)
                self._notify_waiting(call.endpoint, pause, "pacing")
                await self._sleep(pause)
            if not self._sending:
                raise NotSent(f"{call.action}: not sent, the operator is stopping")
            self._requests += 1
            logger.debug("%s %s (%s)", method, call.where, call.action)
            started = self._clock()
            response = await self._http.request(method, url, json=body)
            logger.debug(
                "%s %s -> %d in %.3fs",
                method,
                call.where,
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
    def _wait_hints(response: httpx.Response) -> WaitHints:
        now = datetime.now(UTC)
        reset = parse_reset(response.headers.get("X-RateLimit-Reset"))
        return WaitHints(
            retry_after=parse_retry_after(response.headers.get("Retry-After"), now=now),
            reset_in=(reset - now).total_seconds() if reset is not None else None,
        )

    # -- errors --------------------------------------------------------------------------------

    def _raise(self, error: AtlassianError, *, cause: BaseException | None = None) -> NoReturn:
        # A server could echo the Authorization header back in a body we quote: scrub the key.
        clean = self._auth.scrub(error.message)
        if clean != error.message:
            error.message = clean
            error.args = (clean,)
        raise error from cause

    def _fail(
        self,
        cls: type[AtlassianError],
        message: str,
        *,
        cause: BaseException | None = None,
    ) -> NoReturn:
        self._raise(cls(message), cause=cause)

    def _abandon(self, call: Call, problem: str) -> NoReturn:
        self._fail(
            ListingInconsistent,
            f"stopped {call.action}, a listing that would not end: {problem}. Nothing from "
            "this listing is used and the next sync lists again; if this keeps happening, "
            "Atlassian's paging is at fault: report it to Atlassian support with the org ID "
            "and the time",
        )

    def _describe(self, failure: httpx.TransportError | httpx.Response) -> str:
        if isinstance(failure, httpx.Response):
            # Logged before any error is raised, so scrubbed here too (before it is cut).
            return describe_response(
                failure.status_code, failure.headers, failure.content, scrub=self._auth.scrub
            )
        if isinstance(failure, httpx.TimeoutException):
            return f"no answer within {self._timeout:g}s ({type(failure).__name__})"
        return f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__

    def _give_up(
        self,
        call: Call,
        failure: httpx.TransportError | httpx.Response,
        step: GiveUp,
        attempts: int,
        waited: float,
    ) -> NoReturn:
        response = failure if isinstance(failure, httpx.Response) else None
        cause = failure if isinstance(failure, BaseException) else None
        status = response.status_code if response is not None else None
        if step.why == "final" and response is not None:
            self._raise(
                error_for_status(
                    call,
                    response.status_code,
                    response.headers,
                    response.content,
                    self._base_url,
                    scrub=self._auth.scrub,
                )
            )
        if step.why == "not_repeatable":
            error: AtlassianError = outcome_unknown_error(
                call, last=self._describe(failure), status=status
            )
        else:
            error = exhausted_error(
                call,
                last=self._describe(failure),
                status=status,
                unreachable=isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout),
                attempts=attempts,
                waited=waited,
                retry_after=step.retry_after,
                base_url=self._base_url,
            )
        self._raise(error, cause=cause)

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
