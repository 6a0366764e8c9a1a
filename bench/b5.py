"""B5: what change detection saves against a provider that keeps its analyses for months
(docs/benchmarks.md). 30 simulated days after a first full day, N accounts whose provider
analyses are 30-400 days old, 1 % of the accounts changing each day (half by an AMS
`updated_at` bump, half through the changes feed, each with a new analysis dated that day).

The days are replayed on the plan module itself (`esg_assets.domain.plan`: the same predicates
and sample the job applies), without HTTP or a database: 30 days x 100,000 accounts through the
sandbox would measure the rate limit, not the rule. Every call is assumed to succeed (a failed
call only adds calls the next day, under both rules alike). The contract 1.0 rule is replayed
beside it (rule 4 on the provider's Analysis Date), and both are held against the bound
"changed + new + sample + ceil(N/8) per day on average" (every account re-confirmed at least
once in 8 days).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from esg_assets.domain import plan as p

FIRST_DAY = date(2026, 11, 1)


@dataclass
class _Account:
    updated: int  # AMS updated_at version
    analysis_date: str  # the provider's
    verified_on: str  # contract 1.1: partition of the last call (or P's, when carried)
    p_updated: int  # updated_at recorded with its row of P, under each rule's own history
    p_updated_v1: int
    p_analysis_v1: str  # Analysis Date of its row of P under the 1.0 rule


def b5(accounts: int = 100_000, days: int = 30, change_fraction: float = 0.01, sample: int = 20,
       max_age_days: int = 7, seed: int = 5) -> dict[str, Any]:
    rnd = random.Random(seed)
    ids = [f"ACC-{i:07d}" for i in range(1, accounts + 1)]
    world = {
        a: _Account(0, (FIRST_DAY - timedelta(days=rnd.randint(30, 400))).isoformat(), FIRST_DAY.isoformat(), 0, 0, "")
        for a in ids
    }
    for acc in world.values():  # day 0: everyone called under both rules
        acc.p_analysis_v1 = acc.analysis_date
    per_day_v11: list[int] = []
    per_day_v10: list[int] = []
    changed_per_day = round(accounts * change_fraction)
    for n in range(1, days + 1):
        day = (FIRST_DAY + timedelta(days=n)).isoformat()
        changed = rnd.sample(ids, changed_per_day)
        by_ams, by_feed = changed[: changed_per_day // 2], set(changed[changed_per_day // 2:])
        for a in by_ams:
            world[a].updated += 1
            world[a].analysis_date = day
        for a in by_feed:
            world[a].analysis_date = day
        plan = p.plan_day(day, p.Mode.FRESH, ("previous", "since"), account_ids=[], full_refresh=False,
                          max_age_days=max_age_days, sample_size=sample)

        def facts(a: str) -> p.AccountFacts:
            acc = world[a]
            return p.AccountFacts(a, str(acc.updated), "Successful", str(acc.p_updated), acc.verified_on, a in by_feed)

        candidates = [a for a in ids if p.carry_candidate(plan, facts(a))]
        plan = plan.with_sample(candidates)
        carried = set(candidates) - set(plan.sample)
        per_day_v11.append(accounts - len(carried))
        for a in ids:
            acc = world[a]
            if a not in carried:
                acc.verified_on = day
            acc.p_updated = acc.updated

        # Contract 1.0: the same rules 1-3 and 5, rule 4 on the Analysis Date of P's row, no sample.
        oldest = p.oldest_verified_on(day, max_age_days)
        calls_v10 = 0
        for a in ids:
            acc = world[a]
            keep = acc.updated == acc.p_updated_v1 and a not in by_feed and acc.p_analysis_v1 >= oldest
            if not keep:
                calls_v10 += 1
                acc.p_analysis_v1 = acc.analysis_date
            acc.p_updated_v1 = acc.updated
        per_day_v10.append(calls_v10)

    bound = changed_per_day + 0 + sample + math.ceil(accounts / 8)
    peak = max(range(days), key=lambda i: per_day_v11[i])
    return {
        "accounts": accounts, "days": days, "changed_per_day": changed_per_day, "new_per_day": 0, "sample": sample,
        "calls_per_day_1_1": per_day_v11, "calls_per_day_1_0": per_day_v10,
        "total_calls_1_1": sum(per_day_v11), "total_calls_1_0": sum(per_day_v10),
        "average_per_day_1_1": round(sum(per_day_v11) / days, 1), "average_per_day_1_0": round(sum(per_day_v10) / days, 1),
        "bound_per_day_average": bound, "within_bound": sum(per_day_v11) / days <= bound,
        "saved_vs_1_0": round(1 - sum(per_day_v11) / sum(per_day_v10), 4),
        "peak_day": peak + 1, "peak_day_calls": per_day_v11[peak],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(b5(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=1))
