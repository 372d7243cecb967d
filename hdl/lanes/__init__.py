"""The lanes: P multipliers and P weight banks that the forward pass, the update and every rule's
backward work share, and the arbiter that gives the banks to one user at a time.

Imports: the shared definitions (:mod:`hdl.arith`, :mod:`hdl.layout`, ...) and :mod:`golden`.
"""

from .bank_arbiter import BankArbiter, host_bank_signature
from .lane_banks import LaneBanks, placement_summary, spram_yosys_commands
from .lane_multipliers import LaneMultipliers, align_input, input_frac, input_width, lane_multipliers, require_mode

__all__ = ["BankArbiter", "host_bank_signature", "LaneBanks", "placement_summary", "spram_yosys_commands",
           "LaneMultipliers", "align_input", "input_frac", "input_width", "lane_multipliers", "require_mode"]
