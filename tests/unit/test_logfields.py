"""The operator's log formats, as `atlassian-operator run --log-format ...` sets them up: JSON
lines carry what a line is about as fields, and the full format shows whole logger names."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from atlassian_operator.core.decisions import Action
from atlassian_operator.core.resources import ACCOUNT_KIND, ORG_KIND, ObjectRef
from atlassian_operator.logfields import about, about_object
from atlassian_operator.runner import configure_logging

ORG = ObjectRef(ORG_KIND, "team", "acme", "uid-1")
LOGGER = "atlassian_operator.reconcile.account_side"

Configure = Callable[[str], io.StringIO]


@pytest.fixture
def configured() -> Iterator[Configure]:
    """Set up logging as the runner does, writing to a buffer; everything is put back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = [
        logging.getLogger(n) for n in ("asyncio", "atlassian_operator", "kopf.objects", "httpx")
    ]
    saved_loggers = [(lg, lg.level, lg.propagate, lg.handlers[:]) for lg in loggers]

    def configure(log_format: str) -> io.StringIO:
        before = set(root.handlers)
        configure_logging(log_format)
        stream = io.StringIO()
        for handler in list(root.handlers):
            if handler not in before:  # kopf's handler, which the operator writes to
                assert isinstance(handler, logging.StreamHandler)
                handler.setStream(stream)
            else:  # pytest's own: not part of what is tested
                root.removeHandler(handler)
        return stream

    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)
    for logger, its_level, propagate, its_handlers in saved_loggers:
        logger.setLevel(its_level)
        logger.propagate, logger.handlers[:] = propagate, its_handlers


def suspended_line() -> None:
    """A line as the org's owner logs a suspension."""
    logging.getLogger(LOGGER).info(
        "%s %s for %s/%s%s", "Disabled", "alice@acme.example", "team", "alice", "",
        extra=about(ORG, account="alice", action=Action.SUSPEND, account_id="aa01"),
    )  # fmt: skip


def test_a_json_line_carries_what_it_is_about_as_fields(configured: Configure) -> None:
    stream = configured("json")
    suspended_line()
    line = json.loads(stream.getvalue())
    assert line["message"] == "Disabled alice@acme.example for team/alice"
    assert {k: line[k] for k in ("namespace", "org", "account", "action", "accountId")} == {
        "namespace": "team",
        "org": "acme",
        "account": "alice",
        "action": "Suspend",
        "accountId": "aa01",
    }
    assert line["logger"] == LOGGER
    assert line["severity"] == "info"
    assert "timestamp" in line


def test_a_json_line_about_an_org_has_no_account_fields(configured: Configure) -> None:
    stream = configured("json")
    logging.getLogger(LOGGER).warning("Listing org %s failed", "org-1", extra=about(ORG))
    logging.getLogger("atlassian_operator").info("not about any org")
    about_org, about_nothing = map(json.loads, stream.getvalue().splitlines())
    assert (about_org["namespace"], about_org["org"]) == ("team", "acme")
    assert "account" not in about_org and "action" not in about_org
    assert not {"namespace", "org", "account", "action"} & about_nothing.keys()
    assert about_nothing["message"] == "not about any org"


def test_an_exception_stays_one_json_line(configured: Configure) -> None:
    stream = configured("json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger(LOGGER).exception("Internal error", extra=about(ORG, account="bob"))
    (line,) = stream.getvalue().splitlines()
    parsed = json.loads(line)
    assert parsed["account"] == "bob" and "RuntimeError: boom" in parsed["exc_info"]


def test_the_full_format_shows_the_whole_logger_name(configured: Configure) -> None:
    stream = configured("full")
    suspended_line()
    text = stream.getvalue()
    assert f"] {LOGGER} [INFO" in text, text
    assert text.rstrip().endswith("] Disabled alice@acme.example for team/alice")


def test_the_text_formats_show_the_message_as_before(configured: Configure) -> None:
    stream = configured("plain")
    suspended_line()
    assert stream.getvalue() == "Disabled alice@acme.example for team/alice\n"


@pytest.mark.parametrize(
    ("ref", "fields"),
    [
        pytest.param(ORG, {"namespace": "team", "org": "acme"}, id="an org"),
        pytest.param(
            ObjectRef(ACCOUNT_KIND, "team", "alice"),
            {"namespace": "team", "account": "alice"},
            id="an account, whose org the reference does not name",
        ),
    ],
)
def test_the_fields_of_an_object(ref: ObjectRef, fields: dict[str, str]) -> None:
    assert about_object(ref) == fields
