"""`esg-ratings files ...`, `audit ...` and `keys rotate` (configuration.md, "Command line").

User errors raise `esg_assets.cli.errors.CliError`, which the main command prints as one line.
Nothing here prints a key or secret.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import NoReturn

from esg_assets.cli.errors import CliError
from esg_assets.clock import utc_text
from esg_assets.settings import StorageSettings, load_storage
from esg_assets.storage import audit
from esg_assets.storage.errors import StoreError, StoreNotFoundError
from esg_assets.storage.names import KINDS, logical_name, parse_partition
from esg_assets.storage.tempfiles import atomic_write, sweep_leftovers


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `files` and `audit` on the main command's sub-parsers."""
    files = sub.add_parser("files", help="read the stored output files")
    files_sub = files.add_subparsers(dest="files_command", required=True)
    get = files_sub.add_parser("get", help="write one day's plain file into a directory (audited)")
    get.add_argument("date", metavar="YYYY-MM-DD", help="partition date")
    # No argparse `choices`: a bad value must give our one-line error, not argparse's usage text.
    get.add_argument("--kind", default="ratings", help=f"one of {', '.join(KINDS)} (default ratings)")
    get.add_argument("--out", required=True, metavar="DIR", help="directory to write the plain file to")
    get.set_defaults(func=files_get)
    check_files = files_sub.add_parser("verify", help="check every stored file of a day against its manifest (audited)")
    check_files.add_argument("date", metavar="YYYY-MM-DD", help="partition date")
    check_files.set_defaults(func=files_verify)
    listing = files_sub.add_parser("list", help="list the stored output files")
    listing.set_defaults(func=files_list)

    audit_parser = sub.add_parser("audit", help="the audit log of file accesses")
    audit_sub = audit_parser.add_subparsers(dest="audit_command", required=True)
    check = audit_sub.add_parser("verify", help="check the audit log's hash chain")
    check.set_defaults(func=audit_verify)
    fix = audit_sub.add_parser("repair", help="cut a torn last line left by a crash or a full disk (audited)")
    fix.set_defaults(func=audit_repair)
    show = audit_sub.add_parser("show", help="print audit records, one per line")
    show.add_argument("--since", metavar="YYYY-MM-DD", help="first UTC day to show (inclusive)")
    show.add_argument("--until", metavar="YYYY-MM-DD", help="last UTC day to show (inclusive)")
    show.set_defaults(func=audit_show)

    keys = sub.add_parser("keys", help="manage ESG_FILE_ENCRYPTION_KEY")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser(
        "rotate",
        help="re-encrypt the stored files and the state DB under a new key (job stopped; audited)",
    )
    # A file or the environment, never an argument: command lines are visible to other users.
    rotate.add_argument("--new-key-file", metavar="FILE",
                        help="file holding the new key (base64 of 32 bytes); default: $ESG_NEW_FILE_ENCRYPTION_KEY")
    rotate.set_defaults(func=keys_rotate)


def _fail(message: str) -> NoReturn:
    raise CliError(message)


def _settings() -> StorageSettings:
    return load_storage()  # ConfigError is printed as one line by the main command


def files_get(args: argparse.Namespace) -> int:
    from esg_assets.storage.factory import open_store

    try:
        name = logical_name(args.date, args.kind)
    except ValueError as err:
        _fail(str(err))
    settings = _settings()
    out_dir = Path(args.out)
    try:
        store = open_store(settings)
        chunks = store.read(name)  # checks the reader and existence before anything is written
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        replaced = (out_dir / name).exists()
        target = _write_atomically(out_dir, name, chunks)
    except StoreNotFoundError:
        _fail(f"no {args.kind} file for {args.date} in the store ({name})")
    except StoreError as err:
        _fail(str(err))
    except OSError as err:
        _fail(f"cannot write to {out_dir}: {err.strerror}")
    print(f"wrote {target}" + (" (replaced the file that was there)" if replaced else ""))
    return 0


def files_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every file of the day matches its manifest; else 1, naming the first mismatch."""
    from esg_assets.outputs.manifest import verify
    from esg_assets.storage.factory import open_store

    try:
        manifest = logical_name(args.date, "manifest")
    except ValueError as err:
        _fail(str(err))
    settings = _settings()
    try:
        outcome = verify(open_store(settings), args.date)
        audit.append(settings.audit_log, actor=settings.audit_actor, action="verify", file=manifest,
                     outcome="ok" if outcome.ok else "error", detail=str(outcome)[:200])
    except StoreError as err:
        _fail(str(err))
    if outcome.ok:
        print(f"{args.date}: {outcome}")
        return 0
    print(f"esg-ratings: error: {args.date}: {outcome}", file=sys.stderr)
    return 1


def _write_atomically(out_dir: Path, name: str, chunks: Iterable[bytes]) -> Path:
    """Write to a private temp file, rename into place only once all content authenticated.

    Leftovers of a killed earlier `files get` are swept first; SIGTERM during the write ends it
    like an error (the plain temp file removed) instead of killing the process outright."""
    sweep_leftovers(out_dir)
    target = out_dir / name
    previous = signal.signal(signal.SIGTERM, _terminated) if threading.current_thread() is threading.main_thread() else None
    try:
        atomic_write(target, chunks)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return target


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def files_list(args: argparse.Namespace) -> int:
    from esg_assets.storage.factory import open_store

    try:
        entries = open_store(_settings()).list()
    except StoreError as err:
        _fail(str(err))
    for entry in entries:
        print(f"{entry.logical_name}\t{entry.size}\t{utc_text(entry.modified)}")
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    result = audit.verify(_settings().audit_log)
    if result.ok:
        print(str(result))
        return 0
    print(f"esg-ratings: error: {result}", file=sys.stderr)
    return 1


def audit_repair(args: argparse.Namespace) -> int:
    from esg_assets.storage.audit_repair import repair
    from esg_assets.storage.errors import AuditError

    settings = _settings()
    try:
        print(repair(settings.audit_log, settings.audit_actor))
    except AuditError as err:
        _fail(str(err))
    return 0


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_partition(value)
    except ValueError as err:
        _fail(f"{option}: {err}")


def audit_show(args: argparse.Namespace) -> int:
    since, until = _day("--since", args.since), _day("--until", args.until)
    if since and until and since > until:
        _fail("--since is after --until")
    for record in audit.records(_settings().audit_log, since, until):
        print(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
    return 0


def _new_key(args: argparse.Namespace) -> bytes:
    from esg_assets.key_rotation import NEW_KEY_ENV
    from esg_assets.settings.env import parse_master_key

    if args.new_key_file:
        try:
            text = Path(args.new_key_file).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            _fail(f"cannot read --new-key-file {args.new_key_file}: {getattr(err, 'strerror', None) or 'not ASCII text'}")
        return parse_master_key(text, "--new-key-file")
    value = os.environ.get(NEW_KEY_ENV, "").strip()
    if not value:
        _fail(f"give the new key with --new-key-file FILE or {NEW_KEY_ENV}")
    return parse_master_key(value, NEW_KEY_ENV)


def keys_rotate(args: argparse.Namespace) -> int:
    from esg_assets.key_rotation import rotate_keys

    settings = _settings()
    new_key = _new_key(args)
    try:
        report = rotate_keys(settings, new_key)
    except StoreError as err:
        _fail(str(err))
    print(f"{report}; now set ESG_FILE_ENCRYPTION_KEY to the new key before the next run")
    if settings.storage == "s3":
        print("S3 objects are encrypted with SSE-KMS: rotate ESG_S3_KMS_KEY_ID in AWS KMS")
    return 0
