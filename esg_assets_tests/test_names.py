"""`esg_assets.names` holds the keys and check names the sensors, run records and the command line
use without importing the assets: they must be the names the definitions actually give."""

from esg_assets.definitions import defs
from esg_assets.names import ASSET_KEYS, CALL_FAILURE_CHECK_KEY, CHECK_NAMES, RATINGS_KEY


def test_the_asset_keys_are_the_defined_assets() -> None:
    assert set(defs.resolve_asset_graph().get_all_asset_keys()) == ASSET_KEYS


def test_the_check_names_are_the_defined_checks_of_esg_ratings() -> None:
    checks = defs.resolve_asset_graph().asset_check_keys
    assert {c.name for c in checks} == set(CHECK_NAMES)
    assert {c.asset_key for c in checks} == {RATINGS_KEY}
    assert CALL_FAILURE_CHECK_KEY in checks
