"""`esg-ratings`: the job's command line (configuration.md, "Command line").

One module per command group registers its sub-commands here: `files`, `audit` and `keys` in
`esg_assets.cli.files`, `rerun` and `history` in `esg_assets.cli.jobs`, `sandbox` in
`esg_assets.cli.sandbox`. They raise `esg_assets.cli.errors.CliError`; errors are one line on
stderr and a non-zero exit. `python -m esg_assets.cli` is the same command (`__main__.py`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from esg_assets.cli.errors import CliError
from esg_assets.settings import ConfigError

__all__ = ["CliError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from esg_assets.cli import files, jobs, sandbox

    parser = argparse.ArgumentParser(prog="esg-ratings", description="ESG ratings batch job")
    sub = parser.add_subparsers(dest="command", required=True)
    files.add_parsers(sub)
    jobs.add_parsers(sub)
    sandbox.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (CliError, ConfigError) as err:
        print(f"esg-ratings: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)
