"""An 8N1 UART as two byte streams.

Written here because the Amaranth UART (amaranth-stdio's ``AsyncSerial``) is not on
PyPI (the name there is a placeholder). Both halves count ``divisor`` clock cycles per
bit; the receiver samples in the middle of each bit after a 2-flop synchroniser.
"""

from amaranth import Module, Signal
from amaranth.hdl import Cat, C
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx", "uart_divisor"]


def uart_divisor(clk_freq: float, baud: int) -> int:
    """Clock cycles per bit; refuses rates the receiver cannot sample or that miss by more than 2%."""
    divisor = round(clk_freq / baud)
    if divisor < 4:
        raise ValueError(f"a {baud} baud UART needs a clock of at least {4 * baud / 1e6:g} MHz, "
                         f"not {clk_freq / 1e6:g} MHz; use a lower baud rate")
    error = abs(clk_freq / divisor - baud) / baud
    if error > 0.02:
        raise ValueError(f"{baud} baud from a {clk_freq / 1e6:g} MHz clock is {error:.1%} off (divisor {divisor}); "
                         "pick a baud rate that divides the clock more evenly")
    return divisor


class UartRx(wiring.Component):
    """Bytes from the ``rx`` line. A byte waits in ``o`` until taken; bytes arriving meanwhile,
    and bytes whose stop bit is low (framing errors), are dropped."""

    rx: In(1, init=1)
    o: Out(stream.Signature(8))

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor))
        bits = Signal(9)  # 8 data bits then the stop bit, shifted in from the top
        count = Signal(range(10))
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.FSM():
            with m.State("idle"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2)
                    m.next = "start"
            with m.State("start"):  # the middle of the start bit: still low, or it was a glitch
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "idle"
                    with m.Else():
                        m.d.sync += [timer.eq(self.divisor - 1), count.eq(0)]
                        m.next = "bits"
            with m.State("bits"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(Cat(bits[1:], line)), count.eq(count + 1)]
                    with m.If(count == 8):  # ``line`` is the stop bit
                        with m.If(line & ~self.o.valid):
                            m.d.sync += [self.o.payload.eq(bits[1:]), self.o.valid.eq(1)]
                        m.next = "idle"
        return m


class UartTx(wiring.Component):
    """Bytes from ``i`` onto the ``tx`` line: start bit, 8 data bits LSB first, stop bit."""

    i: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        frame = Signal(10, init=1)  # shifted out LSB first; all ones when idle
        timer = Signal(range(self.divisor))
        left = Signal(range(11))     # bits still to send
        m.d.comb += [self.tx.eq(frame[0]), self.i.ready.eq(left == 0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [frame.eq(Cat(C(0, 1), self.i.payload, C(1, 1))), left.eq(10), timer.eq(self.divisor - 1)]
        with m.Elif(left != 0):
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], C(1, 1))), left.eq(left - 1), timer.eq(self.divisor - 1)]
        return m
