"""`state/accounts_repo.py` on a real, encrypted state database: the day's list swapped whole
(the later record of a duplicated ID wins, a failing page leaves the old list), and the IDs a
rerun names that are not on it."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from esg_assets.domain.models import Account
from esg_assets.state.accounts_repo import account_count, replace_accounts, unknown_ids
from esg_assets_tests.state.statedb import D, P, accounts, state_db


@pytest.fixture
def con(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    with state_db(tmp_path) as c:
        yield c


def listed(con: duckdb.DuckDBPyConnection, partition: str = D) -> list[tuple[str, str, str]]:
    return con.execute("SELECT account_id, account_name, updated_at FROM accounts WHERE partition = ? ORDER BY account_id",
                       [partition]).fetchall()


def test_pages_are_stored_in_account_order_and_counted(con) -> None:
    assert replace_accounts(con, D, [accounts("B2", "A9"), [], accounts("C1")]) == (3, 0)
    assert [a for a, _, _ in listed(con)] == ["A9", "B2", "C1"]
    assert account_count(con, D) == 3 and account_count(con, P) == 0


def test_a_duplicated_id_keeps_its_later_record(con) -> None:
    pages = [[Account("A1", "First", "2026-01-01T00:00:00Z"), Account("A2", "Two", "2026-01-01T00:00:00Z")],
             [Account("A1", "Second", "2026-02-01T00:00:00Z")], [Account("A1", "Third", "2026-03-01T00:00:00Z")]]
    assert replace_accounts(con, D, pages) == (2, 2)
    assert listed(con) == [("A1", "Third", "2026-03-01T00:00:00Z"), ("A2", "Two", "2026-01-01T00:00:00Z")]


def test_the_list_is_replaced_whole_and_other_days_are_untouched(con) -> None:
    replace_accounts(con, P, [accounts("A1", "A2")])
    replace_accounts(con, D, [accounts("A1", "A2", "A3")])
    assert replace_accounts(con, D, [accounts("A3", "A4")]) == (2, 0)  # again: idempotent per day
    assert [a for a, _, _ in listed(con)] == ["A3", "A4"]
    assert [a for a, _, _ in listed(con, P)] == ["A1", "A2"]


def test_a_page_that_fails_leaves_the_previous_list_untouched(con) -> None:
    replace_accounts(con, D, [accounts("A1", "A2")])
    before = listed(con)

    def pages() -> Iterator[list[Account]]:
        yield accounts("B1")
        raise RuntimeError("page 2 lost")

    with pytest.raises(RuntimeError, match="page 2 lost"):
        replace_accounts(con, D, pages())
    assert listed(con) == before
    assert replace_accounts(con, D, [accounts("C1")]) == (1, 0)  # the staging tables are rebuilt next time


def test_an_empty_list_empties_the_day(con) -> None:
    replace_accounts(con, D, [accounts("A1")])
    assert replace_accounts(con, D, []) == (0, 0)
    assert listed(con) == []


def test_unknown_ids_are_those_not_on_the_days_list_once_each_sorted(con) -> None:
    replace_accounts(con, D, [accounts("A1", "A2")])
    replace_accounts(con, P, [accounts("Z9")])
    assert unknown_ids(con, D, []) == []
    assert unknown_ids(con, D, ["A2", "A1"]) == []
    assert unknown_ids(con, D, ["Z9", "A1", "NOPE", "Z9"]) == ["NOPE", "Z9"]  # Z9 is another day's
