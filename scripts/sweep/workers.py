"""What the sweep's local worker processes run at their start (imports Dask: loaded only with a local cluster)."""

import signal
import threading

from distributed import WorkerPlugin

__all__ = ["IgnoreSignals"]


class IgnoreSignals(WorkerPlugin):
    """A local worker process ignores SIGINT and SIGTERM: a terminal's Ctrl-C and ``kill`` of a process group reach
    it with ``trifactor sweep``, which ends it in order (its nanny stops it, then kills it if it must; it also ends
    when the sweep does, however). Workers started later (a dead one's replacement) get it too. A worker of a
    cluster not ours (``--scheduler``) never gets it; nor one that runs in the sweep's own process (not the main
    thread there)."""

    idempotent = True
    name = "trifactor-ignore-signals"

    def setup(self, worker):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
