"""The rule chooser: which training samples of a ``hybrid`` core take the backpropagation path."""

from amaranth import Module, Signal
from amaranth.hdl import Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden import lfsr
from trifactor.golden.config import Config

from ..errors import require_config

__all__ = ["RuleChooser"]


class RuleChooser(wiring.Component):
    """Golden's :class:`golden.lfsr.RuleChooser` in hardware: a 32-bit LFSR, :data:`golden.lfsr.STEPS_PER_SAMPLE`
    steps (one XOR network) per training sample, compared with the configuration's threshold.

    The register starts (and restarts at reset: the board link's RESET) at
    ``lfsr.initial_state([feedback] seed)``, so a run from reset makes golden's choices.

    Members
    -------
    step : In(1)
        A training sample starts: advance, and decide for it.
    backprop : Out(1)
        The current sample takes the BP path (from a register: steady until the next ``step``).
    """

    def __init__(self, config: Config):
        require_config(self, config)
        self._config = config
        super().__init__({"step": In(1), "backprop": Out(1)})

    def elaborate(self, platform):
        m = Module()
        state = Signal(lfsr.WIDTH, init=lfsr.initial_state(self._config.feedback_seed))
        advanced = state
        for n in range(lfsr.STEPS_PER_SAMPLE):  # a signal per step: each step uses its input twice
            after = Signal(lfsr.WIDTH, name=f"step{n + 1}")
            m.d.comb += after.eq(lfsr.step(advanced, lambda s: Mux(s[0], lfsr.TAPS, 0)))
            advanced = after
        with m.If(self.step):
            m.d.sync += [state.eq(advanced),
                         self.backprop.eq(advanced[lfsr.WIDTH - lfsr.CHOICE_BITS:]
                                          < lfsr.threshold(self._config.bp_fraction))]
        return m
