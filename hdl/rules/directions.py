"""The direction generator: rule ``ddfa``'s +-1 perturbations, a neuron group's at a time."""

from amaranth import Module, Signal
from amaranth.hdl import Array, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden import lfsr
from trifactor.golden.config import Config

from ..errors import require_config

__all__ = ["DirectionGenerator"]


class DirectionGenerator(wiring.Component):
    """Golden's :class:`golden.lfsr.Directions` in hardware: the 32-bit LFSR, up to P steps (one XOR network) a cycle.

    ``bits[p]`` is the direction of the group's lane ``p`` (1: +1, 0: -1): the low bit of the state after
    ``p + 1`` steps. ``next`` takes ``count`` of them (a layer's last group may have fewer neurons than
    lanes) and advances the state by ``count`` steps, so the lanes past a layer's end draw nothing, as in
    golden. The state starts (and restarts at reset) at ``lfsr.initial_state([feedback] seed)``.

    Members
    -------
    bits : Out(lanes)
        The next group's directions (combinational, from the state register).
    next : In(1)
        Take them: the state moves on by ``count`` steps.
    count : In(range(lanes + 1))
        The group's neurons.
    """

    def __init__(self, config: Config):
        require_config(self, config)
        self._config = config
        super().__init__({"bits": Out(config.lanes), "next": In(1), "count": In(range(config.lanes + 1))})

    def elaborate(self, platform):
        m = Module()
        lanes = self._config.lanes
        state = Signal(lfsr.WIDTH, init=lfsr.initial_state(self._config.feedback_seed))
        after = [state]
        for n in range(lanes):  # a signal per step: each step uses its input twice
            stepped = Signal(lfsr.WIDTH, name=f"step{n + 1}")
            m.d.comb += stepped.eq(lfsr.step(after[-1], lambda s: Mux(s[0], lfsr.TAPS, 0)))
            after.append(stepped)
        m.d.comb += self.bits.eq(Cat(s[0] for s in after[1:]))
        with m.If(self.next):
            m.d.sync += state.eq(Array(after)[self.count])
        return m
