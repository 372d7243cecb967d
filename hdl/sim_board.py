"""The board as the simulator sees it: :class:`hdl.host_link.BoardLink` plus the host's own UART.

``--backend board-sim`` and the link tests drive ``host_tx`` with the bytes a host would
write to the serial port and read ``host_rx``; everything between them, the two UART
lines included, is the hardware a board runs. The clock frequency is nominal: only the
divisor (clock cycles per bit) and the timeout in cycles matter in simulation.
"""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from .host_link import BoardLink
from .uart import UartRx, UartTx

__all__ = ["SimulatedBoard", "SIM_BAUD"]

SIM_BAUD = 1_000_000


class SimulatedBoard(wiring.Component):
    """``host_tx``: bytes to the board; ``host_rx``: bytes from it (take them as they come).

    ``store_samples``: the core's data store (:class:`hdl.host_link.BoardLink`), 0 for none.
    """

    host_tx: In(stream.Signature(8))
    host_rx: Out(stream.Signature(8))

    def __init__(self, config: Config, *, seed: int = 0, divisor: int = 4, timeout_bytes: int = 64,
                 store_samples: int = 0):
        clk_freq = divisor * SIM_BAUD
        self.divisor = divisor
        self.board = BoardLink(config, clk_freq=clk_freq, baud=SIM_BAUD, seed=seed,
                               timeout=timeout_bytes * 10 / SIM_BAUD, store_samples=store_samples)
        self.timeout_cycles = self.board.link.timeout_cycles
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.board = board = self.board
        m.submodules.host_uart_tx = host_tx = UartTx(self.divisor)
        m.submodules.host_uart_rx = host_rx = UartRx(self.divisor)
        wiring.connect(m, wiring.flipped(self.host_tx), host_tx.i)
        wiring.connect(m, host_rx.o, wiring.flipped(self.host_rx))
        m.d.comb += [board.rx.eq(host_tx.tx), host_rx.rx.eq(board.tx)]
        return m
