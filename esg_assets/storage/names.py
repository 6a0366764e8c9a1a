"""Logical names of the output files: `FirmESGRatings_20261127.csv` and its siblings.

The logical name is the one identifier shared by the assets, the stores, the audit log and
`esg-ratings files get`. It is validated strictly because it becomes a path (local store) or an
object key (S3): nothing that could traverse a directory ever gets through.
"""

from __future__ import annotations

import re
from datetime import date

KINDS: dict[str, str] = {
    "ratings": "FirmESGRatings_{ymd}.csv",
    "errors": "FirmESGErrors_{ymd}.csv",
    "summary": "FirmESGSummary_{ymd}.json",
    "report": "FirmESGReport_{ymd}.html",
    "parquet": "FirmESGRatings_{ymd}.parquet",
    "xlsx": "FirmESGRatings_{ymd}.xlsx",
    "manifest": "FirmESGManifest_{ymd}.json",
}

_PARTITION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NAME = re.compile(
    r"(?P<stem>FirmESGRatings|FirmESGErrors|FirmESGSummary|FirmESGReport|FirmESGManifest)_(?P<ymd>[0-9]{8})"
    r"\.(?P<ext>csv|json|html|parquet|xlsx)"
)


def parse_partition(partition: str) -> date:
    """The date of a partition key `YYYY-MM-DD`; ValueError (one line) for anything else."""
    if not isinstance(partition, str) or not _PARTITION.fullmatch(partition):
        raise ValueError(f"invalid date {partition!r}: expected YYYY-MM-DD")
    try:
        return date.fromisoformat(partition)
    except ValueError:
        raise ValueError(f"invalid date {partition!r}: not a real calendar date") from None


def logical_name(partition: str, kind: str) -> str:
    """The logical file name of `kind` for `partition`, e.g. ('2026-11-27', 'ratings')."""
    day = parse_partition(partition)
    if kind not in KINDS:
        raise ValueError(f"invalid kind {kind!r}: expected one of {', '.join(KINDS)}")
    return KINDS[kind].format(ymd=day.strftime("%Y%m%d"))


def validate_logical_name(name: str) -> str:
    """Return `name` if it is exactly a name `logical_name` can produce; ValueError otherwise."""
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"invalid logical file name {name!r}")
    ymd = match["ymd"]
    try:
        day = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
    except ValueError:
        raise ValueError(f"invalid logical file name {name!r}: not a real date") from None
    for kind, pattern in KINDS.items():
        if pattern.format(ymd=ymd) == name:
            return logical_name(day.isoformat(), kind)
    raise ValueError(f"invalid logical file name {name!r}")


def is_logical_name(name: str) -> bool:
    try:
        validate_logical_name(name)
    except ValueError:
        return False
    return True


def partition_of(name: str) -> date:
    """The partition date a valid logical name belongs to (retention uses it)."""
    ymd = validate_logical_name(name).rsplit("_", 1)[1].split(".", 1)[0]
    return date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))


def partition_names(partition: str) -> dict[str, str]:
    """Every logical name of a partition, by kind (the manifest and `files verify` use it)."""
    return {kind: logical_name(partition, kind) for kind in KINDS}
