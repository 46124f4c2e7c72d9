"""CSV for spreadsheets: the review's rows under a header of the JSON keys.

Display names and emails are user data: a cell that a spreadsheet would run as a formula
(starting with =, +, -, @, a tab or a carriage return) gets a leading apostrophe, as OWASP
advises against CSV injection; numbers, times and booleans are printed as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from atlassian_operator.report.review import COLUMNS, AccessRow

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def rows_csv(rows: Sequence[AccessRow]) -> str:
    out = io.StringIO()
    # RFC 4180's CRLF: with it the writer also quotes a lone CR or LF inside a display name.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(_cell(value) for value in row.record().values())
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)
