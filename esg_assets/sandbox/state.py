"""`Sandbox`: all state of one sandbox server (its options, world, seeded behaviours, tokens and
request log).

The admin API (`admin.py`) and the upstream endpoints (`endpoints.py`) take it as their argument
and `server.py` routes requests to them; it has a module of its own so that none of the three
imports another for its type.
"""

from __future__ import annotations

from typing import IO

from esg_assets.sandbox.behaviour import Behaviours
from esg_assets.sandbox.options import Options, chicago_today
from esg_assets.sandbox.reqlog import RequestLog
from esg_assets.sandbox.tokens import TokenStore
from esg_assets.sandbox.world import World


class Sandbox:
    """The state that the handlers read and the admin API changes."""

    def __init__(self, opts: Options, log_file: IO[str] | None = None) -> None:
        self.opts = opts
        self.world = World(opts.seed, opts.accounts, opts.today or chicago_today(), opts.analysis_age_days)
        self.behaviours = Behaviours(opts.seed, opts.error_rate, opts.partial_rate)
        self.tokens = TokenStore(opts.client_id, opts.client_secret, opts.token_ttl)
        self.log = RequestLog(opts.max_log_entries, log_file)

    def apply_options(self) -> None:
        """Push runtime knobs changed through `/_sandbox/config` to the parts that hold them."""
        self.behaviours.error_rate = self.opts.error_rate
        self.behaviours.partial_rate = self.opts.partial_rate
        self.tokens.ttl = self.opts.token_ttl
