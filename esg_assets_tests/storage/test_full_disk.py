"""The output directory on a full file system (a 1 MB tmpfs; a loop-mounted file where tmpfs
cannot be mounted): the run fails with one line naming the cause, leaves no partial or plain
file, earlier days' files stay intact, and once space is freed the next run succeeds."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from esg_assets.storage.local import SUFFIX
from esg_assets_tests.support.job import fast_job_env, read_output, run_day
from esg_assets_tests.pipeline.test_critical_failures import step_failure_messages
from esg_assets_tests.sandbox.harness import SandboxProcess

pytestmark = pytest.mark.integration
EARLIER, DAY = "2026-11-19", "2026-11-20"


def _mount(target: Path, scratch: Path) -> None:
    """tmpfs of 1 MB, or else an ext4 image of 1 MB on a loop device (both need root, as CI has)."""
    tmpfs = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(target)],
                           capture_output=True, text=True)
    if tmpfs.returncode == 0:
        return
    image = scratch / "small.img"
    with open(image, "wb") as f:
        f.truncate(1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True, capture_output=True)
    loop = subprocess.run(["mount", "-o", "loop", str(image), str(target)], capture_output=True, text=True)
    assert loop.returncode == 0, f"cannot mount a small file system: {tmpfs.stderr.strip()}; {loop.stderr.strip()}"
    target.chmod(0o700)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "output"
    target.mkdir(mode=0o700)
    _mount(target, tmp_path)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of the file system with one plain filler file."""
    filler = directory / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    assert shutil.disk_usage(directory).free < 4096
    return filler


def test_a_full_output_file_system_fails_the_run_cleanly_and_the_next_run_succeeds(
        tmp_path, small_disk: Path, apply_env) -> None:
    home = tmp_path / "home"
    with SandboxProcess(accounts=20, seed=91, today=DAY) as sb:
        apply_env(fast_job_env(home, sb.env(), ESG_OUTPUT_DIR=str(small_disk)))
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            assert run_day(EARLIER, instance).success
            earlier = {kind: read_output(EARLIER, kind) for kind in ("ratings", "errors", "summary")}
            before = {p.name for p in small_disk.iterdir()}
            filler = fill(small_disk)

            failed = run_day(DAY, instance)
            assert not failed.success
            [message] = step_failure_messages(failed)
            assert "no space left" in message.lower() and "\n" not in message.strip(), message
            left = {p.name for p in small_disk.iterdir()} - before - {filler.name}
            assert not [n for n in left if not n.endswith(SUFFIX)], left  # no temp or plain file
            for path in small_disk.iterdir():
                if path != filler:
                    assert b"Account ID" not in path.read_bytes()  # nothing in the clear
            assert {kind: read_output(EARLIER, kind) for kind in earlier} == earlier

            filler.unlink()
            assert run_day(DAY, instance).success
            assert read_output(DAY, "ratings").startswith(b"Account ID")
