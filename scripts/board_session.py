"""The cocotb side of ``--backend board-sim``: golden's training loop through the simulated board's UART.

Runs inside the simulator (started by :mod:`scripts.rtl_backend`). The training loop
and :class:`scripts.board_client.BoardClient` are the ones ``--backend board`` uses on
a serial port; here their transport hands bytes to the simulated board's host UART.
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.task import bridge, resume

from trifactor.golden.config import config_from_dict
from trifactor.golden.train import load_data

from .board_backend import train_on_board
from .board_client import BoardClient
from .rtl_driver import StreamIO, start_clock
from .rtl_session import JOB_ENV, write_progress


class SimTransport:
    """Bytes to and from the simulated board, for a client running in a cocotb bridge thread."""

    name = "the simulated board"

    def __init__(self, dut, idle_cycles: int):
        self.bytes = StreamIO(dut, "host_tx", "host_rx", 8)
        self.idle_cycles = idle_cycles

    def write(self, data: bytes):
        resume(self.bytes.send)(list(data))

    def read(self, n: int) -> bytes:
        return bytes(resume(self.bytes.receive)(n, self.idle_cycles))


QUIET_CYCLES = 1_000_000  # silence that means the board stopped answering (a sample takes a few thousand)


@cocotb.test()
async def train(dut):
    job = json.loads(Path(os.environ[JOB_ENV]).read_text())
    cfg = config_from_dict(job["config"])
    split = load_data(cfg, job["dataset"])
    await start_clock(dut)
    client = BoardClient(SimTransport(dut, QUIET_CYCLES), cfg)
    epochs, n = job["epochs"], len(split.y_train)
    state = {"done": 0, "test": None, "epoch": 0}

    def on_sample():
        state["done"] += 1
        if state["done"] % 64 == 0:
            write_progress(job["progress"], state["done"], epochs * n, state["epoch"], state["test"])

    def on_epoch(epoch, accuracy):
        state.update(epoch=epoch + 1, test=accuracy)

    result, arrays = await bridge(train_on_board)(client, cfg, split, epochs, job["seed"], on_sample, on_epoch)
    if job.get("weights"):
        np.savez(job["weights"], **arrays)
    Path(job["result"]).write_text(json.dumps(result))
