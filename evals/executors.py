"""Fan-out executors for evaluation cases and solver sweeps: local processes or Ray.

An executor maps a module-level function over items and yields ``(index, result)`` as results
arrive; callers put them back in item order, so results never depend on the executor, only
timings do. Each worker may keep per-process state (the eval runner caches an open brain per
worker); ``teardown`` is called once in every worker that ran items, before it goes away.

- ``local``: ``jobs == 1`` runs in this process; ``jobs > 1`` uses a ``ProcessPoolExecutor``
  (forkserver, else spawn).
- ``ray``: ``jobs`` Ray actors (one CPU each). Without an address a private Ray instance is
  started on this machine (``num_cpus = jobs``) and shut down afterwards; with an address
  (``INDAGENT_RAY_ADDRESS``: ``auto``, ``ray://head:10001`` or ``host:6379``) the actors run on
  that cluster, which must have indagent installed (the same version) on every node. If Ray is
  already initialized in this process (tests, notebooks) that instance is used and left running.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from typing import Any, Literal, Protocol, TypeVar

from tools.errors import ConfigError

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorKind",
    "LocalExecutor",
    "RayExecutor",
    "open_executor",
]

ExecutorKind = Literal["local", "ray"]
EXECUTORS: tuple[ExecutorKind, ...] = ("local", "ray")
T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Maps a picklable function over items on some workers."""

    kind: ExecutorKind
    jobs: int

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T], *,
                      teardown: Callable[[], None] | None = None) -> Iterator[tuple[int, R]]:
        """Yield ``(index, fn(items[index]))`` in completion order; ``teardown()`` runs in each worker at the end."""
        ...


def default_mp_context(preload: Sequence[str] = ()) -> BaseContext:
    """``forkserver`` (importing ``preload`` once in the server) where available, else ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    if preload:
        ctx.set_forkserver_preload(list(preload))
    return ctx


class LocalExecutor:
    """This process (``jobs == 1``) or a local process pool.

    Args:
        jobs: Worker processes.
        mp_context: Factory of the multiprocessing context (default: :func:`default_mp_context`).
    """

    kind: ExecutorKind = "local"

    def __init__(self, jobs: int = 1, *, mp_context: Callable[[], BaseContext] | None = None) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs must be >= 1, got {jobs}.")
        self.jobs = jobs
        self._mp_context = mp_context or default_mp_context

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T], *,
                      teardown: Callable[[], None] | None = None) -> Iterator[tuple[int, R]]:
        """See :meth:`Executor.map_unordered` (pool workers exit at the end instead of a teardown call)."""
        jobs = max(1, min(self.jobs, len(items)))
        if jobs == 1:
            try:
                for i, item in enumerate(items):
                    yield i, fn(item)
            finally:
                if teardown is not None:
                    teardown()
            return
        with ProcessPoolExecutor(max_workers=jobs, mp_context=self._mp_context()) as pool:
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()


class _RayWorker:
    """A Ray actor body: runs items one at a time, keeps its process (and its caches) between them."""

    def run(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return fn(item)

    def teardown(self, fn: Callable[[], None] | None) -> None:
        if fn is not None:
            fn()

    def pid(self) -> int:
        return os.getpid()


class RayExecutor:
    """``jobs`` Ray actors on a local Ray instance or the cluster at ``address``.

    The actors are created on first use and live until :meth:`close` (several maps reuse them,
    e.g. the parts of a composite suite); ``teardown`` runs in each of them at the end of every map.

    Args:
        jobs: Actors (each reserves one CPU).
        address: Ray cluster address; None starts a private local instance with ``jobs`` CPUs.
    """

    kind: ExecutorKind = "ray"

    def __init__(self, jobs: int = 1, *, address: str | None = None) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs must be >= 1, got {jobs}.")
        try:
            import ray
        except ImportError:
            raise ConfigError("The ray executor needs Ray: pip install ray (or use --executor local).") from None
        self.jobs = jobs
        self.address = address
        self._ray = ray
        self._started = False
        self._actors: list[Any] = []
        self.worker_pids: list[int] = []

    def start(self) -> RayExecutor:
        """Connect to (or start) Ray unless this process is already connected."""
        ray = self._ray
        if ray.is_initialized():
            return self
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if self.address:
            kwargs["address"] = self.address
        else:
            # a private instance: its workers find this checkout's modules like the driver does
            path = os.pathsep.join(p for p in [os.getcwd(), os.environ.get("PYTHONPATH", "")] if p)
            kwargs.update(num_cpus=self.jobs, runtime_env={"env_vars": {"PYTHONPATH": path}})
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {self.address!r}" if self.address else "a local Ray instance"
            raise ConfigError(f"Could not start or reach {where} ({exc}); check INDAGENT_RAY_ADDRESS "
                              "or use --executor local.") from None
        self._started = True
        return self

    def _workers(self, n: int) -> list[Any]:
        if not self._actors:
            self.start()
            remote = self._ray.remote(num_cpus=1)(_RayWorker)
            self._actors = [remote.remote() for _ in range(self.jobs)]
            self.worker_pids = self._ray.get([a.pid.remote() for a in self._actors])
        return self._actors[:n]

    def close(self) -> None:
        """Stop the actors; shut Ray down if :meth:`start` started it."""
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
        if self._started:
            self._ray.shutdown()
            self._started = False

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T], *,
                      teardown: Callable[[], None] | None = None) -> Iterator[tuple[int, R]]:
        """See :meth:`Executor.map_unordered`; an item's exception is re-raised as itself."""
        ray = self._ray
        if not items:
            return
        actors = self._workers(min(self.jobs, len(items)))
        queue = iter(enumerate(items))
        pending: dict[Any, tuple[int, Any]] = {}

        def submit(actor: Any) -> None:
            nxt = next(queue, None)
            if nxt is not None:
                pending[actor.run.remote(fn, nxt[1])] = (nxt[0], actor)

        try:
            for actor in actors:
                submit(actor)
            while pending:
                [done], _ = ray.wait(list(pending), num_returns=1)
                index, actor = pending.pop(done)
                try:
                    result = ray.get(done)
                except ray.exceptions.RayTaskError as exc:
                    raise exc.as_instanceof_cause() from None
                submit(actor)
                yield index, result
        finally:  # after the items still running on them (an actor runs its calls in order)
            ray.get([a.teardown.remote(teardown) for a in actors], timeout=300)


@contextmanager
def open_executor(kind: ExecutorKind, *, jobs: int = 1, address: str | None = None,
                  mp_context: Callable[[], BaseContext] | None = None) -> Iterator[Executor]:
    """An executor of ``kind`` for the duration of the block.

    Args:
        kind: local | ray.
        jobs: Worker processes (local) or actors (ray).
        address: Ray cluster address (ray only, ignored by local; None = a private local instance).
        mp_context: Multiprocessing context factory (local only).
    """
    if kind == "local":  # a Ray address (e.g. INDAGENT_RAY_ADDRESS set for the deployment) is not used here
        yield LocalExecutor(jobs, mp_context=mp_context)
        return
    if kind != "ray":
        raise ConfigError(f"Unknown executor {kind!r}; valid: {', '.join(map(repr, EXECUTORS))}.")
    ex = RayExecutor(jobs, address=address)
    try:
        yield ex
    finally:
        ex.close()
