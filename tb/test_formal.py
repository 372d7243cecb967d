# amaranth: UnusedElaboratable=no
"""Formal proofs of the host link and the core's streams (SymbiYosys, smtbmc with Boolector; see tb/formal.py).

Each proof names its method: ``prove`` is k-induction (it holds in every reachable state),
``bmc`` checks every trace of the stated depth from reset. The designs are small
configurations (a 2-2-2 network on one lane, a link timeout of 2 cycles) so that each
proof takes seconds. docs/verification.md lists them.
"""

import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.hdl import Assert, Assume
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.lib.crc.catalog import CRC16_CCITT_FALSE

from trifactor.hdl.link import frame_crc
from trifactor.hdl.core.learner import LearnerCore
from trifactor.hdl.core.counters import Counters
from trifactor.hdl.link.frames import REQUEST_SYNC
from trifactor.hdl.link.host_link import FrameLink
from trifactor.hdl.protocol import COUNTER_BITS
from trifactor.hdl.link.uart import UartRx, UartTx

from conftest import make_config
from formal import Harness, ReadyMiter, crc_always_matches, keep_stream_rules, run_sby, stream_rules, streams

pytestmark = [pytest.mark.formal, pytest.mark.slow]

TIMEOUT = 2      # cycles of silence that end a request
INFO = b"I"      # the shortest INFO reply


def tiny_config():
    return make_config(sizes=(2, 2, 2), hardware={"lanes": 1})


def tiny_link(config=None):
    """A FrameLink; a proof may use some of its parts only."""
    link = FrameLink(config or tiny_config(), timeout_cycles=TIMEOUT, info=INFO)
    for part in (link, link.deframer, link.sequencer, link.framer):
        part._MustUse__silence = True
    return link


def assert_proof(top, name, *, mode, depth, expect="PASS"):
    status, log = run_sby(top, name, mode=mode, depth=depth)
    assert status == expect, f"{name}: {status}, expected {expect} (build/formal/{name}/proof/logfile.txt)\n" + log[-2000:]


def parts_keep_stream_rules(parts):
    """Checks: every stream a part drives keeps the rules, given that the harness's own inputs do."""
    def checks(m, harness):
        for name, port, drives in streams(harness):
            if not drives:
                stream_rules(m, port, Assume, "in_" + name)
        for part_name, part in parts.items():
            for name, port, drives in streams(part):
                if drives:
                    stream_rules(m, port, Assert, f"{part_name}_{name}")
    return checks


# -- every stream keeps the rules ----------------------------------------------------------------

class RunawaySource(wiring.Component):
    """Broken on purpose: offers a count that moves on whether or not it was taken."""

    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        count = Signal(8)
        m.d.sync += count.eq(count + 1)
        m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(count)]
        return m


def unused_parts(core, keep):
    """``core``'s part ``keep``; every other elaboratable inside ``core`` silenced (a proof of one part leaves
    them unused)."""
    kept, seen, todo = getattr(core, keep), set(), [core]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or obj is kept:
            continue
        seen.add(id(obj))
        obj._MustUse__silence = True
        todo += [v for v in vars(obj).values() if isinstance(v, Elaboratable)]
        todo += [item for v in vars(obj).values() if isinstance(v, (list, tuple)) for item in v
                 if isinstance(item, Elaboratable)]
    return kept


def miter_parts():
    """Each part, made afresh: the link's, the UARTs and the core's (the rest of each core left unused)."""
    parts = {"deframer": lambda: tiny_link().deframer, "sequencer": lambda: tiny_link().sequencer,
             "framer": lambda: tiny_link().framer, "uart_rx": lambda: UartRx(4), "uart_tx": lambda: UartTx(4)}
    for name in ("decoder", "sequencer", "sweeper", "mac", "serialiser", "error", "error_path", "provider"):
        parts[f"core_{name}"] = lambda name=name: unused_parts(LearnerCore(tiny_config()), name)
    return parts


@pytest.mark.parametrize("part", list(miter_parts()))
def test_valid_does_not_wait_for_ready(part):
    """BMC, 10 cycles: no stream's valid depends on its ready in the same cycle (two copies of the part,
    ready inverted for one of them in one cycle: valid must not change)."""
    assert_proof(ReadyMiter(miter_parts()[part]), f"ready_{part}", mode="bmc", depth=10)


class WaitingSource(wiring.Component):
    """Broken on purpose: offers its byte only once ready is up."""

    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.o.valid.eq(self.o.ready), self.o.payload.eq(0x5A)]
        return m


def test_valid_waiting_for_ready_fails():
    assert_proof(ReadyMiter(WaitingSource), "ready_waiting", mode="bmc", depth=4, expect="FAIL")


def test_stream_rules_catch_a_payload_that_moves():
    """BMC, 4 cycles: the stream-rule check fails on a source whose payload changes before the transfer."""
    dut = RunawaySource()
    assert_proof(Harness(dut, keep_stream_rules(dut)), "streams_runaway", mode="bmc", depth=4, expect="FAIL")


@pytest.mark.parametrize("make", [lambda: UartRx(4), lambda: UartTx(4)], ids=["uart_rx", "uart_tx"])
def test_uart_streams(make):
    """k-induction: the UART halves' byte streams."""
    dut = make()
    assert_proof(Harness(dut, keep_stream_rules(dut)), f"streams_{type(dut).__name__}", mode="prove", depth=4)


class FramerWithCrc(wiring.Component):
    """The reply framer and its CRC unit, as FrameLink wires them (the deframer's side of the unit idle)."""

    def __init__(self, framer):
        self.framer = framer
        super().__init__({name: member for name, member in framer.signature.members.items() if name != "crc"})

    def elaborate(self, platform):
        m = Module()
        m.submodules.framer, m.submodules.crc = framer, crc = self.framer, frame_crc.SharedCrc()
        for name in ("plan", "reply"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(framer, name))
        wiring.connect(m, framer.o, wiring.flipped(self.o))
        wiring.connect(m, framer.crc, crc.b)
        return m


def test_link_part_streams():
    """k-induction: the deframer's frames (any CRC unit behind it). BMC, 30 cycles: the reply framer's bytes
    (with its CRC unit), the request sequencer's command words and reply plans (any buffer contents)."""
    link = tiny_link()
    framer = FramerWithCrc(link.framer)
    for name, dut, mode, depth in [("deframer", link.deframer, "prove", 4), ("framer", framer, "bmc", 30),
                                   ("sequencer", link.sequencer, "bmc", 30)]:
        parts = {name: dut.framer if dut is framer else dut}
        assert_proof(Harness(dut, parts_keep_stream_rules(parts)), f"streams_{name}", mode=mode, depth=depth)


def test_core_streams():
    """BMC, 24 cycles: every stream the core's parts drive (decoder, sweeper, MAC array, serialiser, ...)."""
    core = LearnerCore(tiny_config())
    parts = {name: part for name, part in vars(core).items() if isinstance(part, wiring.Component)}
    assert {"decoder", "sweeper", "mac", "serialiser", "error", "provider", "sequencer"} <= set(parts)
    assert_proof(Harness(core, parts_keep_stream_rules(parts)), "streams_core", mode="bmc", depth=24)


# -- no word reaches the core without a complete frame with a correct CRC -------------------------

def crc_monitor(m, link, rx):
    """An independent CRC unit beside the link: restarted at each sync byte the link takes while hunting, fed
    with every byte it takes after it. Returns the unit (its ``crc`` register, ``match_detected``)."""
    m.submodules.monitor_crc = crc = CRC16_CCITT_FALSE(data_width=8).create()
    took = rx.valid & rx.ready
    m.d.comb += [crc.start.eq(took & ~link.busy & (rx.payload == REQUEST_SYNC)), crc.valid.eq(took & link.busy),
                 crc.data.eq(rx.payload)]
    return crc


class DeframerWithCrc(wiring.Component):
    """The deframer and its CRC unit, as FrameLink wires them (the reply framer's side of the unit idle)."""

    def __init__(self, deframer):
        self.deframer, self.crc = deframer, frame_crc.SharedCrc()
        super().__init__({name: member for name, member in deframer.signature.members.items() if name != "crc"})

    def elaborate(self, platform):
        m = Module()
        m.submodules.deframer, m.submodules.crc = deframer, crc = self.deframer, self.crc
        wiring.connect(m, wiring.flipped(self.i), deframer.i)
        wiring.connect(m, deframer.o, wiring.flipped(self.o))
        wiring.connect(m, deframer.buffer, wiring.flipped(self.buffer))
        wiring.connect(m, deframer.crc, crc.a)
        m.d.comb += self.busy.eq(deframer.busy)
        return m


def intact_only_after_a_good_frame(m, harness):
    """The deframer calls a frame intact only if the bytes since its sync byte end in their correct CRC, as an
    independent CRC unit computes it. Its register equals the link's CRC unit at every cycle (asserted too:
    this makes the property inductive)."""
    stream_rules(m, harness.i, Assume, "rx")
    monitor = crc_monitor(m, harness, harness.i)
    m.d.comb += [Assert(monitor.crc == harness.dut.crc.a.crc),
                 Assert(~(harness.o.valid & harness.o.payload.intact) | monitor.match_detected)]


def no_command_from_a_spoilt_frame(m, harness):
    """The request sequencer sends the core a word only while an intact frame waits on its input."""
    stream_rules(m, harness.i, Assume, "frames")
    m.d.comb += Assert(~harness.cmd.valid | (harness.i.valid & harness.i.payload.intact))


@pytest.mark.parametrize("broken", [False, True], ids=["deframer", "deframer_ignoring_the_crc"])
def test_intact_only_after_a_good_frame(broken, monkeypatch):
    """k-induction, depth 3: the deframer passes a frame as intact only if the bytes since its sync byte end in
    their correct CRC (that the frame is whole, its length counted, is the fuzzing's and test_link_parts' job).
    Broken on purpose: a CRC unit that matches every frame; BMC, 12 cycles, must find the trace."""
    if broken:
        monkeypatch.setattr(frame_crc.SharedCrc, "elaborate", crc_always_matches)
    dut = DeframerWithCrc(tiny_link().deframer)
    assert_proof(Harness(dut, intact_only_after_a_good_frame), f"good_frame_{'broken' if broken else 'deframer'}",
                 mode="bmc" if broken else "prove", depth=12 if broken else 3, expect="FAIL" if broken else "PASS")


def test_no_command_from_a_spoilt_frame():
    """BMC, 40 cycles: the request sequencer sends the core nothing (so no weight is written) while the frame
    on its input is not intact (BAD_CRC, TRUNCATED). With the deframer's proof: no word reaches the core unless
    a complete request with a correct CRC was received."""
    assert_proof(Harness(tiny_link().sequencer, no_command_from_a_spoilt_frame), "good_frame_sequencer",
                 mode="bmc", depth=40)


# -- after any bytes, back to the sync hunt --------------------------------------------------------

def quiet_for(m, stream, cycles):
    """High once ``stream`` has moved nothing for ``cycles`` cycles."""
    quiet = Signal(range(cycles + 1))
    with m.If(stream.valid & stream.ready):
        m.d.sync += quiet.eq(0)
    with m.Elif(quiet < cycles):
        m.d.sync += quiet.eq(quiet + 1)
    return quiet == cycles


def deframer_back_to_hunt(m, harness):
    """After any bytes, TIMEOUT + 2 quiet cycles leave the deframer hunting for a sync byte, or offering the
    frame it has ended (complete or TRUNCATED)."""
    stream_rules(m, harness.i, Assume, "rx")
    m.d.comb += Assert(~quiet_for(m, harness.i, TIMEOUT + 2) | ~harness.busy | harness.o.valid)


class Responder(wiring.Component):
    """The request sequencer, the reply framer and their CRC unit, as FrameLink wires them, with a core and a
    host that answer at once: ``frames`` in, ``taken`` when the sequencer takes one (its reply sent)."""

    def __init__(self, link):
        self.sequencer, self.framer = link.sequencer, link.framer
        super().__init__({"frames": In(link.sequencer.i.signature.flip()), "data": In(8)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.sequencer, m.submodules.framer = seq, framer = self.sequencer, self.framer
        m.submodules.crc = crc = frame_crc.SharedCrc()
        wiring.connect(m, wiring.flipped(self.frames), seq.i)
        wiring.connect(m, seq.reply, framer.plan)
        wiring.connect(m, framer.crc, crc.b)
        m.d.comb += [seq.buffer.data.eq(self.data), seq.cmd.ready.eq(1), framer.reply.valid.eq(1),
                     framer.o.ready.eq(1)]
        return m


#: The longest payload of the frames in the sequencer's bound proof (a LOAD of two weights, TRAIN, READ).
SHORT_PAYLOAD = 8


def frames_taken_within(bound):
    """A frame of up to SHORT_PAYLOAD bytes waits on the sequencer's input at most ``bound`` cycles."""
    def checks(m, harness):
        stream_rules(m, harness.frames, Assume, "frames")
        m.d.comb += Assume(harness.frames.payload.header.length <= SHORT_PAYLOAD)
        waited = Signal(range(bound + 2))
        with m.If(harness.frames.valid & ~harness.frames.ready):
            m.d.sync += waited.eq(waited + (waited <= bound))
        with m.Else():
            m.d.sync += waited.eq(0)
        m.d.comb += Assert(waited <= bound)
    return checks


def test_back_to_hunt():
    """After any bytes the link waits for a sync byte again within a bound. Two proofs:

    - k-induction, depth TIMEOUT + 6: TIMEOUT + 2 quiet cycles leave the deframer hunting or offering its frame;
    - BMC, depth bound + 8: with a core and a host that answer at once, the request sequencer takes every
      frame of up to SHORT_PAYLOAD payload bytes (sends its words to the core and its reply out) within
      ``bound`` cycles: 3 per payload byte, the longest reply (COUNTERS: 38 bytes) and a few more. Longer
      frames: the fuzzing, and test_link_parts (a payload that fills the buffer).
    """
    link = tiny_link()
    assert_proof(Harness(link.deframer, deframer_back_to_hunt), "hunt_deframer", mode="prove", depth=TIMEOUT + 6)
    link = tiny_link(make_config(sizes=(2, 2, 2), hardware={"lanes": 1}, fixed={"weight": {"width": 8, "frac": 5}}))
    bound = 3 * SHORT_PAYLOAD + 38 + 16
    assert_proof(Harness(Responder(link), frames_taken_within(bound)), "hunt_responder", mode="bmc", depth=bound + 8)


# -- no counter wraps silently ---------------------------------------------------------------------

def counters_never_wrap_silently(m, harness):
    """Each counter's value, as COUNTERS sends it (COUNTER_BITS and the wrap flag above), never goes down
    unless the wrap flag is set, and the flag stays set."""
    started = Signal()
    m.d.sync += started.eq(1)
    for name, value in harness.dut.registers.items():
        before = Signal.like(value, name=f"{name}_before")
        m.d.sync += before.eq(value)
        wrapped = value[COUNTER_BITS]
        m.d.comb += Assert(~started | (value >= before) | wrapped)
        m.d.comb += Assert(~started | ~before[COUNTER_BITS] | wrapped)
    for invariant in harness.dut.invariants:  # the upper halves' lookahead flags: true from reset on
        m.d.comb += Assert(invariant)


def wrapping_counters(self, platform):
    """A broken Counters.elaborate: plain COUNTER_BITS adders that wrap without a trace."""
    m = Module()
    steps = {"cycles": self.busy, "samples": self.sample, "macs_done": self.macs_done,
             "macs_skipped": self.macs_skipped}
    for name, counter in self.registers.items():
        m.d.sync += counter[:COUNTER_BITS].eq(counter[:COUNTER_BITS] + steps[name])
    return m


@pytest.mark.parametrize("broken, halves", [(False, False), (False, True), (True, False)],
                         ids=["counters", "counters_halves", "counters_wrapping"])
def test_counters_never_wrap_silently(broken, halves, monkeypatch):
    """k-induction: the core's counters (cycles, samples, MACs done and skipped, and the cost counters' adders, as
    one adder each or two halves a cycle apart) never go down unseen. Broken on purpose: counters that wrap; induction must find the step that wraps
    (UNKNOWN: no trace from reset reaches 2**48 counts)."""
    if broken:
        monkeypatch.setattr(Counters, "elaborate", wrapping_counters)
    dut = Counters(max_step=12, costs=None if broken else {"update_macs": 3}, halves=halves)
    name = "wrapping" if broken else "halves" if halves else "flagged"
    assert_proof(Harness(dut, counters_never_wrap_silently), f"counters_{name}",
                 mode="prove", depth=2, expect="UNKNOWN" if broken else "PASS")
