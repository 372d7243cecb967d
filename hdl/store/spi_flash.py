"""Reading the board's SPI flash: the data sets that do not fit the FPGA's memories.

The iCEBreaker's W25Q128JV (16 MB) and the ULX3S's flash hold the bitstream from offset 0;
``trifactor flash --data`` writes a data set's image (:mod:`hdl.flash_image`) after it,
and :class:`SpiFlashReader` reads it back in single-bit SPI mode 0. The command set and
times are the W25Q128JV datasheet's (:data:`CMD`, :data:`T_RES1`, ...), which
:class:`hdl.store.flash_model.SpiFlashModel` implements for the simulations.

**Power-down.** After configuration the iCE40 leaves its flash in deep power-down
(0xB9), where a flash ignores every command except Release Power-down (0xAB). The reader
therefore sends 0xAB once after reset and waits tRES1 before its first read.

**Timing.** SCK is the core clock divided by two (one cycle low, one high): a byte
every :attr:`SpiFlashReader.cycles_per_byte` = 16 cycles, 12 Mbit/s at 24 MHz, within
Read Data's (0x03) 50 MHz. The flash shifts a bit out on SCK's falling edge; the reader
samples it at the end of the following high cycle, on the core clock edge that drops SCK
again, a whole SCK period after the flash changed it. When the consumer does not take a
byte the reader holds SCK low (a flash is static; SCK may stop at any time), so a slow
consumer stalls the read rather than losing data.
"""

import math

from amaranth import Cat, Module, Signal
from amaranth.hdl import Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FlashPins", "ReadLayout", "SpiFlashReader", "CMD", "T_RES1", "T_DP", "T_SHSL", "JEDEC_ID"]

#: The W25Q128JV commands the reader and the model use (datasheet, table 8.1.2).
CMD = {"read": 0x03, "fast_read": 0x0B, "release_power_down": 0xAB, "power_down": 0xB9,
       "jedec_id": 0x9F, "read_status": 0x05}
#: Manufacturer, memory type and capacity of the W25Q128JV (0x9F's three bytes).
JEDEC_ID = bytes([0xEF, 0x40, 0x18])
T_RES1 = 3e-6   # seconds from Release Power-down's CS rise to the next command
T_DP = 3e-6     # seconds from Power-down's CS rise to the power-down state
T_SHSL = 50e-9  # seconds CS stays high between commands (10 ns for reads, 50 ns for writes)

#: The flash's pins as the FPGA sees them: ``cs`` active high (the boards' resources invert it).
FlashPins = wiring.Signature({"sck": Out(1), "cs": Out(1), "copi": Out(1), "cipo": In(1)})

#: A read: ``count`` bytes from byte ``address``.
ReadLayout = data.StructLayout({"address": 24, "count": 16})


def cycles(seconds: float, clk_hz: float) -> int:
    """Whole clock cycles that last at least ``seconds``."""
    return max(1, math.ceil(seconds * clk_hz - 1e-9))


class SpiFlashReader(wiring.Component):
    """Reads runs of bytes from a single-bit SPI flash with Read Data (0x03), after waking it once.

    One shift register serves both directions: the address (or the wake-up command) out of its
    top bit, the read's bits into its bottom (its low byte is ``data.payload``); Read Data's command
    bits come from the count of bits left.

    Parameters
    ----------
    clk_hz : float
        The core clock: sets the cycles of tRES1 and tSHSL.
    max_count : int
        The longest read asked for (its count's register is as wide as it needs).

    Members
    -------
    request : In(stream.Signature(ReadLayout))
        A read; taken when the previous one has ended (CS high for tSHSL) and the flash is awake.
    data : Out(stream.Signature(8))
        The read's bytes in address order; the first :attr:`first_byte_cycles` after the request,
        then one each :attr:`cycles_per_byte` while taken.
    pins : Out(FlashPins)
        Registered outputs; ``cipo`` is sampled into a register.
    """

    request: In(stream.Signature(ReadLayout))
    data: Out(stream.Signature(8))
    pins: Out(FlashPins)

    #: cycles per SPI bit: SCK low one cycle, high one
    cycles_per_bit = 2
    cycles_per_byte = 8 * cycles_per_bit

    def __init__(self, clk_hz: float, *, max_count: int = (1 << ReadLayout["count"].width) - 1):
        if not clk_hz > 0:
            raise ValueError(f"clk_hz must be positive, not {clk_hz!r}")
        if not isinstance(max_count, int) or not 1 <= max_count < 1 << ReadLayout["count"].width:
            raise ValueError(f"max_count must be 1 to {(1 << ReadLayout['count'].width) - 1}, not {max_count!r}")
        self.clk_hz, self.max_count = clk_hz, max_count
        super().__init__()

    @property
    def wake_cycles(self) -> int:
        """Cycles from reset to the first read: 0xAB, then tRES1."""
        return 8 * self.cycles_per_bit + cycles(T_RES1, self.clk_hz)

    @property
    def deselect_cycles(self) -> int:
        """Cycles CS stays high after a read."""
        return cycles(T_SHSL, self.clk_hz)

    #: cycles from the one taking a request to the first byte's ``valid``: command and address, 8 bits, and the
    #: cycle that registers the byte
    first_byte_cycles = (32 + 8) * cycles_per_bit + 1

    def elaborate(self, platform):
        m = Module()
        pins = self.pins
        # out: the address (or the wake-up command), MSB first on copi; in: the read's bits, into the low byte
        shift = Signal(24, reset_less=True)
        bits = Signal(range(33))     # bits left to send (Read Data's command while above 24), or of the byte read
        full, sending, opcode = Signal(), Signal(), Signal()
        count = Signal(range(self.max_count + 1))
        wait = Signal(range(max(self.wake_cycles, self.deselect_cycles) + 1))
        with m.Switch(bits):  # Read Data's command bit, from the count of bits left: no register holds it
            for bit in range(8):
                with m.Case(25 + bit):
                    m.d.comb += opcode.eq(CMD["read"] >> bit & 1)
        m.d.comb += [pins.copi.eq(sending & Mux(bits > 24, opcode, shift[-1])), self.data.payload.eq(shift[:8]),
                     self.data.valid.eq(full)]

        def send(then):
            """Shift out ``bits`` bits (``shift``'s once at most 24 are left): SCK low a cycle, then high a cycle (the
            flash samples)."""
            m.d.comb += sending.eq(1)
            m.d.sync += pins.sck.eq(~pins.sck)
            with m.If(pins.sck):
                m.d.sync += bits.eq(bits - 1)
                with m.If(bits <= 24):
                    m.d.sync += shift.eq(shift << 1)
                with m.If(bits == 1):
                    then()

        with m.FSM():
            with m.State("reset"):
                m.d.sync += [pins.cs.eq(1), shift.eq(CMD["release_power_down"] << 16), bits.eq(8)]
                m.next = "wake"
            with m.State("wake"):
                def woken():
                    m.d.sync += [pins.cs.eq(0), wait.eq(cycles(T_RES1, self.clk_hz))]
                    m.next = "deselect"
                send(woken)
            with m.State("deselect"):  # CS high for tSHSL (tRES1 after waking)
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait <= 1):
                    m.next = "idle"
            with m.State("idle"):
                m.d.comb += self.request.ready.eq(1)
                with m.If(self.request.valid):
                    m.d.sync += [pins.cs.eq(1), bits.eq(32), count.eq(self.request.payload.count),
                                 shift.eq(self.request.payload.address)]
                    with m.If(self.request.payload.count != 0):
                        m.next = "command"
                    with m.Else():
                        m.d.sync += pins.cs.eq(0)
            with m.State("command"):
                def addressed():
                    m.d.sync += bits.eq(8)
                    m.next = "read"
                send(addressed)
            with m.State("read"):
                taken = full & self.data.ready
                with m.If(taken):
                    m.d.sync += [full.eq(0), count.eq(count - 1)]
                with m.If(taken & (count == 1)):
                    m.d.sync += [pins.cs.eq(0), wait.eq(self.deselect_cycles)]
                    m.next = "deselect"
                with m.Elif(~full | taken):  # a byte waiting for its taker holds SCK low
                    m.d.sync += pins.sck.eq(~pins.sck)
                    with m.If(pins.sck):  # the end of the high cycle: the flash's bit is a period old
                        m.d.sync += [shift.eq(Cat(pins.cipo, shift)), bits.eq(bits - 1)]
                        with m.If(bits == 1):
                            m.d.sync += [full.eq(1), bits.eq(8)]
        return m
