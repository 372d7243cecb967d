"""What the hardware of a configuration is and costs: its identity, bank placement, MAC and roofline counts,
and the one "can the hardware build this" check against the supported parts' budgets."""

import hashlib
import json

from ..errors import ConfigError

__all__ = ["BACKPROP_RULES", "SPRAM_DEPTH", "SPRAM_WIDTH", "SPRAM_BLOCKS", "BANK_BLOCK_RAM_BITS", "PART_RAM_BITS",
           "HARDWARE_SECTIONS", "HardwareBudget"]

#: rules whose hidden deltas come, on some or all samples, from backpropagation
BACKPROP_RULES = ("hybrid", "bp")
#: the UP5K's single-port RAMs: 4 SB_SPRAM256KA of 16K x 16 bits
SPRAM_DEPTH, SPRAM_WIDTH, SPRAM_BLOCKS = 16384, 16, 4
#: of the UP5K's 30 block RAMs (4 kbit each), what "auto" gives the lane banks (the input
#: lists, f' and feedback memories and the host link need the rest)
BANK_BLOCK_RAM_BITS = 24 * 4096
#: RAM of the supported FPGA parts, in bits (datasheet figures: block RAM, SPRAM, distributed RAM)
PART_RAM_BITS = {
    "iCE40 UP5K": 30 * 4096 + 4 * 256 * 1024,           # 30 EBR of 4 kbit, 4 SPRAM of 256 kbit
    "ECP5 LFE5U-25F": (1008 + 194) * 1024,              # 56 EBR of 18 kbit, 194 kbit distributed RAM
    "ECP5 LFE5U-85F": (3744 + 669) * 1024,              # 208 EBR of 18 kbit, 669 kbit distributed RAM
}
# the sections that decide the circuit; the name only labels its files and Verilog module ("conv": the
# [[conv]] layers, in a configuration that has them)
HARDWARE_SECTIONS = ("network", "conv", "feedback", "fixed", "hardware")


class HardwareBudget:
    """What the hardware of a :class:`~trifactor.golden.config.Config` is and costs (one of its bases; no fields
    of its own).

    It reads the configuration's fields, its layers (:class:`~trifactor.golden.config.formats.DerivedFormats`)
    and :meth:`~trifactor.golden.config.Config.to_dict`.
    """

    def hardware_dict(self) -> dict:
        """The sections of :meth:`to_dict` that decide the hardware (:data:`HARDWARE_SECTIONS`), as plain data.

        Two configurations with equal hardware dicts build the same circuit: the board's
        INFO identity, the simulation build cache and ``trifactor synth --cycles-from``
        all compare this, and nothing else.
        """
        data = self.to_dict()
        if not self.cost_counters:  # off, the circuit is the one built before the key existed: keep its identity
            del data["hardware"]["cost_counters"]
        # where u * r is multiplied, not how it was chosen; on the unit's own Booth multiplier the circuit is the
        # one built before the key existed
        if self.softmax_on_lanes:
            data["hardware"]["softmax_product"] = "lanes"
        else:
            del data["hardware"]["softmax_product"]
        # the placement, not how it was chosen; in block RAM the circuit is the one built before the key existed
        del data["hardware"]["banks"]
        # keys added with learned feedback: at their defaults the circuit is the one built before they existed
        if self.init == "uniform":
            del data["network"]["init"]
        if not self.rank:
            del data["feedback"]["rank"]
        if self.bank_placement == "spram":
            data["hardware"]["banks"] = "spram"
        # a frozen layer's weights come with the LOAD, not the circuit: the transfer file is not hardware
        data["network"].pop("transfer", None)
        found = {section: data[section] for section in HARDWARE_SECTIONS if section in data}
        if self.order != "host":  # a data store that draws its own order (no order memory); "host" keeps the old id
            found["training"] = {"order": self.order}
        return found

    def hardware_id(self) -> int:
        """32 bits that change when the hardware changes (not with the name, data or training)."""
        text = json.dumps(self.hardware_dict(), sort_keys=True).encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:4], "little")

    def check_hardware(self):
        """Raise :class:`ConfigError` unless the core can implement this configuration on a supported part
        (:meth:`check_bit_exact`, :meth:`check_size`, and what single-port SPRAM banks allow)."""
        self.check_bit_exact()
        if self.rule == "ddfa":
            self._check_learned()
        self.check_size()
        if self.bank_placement == "spram":
            self._check_spram()
        if self.softmax_product == "lanes":
            self._check_softmax_lanes()

    @property
    def softmax_quotient_bits(self) -> int:
        """Bits of the softmax's reciprocal ``r = floor(2**R / sum)``: ``r <= 2**(R - softmax_frac)``, since the
        maximum contributes 1.0 to the sum."""
        return self.softmax_recip_bits - self.softmax_frac + 1

    @property
    def softmax_lanes_fit(self) -> bool:
        """Whether the output error unit can multiply ``u_j * r`` on lane 0's multiplier: a softmax, a rule other
        than ``ddfa`` (its learned-feedback path runs its tangent passes on the lanes while the unit emits),
        ``r`` narrower than the lanes' first operand (the aligned input) and ``u mod 2**softmax_frac`` than the
        second (the weight or error width)."""
        b_width = max(self.weight.width, self.error.width)
        return (self.loss == "softmax" and self.rule != "ddfa"
                and self.softmax_quotient_bits < self.aligned_input_width and self.softmax_frac < b_width)

    @property
    def softmax_on_lanes(self) -> bool:
        """Whether ``u_j * r`` is multiplied on lane 0, else on the output error unit's radix-4 Booth multiplier:
        ``[hardware] softmax_product = "lanes"``, or ``"auto"`` where it fits (:attr:`softmax_lanes_fit`) with
        ``pipeline = "compact"`` or ``"balanced"``. The ``"fast"`` pipeline is the one for the clock rate, and there lane 0's operand
        register is the critical path (block RAM output -> register on the ECP5): the unit's operand as a third
        source in front of it took ``configs/digits32.toml`` from 112.5 to 107.6 MHz (docs/hardware.md)."""
        if self.softmax_product == "booth" or not self.softmax_lanes_fit:
            return False
        return self.softmax_product == "lanes" or self.pipeline != "fast"

    def _check_softmax_lanes(self):
        """``softmax_product = "lanes"`` where :attr:`softmax_lanes_fit` does not hold: one error naming why."""
        quotient = self.softmax_quotient_bits
        b_width = max(self.weight.width, self.error.width)
        key = "[hardware] softmax_product"
        if self.loss != "softmax" or self.rule == "ddfa":
            raise ConfigError(key, f"= 'lanes' multiplies the softmax's u * r, but this core has "
                              f"{'loss = ' + repr(self.loss) if self.loss != 'softmax' else 'rule = ddfa'}",
                              "use softmax_product = 'auto' or 'booth'", self.source)
        if quotient >= self.aligned_input_width or self.softmax_frac >= b_width:
            raise ConfigError(key, f"= 'lanes' needs r ({quotient} bits) narrower than the lanes' input "
                              f"({self.aligned_input_width} bits) and softmax_frac ({self.softmax_frac}) below the "
                              f"weight/error width ({b_width})", "use softmax_product = 'auto' or 'booth'", self.source)

    @property
    def weight_bits(self) -> int:
        """Bits of every weight and bias in the weight format: the least memory a core of this network needs."""
        return sum(spec.n_out * (spec.n_in + 1) for spec in self.layers) * self.weight.width

    def check_size(self):
        """Raise :class:`ConfigError` when the weights alone need more memory than the largest supported part has
        (:data:`PART_RAM_BITS`): a core no part can hold, refused before generating it takes minutes."""
        part, available = max(PART_RAM_BITS.items(), key=lambda item: item[1])
        if self.weight_bits > available:
            weights = self.weight_bits // self.weight.width
            raise ConfigError("[network] sizes", f"= {list(self.sizes)} needs {self.weight_bits:,} bits for its "
                              f"{weights:,} weights of {self.weight.width} bits, more than the {available:,} bits of "
                              f"RAM of the largest supported part ({part})",
                              "use smaller layers (the float and fixed golden models take any size)", self.source)

    def check_bit_exact(self):
        """Raise :class:`ConfigError` unless the bit-exact fixed model (the core's arithmetic) can implement this configuration."""
        if self.feedback_values != "ternary" and self.rule not in ("bp", "ddfa"):
            raise ConfigError("[feedback] values", f"= {self.feedback_values!r} is for the float golden model only; "
                              "the core implements ternary feedback", "set values = 'ternary'", self.source)
        if self.convs and self.rule == "bp" and any(spec.trained for spec in self.layers[:len(self.convs)]):
            raise ConfigError("[feedback] rule", "= 'bp' through trained [[conv]] layers is for the float golden model "
                              "only; the core learns them by convolutional DFA",
                              "use rule = 'ssdfa' or 'dfa', or --backend float", self.source)
        if self.rule == "ddfa" and self.perturbation != "rademacher":
            raise ConfigError("[feedback] perturbation", f"= {self.perturbation!r} is for the float golden model only; "
                              "the fixed model and the core draw +-1 from an LFSR", "set perturbation = 'rademacher'",
                              self.source)


    def _check_learned(self):
        """What the learned-feedback path (rule ``ddfa``) needs: dual-port banks (it reads and writes ``B`` in one
        walk), tangents and errors that fit the lane multipliers' input."""
        multiplier_input = self.aligned_input_width
        for key, fmt in (("tangent", self.tangent), ("error", self.error)):
            if fmt.width > multiplier_input:
                raise ConfigError(f"[fixed] {key}", f"= {fmt} is wider than the lane multipliers' input "
                                  f"({multiplier_input} bits) that rule 'ddfa' multiplies it on",
                                  f"use {key}.width <= {multiplier_input}", self.source)
        if self.bank_placement == "spram":
            raise ConfigError("[feedback] rule", "= 'ddfa' reads and writes its feedback in one walk, but the banks "
                              "go to SPRAM, which has one port", "use banks = 'block_ram', fewer lanes or smaller "
                              "layers", self.source)

    def _check_spram(self):
        where = "the banks go to SPRAM" + (" (too large for block RAM)" if self.banks == "auto" else "")
        fix = "use banks = 'block_ram'" if self.banks == "spram" else "use fewer lanes or smaller layers"
        if self.backprop:
            raise ConfigError("[feedback] rule", f"= {self.rule!r} reads the old weights during the update, but {where}, "
                              "which has one port", f"use rule = 'ssdfa' or 'dfa', or {fix}", self.source)
        if self.pipeline == "fast":
            raise ConfigError("[hardware] pipeline", f"= 'fast' reads the old weights 2 cycles before writing them, "
                              f"but {where}, which alternates reads and writes", f"use pipeline = 'compact', or {fix}",
                              self.source)
        word = self.lanes * self.weight.width
        if self.bank_depth > SPRAM_DEPTH or word > SPRAM_BLOCKS * SPRAM_WIDTH:
            raise ConfigError("[hardware] banks", f"= {self.banks!r}: the banks need {self.bank_depth} words of "
                              f"{self.lanes} x {self.weight.width} bits, more than the UP5K's {SPRAM_BLOCKS} SPRAMs "
                              f"({SPRAM_DEPTH} x {SPRAM_BLOCKS * SPRAM_WIDTH} bits)",
                              "use fewer lanes, a narrower weight format or smaller layers", self.source)

    @property
    def bank_depth(self) -> int:
        """Words in every lane bank: each layer's ``ceil(n_out / lanes)`` neuron groups of ``n_in + 1`` weights
        (:mod:`hdl.layout`), and rule ``ddfa``'s :attr:`learned_words`."""
        return self.weight_words + self.learned_words

    @property
    def weight_words(self) -> int:
        """The weights' words in every lane bank."""
        return sum(-(-spec.n_out // self.lanes) * (spec.n_in + 1) for spec in self.layers)

    @property
    def learned_words(self) -> int:
        """Rule ``ddfa``'s learned feedback in every lane bank: ``ceil(n_l / lanes)`` groups of ``n_classes`` words
        per hidden layer (stored whole for sparse DDFA too, the entries outside its mask staying 0); 0 otherwise."""
        if self.rule != "ddfa":
            return 0
        return sum(-(-spec.n_out // self.lanes) * self.n_classes for spec in self.layers[:-1])

    @property
    def bank_placement(self) -> str:
        """``"block_ram"`` or ``"spram"``: ``[hardware] banks``, or for ``"auto"`` SPRAM exactly when the banks
        would take more than :data:`BANK_BLOCK_RAM_BITS` of block RAM and fit the UP5K's SPRAMs."""
        if self.banks != "auto":
            return self.banks
        bits = self.bank_depth * self.lanes * self.weight.width
        fits = self.bank_depth <= SPRAM_DEPTH and self.lanes * self.weight.width <= SPRAM_BLOCKS * SPRAM_WIDTH
        return "spram" if bits > BANK_BLOCK_RAM_BITS and fits and not self.backprop else "block_ram"

    @property
    def update_interval(self) -> int:
        """Cycles between an update sweep's elements: 2 on single-port banks (each weight is read, then written)."""
        return 2 if self.bank_placement == "spram" else 1

    @property
    def backprop(self) -> bool:
        """Whether some samples take the backpropagation path (rules ``bp`` and ``hybrid``)."""
        return self.rule in BACKPROP_RULES and self.n_layers > 1

    @property
    def feedback_rows(self) -> bool:
        """Whether some samples take fixed ternary feedback (every rule but ``bp``)."""
        return self.rule != "bp" and self.n_layers > 1

    @property
    def backward_macs(self) -> int:
        """Multiplies of one backpropagation pass: ``W_l^T d_l`` for every layer above the first (no bias column)."""
        return sum(spec.n_in * spec.n_out for spec in self.layers[1:])

    def macs_by_pass(self, backprop: bool | None = None) -> dict:
        """Multiply-accumulates of a training sample by pass (biases included; ``backward`` only on a BP sample).

        ``backprop`` None: every sample of rule ``bp``, none of the others.

        Rule ``ddfa`` (learned feedback, :mod:`hdl.rules.learned_path`) has two passes more, as the core runs them
        on the lane multipliers:

        - ``tangent``: ``sum over layers above the first of n_in * n_out`` (:attr:`backward_macs`: no bias
          column, nothing for the first layer, whose input's tangent is 0). Its first layer multiplies by +-1.0;
        - ``feedback``: the deltas ``B_l e``, ``sum over hidden layers of n_l * n_classes``: the core walks every
          class, for sparse DDFA too (the entries outside its mask are 0).

        The feedback update (:attr:`feedback_updates`) rides on the feedback pass's walk with no multiplier, so it
        adds neither MACs nor cycles. The other rules have no such keys; their counts are what they were.
        """
        backprop = self.rule == "bp" if backprop is None else backprop
        forward = sum(spec.forward_macs for spec in self.layers)  # a convolution's: every position's window
        passes = {"forward": forward, "backward": self.backward_macs if backprop and self.n_layers > 1 else 0,
                  "update": sum(spec.forward_macs for spec in self.layers if spec.trained)}
        if self.rule == "ddfa":
            passes.update(tangent=self.backward_macs, feedback=sum(self.sizes[1:-1]) * self.n_classes)
        return passes

    @property
    def feedback_updates(self) -> int:
        """Rule ``ddfa``: the learned feedback entries a training sample updates (``n_l * nonzeros_per_row`` per
        hidden layer: a sign select, a subtraction and a shift each); 0 for the other rules."""
        return sum(self.sizes[1:-1]) * self.nonzeros_per_row if self.rule == "ddfa" else 0

    @property
    def macs_per_sample(self) -> int:
        """Multiply-accumulates of one training sample (:meth:`macs_by_pass` summed, rule ``ddfa``'s learned-feedback
        passes included; a hybrid's mean)."""
        plain = sum(self.macs_by_pass(False).values())
        if self.rule == "hybrid":
            return plain + self.bp_fraction * self.backward_macs
        return sum(self.macs_by_pass().values())

    @property
    def roofline_cycles(self) -> float:
        """The fewest cycles a training sample can take: :attr:`macs_per_sample` on ``lanes`` MACs per cycle."""
        return self.macs_per_sample / self.lanes

    def walk_cycles(self, layer: int) -> int:
        """Elements of one forward walk of ``layer`` (one a cycle): its weight words; a convolution's channel groups
        at every position, each over the window's elements inside the image and the bias."""
        spec = self.layers[layer]
        groups = -(-spec.n_out // self.lanes)
        if spec.conv:
            return groups * (spec.conv.valid_elements() + spec.positions)
        return groups * (spec.n_in + 1)

    @property
    def mac_issue_cycles(self) -> float:
        """Cycles of a dense training sample: every neuron group of ``lanes`` neurons reads its inputs twice
        (the update at :attr:`update_interval`), and on a BP sample once more (without the bias) for every
        layer above the first; rule ``ddfa`` adds as many for its tangent passes and one per word of ``B`` for its
        feedback passes (:mod:`hdl.rules.learned_path`; a few cycles between passes are not counted)."""
        plain = sum((1 + (self.update_interval if spec.trained else 0)) * self.walk_cycles(spec.index)
                    for spec in self.layers)
        backward = sum(-(-spec.n_out // self.lanes) * spec.n_in for spec in self.layers[1:])
        share = {"bp": 1, "hybrid": self.bp_fraction}.get(self.rule, 0)
        if self.rule == "ddfa":  # the tangent passes (the backward walk's, forward) and a feedback pass per hidden layer
            return plain + backward + self.learned_words
        return plain + share * backward

    def cycle_budget(self) -> dict:
        """:attr:`mac_issue_cycles`, :attr:`roofline_cycles` and :attr:`macs_per_sample` by their report names."""
        return {"mac_issue_cycles": self.mac_issue_cycles, "roofline": self.roofline_cycles,
                "macs_per_sample": self.macs_per_sample}
