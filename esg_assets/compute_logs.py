"""The instance's compute log manager (dagster.yaml `compute_logs`): Dagster's local one, the same
files for the UI, with the terminal's copy made by a thread of the run process.

Dagster's `LocalComputeLogManager` points the step's stdout and stderr file descriptors at two
files and, to still show the output on the terminal, starts per stream a `tail -F` of the file
and a Python watcher that kills that tail if the run process dies (four processes, about 27 MB of
the run's peak RSS). Here the descriptors go to the same files in the same way (so a killed run
loses nothing of its files, and C libraries' output is captured too), and one thread per stream
copies what the file gained to the terminal. A thread cannot outlive its process, so there is no
tail to orphan and no watcher; the copy is drained to the end when the capture ends (Dagster's
tail could miss the last second, dagster-io/dagster#23336). Reading the logs (UI, GraphQL,
retention) is Dagster's code, unchanged (docs/architecture.md, the "step logs" row).

Private Dagster modules (1.13.27): the manager is a subclass of `LocalComputeLogManager`, which
Dagster exports only from `dagster._core.storage.local_compute_log_manager`, and it redirects
with Dagster's own `redirect_to_file`, so the files are written exactly as before.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import IO, Any

import dagster as dg
from dagster._config.config_schema import UserConfigSchema
from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.instance.ref import compute_logs_directory
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._serdes import ConfigurableClassData
from dagster._utils import ensure_file, touch_file

# How often the terminal's copy looks at the file: what a reader of the terminal waits at most.
MIRROR_INTERVAL_SECONDS = 0.25
_READ_SIZE = 1 << 16


class ThreadMirroredComputeLogManager(LocalComputeLogManager):
    """`LocalComputeLogManager` without child processes. `base_dir` defaults to Dagster's own
    default, `$DAGSTER_HOME/storage` (the instance's root), so earlier runs' logs stay readable."""

    def __init__(self, base_dir: str | None = None, polling_timeout: float | None = None,
                 inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir=base_dir, polling_timeout=polling_timeout, inst_data=inst_data)  # type: ignore[arg-type]

    def register_instance(self, instance: dg.DagsterInstance) -> None:
        super().register_instance(instance)
        if self._base_dir is None:
            self._base_dir = compute_logs_directory(instance.root_directory)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {
            "base_dir": dg.Field(dg.StringSource, is_required=False),
            "polling_timeout": dg.Field(dg.Float, is_required=False),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: dict[str, Any]) -> ThreadMirroredComputeLogManager:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Generator[CapturedLogContext, None, None]:
        outpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDOUT])
        errpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDERR])
        with mirrored_to_file(sys.stdout, outpath), mirrored_to_file(sys.stderr, errpath):
            yield CapturedLogContext(log_key)
        # as Dagster's: the artifact that says the capture is complete
        touch_file(self.complete_artifact_path(log_key))


@contextmanager
def mirrored_to_file(stream: IO[str], path: str) -> Iterator[None]:
    """`stream`'s file descriptor written to `path` for the block, and a copy of what `path`
    gains sent to where the stream went before (from the file's start, as `tail -c +0`)."""
    ensure_file(path)
    terminal = _fileno(stream)
    with ExitStack() as stack:
        if terminal is not None:
            stack.enter_context(_FileToTerminal(path, os.dup(terminal)))
        # Dagster's own redirection (a stream without a descriptor is left as it is)
        stack.enter_context(redirect_to_file(stream, path))
        yield


class _FileToTerminal:
    """A daemon thread copying what a file gains to a descriptor (owned, closed at the end)."""

    def __init__(self, path: str, terminal_fd: int):
        self._path = path
        self._terminal_fd: int | None = terminal_fd
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"compute-log-mirror {os.path.basename(path)}",
                                        daemon=True)

    def __enter__(self) -> _FileToTerminal:
        self._source = open(self._path, "rb", buffering=0)  # noqa: SIM115 (closed by __exit__)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self._source.close()
        if self._terminal_fd is not None:
            os.close(self._terminal_fd)

    def _run(self) -> None:
        while not self._done.wait(MIRROR_INTERVAL_SECONDS):
            self._copy_what_is_new()
        self._copy_what_is_new()  # what the block wrote last, after its streams were flushed

    def _copy_what_is_new(self) -> None:
        while self._terminal_fd is not None and (chunk := self._source.read(_READ_SIZE)):
            view = memoryview(chunk)
            try:
                while view:
                    view = view[os.write(self._terminal_fd, view):]
            except OSError:  # the terminal went away: the file keeps everything, the copy stops
                os.close(self._terminal_fd)
                self._terminal_fd = None


def _fileno(stream: IO[str]) -> int | None:
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return None
    return fd if isinstance(fd, int) else None
