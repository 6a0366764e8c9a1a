"""`esg-ratings sandbox serve`: command-line options of the sandbox server.

`add_parsers` is what `esg_assets.cli` registers; `main` is the same command without the rest of
the job (no Dagster import), used by `python -m esg_assets.cli.sandbox serve ...`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date

from esg_assets.sandbox.options import FEED_MODES, Options


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _age_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        lo, hi = int(low), int(high if sep else low)
    except ValueError:
        raise argparse.ArgumentTypeError("must be DAYS or MIN-MAX, in whole days") from None
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError("must be DAYS or MIN-MAX with 0 <= MIN <= MAX")
    return lo, hi


def _add_serve(ssub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = Options()
    p = ssub.add_parser("serve", help="run the sandbox upstream server until SIGTERM/SIGINT")
    p.add_argument("--host", default=d.host, help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=d.port, help="0 picks a free port (default)")
    p.add_argument("--accounts", type=int, default=d.accounts, help="initial active accounts")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of all generated data")
    p.add_argument("--today", type=date.fromisoformat, default=None,
                   help="the world's today, YYYY-MM-DD (default: today in America/Chicago)")
    p.add_argument("--client-id", default=d.client_id)
    p.add_argument("--client-secret", default=d.client_secret)
    p.add_argument("--token-ttl", type=int, default=d.token_ttl, help="token lifetime, seconds")
    p.add_argument("--error-rate", type=_fraction, default=d.error_rate,
                   help="fraction of accounts given a seeded failure behaviour")
    p.add_argument("--partial-rate", type=_fraction, default=d.partial_rate,
                   help="fraction of accounts answering with some values missing")
    p.add_argument("--duplicate-rate", type=_fraction, default=d.duplicate_rate,
                   help="AMS: chance per record that the next page repeats one of the last page")
    p.add_argument("--timeout-delay", type=_non_negative, default=d.timeout_delay,
                   help="seconds a `timeout` answer is held back (default %(default)s)")
    p.add_argument("--rate-limit", type=_non_negative, default=d.rate_limit,
                   help="ESG API requests per 1 s sliding window before 429 (0: off)")
    p.add_argument("--latency-ms", type=_non_negative, default=d.latency_ms,
                   help="added to every ESG analysis answer")
    p.add_argument("--feed-mode", choices=FEED_MODES, default=d.feed_mode)
    p.add_argument("--analysis-age-days", type=_age_range, default=d.analysis_age_days, metavar="MIN-MAX",
                   help="age of each account's first analysis, days before today (default 0-2; a real "
                        "provider: 30-400)")
    p.add_argument("--request-log", default=None, help="append one JSON line per request here")
    p.add_argument("--max-log-entries", type=int, default=d.max_log_entries)
    p.add_argument("--ready-file", default=None, help="write the port here once listening")
    p.add_argument("--tls-cert", default=None, metavar="FILE",
                   help="serve HTTPS with this PEM certificate (chain); needs --tls-key")
    p.add_argument("--tls-key", default=None, metavar="FILE", help="PEM private key of --tls-cert")
    p.set_defaults(func=serve_command)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `sandbox serve` on the `esg-ratings` parser."""
    sandbox = sub.add_parser("sandbox", help="the built-in sandbox upstream server")
    _add_serve(sandbox.add_subparsers(dest="sandbox_command", required=True))


def options_from_args(args: argparse.Namespace) -> Options:
    fields = Options.__dataclass_fields__
    opts = Options(**{k: v for k, v in vars(args).items() if k in fields})
    if bool(opts.tls_cert) != bool(opts.tls_key):
        # Half a TLS configuration would silently fall back to plain HTTP: refuse it instead.
        raise SystemExit("esg-ratings sandbox: error: --tls-cert and --tls-key go together")
    return opts


def serve_command(args: argparse.Namespace) -> int:
    from esg_assets.sandbox.server import run

    return run(options_from_args(args))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="esg-ratings sandbox", description="sandbox upstream server")
    _add_serve(parser.add_subparsers(dest="sandbox_command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
