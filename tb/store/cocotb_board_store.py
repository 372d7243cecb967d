"""cocotb: the data store through the simulated board's link (UARTs, frames) against golden.

``--backend board``'s stored run (:func:`scripts.sim.stored.train_on_board`: weights, data set, two
epochs, evaluations and the weights read back, one request at a time, as on a board) equals golden's
``train`` exactly: its history, accuracies and every weight.

STORE, ORDER, EPOCH and EVALUATE requests (:mod:`hdl.link.frames`), built by the host's
:func:`scripts.host.commands.to_frame`: after a stored epoch in golden's order the right
predictions, EVALUATE's count and every weight equal golden's. Bad store requests
(corrupt, too long, past the store, at a lane, empty, an ORDER of a sample outside it) get
their error reply first and change nothing: the epoch after them still equals golden's on the data stored before.
"""

import struct

import cocotb
import numpy as np
from cocotb.task import bridge

from trifactor.golden.data import Split
from trifactor.golden.fixed_model import FixedNet
from trifactor.golden.train import load_data, sample_orders, train
from trifactor.hdl.store.data_store import record_bytes, store_geometry
from trifactor.hdl.store.epoch_runner import run_checksum
from trifactor.hdl.link.frames import CHUNK, REQUEST_SYNC, Command, Error, encode
from trifactor.hdl.protocol import ACK, position
from trifactor.scripts.host import commands
from trifactor.scripts.host.client import BoardClient
from trifactor.scripts.host.model import HardwareModel
from trifactor.scripts.sim.drivers import SimTransport
from trifactor.scripts.sim.stored import train_on_board
from trifactor.scripts.sim.streams import start_clock

from golden_checks import assert_weights, golden_epoch, sample_data
from sim import load_params
from unit_params import golden_config


def send(client, store_samples, batch) -> list:
    """Core commands as link frames; their reply words."""
    words = []
    for command in batch if isinstance(batch, list) else [batch]:
        frame, length = commands.to_frame(client.config, store_samples, command)
        client.transport.write(frame)
        words += commands.from_frame(client.config, store_samples, command, client._read(length))
    return words


@cocotb.test()
async def stored_epoch_through_the_link(dut):
    params = load_params()
    await start_clock(dut)
    cfg = golden_config(params)
    client = BoardClient(SimTransport(dut, params["idle_cycles"]), cfg)
    x, y = sample_data(cfg, params, np.random.default_rng(params["seed"]))
    n_train, n = params["samples"], len(y)
    stride = store_geometry(cfg)["stride"]

    def store(record, values):
        return struct.pack("<I", position(record * stride, 0)) + bytes(values)

    def corrupt(frame):
        broken = bytearray(frame)
        broken[8] ^= 0x01  # a stored value
        return bytes(broken)

    def count_request(command, at, count):
        return encode(REQUEST_SYNC, command, struct.pack("<IH", position(at, 0), count))

    cases = [
        ("bad CRC", corrupt(encode(REQUEST_SYNC, Command.STORE, store(0, [7] * 8))), Error.BAD_CRC),
        ("STORE of nothing", encode(REQUEST_SYNC, Command.STORE, store(0, [])), Error.BAD_LENGTH),
        ("STORE longer than a chunk", encode(REQUEST_SYNC, Command.STORE, store(0, [7] * (CHUNK + 1))),
         Error.BAD_LENGTH),
        ("STORE past the store", encode(REQUEST_SYNC, Command.STORE, store(n, [7])), Error.OUT_OF_RANGE),
        ("STORE at a lane", encode(REQUEST_SYNC, Command.STORE, struct.pack("<I", position(0, 1)) + bytes(1)),
         Error.OUT_OF_RANGE),
        ("ORDER past the store", encode(REQUEST_SYNC, Command.ORDER, struct.pack("<IH", position(n, 0), 0)),
         Error.OUT_OF_RANGE),
        ("ORDER of sample n", encode(REQUEST_SYNC, Command.ORDER, struct.pack("<IB", position(0, 0), n)),
         Error.OUT_OF_RANGE),
        ("ORDER of all ones", encode(REQUEST_SYNC, Command.ORDER, struct.pack("<IB", position(0, 0), 0xFF)),
         Error.OUT_OF_RANGE),
        ("EPOCH of nothing", count_request(Command.EPOCH, 0, 0), Error.OUT_OF_RANGE),
        ("EPOCH past the order", count_request(Command.EPOCH, 1, n), Error.OUT_OF_RANGE),
        ("EVALUATE past the records", count_request(Command.EVALUATE, n - 2, 3), Error.OUT_OF_RANGE),
        ("truncated STORE", encode(REQUEST_SYNC, Command.STORE, store(0, [7] * 8))[:9], Error.TRUNCATED),
    ]

    def host():
        golden = FixedNet(cfg, params["init_seed"])
        HardwareModel(client, cfg, params["init_seed"])  # resets, loads golden's weights
        assert send(client, n, commands.store(cfg, 0, x, y, CHUNK)) == [ACK] * -(-n * stride // CHUNK)
        for name, frame, error in cases:
            code, payload = client.exchange(frame)
            assert code == error, f"{name}: the board answered {code:#x}, expected {error.name}"
            assert payload == b"", f"{name}: an error reply carries no payload"
        assert client.counters()["samples"] == 0, "bad requests ran something"
        order = sample_orders(params["order_seed"], n_train, 1)[0]
        send(client, n, commands.order(0, order, CHUNK))
        correct, cycles, _ = send(client, n, commands.epoch(0, n_train))
        assert correct == golden_epoch(golden, x, y, order), "EPOCH through the link"
        assert cycles > client.counters()["cycles"] > 0
        assert_weights(client.read_weights(), golden.weights, "after a stored epoch through the link")
        correct, _, checksum = send(client, n, commands.evaluate(n_train, n - n_train))
        assert checksum == run_checksum(record_bytes(cfg, x[n_train:], y[n_train:])), "EVALUATE's checksum"
        assert correct == int(np.sum(golden.predict(x[n_train:]) == y[n_train:])), "EVALUATE through the link"

    await bridge(host)()


@cocotb.test()
async def stored_training_on_the_board_equals_golden(dut):
    params = load_params()
    await start_clock(dut)  # a clock of its own: cocotb ends the previous test's tasks
    cfg = golden_config(params)
    n_train, n_test, seed, epochs = params["samples"], params["test_samples"], params["order_seed"], 2
    full = load_data(cfg, params["data"])
    split = Split(full.name, full.x_train[:n_train], full.y_train[:n_train], full.x_test[:n_test], full.y_test[:n_test])
    client = BoardClient(SimTransport(dut, params["idle_cycles"]), cfg)

    def host():
        assert client.check()["store_samples"] == n_train + n_test, "INFO must tell the host the store's size"
        return train_on_board(client, cfg, split, epochs, seed, n_train + n_test)

    result, weights = await bridge(host)()
    golden = FixedNet(cfg, seed)
    expected = train(golden, split, epochs, seed)
    for key in ("history", "test_accuracy", "train_accuracy", "train_history_online"):
        assert result[key] == expected[key], f"{key}: the board {result[key]}, golden {expected[key]}"
    # the run returns {"W0": ..., "b0": ...}: back into golden's n_out x (n_in + 1) matrices
    trained = [np.column_stack([weights[f"W{l}"], weights[f"b{l}"]]) for l in range(len(golden.weights))]
    assert_weights(trained, golden.weights, "after a stored run on the board")
