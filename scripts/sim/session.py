"""The cocotb side of ``--backend rtl`` and ``board-sim``: golden's training loop on the simulated hardware.

Runs inside the simulator, started by :mod:`scripts.sim.backend` with a job file. The
loop is :func:`golden.train.train`, run in a cocotb ``bridge`` thread over a
:class:`scripts.host.model.HardwareModel`, exactly as ``--backend board`` runs it on a
serial port; only the client differs: :class:`scripts.sim.drivers.CoreClient` for the
core alone (``rtl``, word by word), :class:`scripts.host.client.BoardClient` over the
simulated board's host UART (``board-sim``, byte by byte). The weights are loaded from
golden's initialisation for the job's seed, so one build serves every seed. Progress
goes to a small file the parent process turns into a progress bar; results to a JSON file.
A job with ``samples`` trains on that many samples of the first epoch only and returns
the core's counters (:func:`scripts.host.model.measure_on_hardware`), no accuracy. A job with
``trace`` ``[first, end]`` (a traced build, :func:`scripts.sim.runner.build`) switches the
waveform on as training sample ``first`` is sent and off once sample ``end - 1``'s update is over
(:class:`TracedClient`).
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.task import bridge, resume

from trifactor.golden.config import config_from_dict

from ..host.client import BoardClient
from ..host.model import measure_on_hardware, train_on_hardware
from .backend import JOB_ENV, load_saved_split
from .drivers import CoreClient, CoreDriver, SimTransport
from .runner import trace_switch
from .streams import PERIOD_NS, start_clock

__all__ = ["QUIET_CYCLES", "train"]

QUIET_CYCLES = 1_000_000  # board-sim: silence that means the board stopped answering (a sample takes a few thousand)


def write_progress(path, done, total, epoch, accuracy):
    Path(path).write_text(json.dumps({"done": done, "total": total, "epoch": epoch, "test": accuracy}))


def client_for(kind: str, dut, config):
    if kind == "rtl":
        return CoreClient(CoreDriver(dut, config))
    return BoardClient(SimTransport(dut, QUIET_CYCLES), config)


class TracedClient:
    """A client whose training samples ``first .. end - 1`` (counted over the run) are in the waveform: it is
    switched on as sample ``first`` is sent and off once sample ``end - 1``'s update is over; ``window`` holds
    the simulation times (ns).

    A TRAIN reply (the prediction) comes before the sample's update, and the core takes the next command once
    the update is over: so a COUNTERS request, answered only then, goes before each switch (it changes nothing).
    """

    def __init__(self, client, first: int, end: int):
        self.client, self.first, self.end = client, first, end
        self.trained, self.window = 0, {}

    def __getattr__(self, name):
        return getattr(self.client, name)

    async def _switch(self, on: bool):  # in the simulator's thread
        trace_switch(on)
        self.window["start_ns" if on else "end_ns"] = get_sim_time("ns")

    def train(self, x, label: int) -> int:
        if self.trained == self.first:
            self.client.counters()  # the sample before is over
            resume(self._switch)(True)
        prediction = self.client.train(x, label)
        self.trained += 1
        if self.trained == self.end:
            self.client.counters()  # and so is this one
            resume(self._switch)(False)
        return prediction


@cocotb.test()
async def train(dut):
    job = json.loads(Path(os.environ[JOB_ENV]).read_text())
    cfg = config_from_dict(job["config"])
    split = load_saved_split(job["split"])
    client = client_for(job["kind"], dut, cfg)
    if job.get("trace"):
        client = TracedClient(client, *job["trace"])
    await start_clock(dut)
    epochs, n = job["epochs"], len(split.y_train)
    if job.get("samples"):
        epochs, n = 1, min(n, job["samples"])
    state = {"done": 0, "test": None, "epoch": 0}

    def on_sample():
        state["done"] += 1
        if state["done"] % 64 == 0:
            write_progress(job["progress"], state["done"], epochs * n, state["epoch"], state["test"])

    def on_epoch(epoch, accuracy):
        state.update(epoch=epoch + 1, test=accuracy)
        write_progress(job["progress"], state["done"], epochs * n, state["epoch"], state["test"])

    if job.get("samples"):
        result = await bridge(measure_on_hardware)(client, cfg, split, job["seed"], n, on_sample)
    else:
        result, arrays = await bridge(train_on_hardware)(client, cfg, split, epochs, job["seed"], on_sample, on_epoch)
        if job.get("weights"):
            np.savez(job["weights"], **arrays)
    if job.get("trace"):
        result["trace"] = {"samples": job["trace"], **client.window, "period_ns": PERIOD_NS}
    Path(job["result"]).write_text(json.dumps(result))
