"""Whether the API server serves the operator's two kinds: the one decision behind waiting
(instead of exiting) while the CRDs are deleted, and behind the readiness probe.

An uninstall that deletes the CRDs before the operator, a cluster admin cleaning up, or CRDs
too old to serve `VERSION`: in each case the API server answers 404 for our kinds. The
operator then acts on nothing, says why once, reports not ready, and starts again when both
kinds are served (see runner.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from atlassian_operator.core.resources import ACCOUNT_PLURAL, GROUP, ORG_PLURAL, VERSION


def not_served(served: Iterable[str] | None) -> str | None:
    """Why the operator cannot act, or None when it can.

    `served`: the resource names the API server's discovery lists for GROUP/VERSION
    (`/apis/atlassian.operators.dev/v1beta1`), or None when it answers 404 (neither served).
    """
    names = set(served) if served is not None else set()
    missing = [plural for plural in (ORG_PLURAL, ACCOUNT_PLURAL) if plural not in names]
    if not missing:
        return None
    return (
        f"the AtlassianOrg/AtlassianAccount CRDs are not installed "
        f"({' and '.join(f'{plural}.{GROUP}' for plural in missing)} {VERSION} not served): "
        "waiting for them; nothing is acted on"
    )
