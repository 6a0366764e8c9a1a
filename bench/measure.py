"""Measuring a process tree from the outside: peak memory and CPU time, sampled from /proc.

psutil is used when it is installed; otherwise /proc is read directly (Linux). The sampler
records, for the tree under one root pid, the sum of resident memory at each sample (the tree's
peak RSS) and the CPU seconds consumed so far, so a step's CPU can be read off its start and end
instants afterwards.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")

try:  # optional: a nicer view of the same numbers
    import psutil  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the machine
    psutil = None


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name, which may itself hold spaces and parentheses.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_pids(root: int) -> list[int]:
    if psutil is not None:
        try:
            proc = psutil.Process(root)
            return [root] + [c.pid for c in proc.children(recursive=True)]
        except psutil.Error:
            return []
    kids = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


@dataclass
class ProcSample:
    rss: int  # bytes
    hwm: int  # bytes, the process's own peak
    cpu: float  # user + system seconds of the process itself


def read_proc(pid: int) -> ProcSample | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    parts = stat[stat.rindex(")") + 2 :].split()
    # utime and stime are fields 14-15 of stat (1-based), 12-13 after the name. Waited-for
    # children (cutime, cstime) are left out: they are sampled as tree members themselves.
    ticks = int(parts[11]) + int(parts[12])
    return ProcSample(fields.get("VmRSS", 0), fields.get("VmHWM", 0), ticks / _CLK_TCK)


@dataclass
class TreeSampler:
    """Samples the tree under `root` every `interval` seconds in a background thread."""

    root: int
    interval: float = 0.2
    times: list[float] = field(default_factory=list)  # wall clock (time.time())
    cpu: list[float] = field(default_factory=list)  # cumulative CPU seconds of the tree
    rss: list[int] = field(default_factory=list)  # bytes: the tree's RSS at each sample
    peak_rss: int = 0
    hwm: dict[int, int] = field(default_factory=dict)
    _cpu_done: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeSampler:
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        rss = 0
        cpu_now: dict[int, float] = {}
        for pid in tree_pids(self.root):
            s = read_proc(pid)
            if s is None:
                continue
            rss += s.rss
            self.hwm[pid] = max(self.hwm.get(pid, 0), s.hwm)
            cpu_now[pid] = s.cpu
        # A process that vanished keeps the CPU it was last seen with.
        for pid, seconds in cpu_now.items():
            self._cpu_done[pid] = seconds
        self.peak_rss = max(self.peak_rss, rss)
        self.rss.append(rss)
        self.times.append(time.time())
        self.cpu.append(sum(self._cpu_done.values()))

    def cpu_at(self, instant: float) -> float:
        """Cumulative CPU seconds of the tree at wall-clock `instant` (nearest later sample)."""
        if not self.times:
            return 0.0
        i = min(bisect_left(self.times, instant), len(self.times) - 1)
        return self.cpu[i]

    def peak_rss_between(self, start: float, end: float) -> int:
        """Highest sampled RSS of the tree between two wall-clock instants (0 if no sample)."""
        i, j = bisect_left(self.times, start), bisect_left(self.times, end)
        return max(self.rss[i : j + 1], default=0)

    @property
    def peak_hwm_sum(self) -> int:
        """Sum of every process's own peak: an upper bound on the tree's peak."""
        return sum(self.hwm.values())


def mb(n: float) -> float:
    return round(n / (1024 * 1024), 1)
