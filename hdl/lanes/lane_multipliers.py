"""The P lane multipliers, and their broadcast operand: a layer input at one fraction for every layer.

The MAC array (``x * w``) and the update unit (``d * x``) both multiply one broadcast
layer input ``x`` by a per-lane operand. They never run at the same time, so the learner
core gives them one set of :class:`LaneMultipliers` (P DSPs, not 2P); a unit built
alone has its own (``multipliers="internal"``), so its testbench tests the same code.

Both units first shift ``x`` left to the finest input fraction of the configuration,
``F = max(x.frac)`` over the layers (an exact shift). Then a sum or a product has the same
fraction in every layer, each unit's rounding shift is one constant, and its round
constant folds into an adder the unit has anyway. The aligned ``x`` takes
``max(x.width - x.frac) + F`` bits: 14 for the defaults, which an SB_MAC16 (16 x 16)
still takes in one.

On an ECP5 (a platform whose ``family`` is ``"ecp5"``) each lane's product register is the
output register of its MULT18X18D (:func:`mult18x18d`): Yosys maps a ``*`` to a MULT18X18D without
its registers, and a product register in the fabric puts the DSP's routing in and out on one
path. The operand registers stay in the fabric: in the DSP's input registers they would have the
block RAM's slow output (5.8 ns clock-to-out) and the operand multiplexer in front of them, routed
to the DSP row (digits32, seed 0: 96 MHz, that path critical). Without a platform (simulation)
and on the iCE40 the product is Amaranth's ``*`` into a register (synth_ice40 puts both registers
in the SB_MAC16's), the same Verilog as before the ECP5 path existed.
"""

from amaranth import ClockSignal, Instance, Module, Signal
from amaranth.hdl import Cat, Mux, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..errors import reject, require_config

from ..arith import select

__all__ = ["input_frac", "input_width", "operand_width", "align_input", "LaneMultipliers", "MODES", "require_mode",
           "lane_multipliers", "share", "uses_mult18x18d", "mult18x18d", "MULT18X18D_REGISTERS"]

MODES = ("internal", "external")

#: Operand bits of the ECP5's MULT18X18D (signed 18 x 18, a 36-bit product).
MULT18X18D_WIDTH = 18
#: The register settings :func:`mult18x18d` gives it: the output register on clock, enable and reset 0,
#: no input or pipeline register (nextpnr times it as ``MULT18X18D_REGS_OUTPUT``: ``A`` and ``B`` set up
#: to ``CLK0`` through the multiplier, ``P`` from it).
MULT18X18D_REGISTERS = {"REG_INPUTA_CLK": "NONE", "REG_INPUTB_CLK": "NONE", "REG_INPUTC_CLK": "NONE",
                        "REG_PIPELINE_CLK": "NONE", "REG_OUTPUT_CLK": "CLK0", "REG_OUTPUT_CE": "CE0",
                        "REG_OUTPUT_RST": "RST0"}


def input_frac(config: Config) -> int:
    """``F``: the fraction of every aligned layer input."""
    return max(spec.x.frac for spec in config.layers)


def input_width(config: Config) -> int:
    """Bits of an aligned layer input (:attr:`golden.config.Config.aligned_input_width`)."""
    return config.aligned_input_width


def operand_width(config: Config) -> int:
    """Bits of the first operand: an aligned layer input, or (backpropagation) a weight."""
    return max(input_width(config), config.weight.width) if config.backprop else input_width(config)


def align_input(config: Config, x, layer):
    """Layer ``layer``'s input ``x`` (at that layer's fraction) at fraction ``F``."""
    return select(layer, [x << (input_frac(config) - spec.x.frac) for spec in config.layers])


def uses_mult18x18d(config: Config, platform) -> bool:
    """Whether :class:`LaneMultipliers` elaborated for ``platform`` are MULT18X18D instances (:func:`mult18x18d`):
    on an ECP5 (``platform.family == "ecp5"``, as Amaranth's Lattice platforms say), when both operands fit 18 bits."""
    b_width = max(config.weight.width, config.error.width)
    return (getattr(platform, "family", None) == "ecp5"
            and max(operand_width(config), b_width) <= MULT18X18D_WIDTH)


def mult18x18d(a, b, en, *, name: str):
    """An ECP5 MULT18X18D: ``(instance, product)``, ``product <- a * b`` one enabled cycle after ``a`` and ``b``.

    ``a`` and ``b`` (signed, at most 18 bits; sign-extended to 18, ``SIGNEDA``/``SIGNEDB`` high)
    go straight into the multiplier, the product into the DSP's output register
    (:data:`MULT18X18D_REGISTERS`): on ``CLK0`` (the ``sync`` clock), enabled by ``CE0 = en`` (held
    otherwise), ``RST0`` low; nothing resets it. ``product`` is the 36-bit signed product (the
    signal ``name``). What the lanes do not use stays unconnected (the cascade ports) or low
    (``C``, ``SOURCEA``/``B``), as in Yosys's own MULT18X18D mapping (``lattice/dsp_map_18x18.v``).
    """
    def extended(value):
        value = value.as_signed()
        if len(value) > MULT18X18D_WIDTH:
            raise ValueError(f"a MULT18X18D operand has at most {MULT18X18D_WIDTH} bits, not {len(value)}")
        return Cat(value, value[-1].replicate(MULT18X18D_WIDTH - len(value)))

    a18, b18 = extended(a), extended(b)
    product = Signal(signed(2 * MULT18X18D_WIDTH), name=name)
    ports = {**{f"i_A{i}": a18[i] for i in range(MULT18X18D_WIDTH)}, **{f"i_B{i}": b18[i] for i in range(MULT18X18D_WIDTH)},
             **{f"i_C{i}": 0 for i in range(MULT18X18D_WIDTH)}, **{f"o_P{i}": product[i] for i in range(len(product))}}
    registers = {f"p_{key}": value for key, value in MULT18X18D_REGISTERS.items()}
    dsp = Instance("MULT18X18D", **registers, i_SIGNEDA=1, i_SIGNEDB=1, i_SOURCEA=0, i_SOURCEB=0,
                   i_CLK0=ClockSignal("sync"), i_CE0=en, i_RST0=0, **ports)
    return dsp, product


class LaneMultipliers(wiring.Component):
    """``product[p] <- x * b[p]`` for every lane ``p``, two registers deep, both enabled by ``en`` (held otherwise).

    ``x`` is an aligned layer input; ``b[p]`` a weight or a delta (signed, the wider of the
    two formats). The operands are registered, then the product: a product leaves 2 enabled
    cycles after its operands arrive. A core that backpropagates (:attr:`Config.backprop`)
    also multiplies per-lane pairs: with ``transposed`` the first operand of lane ``p`` is
    ``w[p]`` (a weight) instead of ``x``, for ``W[j, i] * d_j``. No register has a reset, so on the iCE40 synthesis puts
    them in the DSP's own input and output registers (one SB_MAC16 per lane, no flip-flops in
    the fabric). On the ECP5, where Yosys uses no MULT18X18D register, the product register is
    the output register of an instantiated MULT18X18D (:func:`uses_mult18x18d`, :func:`mult18x18d`):
    the same latency and enable; the operand registers stay in the fabric, off the block RAM.

    Members
    -------
    x : In(signed(input_width(config)))
    b : In(ArrayLayout(signed(max(weight.width, error.width)), lanes))
    en : In(1)
    w : In(ArrayLayout(signed(weight.width), lanes)), transposed : In(1)
        Backpropagating cores only.
    product : Out(ArrayLayout(signed(operand_width(config) + width of b), lanes))
    """

    def __init__(self, config: Config):
        require_config(self, config)
        self._config = config
        super().__init__(self.port_signature(config).flip())

    @property
    def config(self) -> Config:
        return self._config

    #: Enabled cycles from operands in to their product out (operand and product registers).
    latency = 2

    @staticmethod
    def port_signature(config: Config) -> wiring.Signature:
        """A user's side: ``x``, ``b`` and ``en`` out, ``product`` in (a unit's ``mul`` member)."""
        x_width, b_width = input_width(config), max(config.weight.width, config.error.width)
        members = {
            "x": Out(signed(x_width)),
            "b": Out(data.ArrayLayout(signed(b_width), config.lanes)),
            "en": Out(1),
            "product": In(data.ArrayLayout(signed(operand_width(config) + b_width), config.lanes)),
        }
        if config.backprop:
            members.update({"w": Out(data.ArrayLayout(signed(config.weight.width), config.lanes)), "transposed": Out(1)})
        return wiring.Signature(members)

    def elaborate(self, platform):
        m = Module()
        lanes = self._config.lanes
        dsp = uses_mult18x18d(self._config, platform)
        if self._config.backprop:  # one first operand per lane: x, or the lane's weight
            for p in range(lanes):
                self._lane(m, p, Signal(signed(operand_width(self._config)), name=f"a_r{p}", reset_less=True),
                           Mux(self.transposed, self.w[p], self.x), dsp=dsp)
            return m
        if self._config.pipeline == "fast":
            # four copies of the x register, each for a quarter of the lanes: less fan-out across
            # the chip. Yosys merges equal flip-flops, so the copies must differ: an initial value
            # of 0 or -1 (all ones: every bit differs), with or without the (synchronous) reset.
            # Neither value is ever used: a product counts only after real operands arrived.
            copies = [Signal(self.x.shape(), name=f"x_r{c}", init=-(c & 1), reset_less=c < 2) for c in range(4)]
        else:
            copies = [Signal(self.x.shape(), name="x_r", reset_less=True)]
        with m.If(self.en):
            m.d.sync += [x.eq(self.x) for x in copies]
        for p in range(lanes):
            self._lane(m, p, copies[p * len(copies) // lanes], dsp=dsp)
        return m

    def _lane(self, m, p, a, a_next=None, *, dsp=False):
        """Lane ``p``: ``b`` into its register (and ``a_next`` into ``a``, unless ``a`` is a shared copy), then ``a * b``
        into the product register: a flip-flop, or with ``dsp`` the output register of a MULT18X18D."""
        b = Signal(self.b[p].shape(), name=f"b_r{p}", reset_less=True)
        product = None if dsp else Signal(self.product[p].shape(), name=f"product{p}", reset_less=True)
        with m.If(self.en):
            m.d.sync += b.eq(self.b[p])
            if product is not None:
                m.d.sync += product.eq(a * b)
            if a_next is not None:
                m.d.sync += a.eq(a_next)
        if dsp:
            m.submodules[f"mult{p}"], product = mult18x18d(a, b, self.en, name=f"product{p}")
        m.d.comb += self.product[p].eq(product[:len(self.product[p])])


def require_mode(component, mode: str):
    """Refuse a ``multipliers`` argument other than "internal" or "external" (``component`` marked used first)."""
    if mode not in MODES:
        reject(component, f"multipliers must be one of {MODES}, not {mode!r}")


def lane_multipliers(m: Module, config: Config, mode: str, port):
    """The multipliers a unit drives: its own, made a submodule of ``m`` (``"internal"``), or its ``mul`` port."""
    if mode == "internal":
        m.submodules.multipliers = multipliers = LaneMultipliers(config)
        return multipliers
    return port


def share(m: Module, multipliers: LaneMultipliers, default, *owners, b: bool = True):
    """Give one set of multipliers to several units' ``mul`` ports: the first ``(port, owns)`` of
    ``owners`` whose ``owns`` is high drives the operands, else ``default``. With ``b=False`` the caller drives the
    lanes' ``b`` (:class:`hdl.lanes.bank_arbiter.BankArbiter`: the bank's word there is the slowest operand).

    Every unit sees the products; a unit must ignore them while another owns the multipliers.
    """
    def chosen(get):
        value = get(default)
        for port, owns in reversed(owners):
            value = Mux(owns, get(port), value)
        return value

    lanes = multipliers.config.lanes
    names = ["x", "en"] + (["transposed"] if multipliers.config.backprop else [])
    m.d.comb += [getattr(multipliers, name).eq(chosen(lambda port: getattr(port, name, 0))) for name in names]
    if b:
        m.d.comb += [multipliers.b[p].eq(chosen(lambda port: port.b[p])) for p in range(lanes)]
    if multipliers.config.backprop:
        m.d.comb += [multipliers.w[p].eq(chosen(lambda port: port.w[p])) for p in range(lanes)]
    m.d.comb += [port.product.eq(multipliers.product) for port in [default, *(port for port, _ in owners)]]
