"""Board tops: the learner core behind its UART host link, on the pins of a real board.

:data:`BOARDS` names the boards trifactor builds for, with what the command line needs to
build and program them. :class:`BoardTop` wires the board's USB UART to
:class:`~trifactor.hdl.host_link.BoardLink` and its ``busy`` output to an LED.

The design's ``sync`` clock comes from the family's PLL (:class:`hdl.boards.pll.PllDomain`) fed
by the board's oscillator (12 MHz on the iCEBreaker, 25 MHz on the ULX3S), at the
frequency the build asks for; the UART divisor and the frame timeout follow the
frequency the PLL really makes (:func:`hdl.boards.pll.pll_settings`).
"""

from dataclasses import dataclass

from amaranth import ClockDomain, Elaboratable, Module
from amaranth.build import Platform
from amaranth.lib import io
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from trifactor.golden.config import Config

from ..store import FlashPlacement
from ..errors import reject
from ..link import BoardLink
from .pll import PllDomain, pll_settings

__all__ = ["Board", "BOARDS", "BoardTop"]


@dataclass(frozen=True)
class Board:
    """A board trifactor builds for.

    Attributes
    ----------
    name : str
        What the user types after ``--board``.
    platform : type
        The amaranth-boards platform class.
    part : str
        The FPGA and package, for reports and messages.
    family : str
        ``"ice40"`` or ``"ecp5"``: selects synthesis options and the cell names in reports.
    bitstream_suffix : str
        What the last build step writes: ``.bin`` (icepack) or ``.bit`` (ecppack).
    programmers : tuple of tuple of str
        Commands that program the board, preferred first; the bitstream path is appended.
    busy_led : tuple of (str, int)
        The resource (name, number) that shows the link is busy.
    aim_mhz : int
        The clock a default build tries first (see :mod:`scripts.flow.board_build`).
    data_offset : int or None
        Where in the board's SPI flash ``trifactor flash --data`` writes a data set (after the bitstream);
        None: a data store in flash is not supported on this board.
    """

    name: str
    platform: type
    part: str
    family: str
    bitstream_suffix: str
    programmers: tuple
    busy_led: tuple
    aim_mhz: int
    data_offset: int | None = None

    @property
    def oscillator_hz(self) -> float:
        """The board oscillator's frequency: the PLL's input."""
        return self.platform().default_clk_frequency

    def pll(self, clock_hz: float):
        """The PLL settings closest to ``clock_hz`` (``ValueError`` if it cannot make it); ``.f_out`` is the clock."""
        return pll_settings(self.family, self.oscillator_hz, clock_hz)


BOARDS = {
    board.name: board for board in (
        # openFPGALoader calls the iCEBreaker (and most iCE40 boards) "ice40_generic"; it
        # writes the SPI flash, as iceprog does.
        Board("icebreaker", ICEBreakerPlatform, "iCE40 UP5K (SG48)", "ice40", ".bin",
              programmers=(("openFPGALoader", "-b", "ice40_generic"), ("iceprog",)), busy_led=("led_g", 0),
              aim_mhz=48,  # the UP5K's internal oscillator's top frequency
              data_offset=0x100000),  # 1 MiB: after the UP5K's 104 kB bitstream, in the W25Q128JV's 16 MB
        # loads the FPGA's SRAM over the FTDI's JTAG: gone at power-off, as the core's weights are
        Board("ulx3s-85f", ULX3S_85F_Platform, "ECP5 LFE5U-85F (CABGA381)", "ecp5", ".bit",
              programmers=(("openFPGALoader", "-b", "ulx3s"),), busy_led=("led", 0), aim_mhz=100),
    )
}


class BoardTop(Elaboratable):
    """The core and its host link on a board's pins.

    Parameters
    ----------
    config : Config
    board_name : str
        A key of :data:`BOARDS`.
    clock_hz : float
        The core clock to ask the PLL for; it makes the closest it can (``pll.f_out``).
    seed : int
        Initial weights: golden's ``FixedNet(config, seed)``.
    baud : int
        UART bit rate; it must divide the PLL's clock within 2% (see :func:`hdl.link.uart.uart_divisor`).
    store_samples : int
        The core's data store (:class:`hdl.store.data_store.DataStore`), in samples; 0: none.
    store_in : {"memory", "flash"}
        Where the store keeps its records: the FPGA's memory (written by STORE) or the board's SPI flash at
        the board's ``data_offset`` (written by ``trifactor flash --data``, read by :mod:`hdl.store.spi_flash`).

    Members
    -------
    pll : hdl.boards.pll.Ice40Pll or hdl.boards.pll.Ecp5Pll
        The PLL settings; ``pll.f_out`` is the core clock in Hz.
    link : BoardLink
        The host link and the core, clocked by the PLL.
    """

    def __init__(self, config: Config, board_name: str, *, clock_hz: float, seed: int = 0, baud: int = 1_000_000,
                 store_samples: int = 0, store_in: str = "memory"):
        if board_name not in BOARDS:
            reject(self, f"unknown board {board_name!r}; known: {', '.join(BOARDS)}")
        self.config, self.board, self.seed, self.baud = config, BOARDS[board_name], seed, baud
        if store_in not in ("memory", "flash"):
            reject(self, f"store_in must be 'memory' or 'flash', not {store_in!r}")
        if store_in == "flash" and self.board.data_offset is None:
            reject(self, f"a data store in flash is not supported on the {board_name} yet")
        # built here, so that a clock, baud rate or configuration the link refuses is refused at once
        try:
            self.pll = self.board.pll(clock_hz)
            flash = FlashPlacement(self.board.data_offset, float(self.pll.f_out)) \
                if store_samples and store_in == "flash" else None
            self.link = BoardLink(config, clk_freq=float(self.pll.f_out), baud=baud, seed=seed,
                                  store_samples=store_samples, flash=flash)
        except ValueError as exc:
            reject(self, str(exc))

    def elaborate(self, platform: Platform):
        if not isinstance(platform, self.board.platform):
            raise TypeError(f"this top is for the {self.board.name} ({self.board.platform.__name__}), "
                            f"not {type(platform).__name__}")
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clock = PllDomain(self.pll, platform.request(platform.default_clk, dir="-"))
        m.submodules.link = link = self.link
        # dir="-": raw ports; the buffers below become the family's I/O cells (SB_IO, IB/OB)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        m.submodules.led = led = io.Buffer("o", platform.request(*self.board.busy_led, dir="-"))
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx), led.o.eq(link.busy)]
        if "flash" in link.signature.members:
            self._flash_pins(m, platform, link.flash)
        return m

    def _flash_pins(self, m, platform, pins):
        """The core's SPI flash pins on the board's flash (single-bit SPI; WP# and HOLD# held inactive)."""
        flash = platform.request("spi_flash_1x", 0, dir="-")
        for name, direction, signal in [("cs", "o", pins.cs), ("clk", "o", pins.sck), ("copi", "o", pins.copi),
                                        ("cipo", "i", pins.cipo), ("wp", "o", 0), ("hold", "o", 0)]:
            m.submodules[f"flash_{name}"] = buffer = io.Buffer(direction, getattr(flash, name))
            m.d.comb += signal.eq(buffer.i) if direction == "i" else buffer.o.eq(signal)
