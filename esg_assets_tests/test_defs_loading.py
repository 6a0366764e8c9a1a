"""What loading the definitions leaves behind: its objects frozen out of the cyclic collector
(so no full collection of the run, nor the interpreter's shutdown, walks them again), the
collector itself running as before."""

import subprocess
import sys


def test_loading_the_definitions_freezes_what_it_made_and_leaves_the_collector_on() -> None:
    probe = ("import gc, esg_assets; before = gc.get_freeze_count(); esg_assets.defs; "
             "print(before, gc.get_freeze_count() > 50_000, gc.isenabled())")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "True", "True"]


def test_a_collector_switched_off_by_the_host_stays_off() -> None:
    probe = "import gc, esg_assets; gc.disable(); esg_assets.defs; print(gc.isenabled())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]
