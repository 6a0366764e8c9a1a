"""The conformance server's data and the files the contract says the job must write from it,
written out by hand (output-and-behaviour.md §1-§3), never computed by the job's own code."""

from __future__ import annotations

import time

from esg_assets_tests.conformance.upstream import Reply, World

DAY1 = "2026-11-20"
DAY2 = "2026-11-21"
DAY3 = "2026-11-22"
ABSENT = object()  # a key left out of the JSON body (None writes null)


def obj(**fields: object) -> str:
    """A JSON object from raw literals, so numbers keep the exact text written here."""
    return "{" + ", ".join(f'"{k}": {"null" if v is None else v}' for k, v in fields.items() if v is not ABSENT) + "}"


def analysis(aid: str, scores: object = ABSENT, focus: object = ABSENT, date: str = DAY1) -> str:
    fields: dict[str, object] = {"account_id": f'"{aid}"', "analysis_date": f'"{date}"', "scores": scores, "primary_focus": focus}
    return obj(**fields)


def four(o: object, e: object, s: object, g: object) -> str:
    return obj(overall=o, environmental=e, social=s, governance=g)


def focus(pillar: object, score: object) -> str:
    return obj(pillar=pillar if pillar is None or pillar is ABSENT else f'"{pillar}"', score=score)


def ok(aid: str, o: str, e: str, s: str, g: str, pillar: str, score: str, date: str = DAY1) -> Reply:
    return Reply(200, analysis(aid, four(o, e, s, g), focus(pillar, score), date))


def acct(aid: str, name: str, updated: str = "2026-11-10T09:30:00Z") -> dict[str, str]:
    return {"account_id": aid, "account_name": name, "status": "active", "updated_at": updated}


OOPS_503 = Reply(503, '{"error": "unavailable", "message": "try later"}')
NOW_429 = Reply(429, '{"error": "slow_down"}', (("Retry-After", "0"),))
DROP = Reply(drop=True)
NAMES = {
    "A-100": "Acme, Inc.", "A-99": 'The "Green" Fund', "A_1": "Line one\r\nLine two", "B-dup": "Renamed Ltd",
    "a-lower": "Société Générale – Øresund Ærø", "C-429": " leading space", "C-503": "Five Oh Three",
    "C-BAD": "Bad Then Good", "C-RANGE": "Range Then Good", "C-DROP": "Dropped Once", "S-old": "Old Analysis",
    "S-edge": "Edge Analysis", "S-upd": "Updated Tomorrow", "S-feed": "In The Feed", "S-keep": "Kept",
    "S-rename": "Will Be Renamed", "F-403": "Forbidden", "F-404": "Not Covered", "F-422": "Unprocessable",
    "F-501": "Not Implemented", "F-503x": "Always 503", "F-mix": "Mixed Failures", "F-429x": "Always 429",
    "F-DROPx": "Always Dropped", "F-nodata": "No Data", "F-empty": "Empty Analysis", "F-pfempty": "Empty Focus",
    "P-overall": "Partial Overall", "P-noscores": "No Scores", "P-pfnull": "Focus Null", "P-pfabsent": "Focus Absent",
    "P-pillarnull": "Pillar Null", "P-pscoreabs": "Score Absent", "C-SLOW": "Slow Once", "F-SLOWx": "Always Slow",
}
SLOW = Reply(200, "{}", delay=1.6)  # past ESG_API_TIMEOUT_SECONDS=1 of the day-1 run
# AMS page order (the server pages 7 at a time): unsorted, and B-dup twice (the later record wins).
AMS_ORDER = ["S-keep", "F-503x", "B-dup", "a-lower", "P-pfnull", "C-429", "A-99",
             "F-403", "P-overall", "A_1", "C-DROP", "S-rename", "F-mix", "F-empty",
             "C-RANGE", "S-old", "F-nodata", "P-noscores", "F-422", "A-100", "S-upd",
             "F-DROPx", "P-pillarnull", "C-BAD", "F-pfempty", "S-edge", "F-404", "B-dup",
             "P-pscoreabs", "F-501", "S-feed", "C-503", "F-429x", "P-pfabsent", "F-SLOWx",
             "C-SLOW"]


def day1_accounts() -> list[dict[str, str]]:
    out, seen_dup = [], False
    for aid in AMS_ORDER:
        if aid == "B-dup" and not seen_dup:
            seen_dup = True
            out.append(acct(aid, "Old Name", "2026-11-01T00:00:00Z"))
        else:
            out.append(acct(aid, NAMES[aid], "2026-11-19T08:00:00Z" if aid == "B-dup" else "2026-11-10T09:30:00Z"))
    return out


def day1_world() -> World:
    a: dict[str, list[Reply]] = {
        "A-100": [ok("A-100", "72.455", "72.454999", "80", "1e1", "Environmental", "0.005")],
        "A-99": [ok("A-99", "100", "99.995", "2.675", "1.005", "Social", "12.345")],
        "A_1": [ok("A_1", "0", "0.0", "5E-1", "33.333333", "Governance", "66.666666")],
        "B-dup": [ok("B-dup", "61.1", "62.2", "63.3", "64.4", "Governance", "64.4")],
        "a-lower": [ok("a-lower", "45", "55", "65", "35", "Social", "65")],
        "C-429": [Reply(429, '{"error": "rate_limited"}', retry_after_date_s=1.5),
                  ok("C-429", "40", "41", "42", "43", "Environmental", "41")],
        "C-503": [OOPS_503, ok("C-503", "30", "31", "32", "33", "Social", "32")],
        "C-BAD": [Reply(200, "<html>gateway hiccup</html>"), ok("C-BAD", "20", "21", "22", "23", "Governance", "23")],
        "C-RANGE": [Reply(200, analysis("C-RANGE", four("100.5", "1", "1", "1"), focus("Social", "1"))),
                    Reply(200, analysis("C-OTHER", four("1", "1", "1", "1"), focus("Social", "1"))),
                    ok("C-RANGE", "10.125", "10.135", "10.145", "10.155", "Environmental", "10.165")],
        "C-DROP": [DROP, ok("C-DROP", "11.02", "12", "13", "14", "Social", "12")],
        "C-SLOW": [SLOW, ok("C-SLOW", "8.975", "9", "9", "9", "Environmental", "9")],
        "F-SLOWx": [SLOW],
        "S-old": [ok("S-old", "70", "70", "70", "70", "Environmental", "70", "2026-11-13")],
        "S-edge": [ok("S-edge", "71", "71", "71", "71", "Social", "71", "2026-11-14")],
        "S-upd": [ok("S-upd", "72", "72", "72", "72", "Governance", "72")],
        "S-feed": [ok("S-feed", "73", "73", "73", "73", "Environmental", "73")],
        "S-keep": [ok("S-keep", "74", "74", "74", "74", "Social", "74")],
        "S-rename": [ok("S-rename", "75", "75", "75", "75", "Governance", "75")],
        "F-403": [Reply(403, '{"error": "forbidden"}')],
        "F-404": [Reply(404, '{"error": "not_covered"}')],
        "F-422": [Reply(422, '{"error": "unprocessable"}')],
        "F-501": [Reply(501, '{"error": "not_implemented"}')],
        "F-503x": [OOPS_503],
        "F-mix": [OOPS_503, NOW_429, Reply(200, analysis("F-mix", four("1", "2", "3", "4"), focus("Economic", "5")))],
        "F-429x": [NOW_429],
        "F-DROPx": [DROP],
        "F-nodata": [Reply(200, analysis("F-nodata", four(None, None, None, None), focus(None, None)))],
        "F-empty": [Reply(200, analysis("F-empty"))],
        "F-pfempty": [Reply(200, analysis("F-pfempty", "{}", focus(None, ABSENT)))],
        "P-overall": [Reply(200, analysis("P-overall", four(None, "50", "60", "70"), focus("Social", "60")))],
        "P-noscores": [Reply(200, analysis("P-noscores", ABSENT, focus("Environmental", "70")))],
        "P-pfnull": [Reply(200, analysis("P-pfnull", four("10", "20", "30", "40"), None))],
        "P-pfabsent": [Reply(200, analysis("P-pfabsent", four("15", ABSENT, "25", "35")))],
        "P-pillarnull": [Reply(200, analysis("P-pillarnull", four("1", "2", "3", "4"), focus(None, "55.5")))],
        "P-pscoreabs": [Reply(200, analysis("P-pscoreabs", four("5", "6", "7", "8"), focus("Governance", ABSENT)))],
    }
    return World(accounts=day1_accounts(), analyses=a, feed=None)


def later_world(feed: list[tuple[str, str]] | None, renamed: str = "Renamed, Again") -> World:
    """Days 2 and 3: S-upd's updated_at moved, S-rename renamed; every call answers one new analysis."""
    accounts = []
    for record in day1_accounts():
        record = dict(record)
        if record["account_id"] == "S-upd":
            record["updated_at"] = "2026-11-20T22:15:00Z"
        if record["account_id"] == "S-rename":
            record["account_name"] = renamed
        accounts.append(record)
    analyses = {aid: [ok(aid, "88.885", "0.125", "99.9949", "100", "Social", "50.005", DAY2)] for aid in NAMES}
    return World(accounts=accounts, analyses=analyses, feed=feed)


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1_000_000):06d}Z"


HEADER = ("Account ID,Account Name,Overall ESG Score,Environmental Score,Social Score,Governance Score,"
          "Primary ESG Focus,Primary Focus Score,Analysis Date,Processing Status")
FAILED_NA = "N/A,N/A,N/A,N/A,N/A,N/A,N/A,Failed"
DAY1_ROWS = [
    'A-100,"Acme, Inc.",72.46,72.45,80.00,10.00,Environmental,0.01,2026-11-20,Successful',
    'A-99,"The ""Green"" Fund",100.00,100.00,2.68,1.01,Social,12.35,2026-11-20,Successful',
    'A_1,"Line one\r\nLine two",0.00,0.00,0.50,33.33,Governance,66.67,2026-11-20,Successful',
    "B-dup,Renamed Ltd,61.10,62.20,63.30,64.40,Governance,64.40,2026-11-20,Successful",
    "C-429, leading space,40.00,41.00,42.00,43.00,Environmental,41.00,2026-11-20,Successful",
    "C-503,Five Oh Three,30.00,31.00,32.00,33.00,Social,32.00,2026-11-20,Successful",
    "C-BAD,Bad Then Good,20.00,21.00,22.00,23.00,Governance,23.00,2026-11-20,Successful",
    "C-DROP,Dropped Once,11.02,12.00,13.00,14.00,Social,12.00,2026-11-20,Successful",
    "C-RANGE,Range Then Good,10.13,10.14,10.15,10.16,Environmental,10.17,2026-11-20,Successful",
    "C-SLOW,Slow Once,8.98,9.00,9.00,9.00,Environmental,9.00,2026-11-20,Successful",
    "F-403,Forbidden," + FAILED_NA,
    "F-404,Not Covered," + FAILED_NA,
    "F-422,Unprocessable," + FAILED_NA,
    "F-429x,Always 429," + FAILED_NA,
    "F-501,Not Implemented," + FAILED_NA,
    "F-503x,Always 503," + FAILED_NA,
    "F-DROPx,Always Dropped," + FAILED_NA,
    "F-SLOWx,Always Slow," + FAILED_NA,
    "F-empty,Empty Analysis," + FAILED_NA,
    "F-mix,Mixed Failures," + FAILED_NA,
    "F-nodata,No Data," + FAILED_NA,
    "F-pfempty,Empty Focus," + FAILED_NA,
    "P-noscores,No Scores,N/A,N/A,N/A,N/A,Environmental,70.00,2026-11-20,Partial",
    "P-overall,Partial Overall,N/A,50.00,60.00,70.00,Social,60.00,2026-11-20,Partial",
    "P-pfabsent,Focus Absent,15.00,N/A,25.00,35.00,N/A,N/A,2026-11-20,Partial",
    "P-pfnull,Focus Null,10.00,20.00,30.00,40.00,N/A,N/A,2026-11-20,Partial",
    "P-pillarnull,Pillar Null,1.00,2.00,3.00,4.00,N/A,55.50,2026-11-20,Partial",
    "P-pscoreabs,Score Absent,5.00,6.00,7.00,8.00,Governance,N/A,2026-11-20,Partial",
    "S-edge,Edge Analysis,71.00,71.00,71.00,71.00,Social,71.00,2026-11-14,Successful",
    "S-feed,In The Feed,73.00,73.00,73.00,73.00,Environmental,73.00,2026-11-20,Successful",
    "S-keep,Kept,74.00,74.00,74.00,74.00,Social,74.00,2026-11-20,Successful",
    "S-old,Old Analysis,70.00,70.00,70.00,70.00,Environmental,70.00,2026-11-13,Successful",
    "S-rename,Will Be Renamed,75.00,75.00,75.00,75.00,Governance,75.00,2026-11-20,Successful",
    "S-upd,Updated Tomorrow,72.00,72.00,72.00,72.00,Governance,72.00,2026-11-20,Successful",
    "a-lower,Société Générale – Øresund Ærø,45.00,55.00,65.00,35.00,Social,65.00,2026-11-20,Successful",
]
# Account ID -> (Attempts, Error Kind, HTTP Status) of the errors file.
DAY1_ERRORS = {
    "F-403": (1, "forbidden", "403"), "F-404": (1, "not_found", "404"), "F-422": (1, "http_status", "422"),
    "F-429x": (3, "rate_limited", "429"), "F-501": (1, "http_status", "501"), "F-503x": (3, "http_status", "503"),
    "F-DROPx": (3, "connection", ""), "F-SLOWx": (3, "timeout", ""), "F-empty": (1, "no_data", "200"), "F-mix": (3, "invalid_response", "200"),
    "F-nodata": (1, "no_data", "200"), "F-pfempty": (1, "no_data", "200"),
    "P-noscores": (1, "partial_data", "200"), "P-overall": (1, "partial_data", "200"),
    "P-pfabsent": (1, "partial_data", "200"), "P-pfnull": (1, "partial_data", "200"),
    "P-pillarnull": (1, "partial_data", "200"), "P-pscoreabs": (1, "partial_data", "200"),
}
DAY1_FAILED = sorted(k for k in DAY1_ERRORS if k.startswith("F-"))
# Hand-derived from the exact decimals above (Successful and Partial rows only).
DAY1_AVERAGES = {"overall": 41.18, "environmental": 44.13, "social": 40.89, "governance": 39.45}
DAY1_FOCUS = {"Environmental": 7, "Social": 7, "Governance": 6}
NEW_ROW_TAIL = "88.89,0.13,99.99,100.00,Social,50.01,2026-11-21,Successful"
# Day 2: called = everything not Successful on day 1, S-upd (updated_at moved), S-feed (in the feed);
# the rest is carried forward, S-old too: its analysis is 8 days old, but it was verified by day 1's
# call (contract 1.1, rule 4 on Verified On).
DAY2_CALLED = sorted(DAY1_ERRORS) + ["S-feed", "S-upd"]


def csv_text(rows: list[str]) -> bytes:
    return "".join(line + "\r\n" for line in [HEADER, *rows]).encode("utf-8")
