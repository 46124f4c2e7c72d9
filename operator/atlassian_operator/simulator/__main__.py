"""`python -m atlassian_operator.simulator`: the simulate command without the operator's imports."""

from __future__ import annotations

import argparse
import sys

from atlassian_operator.simulator import cli


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m atlassian_operator.simulator")
    cli.add_arguments(parser)
    return cli.main(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
