"""The `atlassian-operator` command: `run` the operator or `simulate` the Atlassian admin APIs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from atlassian_operator import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atlassian-operator",
        description="Atlassian Cloud user accounts as Kubernetes custom resources.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from atlassian_operator import runner
    from atlassian_operator.simulator import cli as simulator_cli

    run = commands.add_parser("run", help="run the operator against the current Kubernetes context")
    runner.add_arguments(run)
    run.set_defaults(main=runner.main)

    simulate = commands.add_parser(
        "simulate", help="serve a stateful simulator of the Atlassian admin APIs on loopback"
    )
    simulator_cli.add_arguments(simulate)
    simulate.set_defaults(main=simulator_cli.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.main(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
