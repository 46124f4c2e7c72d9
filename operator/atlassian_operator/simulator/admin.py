"""The /_sim routes that tests and demos use to inspect and steer the simulation."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from atlassian_operator.simulator.api import SIMULATION
from atlassian_operator.simulator.faults import FaultSpecError, parse_fault
from atlassian_operator.simulator.ratelimit import SIGNALS, RateLimiter
from atlassian_operator.simulator.schema import UserFieldError


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/_sim/state", _state)
    router.add_post("/_sim/reset", _reset)
    router.add_get("/_sim/requests", _requests)
    router.add_delete("/_sim/requests", _clear_requests)
    router.add_get("/_sim/users", _users)
    router.add_post("/_sim/users", _add_user)
    router.add_get("/_sim/users/{account_id}", _user)
    router.add_patch("/_sim/users/{account_id}", _update_user)
    router.add_delete("/_sim/users/{account_id}", _remove_user)
    router.add_get("/_sim/faults", _faults)
    router.add_post("/_sim/faults", _add_fault)
    router.add_delete("/_sim/faults", _clear_faults)
    router.add_get("/_sim/rate-limit", _rate_limit)
    router.add_put("/_sim/rate-limit", _set_rate_limit)
    # Mistyped admin calls must not reach the API's catch-all, its rate limit and its log.
    router.add_route("*", "/_sim/{tail:.*}", _no_such_route)


async def _state(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATION].describe())


async def _reset(request: web.Request) -> web.Response:
    request.app[SIMULATION].reset()
    return web.json_response(request.app[SIMULATION].describe())


async def _requests(request: web.Request) -> web.Response:
    entries = request.app[SIMULATION].requests.entries()
    endpoint = request.query.get("endpoint")
    if endpoint is not None:
        entries = [entry for entry in entries if entry["endpoint"] == endpoint]
    return web.json_response({"requests": entries})


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[SIMULATION].requests.clear()
    return web.Response(status=204)


async def _users(request: web.Request) -> web.Response:
    return web.json_response({"users": request.app[SIMULATION].org.entries()})


async def _user(request: web.Request) -> web.Response:
    org = request.app[SIMULATION].org
    try:
        return web.json_response(org.entry(request.match_info["account_id"]))
    except KeyError:
        return _error(404, "no such user")


async def _add_user(request: web.Request) -> web.Response:
    org = request.app[SIMULATION].org
    fields = await _json_object(request)
    try:
        account_id = org.add(fields)
    except UserFieldError as error:
        return _error(400, str(error))
    except KeyError:
        return _error(409, "a user with this account_id exists")
    return web.json_response(org.entry(account_id), status=201)


async def _update_user(request: web.Request) -> web.Response:
    org = request.app[SIMULATION].org
    account_id = request.match_info["account_id"]
    changes = await _json_object(request)
    try:
        org.update(account_id, changes)
    except UserFieldError as error:
        return _error(400, str(error))
    except KeyError:
        return _error(404, "no such user")
    return web.json_response(org.entry(account_id))


async def _remove_user(request: web.Request) -> web.Response:
    try:
        request.app[SIMULATION].org.remove(request.match_info["account_id"])
    except KeyError:
        return _error(404, "no such user")
    return web.Response(status=204)


async def _faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": request.app[SIMULATION].faults.pending()})


async def _add_fault(request: web.Request) -> web.Response:
    try:
        fault = parse_fault(await _json_object(request))
    except FaultSpecError as error:
        return _error(400, str(error))
    request.app[SIMULATION].faults.add(fault)
    return web.json_response(fault.to_json(), status=201)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[SIMULATION].faults.clear()
    return web.Response(status=204)


async def _rate_limit(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATION].limiter.settings())


async def _set_rate_limit(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    body = await _json_object(request)
    per_minute = body.get("per_minute")
    signal = body.get("signal", "retry-after")
    window = body.get("window_seconds", 60)
    if per_minute is not None and (
        isinstance(per_minute, bool) or not isinstance(per_minute, int) or per_minute < 1
    ):
        return _error(400, "per_minute must be a positive integer or null")
    if signal not in SIGNALS:
        return _error(400, f"signal must be one of {list(SIGNALS)}")
    if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
        return _error(400, "window_seconds must be a positive number")
    # A new limiter: the budget starts afresh, as a reconfigured gateway would.
    sim.limiter = RateLimiter(per_minute, signal, float(window), sim.clock)
    return web.json_response(sim.limiter.settings())


async def _no_such_route(request: web.Request) -> web.Response:
    return _error(404, f"no admin route {request.method} {request.path}")


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
