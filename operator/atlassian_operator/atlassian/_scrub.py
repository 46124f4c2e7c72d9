"""Removing the API key from text a server sent back, before any of it is quoted or shortened.

A server (or a proxy in front of it) can echo the Authorization header in an error body, whole,
JSON-escaped or percent-encoded. Messages quote such bodies cut to a few hundred characters; a
scrub that runs after the cut, or that only looks for the whole key, lets most of the key
through. So every piece of the key long enough to matter is removed here, from the full text,
and callers cut afterwards: no `MIN_FRAGMENT`-character substring of the key, or of its
escaped and encoded forms, survives, wherever the text is later cut.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

__all__ = ["MIN_FRAGMENT", "REDACTED", "scrub_key"]

#: Pieces of the key this long or longer are removed; shorter ones are not a usable secret
#: (an Atlassian org API key is about 190 characters).
MIN_FRAGMENT = 16
REDACTED = "[redacted]"


def _written_forms(key: str) -> set[str]:
    """The key as a server might write it back: as sent, JSON-escaped, percent-encoded."""
    escaped = json.dumps(key)[1:-1]
    encoded = quote(key, safe="")
    return {
        key,
        escaped,
        # Some JSON writers escape "/" too.
        escaped.replace("/", "\\/"),
        encoded,
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded),
    }


def scrub_key(text: str, key: str) -> str:
    """The text with every piece of `key` of `MIN_FRAGMENT` characters or more (or the whole key,
    if it is shorter) replaced by `[redacted]`, in any of the forms a server might write it.

    Linear in the text, and whole error bodies go through it: every fragment-long match
    contains a half-length block starting at a multiple of that half, so the text is sampled
    at that stride against the forms' half-length pieces, and only around a hit are the
    fragment-long windows looked up. A 200 KB body with a 190-character key takes about 3 ms
    (about 85 ms if the body is nothing but copies of the key); a short message about 0.2 ms.
    """
    if not key:
        return text
    size = min(MIN_FRAGMENT, len(key))
    stride = max(1, size // 2)
    windows: set[str] = set()
    blocks: set[str] = set()
    for form in _written_forms(key):
        windows.update(form[i : i + size] for i in range(len(form) - size + 1))
        blocks.update(form[i : i + stride] for i in range(len(form) - stride + 1))

    # Spans of the text to redact, in order; overlapping or touching windows are one longer
    # piece of the key, so they share one span (and one marker).
    spans: list[list[int]] = []
    unchecked = 0
    last_start = len(text) - size
    for block_at in range(0, len(text) - stride + 1, stride):
        if text[block_at : block_at + stride] not in blocks:
            continue
        for start in range(max(unchecked, block_at - stride), min(block_at, last_start) + 1):
            if text[start : start + size] in windows:
                if spans and start <= spans[-1][1]:
                    spans[-1][1] = start + size
                else:
                    spans.append([start, start + size])
        unchecked = block_at + 1

    pieces: list[str] = []
    kept_from = 0
    for span_start, span_end in spans:
        pieces += [text[kept_from:span_start], REDACTED]
        kept_from = span_end
    pieces.append(text[kept_from:])
    return "".join(pieces)
