"""The cocotb side of ``--backend rtl``: trains the simulated core, epoch by epoch, as the job file says.

Runs inside the simulator (started by :mod:`scripts.rtl_backend`). The weights are loaded
through the core's LOAD command from golden's initialisation for the job's seed, so one
build serves every seed; the data order is golden's (``sample_orders``). Progress goes to
a small file the parent process turns into a progress bar; results to a JSON file.
"""

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np

from trifactor.golden.config import config_from_dict
from trifactor.golden.fixed_model import FixedNet
from trifactor.golden.float_model import weight_arrays
from trifactor.golden.train import load_data, sample_orders

from .rtl_driver import CoreDriver

JOB_ENV = "TRIFACTOR_RTL_JOB"


def write_progress(path, done, total, epoch, accuracy):
    Path(path).write_text(json.dumps({"done": done, "total": total, "epoch": epoch, "test": accuracy}))


@cocotb.test()
async def train(dut):
    job = json.loads(Path(os.environ[JOB_ENV]).read_text())
    cfg = config_from_dict(job["config"])
    split = load_data(cfg, job["dataset"])
    x_train, x_test = cfg.input.quantize(split.x_train), cfg.input.quantize(split.x_test)
    driver = CoreDriver(dut, cfg)
    await driver.start()
    await driver.load_weights(FixedNet(cfg, job["seed"]).weights)
    epochs, n = job["epochs"], len(split.y_train)
    history, online, seconds = [], [], []
    totals = {"cycles": 0, "samples": 0, "macs_done": 0, "macs_skipped": 0}
    for epoch, order in enumerate(sample_orders(job["seed"], n, epochs)):
        start, before = time.perf_counter(), await driver.counters()
        correct = 0
        for k, index in enumerate(order):
            correct += await driver.train(x_train[index], int(split.y_train[index])) == split.y_train[index]
            if k % 64 == 0:
                write_progress(job["progress"], epoch * n + k, epochs * n, epoch, history[-1] if history else None)
        after = await driver.counters()
        for name in totals:  # training only: the INFER passes below are not counted
            totals[name] += after[name] - before[name]
        seconds.append(time.perf_counter() - start)
        predictions = [await driver.infer(x) for x in x_test]
        history.append(float(np.mean(np.array(predictions) == split.y_test)))
        online.append(correct / n)
        write_progress(job["progress"], (epoch + 1) * n, epochs * n, epoch, history[-1])
    train_predictions = [await driver.infer(x) for x in x_train]
    counters = await driver.counters()
    weights = await driver.read_weights()
    if job.get("weights"):
        np.savez(job["weights"], **weight_arrays(weights))
    Path(job["result"]).write_text(json.dumps({
        "test_accuracy": history[-1], "train_accuracy": float(np.mean(np.array(train_predictions) == split.y_train)),
        "history": history, "train_history_online": online, "epoch_seconds": seconds,
        "cycles_per_sample": totals["cycles"] / totals["samples"],
        "macs_per_sample": cfg.macs_per_sample,
        "macs_done_per_sample": totals["macs_done"] / totals["samples"],
        "macs_skipped_per_sample": totals["macs_skipped"] / totals["samples"],
        "counters": counters,
    }))
