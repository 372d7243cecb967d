"""Running a sweep's tasks on Dask distributed: plan (what the cache lacks), submit, collect as they finish.

One task per (point, measurement, seed); points with the same key (the same hardware for synthesis,
the same network for accuracy) share it. Synthesis adds one Yosys task per core and target that its
place-and-route tasks take their netlist from. The client writes each result to the cache the moment
it arrives. Dask moves a task whose worker died to another worker (up to its ``allowed-failures``);
a task that raised is tried :data:`RETRIES` more times.
"""

import contextlib
import logging
import os
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from ..util.errors import UsageError
from . import tasks
from .cache import core_id, read_entry, task_key, write_entry

__all__ = ["RETRIES", "Task", "plan", "cluster", "run"]

RETRIES = 1
WORK = Path("build") / "sweep" / "work"  # Yosys and nextpnr folders, on the worker's disk


@dataclass
class Task:
    """One cached measurement: ``points`` are the indexes of the points it serves."""

    key: str
    measurement: str
    seed: int
    config: object
    options: dict
    described: dict
    points: list = field(default_factory=list)
    entry: dict | None = None  # the cache entry, once there is one
    cached: bool = False


def plan(spec, cache: Path) -> dict:
    """``{key: Task}`` of every measurement of every valid point of ``spec``; those in ``cache`` carry their entry."""
    found = {}
    for point in spec.points:
        if point.config is None:
            continue
        for measurement, options in spec.measurements.items():
            for seed in options["seeds"]:
                key, described = task_key(measurement, point.config, options, seed)
                if key not in found:
                    entry = read_entry(cache, key)
                    found[key] = Task(key, measurement, seed, point.config, options, described, entry=entry,
                                      cached=entry is not None)
                found[key].points.append(point.index)
    return found


@contextlib.contextmanager
def cluster(scheduler: str | None, workers: int | None, processes: bool = True):
    """A Dask client: of the running scheduler at ``scheduler``, or of a local cluster of ``workers`` workers
    (default: one per core) with one thread each, ended with the block. Yields (client, description).

    Signals are this process's alone: the local cluster's worker processes start with SIGINT ignored
    (:func:`starting_workers`), and ignore SIGTERM too once started (:class:`.workers.IgnoreSignals`), though a
    terminal's Ctrl-C and ``kill`` of a process group reach them as well; so the ``KeyboardInterrupt`` (or
    ``Terminated``) here closes them in order, without tracebacks of theirs or leaked semaphores. They end when
    this process does, however it ends. Their scratch folders (Dask's ``dask-scratch-space``, lock files included)
    are in a temporary folder removed with the cluster. After an interrupt, a second Ctrl-C or SIGTERM does not
    cut the cluster's close short (:func:`close_undisturbed`)."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"--scheduler {scheduler}: cannot connect ({str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__})",
                             "start one with `dask scheduler` and `dask worker ADDRESS`, or leave out --scheduler "
                             "for a local cluster") from None
        with client:
            try:
                client.wait_for_workers(1, timeout=30)
            except TimeoutError:
                raise UsageError(f"--scheduler {scheduler} has no workers (waited 30 s)",
                                 f"start some with `dask worker {scheduler}`") from None
            workers_now = len(client.scheduler_info(n_workers=-1)["workers"])
            yield client, f"cluster: scheduler {scheduler}, {workers_now} workers at the start"
        return
    count = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="trifactor-sweep-") as scratch, contextlib.ExitStack() as stack:
        undisturbed = close_undisturbed(stack)
        # the scheduler's and workers' scratch folders in ours; the worker processes inherit SIGINT ignored
        with starting_workers(), dask.config.set({"temporary-directory": scratch}):
            local = stack.enter_context(LocalCluster(
                # the scheduler's HTTP server on a free port: with None it still takes 8787, and a second cluster
                # (another sweep, the user's own) then warns on stderr
                n_workers=count, threads_per_worker=1, processes=processes, dashboard_address=":0",
                # CRITICAL, not ERROR: at the close a worker's heartbeat can race the scheduler's shutdown and log
                # a traceback ("Failed to communicate with scheduler during heartbeat", seen once in a killed
                # sweep); a task's own failure reaches the sweep through its future, not the workers' logs
                silence_logs=logging.CRITICAL))
            stack.push(undisturbed)
        client = stack.enter_context(Client(local))
        stack.push(undisturbed)  # the client's close too
        if processes:
            from .workers import IgnoreSignals

            client.register_plugin(IgnoreSignals())  # SIGTERM too, and for workers started later
        yield client, f"cluster: local, {count} worker {'processes' if processes else 'threads'} of 1 thread"


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def starting_workers():
    """For the block, in the main thread: SIGINT ignored, so that the worker processes started in it ignore it for
    good (an ignored signal stays ignored across ``exec``, and Python leaves it so); a Ctrl-C meanwhile is lost
    (the cluster's start takes a few seconds; the next one ends the sweep). SIGTERM held: one that arrives is
    sent again at the block's end, when the cluster can be closed in order (a half-started one cannot), and
    stands for the start's failure if its workers got it too."""
    if not in_main_thread():
        yield
        return
    held, failed = [], None
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
                signal.SIGTERM: signal.signal(signal.SIGTERM, lambda signum, frame: held.append(signum))}
    try:
        yield
    except Exception as exc:  # workers killed by a SIGTERM to the process group fail the start
        failed = exc
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if held:  # what happened is the SIGTERM: to the handler it had (Terminated, on the command line)
        os.kill(os.getpid(), signal.SIGTERM)
    if failed:
        raise failed


def close_undisturbed(stack: contextlib.ExitStack):
    """Returns an exit function which, pushed onto ``stack`` (once or more), makes the exits pushed before it (and
    after this call) run with SIGINT and SIGTERM ignored when a ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM as
    :class:`scripts.cli.Terminated`) is on its way out; they are restored at the end."""
    saved = {}

    def ignore(kind, value, traceback) -> bool:
        if kind is not None and issubclass(kind, KeyboardInterrupt) and in_main_thread() and not saved:
            saved.update({signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)})
        return False

    def restore():
        for signum, handler in saved.items():
            signal.signal(signum, handler)

    stack.callback(restore)
    return ignore


def submit_all(client, todo: list, run_id: str) -> dict:
    """Submit ``todo``'s tasks (and the Yosys tasks their synthesis needs); returns ``{future: Task or None}``."""
    futures, netlists, chains = {}, {}, {}
    for task in todo:
        common = {"key": task.key, "retries": RETRIES, "pure": False}
        if task.measurement == "accuracy":
            epochs = task.described["options"]["epochs"]
            future = client.submit(tasks.accuracy, task.key, run_id, task.config, epochs, task.seed, **common)
        elif task.measurement == "cycles":
            core = (task.config.name, task.config.hardware_id())  # one simulator build folder
            future = client.submit(tasks.cycles, task.key, run_id, task.config, task.options["samples"], task.seed,
                                   chains.get(core), **common)
            chains[core] = future
        else:
            target = task.options["target"]
            work = str(WORK / f"{task.config.name}-{target}-{core_id(task.config)}")
            mapped = netlists.get(work)
            if mapped is None:
                key = f"netlist-{Path(work).name}-{run_id[:8]}"
                mapped = netlists[work] = client.submit(tasks.netlist, key, run_id, task.config, target, work,
                                                        key=key, retries=RETRIES, pure=False)
                futures[mapped] = None
            future = client.submit(tasks.place, task.key, run_id, task.config, target, task.seed, mapped, work, **common)
        futures[future] = task
    return futures


def run(client, todo: list, cache: Path, *, quiet: bool = False, label: str = "sweep") -> dict:
    """Compute ``todo`` on ``client``'s cluster, each entry written to ``cache`` as it arrives. Returns the run's notes: ``crashed`` ({key: reason} of the tasks that raised, not cached),
    ``started`` ({key: [workers]}, in start order) and ``lost_workers`` (workers that left while running tasks)."""
    from distributed import as_completed

    from ..cli.compare import one_line

    run_id, since = uuid.uuid4().hex, time.time()
    futures = submit_all(client, todo, run_id)
    crashed = {}
    bar = tqdm(total=len(futures), unit="task", desc=label, disable=quiet or None, dynamic_ncols=True)
    with bar:
        for future in as_completed(list(futures)):
            task = futures.pop(future)
            if future.status == "finished":
                outcome = future.result()
                if task is not None:
                    made = entry(task, outcome)
                    write_entry(cache, made)
                    task.entry = made
            else:
                reason = one_line(future.exception()) if future.status == "error" else future.status
                crashed[future.key] = f"{future.exception().__class__.__name__}: {reason}" \
                    if future.status == "error" else reason
            bar.set_postfix_str(future.key.split("-", 1)[0])
            bar.update()
            future.release()
    started = {}
    for _, message in client.get_events(tasks.STARTED):
        if message.get("run") == run_id:
            started.setdefault(message["key"], []).append(message.get("worker"))
    lost = [{"worker": message["worker"], "tasks": [key for key in message.get("processing-tasks", ())
                                                     if key in started]}
            for stamp, message in client.get_events("all")
            if stamp >= since and message.get("action") == "remove-worker" and message.get("processing-tasks")]
    return {"crashed": crashed, "started": started, "lost_workers": [w for w in lost if w["tasks"]]}


def entry(task: Task, outcome: dict) -> dict:
    """The cache entry of ``task`` from its worker's ``outcome``."""
    return {"key": task.key, "measurement": task.measurement, "seed": task.seed, **task.described, **outcome,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
