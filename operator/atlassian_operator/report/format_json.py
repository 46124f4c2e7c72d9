"""JSON for scripts (jq): the review's rows, with each org's summary and the review's inputs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from atlassian_operator.core.mapping import timestamp
from atlassian_operator.report.review import AccessReview, AccessRow


def review_json(review: AccessReview, scope: str) -> str:
    document: dict[str, Any] = {
        "kind": "AccessReview",
        "scope": scope,
        "asOf": timestamp(review.as_of),
        "inactiveDays": review.inactive_days,
        "orgs": [s.record() for s in review.summaries()],
        "rows": [r.record() for r in review.rows()],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def rows_json(rows: Sequence[AccessRow]) -> str:
    return json.dumps([r.record() for r in rows], indent=2, ensure_ascii=False) + "\n"
