"""Whether the operator's kinds are served: the one decision behind waiting and readiness."""

from __future__ import annotations

from atlassian_operator.core.served import not_served

BOTH = ["atlassianorgs", "atlassianorgs/status", "atlassianaccounts", "atlassianaccounts/status"]


def test_both_kinds_served_is_no_problem() -> None:
    assert not_served(BOTH) is None


def test_a_404_names_both_kinds_and_says_what_the_operator_does() -> None:
    assert not_served(None) == (
        "the AtlassianOrg/AtlassianAccount CRDs are not installed "
        "(atlassianorgs.atlassian.operators.dev and atlassianaccounts.atlassian.operators.dev "
        "v1beta1 not served): waiting for them; nothing is acted on"
    )


def test_one_kind_missing_names_only_that_one() -> None:
    why = not_served(["atlassianorgs", "atlassianorgs/status"])
    assert why is not None
    assert "(atlassianaccounts.atlassian.operators.dev v1beta1 not served)" in why


def test_a_subresource_alone_does_not_count_as_the_kind() -> None:
    assert not_served(["atlassianorgs/status", "atlassianaccounts"]) is not None
