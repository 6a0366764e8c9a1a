"""The four daily assets: active_accounts -> esg_ratings -> ratings_csv -> daily_summary."""

from esg_assets.assets.accounts import active_accounts
from esg_assets.assets.files import ratings_csv
from esg_assets.assets.ratings import esg_ratings
from esg_assets.assets.summary import daily_summary

ALL_ASSETS = [active_accounts, esg_ratings, ratings_csv, daily_summary]
