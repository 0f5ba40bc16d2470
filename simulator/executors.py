"""Where seed sweeps run: one interface, three executors.

`ballast shadow`, `ballast fleet rehearse` and `ballast simulate --seeds N` run one independent
task per seed (or per seed and threshold factor). They hand the tasks to an `Executor`:

* `Sequential`: one after the other, in this process (the default);
* `Processes(workers)`: a pool of local worker processes;
* `Dask(scheduler)`: a `dask.distributed` cluster: the one at `scheduler` (`tcp://host:8786`),
  or, without an address, a `LocalCluster` of threads in this process.

Every executor returns the results **in the order of the tasks**, whatever order they finish
in, so a report built from them is byte-identical across executors and numbers of workers (the
tasks are seeded and pure: a task computes the same result wherever it runs). `progress(done,
total)` is called as tasks complete. A task that raises is retried (`retries` times on Dask,
where a worker may die or be lost; the other executors run each task once and raise): the retry
computes the same result, so a retried sweep gives the same report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

from ballast.runtime.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]

DEFAULT_RETRIES = 2  # a task that fails is run again this many times on Dask before the sweep fails
EXECUTORS = ("local", "dask")


class Executor(Protocol):
    """Runs `task` on every item; the results in the items' order."""

    def map(self, task: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]: ...


class Sequential:
    """Every task in this process, in order."""

    def map(self, task: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]:
        out = []
        for done, item in enumerate(items, 1):
            out.append(task(item))
            if progress:
                progress(done, len(items))
        return out


class Processes:
    """The tasks in a pool of `workers` local processes (`task` and the items must pickle)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise UsageError(f"workers: {workers}; run at least one worker process")
        self.workers = workers

    def map(self, task: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]:
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(task, item): index for index, item in enumerate(items)}
            return _gathered(futures.__getitem__, as_completed(futures), len(items), progress)


class Dask:
    """The tasks on a `dask.distributed` cluster.

    `scheduler`: the address of a running scheduler (`tcp://10.0.0.5:8786`); None starts a
    `LocalCluster` of `workers` threads in this process for the duration of each `map`. The
    workers import Ballast themselves, so their Ballast, Python and dask versions must match
    this one (docs/scale-out.md). `retries`: how many times a failed task is run again;
    `connect_timeout`: seconds to wait for the scheduler.
    """

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        workers: int = 2,
        retries: int = DEFAULT_RETRIES,
        connect_timeout: float = 10.0,
    ) -> None:
        if workers < 1:
            raise UsageError(f"workers: {workers}; a local Dask cluster needs at least one worker")
        if retries < 0:
            raise UsageError(f"retries: {retries}; give zero or more")
        self.scheduler, self.workers, self.retries = scheduler, workers, retries
        self.connect_timeout = connect_timeout

    def map(self, task: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]:
        try:
            from distributed import Client, LocalCluster
            from distributed import as_completed as completed
        except ImportError:
            raise UsageError("--executor dask needs dask.distributed: pip install 'ballast[distributed]'") from None
        if not items:
            return []
        cluster = None
        try:
            if self.scheduler is None:
                cluster = LocalCluster(
                    n_workers=1, threads_per_worker=self.workers, processes=False, dashboard_address=None
                )
                client = Client(cluster)
            else:
                client = Client(self.scheduler, timeout=self.connect_timeout)
        except OSError as exc:
            if cluster is not None:
                cluster.close()
            raise UsageError(
                f"--scheduler {self.scheduler}: cannot reach the Dask scheduler ({exc}); "
                "start one with `dask scheduler` and give its tcp:// address"
            ) from None
        try:
            # pure=False: two equal items are two tasks (dask would otherwise share one result)
            futures = client.map(task, list(items), pure=False, retries=self.retries)
            where = {f.key: index for index, f in enumerate(futures)}
            return _gathered(lambda f: where[f.key], completed(futures), len(items), progress)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _gathered(index_of: Callable[[Any], int], finished: Any, total: int, progress: Progress | None) -> list[Any]:
    """The results of the futures `finished` yields as they complete, each put at its task's index."""
    out: list[Any] = [None] * total
    for done, future in enumerate(finished, 1):
        out[index_of(future)] = future.result()
        if progress:
            progress(done, total)
    return out


def executor_for(name: str, *, workers: int = 1, scheduler: str | None = None) -> Executor:
    """The executor the command-line options name: `local` (sequential, or `workers` processes) or `dask`."""
    if name == "local":
        if scheduler is not None:
            raise UsageError("--scheduler is the address of a Dask scheduler: add --executor dask")
        return Sequential() if workers <= 1 else Processes(workers)
    if name == "dask":
        return Dask(scheduler, workers=max(workers, 2))
    raise UsageError(f"--executor {name}: the executors are {', '.join(EXECUTORS)}")


__all__ = ["DEFAULT_RETRIES", "EXECUTORS", "Dask", "Executor", "Processes", "Sequential", "executor_for"]
