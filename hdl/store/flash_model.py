"""A behavioural model of the W25Q128JV SPI flash, for the simulations (never built for a board).

It implements the single-bit commands a reader of stored data meets, as the datasheet
describes them (mode 0: the flash samples COPI on SCK's rising edge and shifts CIPO out
on the falling edge, most significant bit first):

- Read Data (0x03): a 24-bit address, then bytes from it on, as long as CS stays low;
- Fast Read (0x0B): the same after 8 dummy clocks;
- Release Power-down (0xAB), Power-down (0xB9), JEDEC ID (0x9F: EF 40 18), Read Status
  Register-1 (0x05: 0, never busy).

**Power-down** as after the iCE40's configuration (``powered_down=True``, the default):
every command except 0xAB is ignored, and so is every command within tRES1 of 0xAB's CS
rise (B9h likewise takes tDP). An ignored command leaves CIPO high (the line's pull-up),
so its data reads as 0xFF, and sets the sticky :attr:`ignored` flag that testbenches
check. The model runs in the core's clock domain and sees SCK and CS as its registered
outputs, so it reacts a cycle after an edge, as a real flash's tCLQV.

It holds ``size`` bytes from flash address ``base`` (reads outside them give 0xFF, the
erased state), from ``image`` or written through :attr:`program` by a simulation harness
before the core runs, as a programmer writes the flash before the FPGA boots.
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory, WritePort
from amaranth.lib.wiring import In, Out

from .spi_flash import CMD, JEDEC_ID, T_DP, T_RES1, FlashPins, cycles

__all__ = ["SpiFlashModel"]


class SpiFlashModel(wiring.Component):
    """The flash at the other end of :data:`hdl.store.spi_flash.FlashPins`.

    Parameters
    ----------
    size : int
        Bytes it holds, from ``base``.
    base : int
        The flash address of its first byte.
    clk_hz : float
        The clock it runs on: sets tRES1 and tDP in cycles.
    image : bytes
        Its initial contents (the rest is 0xFF).
    powered_down : bool
        Start in deep power-down, as after the iCE40's configuration.

    Members
    -------
    pins : In(FlashPins)
    program : Out(WritePort.Signature(addr_width=..., shape=8))
        Writes byte ``addr`` (relative to ``base``); for harnesses, before the reader runs.
    ignored : Out(1)
        Sticky: a command was ignored (in power-down, or before tRES1 or tDP had passed).
    """

    def __init__(self, size: int, *, base: int = 0, clk_hz: float = 12e6, image: bytes = b"",
                 powered_down: bool = True):
        if not 1 <= size <= 1 << 24 or not 0 <= base <= (1 << 24) - size:
            raise ValueError(f"{size} bytes from {base:#x} are not within the flash's 16 MB")
        if len(image) > size:
            raise ValueError(f"an image of {len(image)} bytes does not fit {size}")
        self.size, self.base, self.clk_hz, self.powered_down = size, base, clk_hz, powered_down
        self.image = bytes(image) + b"\xff" * (size - len(image))
        super().__init__({
            "pins": In(FlashPins),
            "program": Out(WritePort.Signature(addr_width=max(1, (size - 1).bit_length()), shape=8)),
            "ignored": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        pins = self.pins
        m.submodules.memory = memory = Memory(shape=8, depth=self.size, init=self.image)
        wiring.connect(m, wiring.flipped(self.program), memory.write_port())
        read = memory.read_port(domain="comb")

        asleep = Signal(init=int(self.powered_down))
        settle = Signal(range(max(cycles(T_RES1, self.clk_hz), cycles(T_DP, self.clk_hz)) + 1))
        sck_was, cs_was = Signal(), Signal()
        rising, falling = pins.sck & ~sck_was, ~pins.sck & sck_was
        command, shift_in = Signal(8), Signal(8)
        clocks = Signal(range(64))           # rising edges since CS fell, up to the data phase
        address = Signal(24)
        out, out_bits, sending, id_byte = Signal(8), Signal(range(8)), Signal(), Signal(range(3))
        cipo = Signal(init=1)
        m.d.sync += [sck_was.eq(pins.sck), cs_was.eq(pins.cs)]
        m.d.comb += [pins.cipo.eq(cipo), read.addr.eq(address - self.base)]
        in_range = (address >= self.base) & (address < self.base + self.size)

        with m.If(settle != 0):
            m.d.sync += settle.eq(settle - 1)

        out_next = Signal(8)

        def next_byte():
            """The byte the command sends next."""
            with m.Switch(command):
                with m.Case(CMD["read"], CMD["fast_read"]):
                    m.d.comb += out_next.eq(read.data)
                    with m.If(~in_range):
                        m.d.comb += out_next.eq(0xFF)
                with m.Case(CMD["jedec_id"]):
                    with m.Switch(id_byte):
                        for n, value in enumerate(JEDEC_ID):
                            with m.Case(n):
                                m.d.comb += out_next.eq(value)
                with m.Case(CMD["read_status"]):
                    m.d.comb += out_next.eq(0)
                with m.Default():
                    m.d.comb += out_next.eq(0xFF)

        next_byte()
        # the rising edges after which the command's data starts
        data_from = Signal(range(64))
        with m.Switch(command):
            with m.Case(CMD["read"]):
                m.d.comb += data_from.eq(32)
            with m.Case(CMD["fast_read"]):
                m.d.comb += data_from.eq(40)
            with m.Case(CMD["jedec_id"], CMD["read_status"]):
                m.d.comb += data_from.eq(8)
            with m.Default():
                m.d.comb += data_from.eq(0)  # no data

        m.d.comb += sending.eq((data_from != 0) & (clocks >= data_from))  # command 0x00 (ignored) sends nothing
        with m.If(~pins.cs):
            m.d.sync += [clocks.eq(0), out_bits.eq(0), id_byte.eq(0), cipo.eq(1)]
            with m.If(cs_was & (clocks >= 8)):  # a command ended: 0xAB and 0xB9 take effect at CS's rise
                with m.If((command == CMD["release_power_down"]) & (settle == 0)):
                    m.d.sync += [asleep.eq(0), settle.eq(cycles(T_RES1, self.clk_hz))]
                with m.Elif((command == CMD["power_down"]) & ~asleep & (settle == 0)):
                    m.d.sync += [asleep.eq(1), settle.eq(cycles(T_DP, self.clk_hz))]
        with m.Elif(rising):
            with m.If(clocks != 63):
                m.d.sync += clocks.eq(clocks + 1)
            m.d.sync += shift_in.eq((shift_in << 1) | pins.copi)
            with m.If(clocks == 7):  # the command's last bit
                cmd = (shift_in << 1) | pins.copi
                m.d.sync += command.eq(cmd)
                with m.If((asleep & (cmd[:8] != CMD["release_power_down"])) | (settle != 0)):
                    m.d.sync += [self.ignored.eq(1), command.eq(0)]  # 0x00: no command, nothing sent
            with m.Elif((clocks >= 8) & (clocks < 32)):
                m.d.sync += address.eq((address << 1) | pins.copi)
        with m.Elif(falling & sending):
            with m.If(out_bits == 0):
                m.d.sync += [cipo.eq(out_next[7]), out.eq(out_next << 1)]
                with m.If(command == CMD["jedec_id"]):
                    m.d.sync += id_byte.eq(id_byte + 1)
            with m.Else():
                m.d.sync += [cipo.eq(out[7]), out.eq(out << 1)]
                with m.If((out_bits == 7) & ((command == CMD["read"]) | (command == CMD["fast_read"]))):
                    m.d.sync += address.eq(address + 1)
            m.d.sync += out_bits.eq(out_bits + 1)
        return m
