"""`esg-ratings`: the job's command line (configuration.md, "Command line").

Each sub-command lives beside the code it drives and registers itself here:
`files` and `audit` in `esg_assets.storage.cli`, `rerun` and `history` in `esg_assets.jobcli`,
`sandbox` in `esg_assets.sandbox.cli`. Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from esg_assets.settings import ConfigError


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    from esg_assets import jobcli
    from esg_assets.sandbox import cli as sandbox_cli
    from esg_assets.storage import cli as storage_cli

    parser = argparse.ArgumentParser(prog="esg-ratings", description="ESG ratings batch job")
    sub = parser.add_subparsers(dest="command", required=True)
    storage_cli.add_parsers(sub)
    jobcli.add_parsers(sub)
    sandbox_cli.add_parsers(sub)
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


if __name__ == "__main__":
    sys.exit(main())
