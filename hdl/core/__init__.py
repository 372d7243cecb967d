"""The learner core (:class:`LearnerCore`, a parent that only wires its parts) and its parts:
command decoder, pass sequencer, input lists, sweeper, MAC array, serialiser, output error unit,
delta provider, update unit, counters.

Imports: :mod:`hdl.rules` (the error path), :mod:`hdl.store` (the data store and epoch runner),
:mod:`hdl.lanes`, the shared definitions and :mod:`golden`.
"""

from .learner import LearnerCore

__all__ = ["LearnerCore"]
