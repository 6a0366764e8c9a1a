"""What loading the definitions leaves behind: its objects frozen out of the cyclic collector
(so no full collection of the run, nor the interpreter's shutdown, walks them again), the
collector itself running as before, and the process's objects frozen when it exits."""

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


def test_a_process_that_loaded_the_definitions_freezes_what_it_holds_when_it_exits() -> None:
    # atexit runs its handlers last-registered first: the probe's handler, registered before the
    # definitions are loaded, runs after the package's and sees what it froze.
    probe = ("import atexit, gc, esg_assets; "
             "atexit.register(lambda: print(gc.get_freeze_count() - loaded >= 90_000)); "
             "esg_assets.defs; loaded = gc.get_freeze_count(); held = [[] for _ in range(100_000)]; "
             "print(loaded > 50_000)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
