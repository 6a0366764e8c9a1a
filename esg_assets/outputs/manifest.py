"""`FirmESGManifest_YYYYMMDD.json` (docs/spec.md#manifest): the day's set is complete.

The manifest is written last, by `daily_summary`, from the entries each step recorded when it
wrote its files (`state.files_repo`). `ratings_csv` removes the day's manifest before it rewrites
its files, so a consumer never finds a manifest describing files that are being replaced; the
next `daily_summary` (always part of a daily run or a targeted rerun) writes it again.

`verify` (`esg-ratings files verify`) reads every file of the manifest back and compares its plain
size and SHA-256, and flags stored files of the day that the manifest does not list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from esg_assets.state.files_repo import FileEntry
from esg_assets.storage.errors import StoreIntegrityError, StoreNotFoundError
from esg_assets.storage.names import partition_names
from esg_assets.storage.store import Store

CONTRACT_VERSION = "1.1"


def listed_names(partition: str) -> list[str]:
    """The files a complete day has (every kind but the manifest), in plain byte order."""
    names = partition_names(partition)
    return sorted((n for k, n in names.items() if k != "manifest"), key=lambda n: n.encode())


def manifest_bytes(partition: str, run_id: str, generated_at: str, entries: Mapping[str, FileEntry]) -> bytes:
    """The manifest document; ValueError naming the first file of the day without an entry."""
    files: list[dict[str, Any]] = []
    for name in listed_names(partition):
        entry = entries.get(name)
        if entry is None:
            raise ValueError(f"{name} has not been written for {partition}: materialize ratings_csv first")
        item: dict[str, Any] = {"name": name, "bytes": entry.bytes, "sha256": entry.sha256}
        if entry.rows is not None:
            item["rows"] = entry.rows
        files.append(item)
    doc = {"partition": partition, "run_id": run_id, "generated_at": generated_at,
           "contract_version": CONTRACT_VERSION, "files": files}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class VerifyOutcome:
    ok: bool
    checked: int
    problem: str = ""

    def __str__(self) -> str:
        return f"{self.checked} files match the manifest" if self.ok else self.problem


def _digest(store: Store, name: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for chunk in store.read(name):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def verify(store: Store, partition: str) -> VerifyOutcome:
    """Every file of the manifest read back and compared; the first mismatch is the answer."""
    manifest_name = partition_names(partition)["manifest"]
    try:
        doc = json.loads(b"".join(store.read(manifest_name)))
        entries = {e["name"]: e for e in doc["files"]}
    except StoreNotFoundError:
        return VerifyOutcome(False, 0, f"no manifest for {partition} in the store ({manifest_name})")
    except (ValueError, KeyError, TypeError):
        return VerifyOutcome(False, 0, f"{manifest_name} is not a valid manifest")
    checked = 0
    for name in listed_names(partition):
        if name not in entries:
            return VerifyOutcome(False, checked, f"{name}: not listed in {manifest_name}")
        try:
            size, sha256 = _digest(store, name)
        except StoreNotFoundError:
            return VerifyOutcome(False, checked, f"{name}: listed in the manifest but missing from the store")
        except StoreIntegrityError as err:
            return VerifyOutcome(False, checked, f"{name}: {err}")
        if size != entries[name].get("bytes") or sha256 != entries[name].get("sha256"):
            return VerifyOutcome(False, checked, f"{name}: content differs from the manifest "
                                                 f"({size} bytes, sha256 {sha256})")
        checked += 1
    extra = sorted(set(entries) - set(listed_names(partition)))
    if extra:
        return VerifyOutcome(False, checked, f"{extra[0]}: listed in the manifest but not a file of {partition}")
    return VerifyOutcome(True, checked)
