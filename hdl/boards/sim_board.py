"""The board as the simulator sees it: :class:`hdl.link.host_link.BoardLink` plus the host's own UART.

``--backend board-sim`` and the link tests drive ``host_tx`` with the bytes a host would
write to the serial port and read ``host_rx``; everything between them, the two UART
lines included, is the hardware a board runs. The clock frequency is nominal: only the
divisor (clock cycles per bit) and the timeout in cycles matter in simulation.
"""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from .board import BOARDS
from ..store import FLASH_HEADER, FlashPlacement, store_bytes
from ..store import SpiFlashModel
from ..link import BoardLink
from ..link import UartRx, UartTx

__all__ = ["SimulatedBoard", "SIM_BAUD"]

SIM_BAUD = 1_000_000


#: the board whose flash the simulated board's is: where its data set image starts
FLASH_BOARD = BOARDS["icebreaker"]


class SimulatedBoard(wiring.Component):
    """``host_tx``: bytes to the board; ``host_rx``: bytes from it (take them as they come).

    ``store_samples``: the core's data store (:class:`hdl.link.host_link.BoardLink`), 0 for none. With
    ``flash``, its records are in the board's SPI flash, a :class:`hdl.store.flash_model.SpiFlashModel`
    (powered down, as after configuration) holding a data set image at the iCEBreaker's
    ``data_offset``: ``flash_program`` writes the image's bytes before the run (as
    ``trifactor flash --data`` does), ``flash_ignored`` tells that the flash ignored a command.
    """

    def __init__(self, config: Config, *, seed: int = 0, divisor: int = 4, timeout_bytes: int = 64,
                 store_samples: int = 0, flash: bool = False):
        clk_freq = divisor * SIM_BAUD
        self.divisor = divisor
        placement = FlashPlacement(FLASH_BOARD.data_offset, clk_freq) if flash else None
        self.board = BoardLink(config, clk_freq=clk_freq, baud=SIM_BAUD, seed=seed,
                               timeout=timeout_bytes * 10 / SIM_BAUD, store_samples=store_samples, flash=placement)
        self.timeout_cycles = self.board.link.timeout_cycles
        #: the flash chip, holding the image's header and records
        self.flash = SpiFlashModel(FLASH_HEADER.size + store_bytes(config, store_samples), base=placement.offset,
                                   clk_hz=clk_freq) if flash else None
        program = {"flash_program": Out(self.flash.program.signature), "flash_ignored": Out(1)} if flash else {}
        super().__init__({"host_tx": In(stream.Signature(8)), "host_rx": Out(stream.Signature(8)), **program})

    def elaborate(self, platform):
        m = Module()
        m.submodules.board = board = self.board
        m.submodules.host_uart_tx = host_tx = UartTx(self.divisor)
        m.submodules.host_uart_rx = host_rx = UartRx(self.divisor)
        wiring.connect(m, wiring.flipped(self.host_tx), host_tx.i)
        wiring.connect(m, host_rx.o, wiring.flipped(self.host_rx))
        m.d.comb += [board.rx.eq(host_tx.tx), host_rx.rx.eq(board.tx)]
        if self.flash is not None:
            m.submodules.flash = flash = self.flash
            wiring.connect(m, board.flash, flash.pins)
            wiring.connect(m, wiring.flipped(self.flash_program), flash.program)
            m.d.comb += self.flash_ignored.eq(flash.ignored)
        return m
