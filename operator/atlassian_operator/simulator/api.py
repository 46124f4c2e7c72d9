"""The simulated Atlassian routes: the v1 listing, the v2 search, the manage and lifecycle calls."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web

from atlassian_operator.simulator import manage, paging, search
from atlassian_operator.simulator.faults import Fault
from atlassian_operator.simulator.simulation import Simulation
from atlassian_operator.simulator.state import LifecycleResult

log = logging.getLogger(__name__)

SIMULATION = web.AppKey("simulation", Simulation)


@dataclass
class _Exchange:
    """What one API request did, for the request log."""

    endpoint: str
    body: Any = None
    fault: str | None = None


# A handler answers with a response, or None to drop the connection without one.
_Handler = Callable[[web.Request, Simulation, _Exchange], Awaitable[web.Response | None]]

SEARCH_PATH = "/admin/v2/orgs/{org_id}/directories/{directory_id}/users/search"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/v1/orgs/{org_id}/users", _endpoint("list_users", _list_users))
    # The v2 search's 429 is its Errors envelope (API-NOTES-v2 §1.6, §7); the others a ProxyError.
    app.router.add_post(SEARCH_PATH, _endpoint("search_users", _search_users, _search_rate_limited))
    app.router.add_get("/users/{account_id}/manage", _endpoint("manage", _manage))
    app.router.add_post(
        "/users/{account_id}/manage/lifecycle/disable", _endpoint("disable", _disable)
    )
    app.router.add_post("/users/{account_id}/manage/lifecycle/enable", _endpoint("enable", _enable))
    # Registered last: anything else is an unknown resource of the API, logged as "other".
    app.router.add_route("*", "/{tail:.*}", _endpoint("other", _unknown))


def _rate_limited() -> web.Response:
    return _proxy_error(429, "Rate limit exceeded. Retry later.")


def _search_rate_limited() -> web.Response:
    return _application_error(429, "ADMIN-429-1", "Rate limit exceeded")


def _endpoint(
    name: str, handler: _Handler, rate_limited: Callable[[], web.Response] = _rate_limited
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        sim = request.app[SIMULATION]
        exchange = _Exchange(name, body=await _parsed_body(request))
        decision = sim.limiter.admit()
        if decision.allowed:
            response = await handler(request, sim, exchange)
        else:
            response = rate_limited()
        status = None if response is None else response.status
        sim.requests.record(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            status=status,
            endpoint=name,
            body=exchange.body,
            fault=exchange.fault,
            client=request.remote,
        )
        query = f"?{request.query_string}" if request.query_string else ""
        log.info("%s %s%s -> %s", request.method, request.path, query, status or "reset")
        if response is None:
            _reset_connection(request)
            # aiohttp needs an answer to return; it cannot be written to the dropped transport.
            raise web.HTTPGone()
        response.headers.update(decision.headers)
        return response

    return serve


async def _list_users(
    request: web.Request, sim: Simulation, exchange: _Exchange
) -> web.Response | None:
    if not _authorized(request, sim):
        return _proxy_error(401, "Unauthorized")
    org = sim.org
    if request.match_info["org_id"] != org.org_id:
        return _application_error(404, "ADMIN-404-2", "Organization not found")
    cursor = request.query.get("cursor")
    try:
        page = org.page(cursor)
    except paging.InvalidCursor:
        return _application_error(400, "ADMIN-400-1", "Invalid page cursor")
    fault = sim.faults.take("list_users", page.number, None)
    if fault is not None:
        exchange.fault = fault.kind
        if fault.kind != "slow":
            return _fault_response(fault, "list_users")
        await asyncio.sleep(fault.delay_seconds)
        # The org may have changed while this answer was delayed; serve it as it is now.
        page = org.page(cursor)
    return _json(200, org.render_page(page, cursor))


async def _search_users(
    request: web.Request, sim: Simulation, exchange: _Exchange
) -> web.Response | None:
    if not _authorized(request, sim):
        return _application_error(401, "ADMIN-401-2", "Unauthorized", "Missing or invalid key.")
    org = sim.org
    if request.match_info["org_id"] != org.org_id:
        return _application_error(404, "ADMIN-404-2", "Organization not found")
    directory_id = request.match_info["directory_id"]
    if directory_id not in ("-", org.directory_id):
        detail = f"No directory {directory_id!r} in this organization."
        return _application_error(404, "ADMIN-404-1", "Unknown resource", detail)
    # A POST without a body carries no Content-Type, and Atlassian answers 415 (§1.7 [3p]).
    if "Content-Type" not in request.headers or request.content_type != "application/json":
        detail = "The request body must be JSON, sent with Content-Type: application/json."
        return _application_error(415, "ADMIN-UAM-415-1", "Unsupported Media Type", detail)
    raw = await request.read()
    try:
        # An empty JSON body reads as {}: the spec lets the sibling group search do that.
        body = json.loads(raw) if raw.strip() else {}
        start = search.parse_request(body)
    except search.InvalidCursor:
        return _application_error(400, "ADMIN-400-1", "Invalid page cursor")
    except ValueError as error:  # SearchRequestError, or JSON that does not parse
        detail = str(error) if isinstance(error, search.SearchRequestError) else "Not JSON."
        return _application_error(400, "ADMIN-400-24", "Invalid request body", detail)
    fault = sim.faults.take("search_users", start.page, None)
    if fault is not None:
        exchange.fault = fault.kind
        if fault.kind != "slow":
            return _fault_response(fault, "search_users")
        await asyncio.sleep(fault.delay_seconds)
    return _json(200, org.render_search(org.search(start)))


async def _manage(
    request: web.Request, sim: Simulation, exchange: _Exchange
) -> web.Response | None:
    if not _authorized(request, sim):
        return _json_object(401, {"key": "unauthorized"})
    try:
        privileges = manage.parse_privileges(request.query.getall("privileges", []))
    except manage.PrivilegeError:
        # The spec declares no 400 here: only a broken client sees it.
        return _json_object(400, {"key": "badRequest"})
    account_id = request.match_info["account_id"]
    fault = sim.faults.take("manage", None, account_id)
    if fault is not None:
        exchange.fault = fault.kind
        if fault.kind != "slow":
            return _fault_response(fault, "manage")
        await asyncio.sleep(fault.delay_seconds)
    result, answer = sim.org.permissions(account_id, privileges)
    if result is LifecycleResult.DONE:
        return _json_object(200, answer)
    return _refusal(result)


async def _disable(
    request: web.Request, sim: Simulation, exchange: _Exchange
) -> web.Response | None:
    return await _lifecycle(request, sim, exchange, "disable")


async def _enable(
    request: web.Request, sim: Simulation, exchange: _Exchange
) -> web.Response | None:
    return await _lifecycle(request, sim, exchange, "enable")


async def _lifecycle(
    request: web.Request, sim: Simulation, exchange: _Exchange, action: str
) -> web.Response | None:
    if not _authorized(request, sim):
        return _json_object(401, {"key": "unauthorized"})
    message = None
    if action == "disable":
        body = exchange.body
        # The spec's body is {"message"?: string}; an empty body is accepted like {}, since
        # clients in the wild send either. Anything else is a client bug worth a loud answer.
        if body is not None and (
            not isinstance(body, dict) or not isinstance(body.get("message", ""), str | None)
        ):
            return _json_object(400, {"key": "badRequest"})
        if body is not None:
            message = body.get("message")
        elif await request.read():
            return _json_object(400, {"key": "badRequest"})
    account_id = request.match_info["account_id"]
    fault = sim.faults.take(action, None, account_id)
    if fault is not None:
        exchange.fault = fault.kind
        if fault.kind != "slow":
            return _fault_response(fault, action)
        await asyncio.sleep(fault.delay_seconds)
    now = sim.clock()
    if action == "disable":
        result = sim.org.disable(account_id, message, now)
    else:
        result = sim.org.enable(account_id, now)
    if result is LifecycleResult.DONE:
        return web.Response(status=204)
    return _refusal(result)


def _refusal(result: LifecycleResult) -> web.Response:
    """The user management API's answer when it will not act on (or tell about) an account."""
    if result is LifecycleResult.NOT_FOUND:
        return _json_object(404, {"key": "accountNotFound"})
    if result is LifecycleResult.UNVERIFIED:
        # "Cannot manage an unverified target account": not on a domain the org has verified.
        return _json_object(403, {"key": "forbidden.targetUnverified"})
    if result is LifecycleResult.MANAGED_BY_SCIM:
        reason = {"allowed": False, "reason": {"key": "externalDirectory.scim"}}
        return _json_object(403, {"key": "forbidden.action", "context": reason})
    # Closed accounts cannot be used or re-activated through this API.
    return _json_object(403, {"key": "forbidden"})


async def _unknown(
    request: web.Request, sim: Simulation, exchange: _Exchange
) -> web.Response | None:
    return _application_error(404, "ADMIN-404-1", "Unknown resource")


def _authorized(request: web.Request, sim: Simulation) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = sim.config.api_key.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


async def _parsed_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    raw = await request.read()
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _fault_response(fault: Fault, endpoint: str) -> web.Response | None:
    if fault.kind == "reset":
        return None
    if fault.kind == "malformed":
        # Valid status and content type, truncated JSON: what a proxy cutting a body gives.
        field = b"accountId" if endpoint == "search_users" else b"account_id"
        response = web.Response(status=200, body=b'{"data":[{"%s":' % field)
        response.content_type = "application/json"
    elif endpoint == "list_users" and fault.status == 500:
        response = _application_error(500, "ADMIN-500-1", "Internal error")
    elif endpoint == "search_users" and fault.status in _SEARCH_ERRORS:
        # The statuses the spec declares for the search carry its Errors envelope (§1.6);
        # any other (502, 503, ...) is a gateway's, a ProxyError.
        response = _application_error(fault.status, *_SEARCH_ERRORS[fault.status])
    else:
        response = _proxy_error(fault.status, HTTPStatus(fault.status).phrase)
    response.headers.update(fault.headers)
    return response


def _reset_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0 makes close() send RST: the client sees a reset, not a polite FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _proxy_error(status: int, message: str) -> web.Response:
    return _json_object(status, {"code": status, "message": message})


_SEARCH_ERRORS = {
    400: ("ADMIN-400-24", "Invalid request body"),
    401: ("ADMIN-401-2", "Unauthorized"),
    403: ("ADMIN-403-3", "Not allowed to manage the org"),
    404: ("ADMIN-404-1", "Unknown resource"),
    429: ("ADMIN-429-1", "Rate limit exceeded"),
    500: ("ADMIN-500-1", "Internal error"),
}


def _application_error(
    status: int, code: str, title: str, detail: str | None = None
) -> web.Response:
    error = {
        "id": str(uuid.uuid4()),
        "status": str(status),
        "code": code,
        "title": title,
        "detail": f"{title} ({code}).{' ' + detail if detail else ''}",
    }
    return _json_object(status, {"errors": [error]})


def _json_object(status: int, body: dict[str, Any]) -> web.Response:
    return _json(status, json.dumps(body, separators=(",", ":")).encode())


def _json(status: int, body: bytes) -> web.Response:
    response = web.Response(status=status, body=body)
    response.content_type = "application/json"
    return response
