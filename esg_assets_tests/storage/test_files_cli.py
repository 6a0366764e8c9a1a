"""`esg-ratings files get|list` and `esg-ratings audit verify|show`, run in-process through
`esg_assets.cli.main` with the environment set by monkeypatch."""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path

import pytest

import esg_assets.cli as main_cli
from esg_assets.settings import load_storage
from esg_assets.storage import audit, logical_name, open_store
from esg_assets.cli import files as storage_cli

NAME = logical_name("2026-11-27", "ratings")
CONTENT = b"Account ID,Account Name\r\nACC-0000001,\"Acme, Inc.\"\r\n"


@pytest.fixture(autouse=True)
def storage_only_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this package's sub-commands, so these tests do not depend on the others' modules."""

    def build_parser() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="esg-ratings")
        storage_cli.add_parsers(parser.add_subparsers(dest="command", required=True))
        return parser

    monkeypatch.setattr(main_cli, "build_parser", build_parser)


@pytest.fixture
def stored(storage_env: Path) -> Path:
    open_store(load_storage()).write(NAME, [CONTENT])
    return storage_env


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main_cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_files_get_round_trip(stored: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out" / "new"
    code, out, err = _run(capsys, "files", "get", "2026-11-27", "--out", str(out_dir))
    assert (code, err) == (0, "")
    target = out_dir / NAME
    assert target.read_bytes() == CONTENT
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.listdir(out_dir) == [NAME]
    last = list(audit.records(load_storage().audit_log))[-1]
    assert (last["actor"], last["action"], last["file"], last["outcome"]) == ("job", "read", NAME, "ok")


def test_files_get_other_kind_and_reader(stored: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    open_store(load_storage()).write(logical_name("2026-11-27", "summary"), [b"{}"])
    monkeypatch.setenv("ESG_AUDIT_ACTOR", "analyst")
    code, _, _ = _run(capsys, "files", "get", "2026-11-27", "--kind", "summary", "--out", str(tmp_path))
    assert code == 0 and (tmp_path / "FirmESGSummary_20261127.json").read_bytes() == b"{}"


def test_unauthorized_reader_is_refused_and_audited(stored: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ESG_AUDIT_ACTOR", "mallory")
    out_dir = tmp_path / "out"
    code, out, err = _run(capsys, "files", "get", "2026-11-27", "--out", str(out_dir))
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and "mallory" in err and "not authorized" in err
    assert not out_dir.exists()
    last = list(audit.records(load_storage().audit_log))[-1]
    assert (last["actor"], last["file"], last["outcome"]) == ("mallory", NAME, "refused")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["2026-13-01"], "invalid date '2026-13-01'"),
        (["2026-11-27", "--kind", "../etc"], "invalid kind '../etc'"),
        (["2026-11-28"], "no ratings file for 2026-11-28 in the store (FirmESGRatings_20261128.csv)"),
    ],
)
def test_files_get_user_errors(stored: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               argv: list[str], message: str) -> None:
    code, out, err = _run(capsys, "files", "get", *argv, "--out", str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_files_get_tampered_file_writes_nothing(stored: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = load_storage().output_dir / (NAME + ".enc")
    raw = bytearray(enc.read_bytes())
    raw[-3] ^= 0x10
    enc.write_bytes(bytes(raw))
    code, _, err = _run(capsys, "files", "get", "2026-11-27", "--out", str(tmp_path / "out"))
    assert code == 2 and "failed authentication" in err
    assert os.listdir(tmp_path / "out") == []


def test_missing_key_is_one_line(storage_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ESG_FILE_ENCRYPTION_KEY")
    code, _, err = _run(capsys, "files", "get", "2026-11-27", "--out", str(tmp_path))
    assert code == 2 and "ESG_FILE_ENCRYPTION_KEY" in err and len(err.strip().splitlines()) == 1


def test_files_list(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "files", "list")
    assert code == 0 and out.startswith(f"{NAME}\t{len(CONTENT)}\t")


def test_audit_verify_and_show(stored: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "files", "get", "2026-11-27", "--out", str(tmp_path))
    code, out, _ = _run(capsys, "audit", "verify")
    assert (code, out) == (0, "audit chain intact: 2 records\n")
    code, out, _ = _run(capsys, "audit", "show")
    shown = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["action"] for r in shown] == ["write", "read"]
    code, out, _ = _run(capsys, "audit", "show", "--since", "2999-01-01")
    assert (code, out) == (0, "")
    code, _, err = _run(capsys, "audit", "show", "--until", "2026-02-30")
    assert code == 2 and "invalid date" in err

    log = load_storage().audit_log
    lines = log.read_text().splitlines(keepends=True)
    log.write_text(lines[0].replace('"write"', '"read"') + lines[1])
    code, out, err = _run(capsys, "audit", "verify")
    assert code != 0 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "record seq 1" in err and "edited" in err


def test_output_never_shows_the_key(stored: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = os.environ["ESG_FILE_ENCRYPTION_KEY"]
    outputs = []
    for argv in (["files", "list"], ["files", "get", "2026-11-27", "--out", str(tmp_path)], ["audit", "show"],
                 ["audit", "verify"], ["files", "get", "2026-13-01", "--out", str(tmp_path)]):
        outputs.append("".join(_run(capsys, *argv)[1:]))
    assert all(key not in text for text in outputs)
    assert key not in load_storage().audit_log.read_text()


def test_real_parser_registers_storage_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real build_parser
    parser = main_cli.build_parser()
    args = parser.parse_args(["files", "get", "2026-11-27", "--out", "x"])
    assert args.func is storage_cli.files_get and args.kind == "ratings"
    assert parser.parse_args(["audit", "verify"]).func is storage_cli.audit_verify
