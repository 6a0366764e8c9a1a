"""The names and the one number that the job's parts share, written once.

Asset keys, the asset checks' names, the text that marks a run ended by the 09:00 window, and the
5 % call-failure threshold (docs/spec.md#failure-rule). Sensors, run records, the checks, the
command line and the report name an asset or compare a rate through this module; it imports
nothing of the job, so none of them has to import the assets (and, through them, the resources)
for a string.
"""

from decimal import Decimal

import dagster as dg

ACTIVE_ACCOUNTS = "active_accounts"
ESG_RATINGS = "esg_ratings"
RATINGS_CSV = "ratings_csv"
DAILY_SUMMARY = "daily_summary"
ASSET_NAMES = (ACTIVE_ACCOUNTS, ESG_RATINGS, RATINGS_CSV, DAILY_SUMMARY)
ASSET_KEYS = frozenset(dg.AssetKey(name) for name in ASSET_NAMES)
RATINGS_KEY = dg.AssetKey(ESG_RATINGS)

CALL_FAILURE_CHECK = "call_failure_rate_within_5_percent"
CARRY_CHECK = "carried_rows_match_api"
CHECK_NAMES = (CALL_FAILURE_CHECK, CARRY_CHECK)
CALL_FAILURE_CHECK_KEY = dg.AssetCheckKey(RATINGS_KEY, CALL_FAILURE_CHECK)

# The 5 % rule: strictly greater fails; exactly 5 % passes.
MAX_CALL_FAILURE_RATE = Decimal("0.05")

# Written on a run we end at 09:00; "maximum runtime" is what run monitoring writes (1.13: "Canceling
# due to exceeding maximum runtime of N seconds.", then "Exceeded maximum runtime of N seconds.").
WINDOW_MARKER = "ESG 09:00 America/Chicago window exceeded"
WINDOW_PHRASES = (WINDOW_MARKER, "maximum runtime")


def threshold_exceeded(rate: Decimal) -> bool:
    """Strictly greater than 5 % fails; exactly 5 % passes."""
    return rate > MAX_CALL_FAILURE_RATE
