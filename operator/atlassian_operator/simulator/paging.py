"""Opaque page cursors that stay valid while users come and go between two page requests."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from atlassian_operator.simulator.schema import ACCOUNT_ID

# A cursor names a position in the listing's order (ascending account id) by an account id,
# not by an offset: inserting or removing users before that position then cannot make a
# client skip or see twice a user that exists throughout the listing. The id need not exist
# any more; it still marks a place in the order.


class InvalidCursor(ValueError):
    """The cursor was not issued by this simulator."""


@dataclass(frozen=True)
class Cursor:
    direction: Literal["after", "before"]
    account_id: str


def encode(cursor: Cursor) -> str:
    raw = f"{cursor.direction[0]}:{cursor.account_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor(text) from error
    tag, _, account_id = raw.partition(":")
    if tag not in ("a", "b") or not ACCOUNT_ID.fullmatch(account_id):
        raise InvalidCursor(text)
    cursor = Cursor("after" if tag == "a" else "before", account_id)
    # The decoder skips characters outside the alphabet; only accept what we would have issued.
    if encode(cursor) != text:
        raise InvalidCursor(text)
    return cursor
