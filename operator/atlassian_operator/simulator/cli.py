"""The `atlassian-operator simulate` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from atlassian_operator.simulator.ratelimit import SIGNALS
from atlassian_operator.simulator.server import serve
from atlassian_operator.simulator.simulation import SimulatorConfig

API_KEY_ENV = "ATLASSIAN_SIMULATOR_API_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument("--org-id", default="org-demo", help="the organization id served")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV),
        help=f"the bearer key the API accepts (default: ${API_KEY_ENV})",
    )
    parser.add_argument("--users", type=_non_negative, default=100, help="users to generate")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated users")
    parser.add_argument("--page-size", type=_positive, default=100, help="users per listing page")
    parser.add_argument(
        "--rate-limit-per-minute",
        type=_positive,
        default=None,
        help="API requests allowed per window (default: unlimited)",
    )
    parser.add_argument(
        "--rate-limit-signal",
        choices=SIGNALS,
        default="retry-after",
        help="how a 429 says when to retry: Retry-After, only X-RateLimit-Reset, or nothing",
    )
    parser.add_argument(
        "--rate-limit-window-seconds",
        type=float,
        default=60.0,
        help="length of the fixed rate-limit window (default: %(default)s)",
    )
    parser.add_argument(
        "--scim-every",
        type=_non_negative,
        default=25,
        help="every K-th generated user is synced by SCIM and refuses lifecycle calls; 0: none",
    )
    # Both are generated after --users, so they never change those users.
    parser.add_argument(
        "--admins",
        type=_non_negative,
        default=1,
        help="extra managed users holding the org-admin role (default: %(default)s)",
    )
    parser.add_argument(
        "--unmanaged",
        type=_non_negative,
        default=2,
        help="extra users on a domain the org has not claimed: in the v2 search, not in the v1 "
        "listing (default: %(default)s)",
    )


def main(args: argparse.Namespace) -> int:
    if not args.api_key:
        print(f"simulate: --api-key or ${API_KEY_ENV} is required", file=sys.stderr)
        return 2
    if args.rate_limit_window_seconds <= 0:
        print("simulate: --rate-limit-window-seconds must be positive", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    config = SimulatorConfig(
        org_id=args.org_id,
        api_key=args.api_key,
        users=args.users,
        seed=args.seed,
        page_size=args.page_size,
        scim_every=args.scim_every,
        admins=args.admins,
        unmanaged=args.unmanaged,
        rate_limit_per_minute=args.rate_limit_per_minute,
        rate_limit_signal=args.rate_limit_signal,
        rate_limit_window_seconds=args.rate_limit_window_seconds,
    )
    try:
        asyncio.run(serve(config, args.host, args.port))
    except OSError as error:
        print(f"simulate: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
