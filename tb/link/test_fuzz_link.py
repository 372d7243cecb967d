# amaranth: UnusedElaboratable=no
"""Fuzzing the host link: random byte streams into the real link RTL and core, in Amaranth simulation.

The design is :class:`~trifactor.hdl.host_link.BoardLink` without its two UARTs: its
:class:`~trifactor.hdl.host_link.LinkedCore` (the frame link and the
core), fed at one byte per cycle (the UARTs have their own proofs and tests).
Hypothesis draws the streams: good requests of every command of :class:`~trifactor.hdl.frames.Command`,
the same with a bit flipped or cut short, frames with random codes and payloads, and garbage
between them, with pauses that end a frame (longer than the timeout) or none.

For each stream a Python receiver (the framing of :mod:`hdl.link.frames`, written from its
description) says which frames the link must see. The link must:

- never hang: every byte is taken, and the link is back to the sync hunt within a bound;
- answer every frame with one reply frame (correct CRC), in order: BAD_CRC for a corrupt one,
  TRUNCATED for one cut short, UNKNOWN_COMMAND for a code that is no command, the command's
  own code for a good request, an error code otherwise;
- keep every weight bank word unless a good LOAD, TRAIN or EPOCH was answered with success;
- with a data store (:class:`StoreLinkSim`): never acknowledge an ORDER that names a sample
  outside the store, and never hold one in the order memory, so an EPOCH trains on stored
  samples only. Together: no request sequence changes a weight unless it is a complete,
  CRC-correct, in-range TRAIN, LOAD or EPOCH.

One simulation serves all cases (the link returns to the hunt between them), in a thread that
takes cases from Hypothesis's test function. ``make test`` runs FAST_CASES of them; the ``slow``
test runs FULL_CASES. Each run prints its figures (cases, replies, error replies, hangs,
good LOAD / TRAIN requests that succeeded, unexpected weight changes).
"""

import queue
import struct
import threading

import pytest
from amaranth.sim import Simulator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from trifactor.hdl.link import frame_crc
from trifactor.hdl.core.command_decoder import CommandDecoder
from trifactor.hdl.core.learner import LearnerCore
from trifactor.hdl.link.frames import (REPLY_SYNC, REQUEST_SYNC, Command, Error, FrameHeader, LoadHead, ReadHead,
                                  TrainHead, crc16, encode, info_bytes, order_bytes, pack, value_bytes)
from trifactor.hdl.link.request_sequencer import RequestSequencer
from trifactor.hdl.link.host_link import FrameLink, LinkedCore
from trifactor.hdl.layout import WeightLayout

from conftest import make_config
from formal import crc_always_matches

pytestmark = pytest.mark.fuzz

CONFIG = make_config(sizes=(2, 2, 2), hardware={"lanes": 1})
TIMEOUT = 4          # cycles of silence that end a frame
PAUSE = TIMEOUT + 2  # a pause that ends a frame
#: Cycles after the last byte within which the link must be back to the hunt: the timeout, the
#: longest request's values into the core and a TRAIN, the longest reply (COUNTERS).
HANG = 2_000
FAST_CASES, FAST_STORE_CASES, FULL_CASES = 250, 150, 2_500

N_IN, IB, WB = CONFIG.sizes[0], value_bytes(CONFIG.input.width), value_bytes(CONFIG.weight.width)
TOTAL = WeightLayout(CONFIG).depth * CONFIG.lanes
HEADER_BYTES = FrameHeader.size // 8
#: the store of StoreLinkSim: 5 samples, so indices 5..7 fit its order memory's 3 bits (and its records' words
#: past the 15 stored would be read)
SAMPLES = 5
STRIDE = N_IN + 1  # a record: the label, then the inputs
OB = order_bytes(SAMPLES)


# -- the link under test, in a thread of its own -----------------------------------------------------

class LinkSim:
    """BoardLink's :class:`LinkedCore` (link and core as a board wires them); :meth:`run` sends one case and
    returns what came back."""

    store_samples = 0

    def __init__(self):
        self.core = LearnerCore(CONFIG, seed=3, store_samples=self.store_samples)
        self.link = FrameLink(CONFIG, timeout_cycles=TIMEOUT, info=info_bytes(CONFIG, 1e6, 100_000,
                                                                               self.store_samples),
                              store=self.core.store)
        self.linked = LinkedCore(self.link, self.core)
        self.inbox, self.outbox, self.replies, self.stopped = queue.Queue(), queue.Queue(), bytearray(), None
        self.sim = Simulator(self.linked)
        self.sim.add_clock(1e-6)
        self.sim.add_testbench(self._serve)
        self.sim.add_testbench(self._collect, background=True)
        self.thread = threading.Thread(target=self.sim.run, daemon=True)
        self.thread.start()

    def run(self, segments):
        if not self.thread.is_alive():  # an earlier case ended the simulation: fail now, not after a wait per case
            raise RuntimeError(f"the link simulation has stopped: {self.stopped!r}")
        self.inbox.put(segments)
        result = self.outbox.get(timeout=600)
        if isinstance(result, BaseException):
            self.stopped = result
            raise result
        return result

    def close(self):
        self.inbox.put(None)
        self.thread.join(timeout=60)

    async def _collect(self, ctx):
        ctx.set(self.linked.tx.ready, 1)
        async for _, _, valid, byte in ctx.tick().sample(self.linked.tx.valid, self.linked.tx.payload):
            if valid:
                self.replies.append(byte)

    def _weights(self, ctx):
        return [[ctx.get(data[n]) for n in range(data.depth)] for data in self.core.banks.storage.data]

    async def _send(self, ctx, byte):
        """One byte into ``rx``; False if the link does not take it within HANG cycles."""
        rx = self.linked.rx
        ctx.set(rx.valid, 1)
        ctx.set(rx.payload, byte)
        for _ in range(HANG):
            _, _, ready = await ctx.tick().sample(rx.ready)
            if ready:
                ctx.set(rx.valid, 0)
                return True
        return False

    async def _case(self, ctx, segments):
        before, hung = self._weights(ctx), False
        self.replies.clear()
        for data, pause, _ in segments:
            for byte in data:
                if hung or not await self._send(ctx, byte):
                    hung = True
                    break
            if pause:
                await ctx.tick().repeat(PAUSE)
        await ctx.tick().repeat(PAUSE)
        for _ in range(HANG):  # back to the hunt, every reply sent, the core idle (TRAIN updates after its reply)
            if not ctx.get(self.link.busy) and ctx.get(self.link.cmd.ready):
                break
            await ctx.tick()
        else:
            hung = True
        await ctx.tick().repeat(2)
        order = [ctx.get(self.core.store.order_data[n]) for n in range(SAMPLES)] if self.core.store else []
        return {"hung": hung, "replies": bytes(self.replies), "before": before, "after": self._weights(ctx),
                "order": order}

    async def _prime(self, ctx):
        """Before the cases, with a store: every record and order entry written once (EPOCH and EVALUATE would
        otherwise answer NOT_STORED until a case stored something), and the replies checked."""
        if not self.core.store:
            return
        records = pack(LoadHead, position={"address": 0, "lane": 0}) + bytes(range(1, SAMPLES * STRIDE + 1))
        order = pack(LoadHead, position={"address": 0, "lane": 0}) + b"".join(
            n.to_bytes(OB, "little") for n in range(SAMPLES))
        result = await self._case(ctx, [(encode(REQUEST_SYNC, Command.STORE, records), True, None),
                                        (encode(REQUEST_SYNC, Command.ORDER, order), True, None)])
        assert [code for code, _ in reply_frames(result["replies"])] == [Command.STORE, Command.ORDER], result

    async def _serve(self, ctx):
        try:
            await self._prime(ctx)
        except BaseException as exc:
            self.stopped = exc
            return
        while (segments := self.inbox.get()) is not None:
            try:
                self.outbox.put(await self._case(ctx, segments))
            except BaseException as exc:  # handed to the test's thread
                self.outbox.put(exc)
                return


class StoreLinkSim(LinkSim):
    """The same with a data store of SAMPLES samples in block RAM: STORE, ORDER, EPOCH and EVALUATE too."""
    store_samples = SAMPLES


@pytest.fixture(scope="module")
def link_sim():
    sim = LinkSim()
    yield sim
    sim.close()


@pytest.fixture(scope="module")
def store_link_sim():
    sim = StoreLinkSim()
    yield sim
    sim.close()


# -- what the host sends ---------------------------------------------------------------------------

def _values(count, size):
    return st.binary(min_size=count * size, max_size=count * size)


def good_payloads():
    """A well-formed request payload for each command this module knows how to fill (others have none here)."""
    def position(start):
        return {"address": start // CONFIG.lanes, "lane": start % CONFIG.lanes}

    start_and_count = st.tuples(st.integers(0, TOTAL - 1), st.integers(1, 4)).map(
        lambda t: (t[0], min(t[1], TOTAL - t[0])))
    return {
        Command.TRAIN: st.tuples(st.integers(0, CONFIG.n_classes - 1), _values(N_IN, IB)).map(
            lambda t: pack(TrainHead, label=t[0]) + t[1]),
        Command.INFER: _values(N_IN, IB),
        Command.LOAD: start_and_count.flatmap(
            lambda t: _values(t[1], WB).map(lambda v, t=t: pack(LoadHead, position=position(t[0])) + v)),
        Command.READ: start_and_count.map(lambda t: pack(ReadHead, position=position(t[0]), count=t[1])),
        Command.COUNTERS: st.just(b""), Command.RESET: st.just(b""), Command.INFO: st.just(b""),
    }


def store_payloads():
    """Well-formed store requests inside the store of StoreLinkSim (good: they must succeed), and ORDERs with
    any index, inside the store or not (they may be refused)."""
    def where(at):
        return pack(LoadHead, position={"address": at, "lane": 0})

    def run(t):
        return pack(ReadHead, position={"address": t[0], "lane": 0}, count=t[1])

    inside = st.tuples(st.integers(0, SAMPLES - 1), st.integers(1, 3)).map(lambda t: (t[0], min(t[1], SAMPLES - t[0])))
    words = st.tuples(st.integers(0, SAMPLES * STRIDE - 1), st.integers(1, 4)).map(
        lambda t: (t[0], min(t[1], SAMPLES * STRIDE - t[0])))
    return {
        Command.STORE: (words.flatmap(lambda t: _values(t[1], 1).map(lambda v, t=t: where(t[0]) + v)), True),
        Command.ORDER: (inside.flatmap(lambda t: st.lists(st.integers(0, SAMPLES - 1), min_size=t[1], max_size=t[1])
                                       .map(lambda v, t=t: where(t[0]) + b"".join(i.to_bytes(OB, "little")
                                                                                  for i in v))), True),
        Command.EPOCH: (inside.map(run), True), Command.EVALUATE: (inside.map(run), True),
        "any ORDER": (inside.flatmap(lambda t: _values(t[1], OB).map(lambda v, t=t: where(t[0]) + v)), False),
    }


GOOD = good_payloads()
STORE_REQUESTS = store_payloads()


@st.composite
def request(draw, store=False):
    """``(frame, good)``: a well-formed request (good: it must succeed), or one with a random code and payload."""
    if store and draw(st.booleans()):
        kind = draw(st.sampled_from(list(STORE_REQUESTS)))
        payloads, good = STORE_REQUESTS[kind]
        return encode(REQUEST_SYNC, Command.ORDER if kind == "any ORDER" else kind, draw(payloads)), good
    if draw(st.booleans()):
        command = draw(st.sampled_from(list(Command)))  # every command, those of later versions too
        if command in GOOD:
            return encode(REQUEST_SYNC, command, draw(GOOD[command])), True
    code = draw(st.one_of(st.sampled_from([int(c) for c in Command]), st.integers(0, 255)))
    return encode(REQUEST_SYNC, code, draw(st.binary(max_size=24))), False


@st.composite
def segment(draw, store=False):
    """``(bytes sent back to back, a pause longer than the timeout follows, the good request sent unchanged)``."""
    kind = draw(st.sampled_from(["request", "flipped", "cut", "garbage"]))
    frame, good = draw(request(store))
    if kind == "flipped":
        at = draw(st.integers(1, len(frame) - 1))
        frame = frame[:at] + bytes([frame[at] ^ (1 << draw(st.integers(0, 7)))]) + frame[at + 1:]
    elif kind == "cut":
        frame = frame[:draw(st.integers(1, len(frame) - 1))]
    elif kind == "garbage":
        frame = draw(st.binary(max_size=12))
    pause = True if kind == "cut" else draw(st.booleans())
    return frame, pause, (frame[HEADER_BYTES], frame[1 + HEADER_BYTES:-2]) if kind == "request" and good else None


# -- what the link must answer --------------------------------------------------------------------

def expected_frames(segments):
    """The frames the link sees, as :mod:`hdl.link.frames` describes the framing: ``(code, payload)`` of each
    whole frame with a correct CRC, else ``Error.BAD_CRC`` or ``Error.TRUNCATED`` (cut by a pause or the end)."""
    frames, body = [], None
    for data, pause in [*[segment[:2] for segment in segments], (b"", True)]:
        for byte in data:
            if body is None:
                body = bytearray() if byte == REQUEST_SYNC else None
                continue
            body.append(byte)
            if len(body) >= HEADER_BYTES and len(body) == HEADER_BYTES + (body[0] | body[1] << 8) + 2:
                good = crc16(body[:-2]) == struct.unpack(">H", body[-2:])[0]
                frames.append((body[2], bytes(body[HEADER_BYTES:-2])) if good else Error.BAD_CRC)
                body = None
        if pause and body is not None:
            frames.append(Error.TRUNCATED)
            body = None
    return frames


def reply_frames(raw):
    """``(code, payload)`` of each reply frame in ``raw``; fails on a byte between frames or a bad CRC."""
    out, at = [], 0
    while at < len(raw):
        assert raw[at] == REPLY_SYNC, f"byte {at} of the replies is {raw[at]:#x}, not a reply's sync byte"
        length = raw[at + 1] | raw[at + 2] << 8
        body = raw[at + 1:at + 1 + HEADER_BYTES + length + 2]
        assert len(body) == HEADER_BYTES + length + 2, "a reply frame is cut short"
        assert crc16(body[:-2]) == struct.unpack(">H", body[-2:])[0], "a reply frame has a bad CRC"
        out.append((body[2], body[HEADER_BYTES:-2]))
        at += 1 + len(body)
    return out


ERRORS = {int(e) for e in Error}
COMMANDS = {int(c) for c in Command}


def check_case(link_sim, segments, figures):
    result = link_sim.run(segments)
    intended = {segment[2] for segment in segments if segment[2] is not None}
    figures["cases"] += 1
    figures["hangs"] += result["hung"]
    assert not result["hung"], "the link hung"
    frames, replies = expected_frames(segments), reply_frames(result["replies"])
    assert len(replies) == len(frames), f"{len(frames)} frames, {len(replies)} replies: {replies}"
    wrote = False
    for frame, (code, payload) in zip(frames, replies):
        figures["replies"] += 1
        figures["error replies"] += code in ERRORS
        if isinstance(frame, Error):
            assert code == frame and payload == b"", (frame, code)
            continue
        command, body = frame
        if command not in COMMANDS:
            assert code == Error.UNKNOWN_COMMAND and payload == b"", (command, code)
        elif code in ERRORS:
            assert payload == b"" and (command, body) not in intended, ("a good request refused", command, Error(code))
        else:
            assert code == command, (command, code)
            if command == Command.ORDER:
                indices = [int.from_bytes(body[at:at + OB], "little") for at in range(4, len(body), OB)]
                assert max(indices) < SAMPLES, f"an ORDER of samples {indices} was acknowledged ({SAMPLES} stored)"
            wrote |= command in (Command.LOAD, Command.TRAIN, Command.EPOCH)
            figures["good writes"] += command in (Command.LOAD, Command.TRAIN, Command.EPOCH)
    if result["order"] and max(result["order"]) >= SAMPLES:
        raise AssertionError(f"the order memory holds {result['order']}: an EPOCH would train outside the store")
    if not wrote and result["after"] != result["before"]:
        figures["weight changes"] += 1
        raise AssertionError("the weights changed without a good LOAD, TRAIN or EPOCH")


def fuzz(link_sim, cases, shrink=True):
    figures = dict.fromkeys(["cases", "replies", "error replies", "good writes", "hangs", "weight changes"], 0)
    store = bool(link_sim.store_samples)

    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])

    @settings(max_examples=cases, deadline=None, database=None, derandomize=True, phases=phases,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                     HealthCheck.data_too_large])
    @given(st.lists(segment(store), min_size=1, max_size=4))
    def one(segments):
        check_case(link_sim, segments, figures)

    one()
    print(f"\nfuzzing the host link: {figures}")
    return figures


def test_fuzz_link(link_sim):
    """FAST_CASES streams (make test)."""
    figures = fuzz(link_sim, FAST_CASES)
    assert figures["cases"] >= FAST_CASES // 2 and figures["error replies"] > 0, figures


@pytest.mark.slow
def test_fuzz_link_more(link_sim):
    """FULL_CASES streams (make test-full)."""
    figures = fuzz(link_sim, FULL_CASES)
    assert figures["cases"] >= FULL_CASES // 2, figures


def test_fuzz_link_with_a_store(store_link_sim):
    """FAST_STORE_CASES streams with the store commands (make test)."""
    figures = fuzz(store_link_sim, FAST_STORE_CASES)
    assert figures["cases"] >= FAST_STORE_CASES // 2 and figures["good writes"] > 0, figures


@pytest.mark.slow
def test_fuzz_link_with_a_store_more(store_link_sim):
    figures = fuzz(store_link_sim, FULL_CASES)
    assert figures["cases"] >= FULL_CASES // 2, figures


def test_fuzz_catches_a_board_that_takes_orders_outside_the_store(monkeypatch):
    """Broken on purpose: the ORDER check removed from the link and the core (as before this check existed). An
    ORDER naming sample 5..255 is then acknowledged and written; the fuzzing must fail."""
    from amaranth import C

    monkeypatch.setattr(RequestSequencer, "_outside", lambda self, m, index: C(0, 1))
    monkeypatch.setattr(CommandDecoder, "_in_store", lambda self, m, index: C(1, 1))
    broken = StoreLinkSim()
    try:
        with pytest.raises(AssertionError, match="acknowledged|order memory holds"):
            fuzz(broken, 100, shrink=False)
    finally:
        broken.close()


def test_fuzz_catches_a_link_that_ignores_the_crc(monkeypatch):
    """Broken on purpose: a CRC unit that matches every frame. Corrupt requests then run; the fuzzing must fail."""
    monkeypatch.setattr(frame_crc.SharedCrc, "elaborate", crc_always_matches)
    broken = LinkSim()
    try:
        with pytest.raises(AssertionError):
            fuzz(broken, 100, shrink=False)
    finally:
        broken.close()
