# amaranth: UnusedElaboratable=no
"""The host link's parts alone, in Amaranth simulation, against the frames the host makes (:mod:`hdl.link.frames`).

Deframer: frames from ``frames.encode`` (good, corrupt, truncated, after noise) must come
out with their header, CRC verdict and payload in the buffer. ReplyFramer: its bytes must
be ``frames.encode`` of the plan's payload. RequestSequencer: the command words a request
sends the core, and its reply plan, against a small model of the rules in ``hdl.link.frames``.
"""
# amaranth: UnusedElaboratable=no

import random
import struct

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from trifactor.hdl.link.deframer import Deframer
from trifactor.hdl.link.frame_crc import SharedCrc
from trifactor.hdl.link.frames import (CHUNK, REPLY_SYNC, REQUEST_SYNC, Command, Error, LoadHead, ReadHead, TrainHead,
                                  encode, pack)
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import ACK, header
from trifactor.hdl.link.reply_framer import ReplyFramer
from trifactor.hdl.link.request_sequencer import RequestSequencer

from conftest import make_config

TIMEOUT = 40


def simulate(m, bench, cycles=200_000):
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run_until(cycles * 1e-6)


async def send_bytes(ctx, port, data, gap=0):
    """Bytes into a stream, one transfer per byte; ``gap`` idle cycles between them."""
    for n, byte in enumerate(data):
        if n and gap:
            await ctx.tick().repeat(gap)
        ctx.set(port.valid, 1)
        ctx.set(port.payload, byte)
        await ctx.tick().until(port.ready)
        ctx.set(port.valid, 0)


# -- Deframer ------------------------------------------------------------------------------------

def deframer_bench(buffer_size=16):
    m = Module()
    m.submodules.dut = dut = Deframer(buffer_size=buffer_size, timeout_cycles=TIMEOUT)
    m.submodules.crc = crc = SharedCrc()
    m.submodules.buffer = buffer = Memory(shape=8, depth=dut.buffer_depth, init=[])
    wiring.connect(m, dut.buffer, buffer.write_port())
    wiring.connect(m, dut.crc, crc.a)
    return m, dut, buffer


def corrupt(frame, at):
    broken = bytearray(frame)
    broken[at] ^= 0x10
    return bytes(broken)


rng = random.Random(3)
PAYLOAD = bytes(rng.randrange(256) for _ in range(12))
DEFRAMER_CASES = {  # bytes on the line -> (code, length, intact, error)
    "good": (encode(REQUEST_SYNC, Command.LOAD, PAYLOAD), (Command.LOAD, 12, 1, None)),
    "empty": (encode(REQUEST_SYNC, Command.INFO), (Command.INFO, 0, 1, None)),
    "noise first": (bytes([0, 0x5A, 0x13]) + encode(REQUEST_SYNC, Command.TRAIN, PAYLOAD[:5]), (Command.TRAIN, 5, 1, None)),
    "longer than the buffer": (encode(REQUEST_SYNC, 0x7F, PAYLOAD * 3), (0x7F, 36, 1, None)),
    "corrupt payload": (corrupt(encode(REQUEST_SYNC, Command.LOAD, PAYLOAD), 6), (Command.LOAD, 12, 0, Error.BAD_CRC)),
    "corrupt CRC": (corrupt(encode(REQUEST_SYNC, Command.INFER, PAYLOAD), -1), (Command.INFER, 12, 0, Error.BAD_CRC)),
    "truncated": (encode(REQUEST_SYNC, Command.LOAD, PAYLOAD)[:9], (Command.LOAD, 12, 0, Error.TRUNCATED)),
    "length beyond what comes": (bytes([REQUEST_SYNC, 0xFF, 0xFF, Command.INFER, 1, 2]),
                                 (Command.INFER, 0xFFFF, 0, Error.TRUNCATED)),
}


@pytest.mark.parametrize("case", DEFRAMER_CASES)
def test_deframer_against_encode(case):
    line, (code, length, intact, error) = DEFRAMER_CASES[case]
    m, dut, buffer = deframer_bench()

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        await send_bytes(ctx, dut.i, line, gap=1)
        waited = 0
        while not ctx.get(dut.o.valid):
            await ctx.tick()
            waited += 1
        if intact or error == Error.BAD_CRC:  # offered ``latency`` cycles after the last byte's transfer
            assert waited + 1 == dut.latency, waited
        frame = ctx.get(dut.o.payload)
        assert (frame.header.code, frame.header.length, frame.intact) == (code, length, intact)
        if not intact:
            assert frame.error == error
        else:
            payload = line[line.index(REQUEST_SYNC) + 4:-2][:dut.buffer_depth]
            assert bytes(ctx.get(buffer.data[n]) for n in range(len(payload))) == payload
        assert ctx.get(dut.busy) and not ctx.get(dut.i.ready), "held until taken, the line not read"
        await ctx.tick().repeat(3 * TIMEOUT)
        assert ctx.get(dut.o.valid), "a waiting frame never times out"
        ctx.set(dut.o.ready, 1)
        await ctx.tick()
        ctx.set(dut.o.ready, 0)
        assert not ctx.get(dut.o.valid) and not ctx.get(dut.busy)
        # and the next frame comes through
        await send_bytes(ctx, dut.i, encode(REQUEST_SYNC, Command.COUNTERS))
        await ctx.tick().repeat(dut.latency)
        assert ctx.get(dut.o.valid) and ctx.get(dut.o.payload.intact)

    simulate(m, bench)


def test_deframer_refuses_bad_parameters():
    with pytest.raises(ValueError, match="timeout_cycles must be positive, not 0"):
        Deframer(buffer_size=8, timeout_cycles=0)
    with pytest.raises(TypeError, match="buffer_size must be an integer, not 8.5"):
        Deframer(buffer_size=8.5, timeout_cycles=3)


# -- ReplyFramer ---------------------------------------------------------------------------------

INFO = bytes(range(100, 117))
FRAMER_CASES = {  # plan, core words -> the reply's code and payload
    "prediction": ({"code": Command.TRAIN, "length": 2, "words": 1, "word_bytes": 2}, [0xABCD_0007], b"\x07\x00"),
    "READ": ({"code": Command.READ, "length": 6, "words": 3, "word_bytes": 2}, [0x1234, 0xFFFF_8001, 0x7F],
             b"\x34\x12\x01\x80\x7f\x00"),
    "COUNTERS": ({"code": Command.COUNTERS, "length": 8, "words": 2, "word_bytes": 4}, [0x0403_0201, 0x0807_0605],
                 bytes(range(1, 9))),
    "LOAD's ACK": ({"code": Command.LOAD, "length": 0, "words": 1, "word_bytes": 0}, [ACK], b""),
    "INFO": ({"code": Command.INFO, "length": len(INFO), "info": 1}, [], INFO),
    "error": ({"code": Error.OUT_OF_RANGE}, [], b""),
}


@pytest.mark.parametrize("case", FRAMER_CASES)
def test_reply_framer_against_encode(case):
    fields, words, payload = FRAMER_CASES[case]
    m = Module()
    m.submodules.dut = dut = ReplyFramer(info=INFO, max_words=8)
    m.submodules.crc = crc = SharedCrc()
    m.submodules.rom = rom = Memory(shape=8, depth=len(INFO), init=INFO)  # the link keeps INFO in its buffer
    wiring.connect(m, dut.crc, crc.b)
    wiring.connect(m, dut.rom, rom.read_port())
    plan = {"header": {"code": fields["code"], "length": fields.get("length", 0)}, "words": fields.get("words", 0),
            "word_bytes": fields.get("word_bytes", 0), "info": fields.get("info", 0)}
    out = bytearray()

    async def core(ctx):
        for word in words:
            ctx.set(dut.reply.valid, 1)
            ctx.set(dut.reply.payload, word)
            await ctx.tick().until(dut.reply.ready)
        ctx.set(dut.reply.valid, 0)

    async def bench(ctx):
        ctx.set(dut.plan.valid, 1)
        ctx.set(dut.plan.payload, plan)
        stall = random.Random(len(out))
        for _ in range(2000):
            ready = stall.random() < 0.7  # a slow UART
            ctx.set(dut.o.ready, ready)
            _, _, valid, byte, taken = await ctx.tick().sample(dut.o.valid, dut.o.payload, dut.plan.ready)
            if valid and ready:
                out.append(byte)
            if taken:
                break
        else:
            raise AssertionError(f"the frame never ended: {bytes(out).hex()}")
        ctx.set(dut.plan.valid, 0)
        assert bytes(out) == encode(REPLY_SYNC, fields["code"], payload)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(core, background=True)
    sim.add_testbench(bench)
    sim.run()


def test_frame_link_sends_info_from_its_buffer_memory_whatever_a_frame_wrote_there():
    """The link keeps INFO in the payload buffer's block RAM, after the payload's addresses: a frame whose payload
    fills the buffer and runs past it (refused) leaves it whole."""
    from trifactor.hdl.link.host_link import FrameLink
    cfg = make_config((2, 2, 2), hardware={"lanes": 1})
    info = bytes(range(30, 58))
    dut = FrameLink(cfg, timeout_cycles=TIMEOUT, info=info)
    depth = dut.deframer.buffer_depth
    spoilt = bytearray(encode(REQUEST_SYNC, Command.LOAD, bytes(range(256)) * (depth // 128 + 1)))
    spoilt[-1] ^= 1
    sent = encode(REQUEST_SYNC, Command.INFO) + bytes(spoilt) + encode(REQUEST_SYNC, Command.INFO)
    expected = (encode(REPLY_SYNC, Command.INFO, info) + encode(REPLY_SYNC, Error.BAD_CRC)
                + encode(REPLY_SYNC, Command.INFO, info))
    out = bytearray()

    async def host(ctx):
        await send_bytes(ctx, dut.rx, sent)

    async def uart(ctx):
        stall = random.Random(5)
        while len(out) < len(expected):
            ready = stall.random() < 0.6
            ctx.set(dut.tx.ready, ready)
            _, _, valid, byte = await ctx.tick().sample(dut.tx.valid, dut.tx.payload)
            if valid and ready:
                out.append(byte)
        assert bytes(out) == expected

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host, background=True)
    sim.add_testbench(uart)
    sim.run_until(20_000e-6)
    assert len(out) == len(expected), bytes(out).hex()


def test_reply_framer_refuses_bad_parameters():
    with pytest.raises(TypeError, match="info must be bytes, not 'TRI1'"):
        ReplyFramer(info="TRI1", max_words=4)
    with pytest.raises(ValueError, match="max_words must be 1 to 65535, not 0"):
        ReplyFramer(info=b"TRI1", max_words=0)


# -- RequestSequencer ----------------------------------------------------------------------------

CFG = make_config((16, 12, 4), hardware={"lanes": 2})  # 8-bit inputs, 16-bit weights
LAYOUT = WeightLayout(CFG)
TOTAL = LAYOUT.depth * CFG.lanes


def model(code, payload):
    """(command words to the core, reply code, reply length) of a request, as hdl.link.frames describes it."""
    n_in, length = CFG.sizes[0], len(payload)
    if code == Command.TRAIN:
        if length != 2 + n_in:
            return [], Error.BAD_LENGTH, 0
        label = struct.unpack("<H", payload[:2])[0]
        if label >= CFG.n_classes:
            return [], Error.OUT_OF_RANGE, 0
        return [header(1, label), *payload[2:]], code, 2
    if code == Command.INFER:
        return ([header(2), *payload], code, 2) if length == n_in else ([], Error.BAD_LENGTH, 0)
    if code in (Command.LOAD, Command.READ):
        if code == Command.LOAD and not (length >= 6 and length <= 4 + 2 * CHUNK and length % 2 == 0):
            return [], Error.BAD_LENGTH, 0
        if code == Command.READ and length != 6:
            return [], Error.BAD_LENGTH, 0
        where = struct.unpack("<I", payload[:4])[0]
        address, lane = where & 0xFF_FFFF, where >> 24
        count = (length - 4) // 2 if code == Command.LOAD else struct.unpack("<H", payload[4:6])[0]
        if address >= LAYOUT.depth or lane >= CFG.lanes or count == 0 or address * CFG.lanes + lane + count > TOTAL:
            return [], Error.OUT_OF_RANGE, 0
        if code == Command.READ:
            return [header(4, count), where], code, 2 * count
        return [header(3, count), where, *struct.unpack(f"<{count}H", payload[4:])], code, 0
    if code in (Command.COUNTERS, Command.RESET, Command.INFO):
        if length:
            return [], Error.BAD_LENGTH, 0
        return ([header(5)] if code == Command.COUNTERS else []), code, {Command.COUNTERS: 32, Command.INFO: 28}.get(code, 0)
    return [], Error.UNKNOWN_COMMAND, 0


def load(address, lane, count):
    return pack(LoadHead, position={"address": address, "lane": lane}) + bytes(range(1, 2 * count + 1))


def read(address, lane, count):
    return pack(ReadHead, position={"address": address, "lane": lane}, count=count)


SEQUENCER_CASES = {
    "TRAIN": (Command.TRAIN, pack(TrainHead, label=3) + bytes(range(200, 216))),
    "TRAIN label past the classes": (Command.TRAIN, pack(TrainHead, label=4) + bytes(16)),
    "TRAIN label 65539": (Command.TRAIN, b"\x03\x00\x01" + bytes(15)),  # a label byte beyond 16 bits is an input
    "TRAIN short": (Command.TRAIN, bytes(17)),
    "INFER": (Command.INFER, bytes(range(16))),
    "LOAD": (Command.LOAD, load(1, 1, 5)),
    "LOAD to the end": (Command.LOAD, load(LAYOUT.depth - 1, 0, 2)),
    "LOAD past the end": (Command.LOAD, load(LAYOUT.depth - 1, 1, 2)),
    "LOAD of a full chunk": (Command.LOAD, load(0, 0, CHUNK)),
    "LOAD over a chunk": (Command.LOAD, load(0, 0, CHUNK + 1)),
    "LOAD odd length": (Command.LOAD, load(0, 0, 2)[:-1]),
    "LOAD far address": (Command.LOAD, load(1 << 16, 0, 1)),
    "LOAD no lane": (Command.LOAD, load(0, CFG.lanes, 1)),
    "READ": (Command.READ, read(0, 1, 7)),
    "READ everything": (Command.READ, read(0, 0, TOTAL)),
    "READ one too many": (Command.READ, read(0, 1, TOTAL)),
    "READ nothing": (Command.READ, read(0, 0, 0)),
    "READ a huge count": (Command.READ, read(0, 0, 0xFFFF)),
    "COUNTERS": (Command.COUNTERS, b""),
    "COUNTERS with payload": (Command.COUNTERS, b"\0"),
    "RESET": (Command.RESET, b""),
    "INFO": (Command.INFO, b""),
    "unknown": (0x7F, b""),
}


@pytest.mark.parametrize("case", SEQUENCER_CASES)
def test_request_sequencer_against_the_model(case):
    code, payload = SEQUENCER_CASES[case]
    words, reply_code, reply_length = model(code, payload)
    m = Module()
    m.submodules.dut = dut = RequestSequencer(CFG, info_length=28)
    m.submodules.buffer = buffer = Memory(shape=8, depth=dut.buffer_size,
                                          init=list(payload[:dut.buffer_size]))
    wiring.connect(m, dut.buffer, buffer.read_port())
    got = []

    async def bench(ctx):
        ctx.set(dut.i.payload, {"header": {"code": code, "length": len(payload)}, "intact": 1})
        ctx.set(dut.i.valid, 1)
        resets = 0
        for _ in range(5000):
            ctx.set(dut.cmd.ready, 1)
            ctx.set(dut.reply.ready, 0)
            _, _, valid, word, reset, plan_valid = await ctx.tick().sample(
                dut.cmd.valid, dut.cmd.payload, dut.core_reset, dut.reply.valid)
            resets += reset
            if valid:
                got.append(word)
            if plan_valid:
                break
        plan = ctx.get(dut.reply.payload)
        assert got == words, (plan.header.code, reply_code)
        assert (plan.header.code, plan.header.length) == (reply_code, reply_length)
        assert resets == (reply_code == Command.RESET)
        ctx.set(dut.reply.ready, 1)
        assert ctx.get(dut.i.ready), "the request is taken with its reply"

    simulate(m, bench, cycles=6000)


def test_request_sequencer_turns_a_bad_frame_into_its_error():
    m = Module()
    m.submodules.dut = dut = RequestSequencer(CFG, info_length=28)
    m.submodules.buffer = buffer = Memory(shape=8, depth=dut.buffer_size, init=[])
    wiring.connect(m, dut.buffer, buffer.read_port())

    async def bench(ctx):
        ctx.set(dut.i.payload, {"header": {"code": Command.RESET, "length": 0}, "intact": 0, "error": Error.TRUNCATED})
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.cmd.ready, 1)
        await ctx.tick().until(dut.reply.valid)
        plan = ctx.get(dut.reply.payload)
        assert (plan.header.code, plan.header.length, plan.words, plan.info) == (Error.TRUNCATED, 0, 0, 0)
        assert not ctx.get(dut.cmd.valid) and not ctx.get(dut.core_reset)

    simulate(m, bench, cycles=100)


def test_request_sequencer_refuses_bad_parameters():
    with pytest.raises(TypeError, match="config must be a Config"):
        RequestSequencer({"sizes": [4, 2]}, info_length=28)
    with pytest.raises(ValueError, match="info_length must be"):
        RequestSequencer(CFG, info_length=1 << 16)



def test_request_sequencer_ends_a_payload_that_fills_the_buffer():
    """254 8-bit inputs: TRAIN's payload is 256 bytes, the whole buffer. The value pointer must count to 256, not
    wrap to 0 at the buffer's end (it did: the core got words without end, taken as further commands)."""
    cfg = make_config((254, 4, 2))
    payload = pack(TrainHead, label=1) + bytes(n % 256 for n in range(254))
    m = Module()
    m.submodules.dut = dut = RequestSequencer(cfg, info_length=28)
    assert dut.buffer_size == len(payload) == 256
    m.submodules.buffer = buffer = Memory(shape=8, depth=dut.buffer_size, init=list(payload))
    wiring.connect(m, dut.buffer, buffer.read_port())
    got = []

    async def bench(ctx):
        ctx.set(dut.i.payload, {"header": {"code": Command.TRAIN, "length": len(payload)}, "intact": 1})
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.cmd.ready, 1)
        for _ in range(3000):
            _, _, valid, word, plan_valid = await ctx.tick().sample(dut.cmd.valid, dut.cmd.payload, dut.reply.valid)
            if valid:
                got.append(word)
            if plan_valid:
                break
        assert got == [header(1, 1), *payload[2:]], f"{len(got)} words to the core, not {1 + 254}"

    simulate(m, bench, cycles=4000)


def test_request_sequencer_reply_words_are_bounded_by_a_read_count():
    """The MNIST core has 102544 bank words; one READ carries at most 65535 (its 16-bit count), so the reply
    framer's word counter is sized for that, not refused (it was: the board build of configs/mnist-up5k.toml failed)."""
    from trifactor.golden.config import load_config
    from conftest import ROOT
    seq = RequestSequencer(load_config(ROOT / "configs" / "mnist-up5k.toml"), info_length=28)
    assert seq.max_reply_words == (1 << ReadHead["count"].width) - 1
    small = RequestSequencer(make_config((7, 5, 3), hardware={"lanes": 2}), info_length=28)
    assert small.max_reply_words == 2 * (3 * 8 + 2 * 6)  # every bank word: lanes x groups x (inputs + bias)


def test_request_sequencer_refuses_a_full_chunk_into_banks_smaller_than_it():
    """A core of 12 bank words: a LOAD of CHUNK (64) weights ends far past them, and must be refused however the
    sum of its first word and its count is held (a register too narrow wrapped 0 + 64 to 0: accepted)."""
    tiny = make_config((2, 2, 2), hardware={"lanes": 1})
    total = WeightLayout(tiny).depth * tiny.lanes
    assert total < CHUNK
    results = run_sequencer(tiny, [(Command.LOAD, load(0, 0, CHUNK)), (Command.LOAD, load(total - 1, 0, CHUNK)),
                                   (Command.LOAD, load(0, 0, total)), (Command.LOAD, load(0, 0, total + 1))])
    assert [(code, words[:1]) for words, code, _ in results] == [
        (Error.OUT_OF_RANGE, []), (Error.OUT_OF_RANGE, []), (Command.LOAD, [header(3, total)]),
        (Error.OUT_OF_RANGE, [])]


# -- RequestSequencer with a data store ------------------------------------------------------------

#: 8-bit inputs and weights, 300 samples: a sample index takes 2 bytes, wider than any input or weight
STORE_CFG = make_config((6, 4, 3), fixed={"weight": {"width": 8, "frac": 7}}, hardware={"lanes": 2})
STORE_SAMPLES = 300


def store_model(requests, flash=False):
    """(command words to the core, reply code, reply length) of each request of a sequence to a board whose store
    (STORE_SAMPLES samples, in block RAM, or with ``flash`` in the board's flash) was never written, as
    hdl.link.frames describes the store commands."""
    from trifactor.hdl.link.frames import order_bytes, reply_length, value_bytes
    from trifactor.hdl.protocol import Op
    from trifactor.hdl.store import DataStore

    store = DataStore(STORE_CFG, samples=STORE_SAMPLES)
    written, out = {Command.STORE} if flash else set(), []
    for code, payload in requests:
        length = len(payload)
        where = struct.unpack("<I", payload[:4])[0] if length >= 4 else 0
        address, lane = where & 0xFF_FFFF, where >> 24
        if code == Command.STORE and flash:
            out.append(([], Error.UNKNOWN_COMMAND, 0))
        elif code in (Command.STORE, Command.ORDER):
            size = value_bytes(store.width) if code == Command.STORE else order_bytes(STORE_SAMPLES)
            room = store.depth if code == Command.STORE else STORE_SAMPLES
            values = [int.from_bytes(payload[at:at + size], "little") for at in range(4, length, size)]
            if not 4 + size <= length <= 4 + CHUNK * size or (length - 4) % size:
                out.append(([], Error.BAD_LENGTH, 0))
            elif lane or address >= room or address + len(values) > room or (
                    code == Command.ORDER and max(values) >= STORE_SAMPLES):
                out.append(([], Error.OUT_OF_RANGE, 0))
            else:
                op = Op.STORE if code == Command.STORE else Op.ORDER
                written.add(code)
                out.append(([header(op, len(values)), where, *values], code, 0))
        elif code in (Command.EPOCH, Command.EVALUATE):
            count = struct.unpack("<H", payload[4:6])[0] if length == 6 else 0
            if length != 6:
                out.append(([], Error.BAD_LENGTH, 0))
            elif lane or count == 0 or address >= STORE_SAMPLES or address + count > STORE_SAMPLES:
                out.append(([], Error.OUT_OF_RANGE, 0))
            elif Command.STORE not in written or (code == Command.EPOCH and Command.ORDER not in written):
                out.append(([], Error.NOT_STORED, 0))
            else:
                op = Op.EPOCH if code == Command.EPOCH else Op.EVALUATE
                out.append(([header(op, count), where], code, reply_length(STORE_CFG, code)))
        else:
            raise ValueError(code)
    return out


def run_sequencer(cfg, requests, store=None):
    """Each request in turn through one RequestSequencer (so what one leaves behind meets the next): per request,
    the command words it sent the core, and its reply plan's code and length."""
    m = Module()
    m.submodules.dut = dut = RequestSequencer(cfg, info_length=28, store=store)
    m.submodules.buffer = buffer = Memory(shape=8, depth=dut.buffer_size, init=[])
    wiring.connect(m, dut.buffer, buffer.read_port())
    results = []

    async def bench(ctx):
        ctx.set(dut.cmd.ready, 1)
        for code, payload in requests:
            for at, byte in enumerate(payload[:dut.buffer_size]):
                ctx.set(buffer.data[at], byte)
            ctx.set(dut.i.payload, {"header": {"code": code, "length": len(payload)}, "intact": 1})
            ctx.set(dut.i.valid, 1)
            words = []
            for _ in range(5000):
                _, _, valid, word, plan_valid = await ctx.tick().sample(dut.cmd.valid, dut.cmd.payload,
                                                                        dut.reply.valid)
                if valid:
                    words.append(word)
                if plan_valid:
                    break
            plan = ctx.get(dut.reply.payload)
            results.append((words, plan.header.code, plan.header.length))
            ctx.set(dut.reply.ready, 1)
            await ctx.tick()
            ctx.set(dut.reply.ready, 0)
            ctx.set(dut.i.valid, 0)
            await ctx.tick().repeat(2)

    simulate(m, bench, cycles=6000 * (len(requests) + 1))
    return results


def _at(address, values=b""):
    return struct.pack("<I", address) + values


def _indices(*values):
    return b"".join(struct.pack("<H", v) for v in values)


def _run(address, count, lane=0):
    return struct.pack("<IH", address | lane << 24, count)


#: A board's first requests: runs before anything was stored, ORDER indices at and past the store's end, then
#: the good ones; each sequence starts from a freshly configured board.
STORE_SEQUENCES = {
    "runs before any STORE or ORDER": [
        (Command.EPOCH, _run(0, 1)), (Command.EVALUATE, _run(0, 1)), (Command.STORE, _at(0, bytes(range(7)))),
        (Command.EPOCH, _run(0, 1)), (Command.EVALUATE, _run(0, 1)), (Command.ORDER, _at(0, _indices(0))),
        (Command.EPOCH, _run(0, 1))],
    "ORDER indices outside the store": [
        (Command.STORE, _at(0, bytes(7))),
        (Command.ORDER, _at(0, _indices(STORE_SAMPLES))), (Command.ORDER, _at(0, _indices(0xFFFF))),
        (Command.ORDER, _at(5, _indices(1, 2, STORE_SAMPLES + 1, 3))), (Command.EPOCH, _run(0, 1)),
        (Command.ORDER, _at(0, _indices(STORE_SAMPLES - 1, 256, 0x1FF, 0))), (Command.EPOCH, _run(0, 4))],
    # the indices were gathered into a register as wide as an input or a weight (8 bits), so 256 reached the
    # core as 0 and 299 as 43
    "ORDER indices wider than a byte": [
        (Command.STORE, _at(0, bytes(7))), (Command.ORDER, _at(0, _indices(256, STORE_SAMPLES - 1, 1)))],
    "store requests out of place": [
        (Command.STORE, _at(STORE_SAMPLES * 7 - 1, bytes(2))), (Command.STORE, _at(1 << 24, bytes(1))),
        (Command.STORE, _at(0)), (Command.ORDER, _at(STORE_SAMPLES - 1, _indices(1, 2))),
        (Command.ORDER, _at(0, _indices(1) + b"\0")), (Command.STORE, _at(0, bytes(CHUNK + 1))),
        (Command.STORE, _at(0, bytes(CHUNK))), (Command.EVALUATE, _run(STORE_SAMPLES - 2, 3)),
        (Command.EVALUATE, _run(0, 0)), (Command.EVALUATE, _run(0, 1, lane=1)),
        (Command.EVALUATE, _run(0, 1) + b"\0"), (Command.EVALUATE, _run(STORE_SAMPLES - 1, 1))],
}


@pytest.mark.parametrize("flash", [False, True], ids=["block RAM", "flash"])
@pytest.mark.parametrize("case", STORE_SEQUENCES)
def test_request_sequencer_store_commands_against_the_model(case, flash):
    """With the records in flash, STORE is unknown and EVALUATE needs no STORE (the flash's checksum tells)."""
    from trifactor.hdl.store import DataStore, FlashPlacement

    requests = STORE_SEQUENCES[case]
    placement = FlashPlacement(offset=0x100000, clk_hz=12e6) if flash else None
    got = run_sequencer(STORE_CFG, requests, store=DataStore(STORE_CFG, samples=STORE_SAMPLES, flash=placement))
    for (code, payload), result, expected in zip(requests, got, store_model(requests, flash)):
        assert result == expected, f"{Command(code).name} {payload.hex()}: {result} != {expected}"
