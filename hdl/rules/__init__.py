"""The learning rules: one error path per rule (:func:`error_path` chooses it from the
configuration) and the parts only a rule needs: the feedback unit (DFA, SSDFA), the backward
unit (BP), the rule chooser (the hybrid), the direction generator and the learned-feedback path
(DDFA), the low-rank path (DFA with a rank).

Imports: :mod:`hdl.lanes` (the backward unit's sums run on the lane multipliers), the shared
definitions and :mod:`golden`.
"""

from .backward_unit import BackwardUnit
from .error_path import ErrorPathSignature, error_path, fprime_layout, request_layout
from .feedback_unit import FeedbackUnit
from .rule_chooser import RuleChooser
from .directions import DirectionGenerator
from .learned_path import LearnedErrorPath
from .low_rank_path import LowRankErrorPath

__all__ = ["BackwardUnit", "ErrorPathSignature", "error_path", "fprime_layout", "request_layout", "FeedbackUnit",
           "RuleChooser", "DirectionGenerator", "LearnedErrorPath", "LowRankErrorPath"]
