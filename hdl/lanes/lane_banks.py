"""The lane banks' storage, placed in block RAM or in single-port RAM (the UP5K's SPRAM).

Every lane reads and writes the same address in the same cycle (:mod:`hdl.layout`: one
address bus serves all lanes), so the banks can be P memories or one memory of P-lane
words. :attr:`Config.bank_placement` chooses:

- ``"block_ram"``: one simple dual-port memory per lane (one read and one write a cycle),
  initialised by the bitstream;
- ``"spram"``: one single-port memory of ``lanes x weight.width``-bit words, written a lane
  at a time (write granularity: one weight). The port writes when any lane writes and reads
  otherwise, so a read must not fall in a write's cycle (:attr:`Config.update_interval`
  spaces the update's reads and writes). Yosys (``synth_ice40 -spram``, with
  :func:`spram_yosys_commands`) maps it to SB_SPRAM256KA blocks of 16K x 16 bits, which
  have no initial contents: the memory starts at zero here, and the host LOADs the weights. With
  ``[network] init = "zero"`` the banks clear themselves once after configuration instead (one
  address a cycle, every lane), so the host need not LOAD anything: ``clearing`` says when.
"""

from amaranth import Module, Signal
from amaranth.hdl import Cat, Mux, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory, MemoryData, ReadPort, WritePort
from amaranth.lib.wiring import Out

from trifactor.golden.config import SPRAM_DEPTH, SPRAM_WIDTH, Config

from ..errors import require_config
from ..spram import SPRAM_ATTR, spram_yosys_commands
from ..layout import WeightLayout

__all__ = ["LaneBanks", "SPRAM_ATTR", "bank_bits", "placement_summary", "spram_yosys_commands"]


def placement_summary(config: Config) -> str:
    """Where the banks are, in words (``trifactor generate`` and ``synth`` print it)."""
    depth, width = config.bank_depth, config.weight.width
    if config.bank_placement == "spram":
        blocks = -(-depth // SPRAM_DEPTH) * -(-config.lanes * width // SPRAM_WIDTH)
        return (f"SPRAM: one single-port memory of {depth} x {config.lanes * width} bits ({config.lanes} lanes x "
                f"{width}-bit weights; {blocks} SB_SPRAM256KA on the UP5K), loaded by the host; update every other cycle")
    return f"block RAM: {config.lanes} dual-port memories of {depth} x {width} bits, initialised by the bitstream"


def bank_bits(config: Config) -> int:
    """Bits of the lane banks' storage (every lane's words)."""
    return config.bank_depth * config.lanes * config.weight.width


class LaneBanks(wiring.Component):
    """P weight banks behind per-lane read and write ports (the ports of :class:`amaranth.lib.memory.Memory`).

    Parameters
    ----------
    config : Config
    init : array (lanes x depth)
        Initial contents, block RAM only (:meth:`WeightLayout.to_banks`); SPRAM starts at zero.

    Members
    -------
    read : Out(ReadPort.Signature(...)).array(lanes)
        The memory's side of the ports. Synchronous reads (data a cycle after the address). With ``"spram"``, lane 0's
        address is every lane's, and a read in a write's cycle is not done.
    write : Out(WritePort.Signature(...)).array(lanes)
        With ``"spram"``, lane 0's address is every writing lane's.
    clearing : Out(1)
        SPRAM with ``[network] init = "zero"`` only: the banks are clearing themselves (from configuration, not from
        a reset: a RESET keeps the weights, as block RAM does); nothing else may use them until it falls.

    Attributes
    ----------
    placement : str
        :attr:`Config.bank_placement`.
    data : list of MemoryData
        The memories' contents (tests may read them): one per lane, or one of P-lane words.
    """

    def __init__(self, config: Config, *, init=None):
        require_config(self, config)
        self._config = config
        lay = WeightLayout(config)
        shape = signed(config.weight.width)
        self.placement = config.bank_placement
        if self.placement == "spram":
            self.data = [MemoryData(shape=unsigned(config.lanes * config.weight.width), depth=lay.depth, init=[])]
        else:
            self.data = [MemoryData(shape=shape, depth=lay.depth, init=[int(v) for v in init[p]])
                         for p in range(config.lanes)]
        #: SPRAM banks that clear themselves (a start with no initial-weight image and no LOAD)
        self.clears = self.placement == "spram" and config.init == "zero"
        super().__init__({
            "read": Out(ReadPort.Signature(addr_width=lay.addr_width, shape=shape)).array(config.lanes),
            "write": Out(WritePort.Signature(addr_width=lay.addr_width, shape=shape)).array(config.lanes),
            **({"clearing": Out(1)} if self.clears else {}),
        })

    def lane_words(self, word: int) -> list:
        """An SPRAM word's lane values (signed), lane 0 in the low bits."""
        width = self._config.weight.width
        raw = [(word >> (p * width)) & ((1 << width) - 1) for p in range(self._config.lanes)]
        return [v - (1 << width) if v >> (width - 1) else v for v in raw]

    def elaborate(self, platform):
        m = Module()
        if self.placement == "spram":
            self._single_port(m)
            return m
        for p, data in enumerate(self.data):
            # no bank address is ever read in the cycle it is written (the update unit's rule;
            # the host ignores what it reads): no_rw_check spares Yosys's read-during-write
            # emulation, 40-odd flip-flops and 30 LUTs per bank on the iCE40
            m.submodules[f"bank{p}"] = bank = Memory(data=data, attrs={"no_rw_check": 1})
            rd, wp = bank.read_port(), bank.write_port()
            read, write = self.read[p], self.write[p]
            m.d.comb += [rd.addr.eq(read.addr), rd.en.eq(read.en), read.data.eq(rd.data),
                         wp.addr.eq(write.addr), wp.data.eq(write.data), wp.en.eq(write.en)]
        return m

    def _single_port(self, m):
        width = self._config.weight.width
        m.submodules.spram = mem = Memory(data=self.data[0], attrs={"no_rw_check": 1, SPRAM_ATTR: 1})
        # one address for both ports, the read disabled while writing: what Yosys merges into
        # one SPRAM port (its data out holds during a write)
        rd, wp = mem.read_port(), mem.write_port(granularity=width)
        write_en, write_data, write_addr = Cat(port.en for port in self.write), Cat(port.data for port in self.write), \
            self.write[0].addr
        if self.clears:  # every lane's word at one address a cycle, zeros, from configuration on
            clearing = Signal(init=1, reset_less=True)
            at = Signal(range(mem.depth), reset_less=True)
            m.d.comb += self.clearing.eq(clearing)
            with m.If(clearing):
                m.d.sync += at.eq(at + 1)
                with m.If(at == mem.depth - 1):
                    m.d.sync += clearing.eq(0)
            write_en = Mux(clearing, (1 << self._config.lanes) - 1, write_en)
            write_data, write_addr = Mux(clearing, 0, write_data), Mux(clearing, at, write_addr)
        writing = wp.en.any()
        addr = Mux(writing, write_addr, self.read[0].addr)
        m.d.comb += [
            wp.en.eq(write_en),
            wp.data.eq(write_data),
            wp.addr.eq(addr), rd.addr.eq(addr),
            rd.en.eq(self.read[0].en & ~writing),
        ]
        m.d.comb += [port.data.eq(rd.data[p * width:(p + 1) * width]) for p, port in enumerate(self.read)]
