"""The host link: UART, request frames and their CRC, the deframer, the request sequencer, the
reply framer, and the core behind them (:class:`LinkedCore`, :class:`BoardLink`).

Imports: :mod:`hdl.core`, :mod:`hdl.store`, the shared definitions and :mod:`golden`.
"""

from .host_link import BoardLink, FrameLink, LinkedCore
from .uart import UartRx, UartTx, uart_divisor

__all__ = ["BoardLink", "FrameLink", "LinkedCore", "UartRx", "UartTx", "uart_divisor"]
