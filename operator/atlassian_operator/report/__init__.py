"""Access reviews from the cluster alone: `kubectl atlassian report|who-has|explain`; and
`kubectl atlassian check`, the read-only preflight against the Atlassian org (check.py).

The review reads AtlassianOrgs and AtlassianAccounts (never Atlassian) and turns their status
into review rows (`review`), printed as a terminal table, CSV, JSON, one self-contained HTML
page, or AtlassianAccount manifests that suspend the selected accounts (`formats`). `cli` is
the command line that both `kubectl-atlassian` and `atlassian-operator` run.

Errors a user can fix are `ReportError`, whose message says what is wrong and what to do.
"""

from atlassian_operator.report.cluster import ReportError

__all__ = ["ReportError"]
