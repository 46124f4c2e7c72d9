"""What a log line is about, as fields a log pipeline can filter on (`--log-format json`).

A person who runs the operator for many teams asks "what did it do to team/alice" or "why did
org acme stop": with the namespace, org, account and action only inside the message, each
question needs a parser per message. So each log call about an org or an account passes them
once, as `extra=about(...)`: kopf's JSON formatter (python-json-logger) writes every extra
attribute of a record as a field of its own, beside `message`, `timestamp` and `severity`; the
text formats show the message alone, which names them as before. Names and IDs only: nothing
here ever carries a key or a Secret's content.
"""

from __future__ import annotations

import logging

from atlassian_operator.core.resources import ORG_KIND, ObjectRef


def about(
    org: ObjectRef | None = None,
    *,
    account: str | None = None,
    action: object | None = None,
    account_id: str | None = None,
) -> dict[str, str]:
    """The fields of a line about the AtlassianOrg `org` (its namespace and name), one of its
    AtlassianAccounts, the lifecycle action and the Atlassian account (`accountId`) concerned;
    those not known are left out. docs/tasks/troubleshooting.md lists them for users."""
    fields = {
        "namespace": org.namespace if org is not None else None,
        "org": org.name if org is not None else None,
        "account": account,
        "action": str(action) if action is not None else None,
        "accountId": account_id,
    }
    return {k: v for k, v in fields.items() if v}


def about_object(ref: ObjectRef) -> dict[str, str]:
    """The fields of a line about one object, an AtlassianOrg or an AtlassianAccount (whose
    org the reference does not name)."""
    if ref.kind == ORG_KIND:
        return about(ref)
    return {"namespace": ref.namespace, "account": ref.name} if ref.name else {}


class LoggerName(logging.Filter):
    """Every record carries its logger's full name as `logger`: a JSON field, as the full text
    format shows it (kopf's JSON lines have no logger otherwise)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.logger = record.name
        return True


# kopf's FULL format cuts logger names at 20 characters ("atlassian_operator.r"): every line of
# the reconciler looked the same. The same layout, with whole names.
FULL_FORMAT = "[%(asctime)s] %(name)s [%(levelname)-8s] %(message)s"


def text_formatter() -> logging.Formatter:
    """The `full` format: time, the logger's whole name, level, message."""
    return logging.Formatter(FULL_FORMAT)
