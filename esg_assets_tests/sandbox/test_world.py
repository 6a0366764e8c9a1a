"""Unit tests of the sandbox's pure parts: generated data, pagination, days, scripts, tokens."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from esg_assets.sandbox import generate as gen
from esg_assets.sandbox.behaviour import ERROR_MIX, Behaviours, parse_step, render
from esg_assets.sandbox.tokens import TokenStore
from esg_assets.sandbox.world import World, parse_rfc3339

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 11, 0, 0, tzinfo=UTC)


def all_accounts(world: World, limit: int = 1000, dup: float = 0.0) -> list[dict[str, str]]:
    out, cursor = [], None
    while True:
        data, cursor = world.list_accounts(limit, cursor, dup)
        assert len(data) <= limit
        out += data
        if cursor is None:
            return out


def test_generation_is_deterministic_per_seed() -> None:
    a, b, c = World(5, 200, TODAY), World(5, 200, TODAY), World(6, 200, TODAY)
    assert all_accounts(a) == all_accounts(b)
    assert all_accounts(a) != all_accounts(c)
    assert [a.analysis(i) for i in range(1, 50)] == [b.analysis(i) for i in range(1, 50)]
    assert [a.analysis(i) for i in range(1, 50)] != [c.analysis(i) for i in range(1, 50)]


@pytest.mark.parametrize("seed", [1, 2, 99])
def test_first_twenty_names_hold_every_special_kind(seed: int) -> None:
    names = [gen.account_name(seed, i) for i in range(1, 21)]
    assert any("," in n for n in names)
    assert any('"' in n for n in names)
    assert any(not n.isascii() for n in names)
    assert any("\r\n" in n for n in names)
    assert any("\n" in n and "\r\n" not in n for n in names)


def test_special_names_are_a_few_percent_each() -> None:
    kinds = [gen.name_kind(1, i) for i in range(1, 20001)]
    for kind in ("comma", "quote", "non_ascii", "lf", "crlf"):
        assert 0.02 < kinds.count(kind) / len(kinds) < 0.04, kind


def test_scores_are_exact_decimals_in_range_with_edge_cases() -> None:
    texts = [gen.score_text(gen.h64(1, "t", i)) for i in range(5000)]
    for text in texts:
        value = Decimal(text)
        assert 0 <= value <= 100
        assert len(text.partition(".")[2]) <= 6
        assert json.loads(text) is not None  # valid JSON number text
    assert any("." not in t for t in texts)
    assert any(len(t.partition(".")[2]) == 3 and t.endswith("5") for t in texts)
    assert any(t.endswith("4999") for t in texts)


def test_initial_analysis_dates_are_today_minus_zero_to_two_days() -> None:
    world = World(1, 500, TODAY)
    days = {world.analysis(i)[1] for i in range(1, 501)}
    assert days == {TODAY - timedelta(days=d) for d in range(3)}


def test_updated_at_is_rfc3339_utc() -> None:
    world = World(1, 10, TODAY)
    stamp = world.account(1)["updated_at"]
    assert stamp.endswith("Z") and parse_rfc3339(stamp) < datetime.combine(TODAY, datetime.min.time(), UTC)


def test_pagination_is_complete_and_ordered() -> None:
    world = World(1, 2345, TODAY)
    ids = [a["account_id"] for a in all_accounts(world, 1000)]
    assert ids == [gen.account_id(i) for i in range(1, 2346)]
    data, cursor = world.list_accounts(1000)
    assert len(data) == 1000 and cursor is not None
    with pytest.raises(ValueError):
        world.list_accounts(10, "not-a-cursor")


def test_duplicates_repeat_records_across_pages_but_lose_none() -> None:
    world = World(1, 3000, TODAY)
    records = all_accounts(world, 500, dup=0.01)
    ids = [a["account_id"] for a in records]
    assert set(ids) == {gen.account_id(i) for i in range(1, 3001)}
    assert len(ids) > len(set(ids))


def test_advance_semantics() -> None:
    world = World(1, 20, TODAY)
    before_a3 = world.analysis(3)
    before_u1 = world.updated_at(1)
    summary = world.advance(
        {"days": 1, "ams_updated": ["ACC-0000001"], "esg_changed": ["ACC-0000003"],
         "esg_changed_silently": ["ACC-0000004"], "added": 2, "removed": ["ACC-0000005"]}, NOW)
    assert world.today == TODAY + timedelta(days=1) and summary["today"] == "2026-11-28"
    assert world.updated_at(1) > before_u1
    a3, d3 = world.analysis(3)
    assert a3 != before_a3[0] and d3 == world.today
    assert world.analysis(4)[1] == world.today
    ids = [a["account_id"] for a in all_accounts(world)]
    assert "ACC-0000005" not in ids and ids[-2:] == ["ACC-0000021", "ACC-0000022"]
    assert world.exists(5)  # removed accounts still have an analysis
    feed, cursor = world.changes_since(NOW)
    assert feed == [{"account_id": "ACC-0000003", "changed_at": "2026-11-27T11:00:00.000000Z"}]
    assert cursor is None
    assert world.changes_since(NOW + timedelta(microseconds=1))[0] == []


def test_ams_bumps_are_strictly_increasing_within_one_second() -> None:
    world = World(1, 5, TODAY)
    world.advance({"days": 0, "ams_updated": ["ACC-0000002"]}, NOW)
    first = world.updated_at(2)
    world.advance({"days": 0, "ams_updated": ["ACC-0000002"]}, NOW)
    assert world.updated_at(2) == first + timedelta(seconds=1)


def test_advance_validates_everything_before_changing_anything() -> None:
    world = World(1, 5, TODAY)
    with pytest.raises(ValueError):
        world.advance({"esg_changed": ["ACC-0000001"], "removed": ["ACC-0000099"]}, NOW)
    with pytest.raises(ValueError):
        world.advance({"bogus": 1}, NOW)
    assert world.today == TODAY and not world.changes and not world.removed


def test_random_changes_are_deterministic() -> None:
    spec = {"random_changes": {"ams_fraction": 0.05, "esg_fraction": 0.05}}
    one, two = World(3, 2000, TODAY).advance(spec, NOW), World(3, 2000, TODAY).advance(spec, NOW)
    assert one == two
    assert 40 < len(one["esg_changed"]) < 160 and 40 < len(one["ams_updated"]) < 160


def test_changes_feed_pages() -> None:
    world = World(1, 50, TODAY)
    world.advance({"esg_changed": [gen.account_id(i) for i in range(1, 26)]}, NOW)
    page, cursor = world.changes_since(NOW - timedelta(hours=1), limit=10)
    pages = [page]
    while cursor:
        page, cursor = world.changes_since(NOW - timedelta(hours=1), 10, cursor)
        pages.append(page)
    assert [len(p) for p in pages] == [10, 10, 5]


def test_a_million_accounts_cost_little() -> None:
    world = World(1, 1_000_000, TODAY)
    start = time.perf_counter()
    data, cursor = world.list_accounts(1000, world.list_accounts(1, None)[1])
    data, cursor = world.list_accounts(1000, "YTo5OTkwMDE")  # cursor of index 999001
    assert data[-1]["account_id"] == "ACC-1000000" and cursor is None
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("step", ["ok", "503", "429:2", "429:date", "timeout", "reset", "partial",
                                  "partial-absent", "nodata", "invalid-pillar", "401", "408"])
def test_parse_step_accepts(step: str) -> None:
    assert parse_step(step) == step


@pytest.mark.parametrize("step", ["okay", "200", "99", "429:x", "503:2", None])
def test_parse_step_rejects(step: object) -> None:
    with pytest.raises(ValueError):
        parse_step(step)


def test_script_steps_in_order_then_last_repeats() -> None:
    beh = Behaviours(1)
    beh.set_scripts({"ACC-0000001": ["503", "429:2", "ok"]})
    steps = [beh.step_for("ACC-0000001", 1, n) for n in range(1, 6)]
    assert steps == ["503", "429:2", "ok", "ok", "ok"]
    assert beh.step_for("ACC-0000002", 2, 1) == "ok"
    with pytest.raises(ValueError):
        beh.set_scripts({"ACC-0000003": ["ok", "nope"]})
    assert "ACC-0000003" not in beh.scripts


def test_error_mix_is_deterministic_and_transient_kinds_recover() -> None:
    beh = Behaviours(1, error_rate=0.3)
    kinds = [beh.mix_kind(i) for i in range(1, 3001)]
    assert kinds == [Behaviours(1, error_rate=0.3).mix_kind(i) for i in range(1, 3001)]
    assert 0.25 < sum(k is not None for k in kinds) / 3000 < 0.35
    assert set(kinds) - {None} == set(ERROR_MIX)  # every kind occurs
    index = kinds.index("transient-502") + 1
    assert [beh.step_for(gen.account_id(index), index, n) for n in (1, 2, 3, 4)] == ["502", "502", "ok", "ok"]


def _body(step: str) -> tuple[int, object]:
    a = gen.analysis(1, 7, 0)
    reply = render(step, "ACC-0000007", a, TODAY, 1, 7, time.time(), 15.0)
    try:
        return reply.status, json.loads(reply.body, parse_float=Decimal)
    except ValueError:
        return reply.status, reply.body


def test_render_ok_writes_numbers_verbatim() -> None:
    a = gen.analysis(1, 7, 0)
    reply = render("ok", "ACC-0000007", a, TODAY, 1, 7, 0.0, 15.0)
    assert f'"overall":{a.overall},' in reply.body.decode()
    assert f'"score":{a.primary_score}}}' in reply.body.decode()


def test_render_invalid_and_partial_steps() -> None:
    assert _body("invalid-json")[1] == _body("invalid-json")[1] and isinstance(_body("invalid-json")[1], bytes)
    assert isinstance(_body("invalid-array")[1], list)
    assert "account_id" not in _body("invalid-missing-id")[1]  # type: ignore[operator]
    assert _body("invalid-wrong-id")[1]["account_id"] != "ACC-0000007"  # type: ignore[index]
    assert _body("invalid-score-type")[1]["scores"]["overall"] == "abc"  # type: ignore[index]
    assert _body("invalid-score-range")[1]["scores"]["environmental"] == 150  # type: ignore[index]
    assert _body("invalid-pillar")[1]["primary_focus"]["pillar"] == "Economic"  # type: ignore[index]
    assert _body("invalid-date")[1]["analysis_date"] == "2026-13-45"  # type: ignore[index]
    partial = _body("partial")[1]
    assert partial["scores"]["governance"] is None and partial["primary_focus"]["score"] is None  # type: ignore[index]
    absent = _body("partial-absent")[1]
    assert "governance" not in absent["scores"] and "score" not in absent["primary_focus"]  # type: ignore[index]
    nodata = _body("nodata")[1]
    assert set(nodata["scores"].values()) == {None} and nodata["primary_focus"] == {"pillar": None, "score": None}  # type: ignore[index]


def test_token_store_expiry_revocation_and_script() -> None:
    store = TokenStore("id", "secret", ttl=10)
    basic = "Basic aWQ6c2VjcmV0"  # id:secret
    reply = store.request(basic, b"grant_type=client_credentials", 100.0, 15.0)
    token = json.loads(reply.body)["access_token"]
    assert reply.status == 200 and store.valid(f"Bearer {token}", 109.9)
    assert not store.valid(f"Bearer {token}", 110.0)
    token = json.loads(store.request(basic, b"grant_type=client_credentials", 200.0, 15.0).body)["access_token"]
    store.revoke_all()
    assert not store.valid(f"Bearer {token}", 200.0)
    assert store.request("Basic aWQ6bm9wZQ==", b"grant_type=client_credentials", 0, 15).status == 401
    assert store.request(basic, b"grant_type=password", 0, 15).status == 400
    store.set_script(["500", "timeout", "ok"])
    assert [store.request(basic, b"grant_type=client_credentials", 0, 15).status for _ in range(3)] == [500, 200, 200]


def test_analysis_age_knob_plays_a_provider_keeping_analyses_for_months() -> None:
    ages = {(TODAY - World(1, 500, TODAY, (30, 400)).analysis(i)[1]).days for i in range(1, 501)}
    assert min(ages) >= 30 and max(ages) <= 400 and len(ages) > 200
    assert {(TODAY - World(1, 50, TODAY).analysis(i)[1]).days for i in range(1, 51)} <= {0, 1, 2}  # default


def test_a_silent_change_gives_new_values_without_bump_or_feed_entry() -> None:
    world = World(1, 5, TODAY, (30, 400))
    before, updated = world.analysis(2), world.account(2)["updated_at"]
    world.advance({"esg_changed_silently": ["ACC-0000002"]}, NOW)
    after = world.analysis(2)
    assert after[0] != before[0] and after[1] == TODAY + timedelta(days=1)
    assert world.account(2)["updated_at"] == updated
    assert world.changes_since(NOW - timedelta(days=1))[0] == []
