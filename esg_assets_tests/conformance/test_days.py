"""Conformance against an independent upstream server (upstream.py), run the way an outside
suite would (harness.py). Day 1 (feed 501): every kind of answer, the three files byte for byte or
field by field, attempts and API counts against the server's log. Day 2: change detection with a
real, paginated feed. Day 3: the feed gone again (every account called). The days build on each
other (state), so they run in order in this one module. The targeted rerun (§7: a Successful
account turned Failed, a Failed one Successful, the other rows byte-identical, the errors file and
the summary rebuilt) is test_cli_contract.py's, on its six-account day."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from esg_assets_tests.conformance import worlds as w
from esg_assets_tests.conformance.harness import RFC3339_UTC, Day, job_env, rows
from esg_assets_tests.conformance.upstream import CLIENT_SECRET, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def server() -> Iterator[Upstream]:
    with Upstream(w.day1_world()).running() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, server: Upstream) -> dict[str, str]:
    return job_env(tmp_path_factory.mktemp("conf-home"), server, ESG_API_TIMEOUT_SECONDS="1")


@pytest.fixture(scope="module")
def day1(server: Upstream, home: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Day:
    return Day(server, home, w.DAY1, tmp_path_factory.mktemp("out1"))


@pytest.fixture(scope="module")
def day2(day1: Day, server: Upstream, home: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Day:
    first_esg = min(e.start for e in day1.esg())
    now = w.iso(time.time())
    feed = [("F-404", now), ("P-overall", now), ("GHOST-1", now), ("S-feed", now),
            ("S-keep", w.iso(first_esg - 3600))]  # before P's run: a correct `since` filters it out
    server.set_world(w.later_world(feed))
    return Day(server, home, w.DAY2, tmp_path_factory.mktemp("out2"))


@pytest.fixture(scope="module")
def day3(day2: Day, server: Upstream, home: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Day:
    server.set_world(w.later_world(None, renamed="Third Name"))
    return Day(server, home, w.DAY3, tmp_path_factory.mktemp("out3"))


# ---- day 1: every kind of answer, feed 501 -------------------------------------------------------
def test_day1_ratings_csv_byte_for_byte(day1: Day) -> None:
    assert day1.files["ratings"] == w.csv_text(w.DAY1_ROWS)


def test_day1_errors_csv(day1: Day) -> None:
    raw = day1.files["errors"]
    assert raw.startswith(b"Account ID,Attempts,Error Kind,HTTP Status,Error Message,Last Attempt At\r\n")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    table = rows(raw)
    assert [r[0] for r in table[1:]] == sorted(w.DAY1_ERRORS)
    last_arrival = {e.account_id: e.start for e in day1.log if e.kind == "analysis"}
    for aid, attempts, kind, status, message, at in table[1:]:
        assert (int(attempts), kind, status) == w.DAY1_ERRORS[aid], aid
        assert message.strip(), aid
        assert RFC3339_UTC.fullmatch(at), at
        stamp = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        assert abs(stamp - last_arrival[aid]) < 2.0, (aid, at)
    assert CLIENT_SECRET.encode() not in raw


def test_day1_attempts_match_the_server_log(day1: Day) -> None:
    calls = day1.per_account()
    assert set(calls) == set(w.NAMES)
    expected = {aid: 1 for aid in w.NAMES} | {aid: n for aid, (n, _, _) in w.DAY1_ERRORS.items()}
    expected |= {"C-429": 2, "C-503": 2, "C-BAD": 2, "C-RANGE": 3, "C-DROP": 2, "C-SLOW": 2}
    assert dict(calls) == expected


def test_day1_summary(day1: Day) -> None:
    s = day1.summary
    assert s["partition"] == w.DAY1 and s["total_accounts"] == 35
    assert s["status_counts"] == {"Successful": 17, "Partial": 6, "Failed": 12}
    assert s["success_rate"] == 0.4857 and s["call_failure_rate"] == 0.3429
    assert s["accounts_called"] == 35 and s["carried_forward"] == 0
    assert s["average_scores"] == w.DAY1_AVERAGES
    assert s["primary_focus_distribution"] == w.DAY1_FOCUS
    assert s["failed_accounts"] == w.DAY1_FAILED
    esg = day1.esg()
    tokens = [e for e in day1.log if e.kind == "token"]
    api = dict(s["api"])
    assert {k: api[k] for k in ("requests", "retries", "rate_limited")} == {
        "requests": len(esg),
        "retries": sum(n - 1 for n in day1.per_account().values()),
        "rate_limited": sum(1 for e in esg if e.status == 429),
    }
    # "token_refreshes (token requests after the first)": every token request of the run counts.
    assert api["token_refreshes"] == len(tokens) - 1, [round(e.start - day1.started, 2) for e in tokens]


def test_day1_requests_as_the_contract_says(day1: Day) -> None:
    # HTTP Basic client auth accepted on the first try, bearer everywhere else, no 401 from a
    # token used past its (short) lifetime.
    assert all(e.status == 200 for e in day1.log if e.kind == "token")
    assert all(e.authorized_header for e in day1.log)
    assert not [e for e in day1.log if e.status == 401]
    assert not [e for e in day1.log if e.kind == "other"]
    ams = [e for e in day1.log if e.kind == "ams"]
    assert [e.status for e in ams] == [200] * 6 and all(e.query["status"] == ["active"] for e in ams)
    # Retry-After as an HTTP-date is a minimum wait.
    c429 = [e for e in day1.log if e.account_id == "C-429"]
    assert c429[0].status == 429 and c429[0].retry_not_before is not None
    assert c429[1].start >= c429[0].retry_not_before
    output = day1.done.stdout + day1.done.stderr + b"".join(day1.files.values()).decode()
    for secret in [CLIENT_SECRET, *day1.tokens]:
        assert secret not in output


# ---- day 2: a real feed; day 3: the feed gone ------------------------------------------------------
def test_day2_change_detection_calls_exactly_the_changed(day1: Day, day2: Day) -> None:
    assert sorted(day2.per_account()) == w.DAY2_CALLED
    assert all(n == 1 for n in day2.per_account().values())
    feed = [e for e in day2.log if e.kind == "feed"]
    assert [e.status for e in feed] == [200, 200]
    since = {e.query["since"][0] for e in feed}
    assert len(since) == 1
    since_t = datetime.fromisoformat(since.pop().replace("Z", "+00:00")).timestamp()
    first_esg = min(e.start for e in day1.esg())
    assert day1.started - 1 <= since_t <= first_esg


def test_day2_carried_rows_equal_day_one(day1: Day, day2: Day) -> None:
    old = {r[0]: line for r, line in zip(rows(w.csv_text(w.DAY1_ROWS))[1:], w.DAY1_ROWS)}
    expected = []
    for aid in sorted(w.NAMES):
        if aid in w.DAY2_CALLED:
            expected.append(f"{aid},{w.NAMES[aid]},{w.NEW_ROW_TAIL}")
        elif aid == "S-rename":
            expected.append(old[aid].replace("Will Be Renamed", '"Renamed, Again"'))
        else:
            expected.append(old[aid])
    assert day2.files["ratings"] == w.csv_text(expected)
    s = day2.summary
    assert (s["accounts_called"], s["carried_forward"], s["total_accounts"]) == (20, 15, 35)
    assert s["status_counts"] == {"Successful": 35, "Partial": 0, "Failed": 0}
    assert s["failed_accounts"] == [] and s["call_failure_rate"] == 0.0
    assert s["api"]["requests"] == len(day2.esg()) and s["api"]["retries"] == 0
    assert day2.files["errors"] == b"Account ID,Attempts,Error Kind,HTTP Status,Error Message,Last Attempt At\r\n"


def test_day3_feed_501_calls_every_account(day3: Day) -> None:
    assert sorted(day3.per_account()) == sorted(w.NAMES)
    assert [e.status for e in day3.log if e.kind == "feed"] in ([501], [])
    s = day3.summary
    assert (s["accounts_called"], s["carried_forward"]) == (35, 0)
    assert s["api"]["requests"] == len(day3.esg())
    assert b"S-rename,Third Name," in day3.files["ratings"]
