"""The `atlassian-operator` command: `run` the operator, `simulate` the Atlassian admin APIs,
review access (`report`, `who-has`, `explain`) or `check` an org before its first sync: the same
code as `kubectl atlassian`."""

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

    # The runner imports kopf; import it only for `run` so `simulate` starts fast.
    from atlassian_operator.report import cli as report_cli
    from atlassian_operator.runner import add_arguments as add_run_arguments
    from atlassian_operator.simulator import cli as simulator_cli

    run = commands.add_parser("run", help="run the operator against the current Kubernetes context")
    add_run_arguments(run)
    run.set_defaults(main=_run)

    simulate = commands.add_parser(
        "simulate", help="serve a stateful simulator of the Atlassian admin APIs on loopback"
    )
    simulator_cli.add_arguments(simulate)
    simulate.set_defaults(main=simulator_cli.main)

    report_cli.add_commands(commands)
    return parser


def _run(args: argparse.Namespace) -> int:
    from atlassian_operator.runner import main as run_operator

    return run_operator(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.main(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
