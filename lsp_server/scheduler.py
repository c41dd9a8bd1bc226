"""One worker thread owns the engine: loads it, runs jobs in order, latest wins per key, cancels within a step.

Handlers never touch the model; they submit a job and await its future. A job submitted under a key (e.g.
"complete:<uri>") supersedes every earlier job under that key: a queued one is dropped, a running one stops at
its next denoising step through the engine's `should_stop`.

Background jobs (the completion prepared for after an accept) run only when no other job waits, and any other
job cancels them: they use idle time and never delay a request.

A (re)load that fails while a model is loaded leaves that model serving (issue 12): the state stays "ready" and
its `failure` says what could not be loaded. Only when there is no model at all is the state "error".
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

from model.sampler import DenoiseCancelled

CACHE_SIZE = 256


class Cancelled(Exception):
    """A job stopped before finishing: superseded by a newer one, cancelled by the client, or shut down."""


class ModelUnavailable(Exception):
    """The model failed to load; the message says why."""


def settle(future: Future, result: Any = None, error: BaseException | None = None) -> None:
    """Resolve a future unless it already is (a caller may have cancelled it)."""
    if future.done():
        return
    try:
        future.set_exception(error) if error is not None else future.set_result(result)
    except InvalidStateError:
        pass  # cancelled between the check and the set


@dataclass(frozen=True)
class ModelState:
    state: str  # "loading" | "ready" | "error"
    model: str  # the model serving requests (when ready) or the one being loaded / that failed
    device: str
    message: str
    # A switch that failed while the previous model kept serving: state stays "ready", this says why.
    failure: str = ""


@dataclass(eq=False)
class Job:
    fn: Callable[[Any, Callable[[], bool]], Any]  # (engine, should_stop) -> result
    key: str | None = None
    future: Future = field(default_factory=Future)
    reason: str = ""  # why it was cancelled; empty while it may run
    is_load: bool = False
    background: bool = False  # runs only when nothing else waits; cancelled by any other job
    spec: Any = None  # for a load job: the loader's argument

    def cancel(self, reason: str) -> None:
        self.reason = self.reason or reason

    def should_stop(self) -> bool:
        return bool(self.reason)


class Scheduler:
    """The worker thread, its queue, the loaded engine and a small result cache."""

    def __init__(self, loader: Callable[[Any], Any], on_state: Callable[[ModelState], None]):
        self._loader = loader
        self._on_state = on_state
        self._queue: deque[Job] = deque()
        self._running: Job | None = None
        self._cv = threading.Condition()
        self._closed = False
        self.engine: Any = None
        self.state = ModelState("loading", "", "", "not started")
        self._ready = threading.Event()
        self._cache: OrderedDict[Any, Any] = OrderedDict()
        self._thread = threading.Thread(target=self._work, name="instant-edit-engine", daemon=True)
        self._thread.start()

    # --- submitting ----------------------------------------------------------------------------------------
    def load(self, spec: Any, label: str) -> None:
        """Queue a (re)load; jobs queued after it run on the new engine."""
        self._set_state(ModelState("loading", label, "", "loading the model"))
        self._ready.clear()
        self._push(Job(fn=lambda engine, stop: None, is_load=True, spec=spec))

    def submit(
        self, fn: Callable[[Any, Callable[[], bool]], Any], key: str | None = None, background: bool = False
    ) -> Job:
        """Queue a job; with a key, every earlier job under the same key is cancelled.

        `background`: run it only when nothing else waits; any job submitted later that is not itself background
        cancels it (queued: dropped, running: stopped at its next step).
        """
        job = Job(fn=fn, key=key, background=background)
        self._push(job)
        return job

    def _push(self, job: Job) -> None:
        with self._cv:
            if self._closed:
                settle(job.future, error=Cancelled("the server is shutting down"))
                return
            if job.key is not None:
                self._supersede_locked(job.key)
            if not job.background:
                self._drop_background_locked()
            self._queue.append(job)
            self._cv.notify()

    def supersede(self, key: str) -> None:
        """Cancel every job under `key` (a newer request for it was answered another way, e.g. from the cache)."""
        with self._cv:
            self._supersede_locked(key)

    def _supersede_locked(self, key: str) -> None:
        """Drop queued jobs under `key` at once and flag the running one (it stops at its next step)."""
        stale = [j for j in self._queue if j.key == key]
        for job in stale:
            self._queue.remove(job)
            job.cancel("superseded by a newer request")
            settle(job.future, error=Cancelled(job.reason))
        if self._running is not None and self._running.key == key:
            self._running.cancel("superseded by a newer request")

    def _drop_background_locked(self) -> None:
        for job in [j for j in self._queue if j.background]:
            self._queue.remove(job)
            job.cancel("a request came first")
            settle(job.future, error=Cancelled(job.reason))
        if self._running is not None and self._running.background:
            self._running.cancel("a request came first")

    def cancel(self, job: Job, reason: str) -> None:
        """Cancel one job (the client gave up on it): dropped if queued, stopped within a step if running."""
        with self._cv:
            job.cancel(reason)
            if job in self._queue:
                self._queue.remove(job)
                settle(job.future, error=Cancelled(reason))

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    # --- cache ---------------------------------------------------------------------------------------------
    def cached(self, key: Any) -> Any:
        with self._cv:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def remember(self, key: Any, value: Any) -> None:
        with self._cv:
            self._cache[key] = value
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    # --- the worker ----------------------------------------------------------------------------------------
    def _next(self) -> Job | None:
        with self._cv:
            while not self._queue and not self._closed:
                self._cv.wait()
            if self._closed:
                return None
            job = next((j for j in self._queue if not j.background), self._queue[0])
            self._queue.remove(job)
            self._running = job
            return job

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                if job.is_load:
                    self._load(job.spec)
                    settle(job.future, self.state)
                else:
                    self._run(job)
            finally:
                with self._cv:
                    self._running = None

    def _run(self, job: Job) -> None:
        if job.should_stop():
            settle(job.future, error=Cancelled(job.reason))
        elif self.engine is None:
            settle(job.future, error=ModelUnavailable(self.state.message))
        else:
            try:
                settle(job.future, job.fn(self.engine, job.should_stop))
            except DenoiseCancelled:
                settle(job.future, error=Cancelled(job.reason or "cancelled"))
            except Exception as e:  # noqa: BLE001 - any failure inside the model must reach the caller, not kill the worker
                settle(job.future, error=e)

    def _load(self, spec: Any) -> None:
        label = self.state.model
        try:
            engine = self._loader(spec)
        except Exception as e:  # noqa: BLE001 - checkpoint, torch and CUDA errors all mean "no model"; report them
            failure = f"cannot load the model {label!r}: {e}"
            if self.engine is None:
                self._set_state(ModelState("error", label, "", failure))
            else:  # a failed switch must not take down a model that works: it keeps serving
                self._set_state(self._still_serving(failure))
        else:
            self.engine = engine
            with self._cv:
                self._cache.clear()
            self._set_state(ModelState("ready", engine.name, str(engine.device), f"{engine.name} on {engine.device}"))
        self._ready.set()

    def _still_serving(self, failure: str) -> ModelState:
        name, device = self.engine.name, str(self.engine.device)
        return ModelState("ready", name, device, f"{failure}; still serving {name} on {device}", failure)

    def _set_state(self, state: ModelState) -> None:
        self.state = state
        self._on_state(state)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            for job in self._queue:
                settle(job.future, error=Cancelled("the server is shutting down"))
            self._queue.clear()
            if self._running is not None:
                self._running.cancel("the server is shutting down")
            self._cv.notify_all()
