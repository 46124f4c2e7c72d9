"""What an unwanted answer means: each response or give-up turned into the typed error to raise.

Pure functions: they take what the call was and what came back (status, headers, body bytes)
and return the exception, never raise it. The messages quote what servers said, and a server
could echo the Authorization header: the caller's `scrub` takes the API key out of the server's
whole text before it is cut to a quotable length (a cut key escapes a scrub that comes later).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import (
    AccountNotFound,
    AtlassianError,
    AtlassianUnavailable,
    AuthenticationFailed,
    Forbidden,
    OrgNotFound,
    OutcomeUnknown,
    RateLimited,
)

__all__ = [
    "FORBIDDEN_ADVICE",
    "RESTRICTION_ADVICE",
    "Call",
    "Scrub",
    "describe_response",
    "error_for_status",
    "exhausted_error",
    "forbidden_key",
    "is_documented_not_found",
    "json_object",
    "outcome_unknown_error",
    "restriction_advice",
    "server_detail",
]

# What a 403 `forbidden.action` restriction reason (spec `Manageability.RestrictionReason`)
# means for the person reading the condition message.
RESTRICTION_ADVICE = {
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

FORBIDDEN_ADVICE = {
    "forbidden.targetUnverified": (
        "the account is not managed by the organization (its email domain is not verified); "
        "verify or claim the domain at admin.atlassian.com"
    ),
    "forbidden.insufficientScope": (
        "the API key was created with scopes; the user management API needs an org API key "
        "created without scopes"
    ),
}

_DETAIL_LIMIT = 200

#: Takes the API key out of a text; the client's, which alone knows the key.
Scrub = Callable[[str], str]


@dataclass(frozen=True)
class Call:
    """What a request is for, in words for log lines and error messages."""

    #: The observer's name: "list_users", "search_users", "manage", "disable" or "enable".
    endpoint: str
    #: "listing users of org 'x' (page 2)".
    action: str
    #: "org 'x'".
    subject: str
    #: The URL without query values or credentials, for messages.
    where: str
    org_id: str | None = None
    account_id: str | None = None


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _content_type(headers: Mapping[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == "content-type"), "")


def server_detail(headers: Mapping[str, str], body: bytes, *, scrub: Scrub) -> str:
    """A short, single-line account of what the server said, for messages and logs.

    Best effort over every body shape the admin APIs are known to send (API-NOTES-v2 §1.6): the
    `Errors` envelope, a flat `{message}` (ProxyError, NoPermsError), the user management API's
    `{key, context}`, and non-JSON text such as an HTML error page.
    """
    parsed = json_object(body)
    text = ""
    if parsed is not None:
        errors = parsed.get("errors")
        context = parsed.get("context")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = " ".join(
                str(first[k]) for k in ("code", "title", "detail") if first.get(k) is not None
            )
        elif isinstance(parsed.get("message"), str):
            text = parsed["message"]
        elif isinstance(parsed.get("detail"), str):
            text = parsed["detail"]
        elif isinstance(context, dict) and isinstance(context.get("message"), str):
            text = context["message"]
        elif isinstance(parsed.get("key"), str):
            text = parsed["key"]
    elif body and "json" not in _content_type(headers):
        text = body.decode("utf-8", errors="replace")
    # Scrubbed whole, then cut: the head of a cut key is no longer the key a scrub looks for.
    text = " ".join(scrub(text).split())
    return text[:_DETAIL_LIMIT] + ("…" if len(text) > _DETAIL_LIMIT else "")


def describe_response(status: int, headers: Mapping[str, str], body: bytes, *, scrub: Scrub) -> str:
    """`HTTP 502 (Bad Gateway)`: the status and what the server said, for logs and messages."""
    detail = server_detail(headers, body, scrub=scrub)
    return f"HTTP {status}" + (f" ({detail})" if detail else "")


def forbidden_key(body: dict[str, Any] | None) -> tuple[str, str | None]:
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


def restriction_advice(reason: str) -> str:
    """What a restriction reason (or a 403 key) of the user management API means for a person.

    Reasons are the spec's `Manageability.RestrictionReason` ("externalDirectory.scim", ...),
    as a 403 `forbidden.action` or the pre-check gives them; keys are a 403's own
    ("forbidden.targetUnverified", ...). An unknown one is named as it is.
    """
    if reason in RESTRICTION_ADVICE:
        return RESTRICTION_ADVICE[reason]
    if reason in FORBIDDEN_ADVICE:
        return FORBIDDEN_ADVICE[reason]
    return f"Atlassian does not allow this for the account ({reason})"


def is_documented_not_found(call: Call, body: dict[str, Any] | None) -> bool:
    """Whether a 404 is the API's own "no such account/org", not a wrong path (base URL)."""
    if body is None:
        return False
    if call.account_id is not None:
        return body.get("key") in ("accountNotFound", "notFound")
    errors = body.get("errors")
    codes = (
        [error.get("code") for error in errors if isinstance(error, dict)]
        if isinstance(errors, list)
        else []
    )
    if call.endpoint == "search_users":
        # v2 names no code for "org not found" (API-NOTES-v2 §1.6): any ADMIN-404 code but
        # ADMIN-404-1 "Unknown resource" (a wrong path) is the API speaking.
        return any(isinstance(c, str) and c.startswith("ADMIN-404-") for c in codes) and (
            "ADMIN-404-1" not in codes
        )
    # The v1 listing's documented 404 is ADMIN-404-2; ADMIN-404-1 "Unknown resource" means the
    # path itself is wrong, i.e. the base URL.
    return "ADMIN-404-2" in codes


def error_for_status(
    call: Call,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    base_url: str,
    *,
    scrub: Scrub,
) -> AtlassianError:
    """The error for a final (non-2xx, not retried) response: 401, 403, 404 or anything else."""
    where = call.where
    parsed = json_object(body)
    if status == 401:
        return AuthenticationFailed(
            f"Atlassian rejected the API key (401) for {call.subject} ({where}); check that "
            "the Secret holds a valid, unexpired, unscoped org API key",
        )
    if status == 403:
        key, reason = forbidden_key(parsed)
        label = key + (f", reason {reason}" if reason else "")
        if reason is not None:
            advice = restriction_advice(reason)
        elif key in FORBIDDEN_ADVICE:
            advice = FORBIDDEN_ADVICE[key]
        else:
            detail = server_detail(headers, body, scrub=scrub)
            advice = (f"{detail}; " if detail else "") + (
                "the API key must be an unscoped org API key created by an admin of the "
                "organization"
            )
        return Forbidden(
            f"Atlassian refused {call.action} (403 {label}): {advice} ({where})",
            key=key,
            reason=reason,
        )
    if status == 404:
        suffix = ""
        if not is_documented_not_found(call, parsed):
            suffix = "; the reply is not an Atlassian error body, so check the API base URL "
            suffix += base_url
        if call.account_id is not None:
            found_key = parsed.get("key") if parsed is not None else None
            code = f"404 {found_key}" if isinstance(found_key, str) else "404"
            return AccountNotFound(
                f"Atlassian has no account '{call.account_id}' ({code} from {where}); "
                f"check the account ID{suffix}",
                account_id=call.account_id,
            )
        return OrgNotFound(
            f"Atlassian has no organization '{call.org_id}' (404 from {where}); check the "
            f"org ID and that the API key belongs to that organization{suffix}",
            org_id=call.org_id,
        )
    detail = server_detail(headers, body, scrub=scrub)
    return AtlassianError(
        f"Atlassian answered HTTP {status} to {call.action} ({where})"
        + (f": {detail}" if detail else ""),
        status=status,
    )


def _tried(attempts: int, waited: float) -> str:
    return f"{attempts} attempt{'s' if attempts != 1 else ''} over {waited:.1f}s of waiting"


def exhausted_error(
    call: Call,
    *,
    last: str,
    status: int | None,
    unreachable: bool,
    attempts: int,
    waited: float,
    retry_after: float | None,
    base_url: str,
) -> AtlassianError:
    """The error once retries are spent: `last` describes the last failure, `status` its HTTP
    status (None for a transport failure), `unreachable` that the connection was never made."""
    tried = _tried(attempts, waited)
    if status == 429:
        advice = (
            f"Atlassian asks to wait {retry_after:.0f}s more"
            if retry_after is not None
            else "try again later or make fewer requests"
        )
        return RateLimited(
            f"Atlassian kept rate-limiting (429) {call.action} after {tried} ({call.where}); "
            f"{advice}",
            retry_after=retry_after,
        )
    if unreachable:
        return AtlassianUnavailable(
            f"cannot reach Atlassian at {base_url} while {call.action} after {tried}: "
            f"{last}; check the API base URL and the network path to it (DNS, proxy, "
            "egress policy)",
        )
    return AtlassianUnavailable(
        f"Atlassian is unavailable: {call.action} failed after {tried} ({call.where}); "
        f"last: {last}",
        status=status,
    )


def outcome_unknown_error(call: Call, *, last: str, status: int | None) -> OutcomeUnknown:
    """The error for a lifecycle call whose answer was lost: `last` says how."""
    return OutcomeUnknown(
        f"the outcome of {call.action} is unknown: {last} ({call.where}). The call may or may "
        "not have taken effect, and repeating it is not known to be safe, so it is not "
        f"retried: the operator observes {call.subject} (the next listing, or the manage "
        "endpoint) before calling again",
        account_id=call.account_id,
        status=status,
    )
