"""No piece of the API key leaves the client: the scrub alone, then errors and logs."""

from __future__ import annotations

import json
import logging
import random
import re
import string
from urllib.parse import quote

import httpx
import pytest

from atlassian_operator.atlassian import (
    AtlassianClient,
    AtlassianError,
    AtlassianUnavailable,
    OutcomeUnknown,
)
from atlassian_operator.atlassian._scrub import MIN_FRAGMENT, REDACTED, scrub_key

# The shape of an Atlassian org API key: a fixed prefix, base64 with "/" and "+", and a
# "="-separated checksum; 189 characters.
KEY = (
    "ATATT3xFfGF0"
    "KfiFEgBK8L+jC4v6ZdMwYoct2asvudGA4zBklTEXZrj5Yw65fdybtj0tZTuJn2TC93JGawZgVgiqnL/Bx5RA"
    "+hte2Msx4X0t5OTCJ9rxm9ErYojn+VgJCz+AuGCD56iC0tf4ifP1+0jB/pzvpbtTwIijy/lQlAPmHV0POb25"
    "=E4C1A9B2"
)
# Not a real key's alphabet, but the client accepts it: JSON must escape '"' and '\'.
ODD_KEY = KEY[:60] + '"quoted\\back' + KEY[60:]
BASE = "https://api.atlassian.test"


def written_forms(key: str) -> dict[str, str]:
    return {
        "as sent": key,
        "JSON-escaped": json.dumps(key)[1:-1],
        "JSON-escaped with \\/": json.dumps(key)[1:-1].replace("/", "\\/"),
        "percent-encoded": quote(key, safe=""),
        "percent-encoded, lower-case hex": re.sub(
            "%[0-9A-F]{2}", lambda m: m.group().lower(), quote(key, safe="")
        ),
    }


def leaked(text: str, key: str = KEY) -> list[str]:
    """Every MIN_FRAGMENT-character piece of the key, in any of its forms, found in the text."""
    return [
        form[i : i + MIN_FRAGMENT]
        for form in written_forms(key).values()
        for i in range(len(form) - MIN_FRAGMENT + 1)
        if form[i : i + MIN_FRAGMENT] in text
    ]


FORMS = [(key, name, form) for key in (KEY, ODD_KEY) for name, form in written_forms(key).items()]
FORM_IDS = [f"{'odd' if key is ODD_KEY else 'real'} key {name}" for key, name, _ in FORMS]


# -- the pure function ---------------------------------------------------------------------------


def test_the_realistic_key_is_long_and_changes_when_escaped_or_encoded() -> None:
    assert len(KEY) == 189
    assert quote(KEY, safe="") != KEY and json.dumps(ODD_KEY)[1:-1] != ODD_KEY


@pytest.mark.parametrize(("key", "name", "form"), FORMS, ids=FORM_IDS)
def test_the_whole_key_in_any_form_is_redacted(key: str, name: str, form: str) -> None:
    assert scrub_key(f"Bearer {form} was refused", key) == f"Bearer {REDACTED} was refused"


@pytest.mark.parametrize(("key", "name", "form"), FORMS, ids=FORM_IDS)
def test_every_piece_of_the_key_at_every_offset_is_redacted(key: str, name: str, form: str) -> None:
    starts = range(len(form) - MIN_FRAGMENT + 1)
    windows = [form[start : start + MIN_FRAGMENT] for start in starts]
    heads = [form[: start + MIN_FRAGMENT] for start in starts]  # what a cut leaves
    tails = [form[start:] for start in starts]
    for pieces in (windows, heads, tails):
        # " | " is in no form of the key, so each piece stands alone.
        assert scrub_key(" | ".join(pieces), key) == " | ".join([REDACTED] * len(pieces))


def test_a_text_cut_anywhere_after_scrubbing_leaks_nothing() -> None:
    text = "<p>" + "a" * 150 + f"Bearer {KEY}</p><a href='?k={quote(KEY, safe='')}'>retry</a>"
    scrubbed = scrub_key(text, KEY)
    assert leaked(scrubbed) == []
    assert all(leaked(scrubbed[:cut]) == [] for cut in range(len(scrubbed) + 1))
    # Cutting first is the bug: the head of the key survives the cut and no longer matches it.
    assert leaked(scrub_key(text[:200], KEY)) == []
    assert leaked(text[:200].replace(KEY, REDACTED)) != []


def test_pieces_too_short_to_matter_and_other_text_are_left_alone() -> None:
    text = f"prefix {KEY[: MIN_FRAGMENT - 1]} and {KEY[-MIN_FRAGMENT + 1 :]}: invalid cursor"
    assert scrub_key(text, KEY) == text
    assert scrub_key("", KEY) == ""


def test_a_key_shorter_than_a_fragment_is_redacted_whole() -> None:
    assert scrub_key("Bearer abc/def+1 refused", "abc/def+1") == f"Bearer {REDACTED} refused"
    assert scrub_key("k=abc%2Fdef%2B1", "abc/def+1") == f"k={REDACTED}"


def test_scattered_pieces_agree_with_a_window_by_window_check() -> None:
    # The scrub samples the text at a stride; this checks it against looking at every window.
    rng = random.Random(25)
    forms = list(written_forms(KEY).values())
    filler = string.ascii_letters + string.digits + "/+=%\\ "
    for _ in range(200):
        parts = []
        for _ in range(rng.randrange(1, 6)):
            parts.append("".join(rng.choice(filler) for _ in range(rng.randrange(0, 40))))
            form = rng.choice(forms)
            start = rng.randrange(len(form))
            parts.append(form[start : start + rng.randrange(1, 60)])
        text = "".join(parts)
        scrubbed = scrub_key(text, KEY)
        assert leaked(scrubbed) == [], text
        # Nothing but key pieces is removed: with the markers taken out, what is left of the
        # text appears in it in order.
        kept = iter(text)
        assert all(c in kept for c in scrubbed.replace(REDACTED, "")), text


# -- the client: what reaches exceptions and logs --------------------------------------------------

FILLER = "x" * 150  # puts the 200-character cut of a quoted body 50 characters into the key


def echoing(status: int, content_type: str) -> httpx.MockTransport:
    """A server that answers with the bearer token quoted 150 characters into its body."""

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        if content_type == "application/json":
            content = json.dumps({"message": f"{FILLER}{token} is not allowed here"})
        else:
            content = f"<p>{FILLER}<a href='/retry?key={quote(token, safe='')}'>{token}</a></p>"
        return httpx.Response(status, content=content, headers={"Content-Type": content_type})

    return httpx.MockTransport(handler)


async def no_sleep(_: float) -> None:
    return None


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
@pytest.mark.parametrize(
    ("status", "call", "raised"),
    [
        (400, "list", AtlassianError),  # final: the body is quoted in the message
        (503, "list", AtlassianUnavailable),  # retried (logged each time), then given up
        (502, "disable", OutcomeUnknown),  # not repeatable: the outcome is unknown
    ],
    ids=["400-final", "503-exhausted", "502-disable"],
)
async def test_an_error_body_echoing_the_key_leaks_no_piece_of_it(
    caplog: pytest.LogCaptureFixture,
    status: int,
    call: str,
    raised: type[AtlassianError],
    content_type: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with AtlassianClient(
        KEY, base_url=BASE, transport=echoing(status, content_type), sleep=no_sleep, max_attempts=3
    ) as client:
        with pytest.raises(raised) as caught:
            if call == "list":
                await client.list_all_users("org-1")
            else:
                await client.disable("acc-1")

    error = caught.value
    assert leaked(str(error)) == []
    assert leaked(repr(error)) == [] and leaked(repr(error.args)) == []
    logged = [record.getMessage() for record in caplog.records]
    assert [line for line in logged if leaked(line)] == []
    # Still quoted, with the key's place marked: the scrub did not simply drop the body.
    assert "x" * 20 in str(error) and REDACTED in str(error)
    # Each retry logs what the server said.
    assert any("retrying" in line and REDACTED in line for line in logged) == (status == 503)
