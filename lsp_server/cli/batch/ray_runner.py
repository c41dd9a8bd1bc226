"""Run a conversion's batches on a Ray cluster: actors each hold a model (one per GPU, or per CPU slot).

Only batches of requests travel; results come back to the driver, which alone reads and writes files and the
journal, so a crash of the driver or of an actor loses nothing that `--resume` cannot finish.

On a real cluster (every node has this package and the checkpoint installed; run the driver where the files are):

    ray start --head                                   # on the head node; `ray start --address HEAD:6379` on others
    instant-edit convert src/ --instruction "Add type hints." --write --ray auto
"""

from __future__ import annotations

from collections.abc import Iterator

from lsp_server.cli.batch.plan import Batch
from model.engine import InfillRequest, InfillResult
from model.sampler import SamplerConfig


class UnitWorker:
    """A model in an actor process; runs one batch per call."""

    def __init__(self, model_path: str | None, device: str, context_tokens: int, threads: int):
        import torch

        import model

        if threads:
            torch.set_num_threads(threads)
        self.engine = model.load(model_path, device=device, context_tokens=context_tokens)
        self.context_tokens = context_tokens

    def name(self) -> str:
        return self.engine.name

    def run(
        self,
        requests: list[InfillRequest],
        repair: bool,
        sampler: SamplerConfig,
        margin: float | None = None,
        spelling_margin: float | None = None,
        languages: list[str | None] | None = None,
    ) -> list[InfillResult]:
        from lsp_server.cli.batch.runner import run_batch

        return run_batch(
            self.engine, requests, repair, sampler, self.context_tokens, margin, spelling_margin, languages
        )


def connect(address: str) -> None:
    """Join the cluster at `address` ('auto': the one this machine belongs to; 'local': start one here)."""
    import ray

    if ray.is_initialized():
        return
    if address == "local":
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def actor_plan(resources: dict, threads: int, actors: int) -> tuple[int, dict]:
    """(how many actors, the resources each asks for): one per GPU, else one per `threads` CPUs."""
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return actors or gpus, {"num_gpus": 1, "num_cpus": 1}
    per_actor = max(1, threads)
    return actors or max(1, int(resources.get("CPU", 1)) // per_actor), {"num_cpus": per_actor}


class RayExecutor:
    """Sends batches to whichever actor is free; yields results as they finish."""

    def __init__(
        self, address: str, model_path: str | None, device: str, context_tokens: int, threads: int = 0, actors: int = 0
    ):
        import ray

        connect(address)
        count, resources = actor_plan(ray.cluster_resources(), threads, actors)
        worker = ray.remote(**resources)(UnitWorker)
        self.actors = [worker.remote(model_path, device, context_tokens, threads) for _ in range(count)]
        self.name = ray.get(self.actors[0].name.remote())

    def run(self, batches: list[Batch], sampler: SamplerConfig) -> Iterator[tuple[int, list[InfillResult]]]:
        import ray

        queue = list(enumerate(batches))[::-1]
        free, pending = list(self.actors), {}
        while queue or pending:
            while free and queue:
                i, batch = queue.pop()
                actor = free.pop()
                ref = actor.run.remote(
                    [j.request for j in batch.jobs], batch.repair, sampler, batch.margin, batch.spelling_margin,
                    batch.languages,
                )
                pending[ref] = (i, actor)
            ready, _ = ray.wait(list(pending), num_returns=1)
            i, actor = pending.pop(ready[0])
            free.append(actor)
            yield i, ray.get(ready[0])

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
