"""Board tops (iCEBreaker, ULX3S), their PLLs, the simulated board of ``--backend board-sim``,
and the measurement top that synthesis of the core alone uses.

Imports: :mod:`hdl.link`, :mod:`hdl.core`, :mod:`hdl.store`, the shared definitions and :mod:`golden`.
"""

from .board import BOARDS, Board, BoardTop
from .sim_board import SimulatedBoard
from .synth_top import MeasurementTop

__all__ = ["BOARDS", "Board", "BoardTop", "SimulatedBoard", "MeasurementTop"]
