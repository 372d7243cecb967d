"""Synapse update unit: the three-scalar rule as a read-modify-write on every lane's weight bank.

Implements :func:`golden.fixed_model.update_layer`, ``P`` weights per cycle.
"""

from amaranth import Module, Signal
from amaranth.hdl import C, Cat, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config
from trifactor.golden.fixedpoint import Rounding

from ..arith import narrow, round_constant, shift_right
from ..errors import reject, require_config
from ..lanes import LaneMultipliers, align_input, input_frac, input_width, lane_multipliers, require_mode
from ..layout import WeightLayout

__all__ = ["UpdateUnit", "FAULTS", "fault_layers"]

#: Faults a test can build into the core on purpose (``LearnerCore(config, fault=...)``), to check that a
#: check finds them: ``update-rounding`` rounds the update's ties down instead of up (its rounding constant
#: one too small), in every layer, or with ``update-rounding:L`` in layer ``L`` only. Never in a real core.
FAULTS = ("update-rounding",)


def fault_layers(config: Config, fault: str | None) -> tuple:
    """The layers whose update rounding ``fault`` breaks (:data:`FAULTS`); ``()`` for None. Raises ValueError
    for an unknown fault, a layer out of range, or a configuration whose update does not round half up."""
    if fault is None:
        return ()
    name, _, layer = str(fault).partition(":")
    if name not in FAULTS:
        raise ValueError(f"fault {fault!r} is not one of {', '.join(FAULTS)} (with :LAYER for one layer)")
    if config.update_rounding is not Rounding.HALF_UP:
        raise ValueError(f"fault {fault!r} breaks half-up rounding, and this core's update rounds "
                         f"{config.update_rounding.value}")
    if not layer:
        return tuple(range(config.n_layers))
    if not layer.isdigit() or int(layer) >= config.n_layers:
        raise ValueError(f"fault {fault!r}: the layer must be 0..{config.n_layers - 1}")
    return (int(layer),)


class UpdateUnit(wiring.Component):
    """``W[addr] <- narrow(W[addr] - shift_right(d_p * x, update_shift, update_rounding))`` in every lane ``p``.

    Each transfer on ``i`` carries one input element ``x`` (the layer input that the
    forward pass used; 1.0 for the bias), the ``P`` deltas of the neuron group being
    updated (``f'`` already applied; 0 for lanes past the layer's last neuron), the
    weight address and the layer. ``d * x`` is the product of the three scalars: ``d``
    already holds ``f'(a) * (B e)``. ``i`` is always ready (its signature says so): one read
    and one write per lane and cycle (a simple dual-port RAM).

    Pipeline: register the operands | multiply (the DSP's two registers) beside the old
    weights | round and subtract (one subtraction) | narrow, write: on dual-port banks
    (block RAM, :attr:`Config.update_interval` 1) the difference waits in a register, so the
    write is 3 cycles after the transfer, and the bank's read, the DSP's product and the
    subtraction are not in the same path as the narrowing and the banks' write ports; on
    single-port banks (SPRAM) the write must land in the cycle between two reads, so it is
    2 cycles after. With ``[hardware] pipeline = "compact"`` the old weights are read 1
    cycle after the transfer (from a registered address), so an address must not be sent
    again in the next cycle; with ``"fast"`` they are read at the transfer and wait in a
    register (no RAM output into the subtraction), so not in the next 2 cycles. Either way
    a read would otherwise miss a pending write; an update pass visits every address once,
    so it never happens.

    Parameters
    ----------
    config : Config
    multipliers : "internal" or "external"
        The unit's own :class:`LaneMultipliers`, or the ``mul`` port to connect to a
        shared set.
    fault : str or None
        For tests only: a fault of :data:`FAULTS` built in on purpose; None (the default) for the real unit.

    Members
    -------
    i : In(stream.Signature(cmd_layout))
    read : In(ReadPort.Signature(...)).array(lanes)
    write : In(WritePort.Signature(...)).array(lanes)
    mul : Out(LaneMultipliers.port_signature(config))
        With ``multipliers="external"`` only.
    weight_reads, weight_writes : Out(range(lanes + 1))
        With ``[hardware] cost_counters`` only: the bank words read (old weights) and written
        for an element a cycle ago, every lane's; registered.
    """

    def __init__(self, config: Config, *, multipliers: str = "internal", fault: str | None = None):
        require_config(self, config)
        require_mode(self, multipliers)
        self._config = config
        try:
            self._faulty = fault_layers(config, fault)
        except ValueError as exc:
            reject(self, str(exc))
        if self._faulty and self.shift <= 0:
            reject(self, f"fault {fault!r}: this core's update shifts by {self.shift}, so it does not round")
        self._multipliers = multipliers
        self._register_old = config.pipeline == "fast"
        self._register_difference = config.update_interval == 1
        layout = WeightLayout(config)
        self.cmd_layout = data.StructLayout({
            "x": signed(max(spec.x.width for spec in config.layers)),
            "d": data.ArrayLayout(signed(config.error.width), config.lanes),
            "addr": unsigned(layout.addr_width),
            "layer": unsigned(max(1, (config.n_layers - 1).bit_length())),
        })
        shape = signed(config.weight.width)
        members = {
            "i": In(stream.Signature(self.cmd_layout, always_ready=True)),
            "read": In(ReadPort.Signature(addr_width=layout.addr_width, shape=shape)).array(config.lanes),
            "write": In(WritePort.Signature(addr_width=layout.addr_width, shape=shape)).array(config.lanes),
        }
        if multipliers == "external":
            members["mul"] = Out(LaneMultipliers.port_signature(config))
        if config.cost_counters:
            members.update(weight_reads=Out(range(config.lanes + 1)), weight_writes=Out(range(config.lanes + 1)))
        super().__init__(members)

    @property
    def latency(self) -> int:
        """Cycles from a transfer on ``i`` to the cycle its weights are written (the write lands at that cycle's end)."""
        return LaneMultipliers.latency + self._register_difference

    @property
    def shift(self) -> int:
        """The update shift of every layer: inputs are aligned to one fraction (:mod:`hdl.lanes.lane_multipliers`)."""
        cfg = self._config
        return input_frac(cfg) + cfg.error.frac + cfg.learning_rate_shift - cfg.weight.frac

    def elaborate(self, platform):
        m = Module()
        cfg, lanes = self._config, self._config.lanes

        # stages 1 and 2: operands, then products d * x (x aligned to the common fraction; the
        # lane multipliers' registers, and the values fit x * d's width) beside the old weights:
        # read now and registered (off the memory's slow output), or read a cycle later from
        # the memory's output register. The command needs no register but its address.
        mul = lane_multipliers(m, cfg, self._multipliers, getattr(self, "mul", None))
        m.d.comb += [mul.x.eq(align_input(cfg, self.i.payload.x, self.i.payload.layer)), mul.en.eq(1)]
        m.d.comb += [mul.b[p].eq(self.i.payload.d[p]) for p in range(lanes)]
        products = [mul.product[p][:input_width(cfg) + cfg.error.width].as_signed() for p in range(lanes)]
        # the write's address and valid, one register per cycle of the latency
        fields = {"valid": 1, "addr": self.cmd_layout["addr"].shape}
        if 0 < len(self._faulty) < cfg.n_layers:  # a fault in some layers: the subtraction needs the layer
            fields["layer"] = self.cmd_layout["layer"].shape
        stage = data.StructLayout(fields)
        stages = [Signal(stage, name=f"s{k}") for k in range(1, self.latency + 1)]
        m.d.sync += [stages[0].valid.eq(self.i.valid), stages[0].addr.eq(self.i.payload.addr)]
        if "layer" in fields:
            m.d.sync += stages[0].layer.eq(self.i.payload.layer)
        m.d.sync += [later.eq(earlier) for earlier, later in zip(stages, stages[1:])]
        s1 = stages[0]
        if self._register_old:
            old = [Signal(port.data.shape(), name=f"old{p}", reset_less=True) for p, port in enumerate(self.read)]
            m.d.sync += [reg.eq(port.data) for reg, port in zip(old, self.read)]
            m.d.comb += [port.addr.eq(self.i.payload.addr) for port in self.read]
        else:
            old = [port.data for port in self.read]
            m.d.comb += [port.addr.eq(s1.addr) for port in self.read]
        m.d.comb += [port.en.eq(1) for port in self.read]
        if cfg.cost_counters:  # the read ports read every cycle; these reads carry an element's old weights
            read_valid = self.i.valid if self._register_old else s1.valid
            m.d.sync += self.weight_reads.eq(Mux(read_valid, lanes, 0))

        # then old - shift_right(product, shift, update_rounding), in one subtraction:
        # old - floor((v + c) / 2**s) = floor((old * 2**s + 2**s - 1 - c - v) / 2**s), and
        # old * 2**s + (2**s - 1 - c) is old with the constant's s bits below it (no adder)
        shift = self.shift
        below = (1 << shift) - 1 - round_constant(shift, cfg.update_rounding)
        if shift > 0:
            below = self._faulty_constant(stages, below) if self._faulty else C(below, shift)
        for p, port in enumerate(self.write):
            minuend = Cat(below, old[p]).as_signed() if shift > 0 else old[p]
            difference = shift_right(minuend - products[p], shift, Rounding.TRUNCATE)
            if self._register_difference:  # the register after the subtraction, before the narrowing: it halves the path
                difference_reg = Signal(difference.shape(), name=f"difference{p}", reset_less=True)
                m.d.sync += difference_reg.eq(difference)
                difference = difference_reg
            new = narrow(difference, cfg.weight, cfg.overflow)
            m.d.comb += [port.addr.eq(stages[-1].addr), port.data.eq(new), port.en.eq(stages[-1].valid)]
        if cfg.cost_counters:
            m.d.sync += self.weight_writes.eq(sum(port.en for port in self.write))
        return m

    def _faulty_constant(self, stages, below: int):
        """The rounding bits below the old weight with :data:`FAULTS`' ``update-rounding`` built in: one more (the
        rounding constant one less, so ties round down) in the faulty layers, as the subtraction sees them."""
        faulty = C(below + 1, self.shift)
        if len(self._faulty) == self._config.n_layers:
            return faulty
        layer = stages[LaneMultipliers.latency - 1].layer  # the element in the subtraction
        return Mux(layer.matches(*self._faulty), faulty, C(below, self.shift))
