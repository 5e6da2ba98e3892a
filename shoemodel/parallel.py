"""One executor interface for every stage: in-process, a local Dask cluster, or an existing one.

Stages hand the executor whole shards (not single images), so a task is big enough to amortise
scheduling and model loading, and a lost worker costs at most one shard, which resume redoes.
GPU stages pass `resources={"GPU": 1}` so Dask runs them only on workers started with that resource.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ExecutorConfig:
    """Where stage work runs. kind: inline | local (LocalCluster) | address (existing scheduler)."""

    kind: str = "inline"
    n_workers: int = 2
    threads_per_worker: int = 1
    address: str | None = None  # also read from SHOEMODEL_DASK_SCHEDULER
    max_in_flight: int = 0  # 0: twice the number of worker threads
    worker_resources: dict[str, float] = field(default_factory=dict)  # for a LocalCluster, e.g. {"GPU": 1}


class InlineExecutor:
    """Runs tasks one after another in this process (small runs, debugging, tests)."""

    def map_unordered(self, fn: Callable[..., Any], items: Iterable[Any], resources: dict[str, float] | None = None) -> Iterator[Any]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        pass


class DaskExecutor:
    """Runs tasks on a Dask cluster with a bounded number in flight (the input is never listed whole)."""

    def __init__(self, client: Any, max_in_flight: int, owns_cluster: Any | None = None):
        self.client, self.max_in_flight, self._cluster = client, max_in_flight, owns_cluster

    def map_unordered(self, fn: Callable[..., Any], items: Iterable[Any], resources: dict[str, float] | None = None) -> Iterator[Any]:
        from distributed import as_completed

        it = iter(items)
        pending = as_completed()
        n_pending = 0
        for item in it:
            pending.add(self.client.submit(fn, item, resources=resources, pure=False))
            n_pending += 1
            if n_pending >= self.max_in_flight:
                break
        for fut in pending:
            n_pending -= 1
            result = fut.result()
            fut.release()
            nxt = next(it, _END)
            if nxt is not _END:
                pending.add(self.client.submit(fn, nxt, resources=resources, pure=False))
                n_pending += 1
            yield result

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


_END = object()


def make_executor(config: ExecutorConfig) -> InlineExecutor | DaskExecutor:
    """Build the executor named by `config` (a Dask scheduler address may also come from the env)."""
    kind = config.kind
    address = config.address or os.environ.get("SHOEMODEL_DASK_SCHEDULER")
    if kind == "inline":
        return InlineExecutor()
    from distributed import Client, LocalCluster

    if kind == "local":
        cluster = LocalCluster(
            n_workers=config.n_workers,
            threads_per_worker=config.threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            resources=config.worker_resources or None,
        )
        client = Client(cluster)
        owns = cluster
    elif kind == "address":
        if not address:
            raise ValueError("executor kind 'address' needs executor.address or SHOEMODEL_DASK_SCHEDULER")
        client, owns = Client(address), None
    else:
        raise ValueError(f"unknown executor kind '{kind}'; use inline, local or address")
    threads = sum(client.nthreads().values()) or 1
    return DaskExecutor(client, config.max_in_flight or 2 * threads, owns)


@contextlib.contextmanager
def executor_from_config(config: ExecutorConfig) -> Iterator[InlineExecutor | DaskExecutor]:
    """Context-managed `make_executor`: the cluster (if we started one) is shut down on exit."""
    ex = make_executor(config)
    try:
        yield ex
    finally:
        ex.close()
