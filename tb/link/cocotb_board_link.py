"""cocotb: the simulated board (host link, both UARTs, core) driven by the host driver of ``--backend board``.

Training through the UART must equal golden's fixed model to the last weight bit. Every
kind of bad request (corrupt, truncated, unknown, wrong length, out of range, noise on
the line) gets its error reply, leaves the weights and counters as they were, and the
link answers the next request.
"""

import struct

import cocotb
import numpy as np
from cocotb.task import bridge

from trifactor.golden.fixed_model import FixedNet
from trifactor.hdl.link.frames import CHUNK, REQUEST_SYNC, Command, Error, encode
from trifactor.hdl.protocol import COST_NAMES, counter_names, position
from trifactor.scripts.host.client import BoardClient
from trifactor.scripts.host.model import HardwareModel
from trifactor.scripts.sim.drivers import SimTransport
from trifactor.scripts.sim.streams import start_clock

from golden_checks import assert_weights, expected_costs, sample_data
from sim import load_params
from unit_params import golden_config


async def _client(dut, params):
    await start_clock(dut)
    return BoardClient(SimTransport(dut, params["idle_cycles"]), golden_config(params))


@cocotb.test()
async def trains_through_the_uart_bit_exactly(dut):
    params = load_params()
    client = await _client(dut, params)
    cfg = client.config
    x, y = sample_data(cfg, params, np.random.default_rng(params["seed"]))
    n_train = params["samples"]

    def host():
        golden = FixedNet(cfg, params["init_seed"])
        model = HardwareModel(client, cfg, params["init_seed"])  # checks INFO, resets, loads golden's weights
        assert_weights(client.read_weights(), golden.weights, "after LOAD through the link")
        costs = dict.fromkeys(COST_NAMES, 0)
        for n in range(n_train):
            got = model.train_sample(x[n], int(y[n]))["prediction"]
            step = golden.train_sample(x[n], int(y[n]))
            assert got == step["prediction"], f"sample {n}: board predicted {got}, golden {step['prediction']}"
            for name, count in expected_costs(cfg, step).items():
                costs[name] += count
        assert_weights(client.read_weights(), golden.weights, f"after {n_train} samples")
        assert model.predict(x[n_train:]).tolist() == golden.predict(x[n_train:]).tolist(), "INFER differs"
        counters = model.train_counters()
        assert counters["samples"] == n_train, counters
        # the COUNTERS reply: two words per counter of the configuration (26 with the cost counters, else 8)
        reply = client.request(Command.COUNTERS)
        assert len(reply) == 8 * len(counter_names(cfg)) == (104 if cfg.cost_counters else 32), len(reply)
        if cfg.cost_counters:
            assert {name: counters[name] for name in COST_NAMES} == costs, (counters, costs)
        client.reset()
        assert client.counters()["samples"] == 0, "RESET must clear the counters"
        assert_weights(client.read_weights(), golden.weights, "after RESET (the weights stay)")

    await bridge(host)()


@cocotb.test()
async def bad_requests_change_nothing(dut):
    params = load_params()
    client = await _client(dut, params)
    cfg = client.config
    n_in, ib, wb = cfg.sizes[0], client.input_bytes, client.weight_bytes
    depth = client.layout.depth

    def load(start, count):
        return struct.pack("<I", position(*divmod(start, cfg.lanes))) + bytes(count * wb)

    def corrupt(frame):
        broken = bytearray(frame)
        broken[5] ^= 0x10  # a payload bit
        return bytes(broken)

    cases = [
        ("bad CRC", corrupt(encode(REQUEST_SYNC, Command.LOAD, load(0, 8))), Error.BAD_CRC),
        ("unknown command", encode(REQUEST_SYNC, 0x7F), Error.UNKNOWN_COMMAND),
        ("INFER one input short", encode(REQUEST_SYNC, Command.INFER, bytes((n_in - 1) * ib)), Error.BAD_LENGTH),
        ("TRAIN without inputs", encode(REQUEST_SYNC, Command.TRAIN, bytes(2)), Error.BAD_LENGTH),
        ("LOAD of half a weight", encode(REQUEST_SYNC, Command.LOAD, load(0, 1)[:-1] if wb > 1 else load(0, 0)),
         Error.BAD_LENGTH),
        ("LOAD longer than a chunk", encode(REQUEST_SYNC, Command.LOAD, load(0, CHUNK + 1)), Error.BAD_LENGTH),
        ("COUNTERS with a payload", encode(REQUEST_SYNC, Command.COUNTERS, b"\0"), Error.BAD_LENGTH),
        ("TRAIN label past the classes", encode(REQUEST_SYNC, Command.TRAIN,
                                                 struct.pack("<H", cfg.n_classes) + bytes(n_in * ib)), Error.OUT_OF_RANGE),
        ("LOAD past the banks", encode(REQUEST_SYNC, Command.LOAD, load(depth * cfg.lanes - 2, 3)), Error.OUT_OF_RANGE),
        ("LOAD at a lane that does not exist", encode(REQUEST_SYNC, Command.LOAD,
                                                      struct.pack("<I", position(0, cfg.lanes)) + bytes(wb)),
         Error.OUT_OF_RANGE),
        ("READ past the banks", encode(REQUEST_SYNC, Command.READ, struct.pack("<IH", position(depth - 1, 0),
                                                                                cfg.lanes + 1)), Error.OUT_OF_RANGE),
        ("READ of nothing", encode(REQUEST_SYNC, Command.READ, struct.pack("<IH", 0, 0)), Error.OUT_OF_RANGE),
        ("truncated LOAD", encode(REQUEST_SYNC, Command.LOAD, load(0, 8))[:9], Error.TRUNCATED),
        ("length beyond what comes", bytes([REQUEST_SYNC, 0xFF, 0xFF, Command.INFER]) + bytes(4), Error.TRUNCATED),
        ("noise, then a truncated frame", bytes([0x00, 0x13, 0xFF, REQUEST_SYNC, 4, 0]), Error.TRUNCATED),
    ]

    def host():
        golden = FixedNet(cfg, params["init_seed"])
        HardwareModel(client, cfg, params["init_seed"])  # known weights and counters, whatever ran before
        info = client.check()
        assert info["lanes"] == cfg.lanes and info["n_inputs"] == n_in, info
        for name, frame, error in cases:
            code, payload = client.exchange(frame)
            assert code == error, f"{name}: the board answered {code:#x}, expected {error.name}"
            assert payload == b"", f"{name}: an error reply carries no payload"
            assert client.info()["config_id"] == info["config_id"], f"{name}: the link does not answer afterwards"
        assert_weights(client.read_weights(), golden.weights, "after the bad requests")
        assert client.counters() == dict.fromkeys(client.counters(), 0), "bad requests ran something"
        # noise before a good request is skipped
        client.transport.write(bytes([0x00, 0x5A, 0x42]))
        assert client.request(Command.INFO)[:4] == b"TRI1"

    await bridge(host)()
