"""The schema of a configuration and its validation: the keys and their defaults, the frozen :class:`Config`
they resolve to, and the parsing of a TOML file or nested dicts into it, with one :class:`ConfigError` per bad
value (its message names the key and the fix)."""

import difflib
import math
import re
import tomllib
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path

from ..errors import ConfigError
from ..fixedpoint import Fixed, Overflow, Rounding
from ..order import ORDERS
from .conv import MODES, SOURCES, ConvSpec
from .formats import DerivedFormats, accumulator_width
from .hardware import HardwareBudget

__all__ = ["AUTO", "ACTIVATIONS", "LOSSES", "RULES", "DDFA_DEFAULTS", "PERTURBATIONS", "STARTS", "INITS", "VALUES", "PIPELINES", "BANK_PLACEMENTS", "MAX_SEED",
           "MAX_EPOCHS", "Config", "load_config", "config_from_dict"]

#: the largest seed: scikit-learn's ``random_state`` (the split) and NumPy's legacy generators take 0..2**32 - 1,
#: so every seed of trifactor, in a configuration or on the command line, is held to that range
MAX_SEED = 2**32 - 1
#: the most epochs of a run (``[training] epochs``, ``--epochs``): about 8 hours of digits on the fixed model (0.28 s
#: an epoch); more is a typo that would only show after days (or, before the orders were lazy, a memory blow-up)
MAX_EPOCHS = 100_000


# -- the schema: section -> key -> default (None: required, AUTO: derived) -------------

AUTO = object()

_SCHEMA = {
    "": {"name": AUTO},
    "network": {"sizes": None, "activation": "relu", "loss": "softmax", "init": "uniform", "input": AUTO,
                "transfer": ""},
    "feedback": {
        "rule": "ssdfa", "nonzeros_per_row": AUTO, "seed": 0, "balanced": False,
        "values": "ternary", "scale_shift": AUTO, "bp_fraction": AUTO, "rank": 0,
        "rate_shift": AUTO, "perturbation": AUTO, "start": AUTO,
    },
    "fixed": {
        "input": {"width": 8, "frac": 5},
        "weight": {"width": 16, "frac": 12},
        "activation": {"width": 12, "frac": 3},
        "error": {"width": 8, "frac": 6},
        "learning_rate_shift": 7,
        "rounding": "half_up",
        "update_rounding": "half_up",
        "overflow": "saturate",
        "softmax_frac": 15,
        "tangent": AUTO,
    },
    "training": {"epochs": 10, "learning_rate": AUTO, "order": "host"},
    "data": {"dataset": "digits", "test_fraction": 0.2, "split_seed": 0, "standardize": True, "clip": 3.0},
    "hardware": {"lanes": 8, "zero_skipping": True, "pipeline": "compact", "cost_counters": False, "banks": "auto",
                 "softmax_product": "auto"},
}
#: the keys of a ``[[conv]]`` table (a list of tables: one per convolution layer, input first) and their defaults
#: (``groups``: AUTO is every channel its own group)
CONV_SCHEMA = {"channels": None, "kernel": 3, "stride": 1, "padding": 0, "pool": 1, "mode": "trained",
               "feedback": "rom", "dilation": 0, "groups": AUTO}

ACTIVATIONS = ("relu", "hardtanh")
LOSSES = ("softmax", "mse")
RULES = ("ssdfa", "dfa", "hybrid", "bp", "ddfa")
#: rule ``ddfa``'s defaults (docs/learned-feedback.md): B moves 2**-8 of the way to u d^T a sample, the
#: directions are +-1 from an LFSR, B starts at zero, the tangents are Q6.6
DDFA_DEFAULTS = {"rate_shift": 8, "perturbation": "rademacher", "start": "zero",
                 "tangent": {"width": 12, "frac": 6}}
PERTURBATIONS = ("rademacher", "gaussian")
STARTS = ("zero", "random")
INITS = ("uniform", "zero")
VALUES = ("ternary", "continuous")
PIPELINES = ("compact", "balanced", "fast")
#: where the output error unit multiplies u_j * r: its own radix-4 Booth multiplier, or lane 0's; "auto" is
#: lane 0's wherever it fits (:attr:`Config.softmax_on_lanes`)
SOFTMAX_PRODUCTS = ("auto", "booth", "lanes")
#: where the lane banks live: "block_ram" (one simple dual-port memory per lane, initialised by
#: the bitstream) or "spram" (one single-port memory holding every lane's word at an address,
#: the shape of the UP5K's SB_SPRAM256KA: no initial contents, one access a cycle)
BANK_PLACEMENTS = ("auto", "block_ram", "spram")


@dataclass(frozen=True)
class Config(DerivedFormats, HardwareBudget):
    """A validated configuration. Build it with :func:`load_config` or :func:`config_from_dict`.

    Attributes
    ----------
    name : str
        The core's name (its Verilog module, its build folders).
    sizes : tuple of int
        ``[network] sizes``: inputs, hidden layers, outputs.
    rule : str
        ``[feedback] rule``: ``ssdfa``, ``dfa``, ``bp`` or ``hybrid``.
    lanes : int
        ``[hardware] lanes``: MAC lanes of the core.
    epochs : int
        ``[training] epochs``.
    order : str
        ``[training] order``: ``host`` (golden's NumPy permutations, the host writes each epoch's to the store's
        order memory) or ``lfsr`` (every epoch's from an LFSR the core steps itself, :mod:`golden.order`).
    dataset, test_fraction, split_seed, standardize, clip
        The ``[data]`` section.

    The other fields are the remaining keys of docs/configuration.md, resolved; :meth:`to_dict` gives them all.
    The layers and widths they derive come from :class:`~.formats.DerivedFormats`, what the hardware is and
    costs from :class:`~.hardware.HardwareBudget`.
    """

    name: str
    sizes: tuple
    activation: str
    loss: str
    rule: str
    nonzeros_per_row: int
    feedback_seed: int
    balanced: bool
    feedback_values: str
    scale_shift: int
    bp_fraction: float
    input: Fixed
    weight: Fixed
    act: Fixed
    error: Fixed
    learning_rate_shift: int
    rounding: Rounding
    update_rounding: Rounding
    overflow: Overflow
    softmax_frac: int
    epochs: int
    learning_rate: float
    dataset: str
    test_fraction: float
    split_seed: int
    standardize: bool
    clip: float
    lanes: int
    zero_skipping: bool = True
    pipeline: str = "compact"
    softmax_product: str = "auto"
    cost_counters: bool = False
    banks: str = "auto"
    init: str = "uniform"
    rank: int = 0
    rate_shift: int = 0
    perturbation: str = ""
    feedback_start: str = ""
    tangent: Fixed | None = None
    input_shape: tuple = ()
    convs: tuple = ()
    transfer: str = ""
    order: str = "host"
    source: str = "<config>"

    def to_dict(self) -> dict:
        """The resolved configuration (every default filled in, derived values added) as plain data."""
        def fmt(f):
            return {"width": f.width, "frac": f.frac}

        return {
            "name": self.name,
            "network": {"sizes": list(self.sizes[len(self.convs):]), "activation": self.activation,
                        "loss": self.loss, "init": self.init,
                        **({"input": list(self.input_shape)} if self.input_shape else {}),
                        **({"transfer": self.transfer} if self.transfer else {})},
            **({"conv": [conv.to_dict() for conv in self.convs]} if self.convs else {}),
            "feedback": {
                "rule": self.rule, "nonzeros_per_row": self.nonzeros_per_row, "seed": self.feedback_seed,
                "balanced": self.balanced, "values": self.feedback_values, "scale_shift": self.scale_shift,
                "bp_fraction": self.bp_fraction, "rank": self.rank,
                **({"rate_shift": self.rate_shift, "perturbation": self.perturbation, "start": self.feedback_start}
                   if self.rule == "ddfa" else {}),
            },
            "fixed": {
                "input": fmt(self.input), "weight": fmt(self.weight), "activation": fmt(self.act),
                "error": fmt(self.error), "learning_rate_shift": self.learning_rate_shift,
                "rounding": self.rounding.value, "update_rounding": self.update_rounding.value,
                "overflow": self.overflow.value, "softmax_frac": self.softmax_frac,
                **({"tangent": fmt(self.tangent)} if self.tangent is not None else {}),
            },
            "training": {"epochs": self.epochs, "learning_rate": self.learning_rate, "order": self.order},
            "data": {"dataset": self.dataset, "test_fraction": self.test_fraction, "split_seed": self.split_seed,
                     "standardize": self.standardize, "clip": self.clip},
            "hardware": {"lanes": self.lanes, "zero_skipping": self.zero_skipping, "pipeline": self.pipeline,
                         "cost_counters": self.cost_counters, "banks": self.banks, "softmax_product": self.softmax_product},
            "derived": {
                "layers": [
                    {k: (fmt(v) if isinstance(v, Fixed) else v) for k, v in asdict(spec).items()}
                    for spec in self.layers
                ],
                "softmax_recip_bits": self.softmax_recip_bits,
            },
        }


# -- loading and validation ----------------------------------------------------------


def load_config(path) -> Config:
    """Read and validate a TOML configuration file (docs/configuration.md lists its keys).

    Parameters
    ----------
    path : str or os.PathLike
        A TOML file, e.g. ``configs/digits.toml``; its stem is the name unless it sets ``name``.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        A file that cannot be read or parsed, an unknown key, a value out of range: the key and the fix.
    """
    if not isinstance(path, (str, PathLike)):
        hint = "; a dict is config_from_dict's" if isinstance(path, dict) else ""
        raise ConfigError("file", f"{path!r} ({type(path).__name__}) is not a path{hint}",
                          "give load_config the path of a TOML file, e.g. 'configs/digits.toml'", "<config>")
    if not str(path).strip():
        raise ConfigError("file", f"path {str(path)!r} is empty", "give the path of a TOML file, e.g. "
                          "configs/digits.toml", "<config>")
    path = Path(path)
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file", "does not exist", "check the path (examples are in configs/)", source) from None
    except OSError as exc:
        raise ConfigError("file", f"cannot be read ({exc.strerror})", "check the path and its permissions", source) from None
    try:
        text = data.decode("utf-8-sig")  # a byte order mark, as some editors write, is not an error
    except UnicodeDecodeError as exc:
        raise ConfigError("file", f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}), so not a "
                          "TOML configuration", "give a TOML file such as configs/digits.toml", source) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("file", f"is not valid TOML ({exc})", "correct the TOML syntax", source) from None
    return config_from_dict(raw, source=source, default_name=path.stem)


def config_from_dict(raw: dict, source: str = "<config>", default_name: str = "trifactor") -> Config:
    """Validate a configuration given as nested dicts, as the TOML file would parse.

    Parameters
    ----------
    raw : dict
        ``{"name": ..., "network": {"sizes": [...]}, "hardware": {...}, ...}``; missing keys take their defaults.
    source : str
        Where it came from, for messages.
    default_name : str
        The name when ``raw`` has none.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        An unknown key or a value out of range: the key and the fix.
    """
    return _Parser(raw, source, default_name).parse()


class _Parser:
    def __init__(self, raw, source, default_name):
        self.raw, self.source, self.default_name = raw, source, default_name

    def error(self, key, problem, fix):
        return ConfigError(key, problem, fix, self.source)

    def _check_known(self):
        for key, value in self.raw.items():
            if key in _SCHEMA[""]:
                continue
            if key == "conv":
                self._check_conv_tables(value)
                continue
            if key not in _SCHEMA:
                raise self.error(f"[{key}]", "is not a known section", self._suggest(key, [s for s in _SCHEMA if s]))
            if not isinstance(value, dict):
                raise self.error(key, "must be a section ([" + key + "])", f"write it as [{key}] with keys below it")
            for sub in value:
                if sub not in _SCHEMA[key]:
                    raise self.error(f"[{key}] {sub}", "is not a known key", self._suggest(sub, list(_SCHEMA[key])))

    def _check_conv_tables(self, tables):
        if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
            raise self.error("[[conv]]", "must be a list of tables, one per convolution layer",
                             "write each layer as a [[conv]] table, e.g. [[conv]] then channels = 8")
        for number, table in enumerate(tables):
            for sub in table:
                if sub not in CONV_SCHEMA:
                    raise self.error(f"[[conv]] {number} {sub}", "is not a known key", self._suggest(sub, list(CONV_SCHEMA)))

    @staticmethod
    def _suggest(word, choices):
        close = difflib.get_close_matches(word, choices, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"{hint}known: {', '.join(choices)}"

    def get(self, section, key):
        table = self.raw if section == "" else self.raw.get(section, {})
        return table.get(key, _SCHEMA[section][key])

    def where(self, section, key):
        return key if section == "" else f"[{section}] {key}"

    def integer(self, section, key, lo, hi=None, value=None):
        value = self.get(section, key) if value is None else value
        where = self.where(section, key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where, f"must be an integer, not {value!r}", f"write e.g. {key} = {lo}")
        if value < lo or (hi is not None and value > hi):
            bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise self.error(where, f"= {value} is out of range", f"use a value in {bounds}")
        return value

    def choice(self, section, key, choices):
        value = self.get(section, key)
        if value not in choices:
            raise self.error(self.where(section, key), f"= {value!r} is not one of {', '.join(map(repr, choices))}",
                             f"use one of {', '.join(choices)}")
        return value

    def fmt(self, key):
        value = self.get("fixed", key)
        where = f"[fixed] {key}"
        if not isinstance(value, dict) or set(value) - {"width", "frac"}:
            raise self.error(where, f"must be a table {{width = W, frac = F}}, not {value!r}",
                             f"write e.g. {key} = {{width = 8, frac = 6}}")
        default = _SCHEMA["fixed"][key]
        default = DDFA_DEFAULTS[key] if default is AUTO else default
        width = self.integer("fixed", f"{key}.width", 2, 32, value.get("width", default["width"]))
        frac = self.integer("fixed", f"{key}.frac", 0, width - 1, value.get("frac", default["frac"]))
        return Fixed(width, frac)

    def parse(self) -> Config:
        if isinstance(self.raw, (str, PathLike)):
            raise self.error("file", f"{str(self.raw)!r} is a path, not the configuration's tables",
                             "read a TOML file with load_config(path)")
        if not isinstance(self.raw, dict):
            raise self.error("file", "must hold TOML tables", "see configs/digits.toml")
        self._check_known()
        sizes, activation, loss, image = self._network()
        rule, k, seed, balanced, values, scale_shift, bp_fraction = self._feedback(sizes[-1])
        fan_in = [conv.fan_in for conv in image["convs"]] + sizes[len(image["convs"]):-1]
        fixed = self._fixed(sizes, fan_in, loss)
        learned = self._learned(rule, sizes, fixed["weight"])
        rank = self._rank(rule, sizes[-1])
        self._conv_rule(rule, rank, image["convs"])
        self._values_apply(values, rank, learned)
        init = self._init(rule, activation, learned)
        epochs, learning_rate = self._training(fixed["learning_rate_shift"])
        order = self.choice("training", "order", ORDERS)
        data = self._data(fixed["input"])
        lanes, zero_skipping, pipeline, cost_counters, banks = self._hardware()
        softmax_product = self.choice("hardware", "softmax_product", SOFTMAX_PRODUCTS)
        return Config(
            name=self._name(), sizes=tuple(sizes), activation=activation, loss=loss, rule=rule, nonzeros_per_row=k,
            feedback_seed=seed, balanced=balanced, feedback_values=values, scale_shift=scale_shift,
            bp_fraction=bp_fraction, **fixed,
            epochs=epochs, learning_rate=learning_rate, **data, lanes=lanes, zero_skipping=zero_skipping,
            pipeline=pipeline, softmax_product=softmax_product, cost_counters=cost_counters, banks=banks, init=init, rank=rank, **learned, **image,
            order=order, source=self.source,
        )

    def _network(self):
        sizes = self.get("network", "sizes")
        if sizes is None:
            raise self.error("[network] sizes", "is required", "add e.g. sizes = [64, 64, 10] under [network]")
        if not isinstance(sizes, list) or any(isinstance(s, bool) or not isinstance(s, int) for s in sizes):
            raise self.error("[network] sizes", f"must be a list of integers, not {sizes!r}", "write e.g. sizes = [64, 64, 10]")
        if len(sizes) < 2:
            raise self.error("[network] sizes", f"= {sizes} needs at least two entries (inputs and outputs)",
                             "write e.g. sizes = [64, 64, 10]")
        if any(s < 1 for s in sizes):
            raise self.error("[network] sizes", f"= {sizes} has a layer with no neurons", "make every size >= 1")
        if sizes[-1] < 2:
            raise self.error("[network] sizes", f"= {sizes} ends in {sizes[-1]} class", "use at least 2 outputs")
        if any(s > 65536 for s in sizes):
            raise self.error("[network] sizes", f"= {sizes} has a layer larger than 65536", "use smaller layers")
        image = self._image(sizes)
        if image["convs"]:
            sizes = [math.prod(image["input_shape"])] + [conv.outputs for conv in image["convs"]] + sizes[1:]
        return sizes, self.choice("network", "activation", ACTIVATIONS), self.choice("network", "loss", LOSSES), image

    def _image(self, sizes) -> dict:
        """``[network] input`` and ``transfer``, and the ``[[conv]]`` layers (docs/configuration.md#convolution-layers)."""
        shape = self.get("network", "input")
        tables = self.raw.get("conv", [])
        if shape is AUTO:
            if tables:
                raise self.error("[network] input", "is required with [[conv]] layers",
                                 "give the image's shape, e.g. input = [8, 8, 1] (height, width, channels)")
            shape = ()
        elif (not isinstance(shape, list) or len(shape) != 3
              or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in shape)):
            raise self.error("[network] input", f"= {shape!r} is not an image shape",
                             "write [height, width, channels], e.g. input = [8, 8, 1]")
        shape = tuple(shape)
        convs, here = [], shape
        for number, table in enumerate(tables):
            convs.append(self._conv(number, table, here))
            here = convs[-1].out_shape
        flat = math.prod(here) if here else None
        if flat is not None and sizes[0] != flat:
            what = f"the last [[conv]] layer's output {list(here)}" if convs else f"input = {list(shape)}"
            raise self.error("[network] sizes", f"= {sizes} starts with {sizes[0]}, but {what} has {flat} elements",
                             f"start sizes with {flat}")
        transfer = self.get("network", "transfer")
        if not isinstance(transfer, str):
            raise self.error("[network] transfer", f"must be a path, not {transfer!r}",
                             "write e.g. transfer = 'build/transfer/digits-conv-bp.npz'")
        frozen = [number for number, conv in enumerate(convs) if not conv.trained]
        if frozen and frozen != list(range(len(frozen))):
            raise self.error(f"[[conv]] {frozen[-1]} mode", "= 'frozen' sits above a trained layer: the transferred "
                             "features are the lower layers", "freeze the first layers only")
        if frozen and not transfer.strip():
            raise self.error("[network] transfer", f"is required: [[conv]] layer {frozen[0]} is frozen",
                             "give the .npz of a trained network's weights (trifactor train --backend float "
                             "--save-weights F), or set mode = 'trained'")
        if transfer and not frozen:
            raise self.error("[network] transfer", "only applies to frozen [[conv]] layers, and there is none",
                             "remove it, or set mode = 'frozen' on a [[conv]] layer")
        return {"input_shape": shape, "convs": tuple(convs), "transfer": transfer}

    def _conv(self, number, table, in_shape) -> ConvSpec:
        where = f"[[conv]] {number}"
        value = {key: table.get(key, default) for key, default in CONV_SCHEMA.items()}
        if value["channels"] is None:
            raise self.error(f"{where} channels", "is required", "add e.g. channels = 8")
        ints = {}
        for key, lo, hi in (("channels", 1, 256), ("kernel", 1, 15), ("stride", 1, 8), ("padding", 0, 7),
                            ("pool", 1, 4), ("dilation", 0, 64)):
            v = value[key]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise self.error(f"{where} {key}", f"= {v!r} must be an integer in {lo}..{hi}",
                                 f"write e.g. {key} = {CONV_SCHEMA[key] if CONV_SCHEMA[key] else lo}")
            ints[key] = v
        for key, choices in (("mode", MODES), ("feedback", SOURCES)):
            if value[key] not in choices:
                raise self.error(f"{where} {key}", f"= {value[key]!r} is not one of {', '.join(map(repr, choices))}",
                                 f"use one of {', '.join(choices)}")
        groups = ints["channels"] if value["groups"] is AUTO else value["groups"]
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or ints["channels"] % groups:
            raise self.error(f"{where} groups", f"= {groups!r} does not divide channels = {ints['channels']}",
                             "use a divisor of channels (channels: every channel its own feedback row)")
        if value["mode"] == "frozen":
            for key in ("feedback", "dilation", "groups"):
                if key in table:
                    raise self.error(f"{where} {key}", "only applies to a trained layer (this one is frozen)",
                                     f"remove {key}, or set mode = 'trained'")
        if value["feedback"] == "lfsr" and ints["dilation"]:
            raise self.error(f"{where} dilation", "only applies to ROM feedback: the LFSR gives every position its own "
                             "row", "remove dilation, or set feedback = 'rom'")
        h, w, _ = in_shape
        k, p = ints["kernel"], ints["padding"]
        if p >= k:
            raise self.error(f"{where} padding", f"= {p} is not smaller than the kernel ({k}): a window could hold "
                             "padding only", f"use padding <= {k - 1}")
        if h + 2 * p < k or w + 2 * p < k:
            raise self.error(f"{where} kernel", f"= {k} is larger than the padded input {h + 2 * p} x {w + 2 * p}",
                             "use a smaller kernel or more padding")
        conv = ConvSpec(in_shape=tuple(in_shape), mode=value["mode"], feedback=value["feedback"], groups=groups,
                        **ints)
        if min(conv.pooled) < 1:
            raise self.error(f"{where} pool", f"= {ints['pool']} is larger than the output grid {conv.grid}",
                             "use a smaller pool, or none (pool = 1)")
        return conv

    def _feedback(self, n_classes):
        rule = self.choice("feedback", "rule", RULES)
        k_raw = self.get("feedback", "nonzeros_per_row")
        if rule in ("ssdfa", "hybrid", "ddfa"):
            k = (n_classes if rule == "ddfa" else 1) if k_raw is AUTO else self.integer("feedback", "nonzeros_per_row", 1)
            if k > n_classes:
                raise self.error("[feedback] nonzeros_per_row", f"= {k} is larger than the output count {n_classes}",
                                 f"use 1..{n_classes}")
        else:
            if k_raw is not AUTO and k_raw != n_classes:
                raise self.error("[feedback] nonzeros_per_row", f"only applies to rules 'ssdfa', 'hybrid' and 'ddfa' "
                                 f"(rule is {rule!r})", "remove it, or set rule = 'ssdfa'")
            k = n_classes
        seed = self.integer("feedback", "seed", 0, MAX_SEED)
        balanced = self.get("feedback", "balanced")
        if not isinstance(balanced, bool):
            raise self.error("[feedback] balanced", f"must be true or false, not {balanced!r}", "write balanced = true")
        values = self.choice("feedback", "values", VALUES)
        scale_raw = self.get("feedback", "scale_shift")
        # Default: keep the variance of (B e)_j independent of k, sum of k terms ~ sqrt(k).
        scale_shift = round(math.log2(k) / 2) if scale_raw is AUTO else self.integer("feedback", "scale_shift", 0, 16)
        bp_raw = self.get("feedback", "bp_fraction")
        implied = {"hybrid": 0.25, "bp": 1.0}.get(rule, 0.0)  # a resolved config (to_dict) states it
        if bp_raw is AUTO or (rule != "hybrid" and bp_raw == implied):
            bp_fraction = implied
        elif rule != "hybrid":
            raise self.error("[feedback] bp_fraction", f"only applies to rule 'hybrid' (rule is {rule!r})",
                             "remove it, or set rule = 'hybrid'")
        elif isinstance(bp_raw, bool) or not isinstance(bp_raw, (int, float)) or not 0 <= bp_raw <= 1:
            raise self.error("[feedback] bp_fraction", f"= {bp_raw!r} must be a number in [0, 1]",
                             "write e.g. bp_fraction = 0.25")
        else:
            bp_fraction = float(bp_raw)
        return rule, k, seed, balanced, values, scale_shift, bp_fraction

    def _learned(self, rule, sizes, weight) -> dict:
        """Rule ``ddfa``'s keys (docs/learned-feedback.md): refused with any other rule, defaulted with it."""
        keys = [("feedback", "rate_shift"), ("feedback", "perturbation"), ("feedback", "start"), ("fixed", "tangent")]
        if rule != "ddfa":
            for section, key in keys:
                if self.get(section, key) is not AUTO:
                    raise self.error(f"[{section}] {key}", f"only applies to rule 'ddfa' (rule is {rule!r})",
                                     "remove it, or set rule = 'ddfa'")
            return {}
        if len(sizes) < 3:
            raise self.error("[feedback] rule", f"= 'ddfa' learns the feedback of hidden layers, and {sizes} has none",
                             "add a hidden layer, e.g. sizes = [64, 64, 10]")
        values = {key: (DDFA_DEFAULTS[key] if self.get(section, key) is AUTO else None) for section, key in keys}
        rate_shift = values["rate_shift"] if values["rate_shift"] is not None else \
            self.integer("feedback", "rate_shift", 0, 16)
        perturbation = values["perturbation"] or self.choice("feedback", "perturbation", PERTURBATIONS)
        start = values["start"] or self.choice("feedback", "start", STARTS)
        tangent = Fixed(**values["tangent"]) if values["tangent"] else self.fmt("tangent")
        if not tangent.represents_one():
            raise self.error("[fixed] tangent", f"= {tangent} cannot hold 1.0, a perturbation's size",
                             f"use frac <= width - 2 (e.g. frac = {tangent.width - 2})")
        if tangent.frac > weight.frac:
            raise self.error("[fixed] tangent", f"= {tangent} is finer than the weight format {weight}, which holds "
                             "the feedback", f"use tangent.frac <= {weight.frac}")
        return {"rate_shift": rate_shift, "perturbation": perturbation, "feedback_start": start, "tangent": tangent}

    def _rank(self, rule, n_classes):
        rank = self.integer("feedback", "rank", 0, n_classes)
        if rank and rule != "dfa":
            raise self.error("[feedback] rank", f"= {rank} only applies to rule 'dfa' (rule is {rule!r}): low-rank "
                             "feedback is dense", "remove it, or set rule = 'dfa'")
        return 0 if rank == n_classes else rank  # full rank is plain dense feedback

    def _values_apply(self, values, rank, learned):
        """``[feedback] values = "continuous"`` only where it changes something: not with low-rank feedback (its
        factors are ternary), not with a learned B that starts at zero."""
        if values != "continuous":
            return
        if rank:
            raise self.error("[feedback] values", "= 'continuous' does not apply to low-rank feedback, whose factors "
                             "are ternary", "remove values, or remove rank")
        if learned.get("feedback_start") == "zero":
            raise self.error("[feedback] values", "= 'continuous' does nothing with rule 'ddfa' and B starting at zero",
                             "remove values, or set start = 'random' (B then starts at the continuous table)")

    def _init(self, rule, activation, learned):
        init = self.choice("network", "init", INITS)
        if init == "zero":
            if rule in ("bp", "hybrid"):
                raise self.error("[network] init", f"= 'zero' cannot train with rule {rule!r}: backpropagation through "
                                 "zero weights gives every hidden neuron a zero delta",
                                 "use init = 'uniform', or a feedback rule (dfa, ssdfa, ddfa)")
            if activation == "relu":
                raise self.error("[network] init", "= 'zero' with relu cannot train: every hidden neuron starts at "
                                 "0, where relu's derivative is 0", "use activation = 'hardtanh' (f'(0) = 1)")
            if learned.get("feedback_start") == "zero":
                raise self.error("[network] init", "= 'zero' with rule 'ddfa' and a zero feedback start deadlocks "
                                 "(zero B gives zero deltas, zero weights give a zero tangent)",
                                 "set [feedback] start = 'random'")
        return init

    def _conv_rule(self, rule, rank, convs):
        """Convolution layers learn by feedback (``ssdfa``, ``dfa``) or, in the float model, backpropagation."""
        if convs and rule in ("hybrid", "ddfa"):
            raise self.error("[feedback] rule", f"= {rule!r} is not implemented for networks with [[conv]] layers",
                             "use rule = 'ssdfa' or 'dfa' (or 'bp' in the float model)")
        if convs and rank:
            raise self.error("[feedback] rank", "does not apply to networks with [[conv]] layers",
                             "remove rank")

    def _fixed(self, sizes, fan_in, loss) -> dict:
        n_classes = sizes[-1]
        fin, fw, fa, fe = (self.fmt(key) for key in ("input", "weight", "activation", "error"))
        for key, f in (("input", fin), ("activation", fa)):
            if not f.represents_one():
                raise self.error(f"[fixed] {key}", f"= {f} cannot hold 1.0, which the bias input needs",
                                 f"use frac <= width - 2 (e.g. frac = {f.width - 2})")
        lr_shift = self.integer("fixed", "learning_rate_shift", 0, 24)
        rounding = Rounding(self.choice("fixed", "rounding", [r.value for r in Rounding]))
        update_rounding = Rounding(self.choice("fixed", "update_rounding", [r.value for r in Rounding]))
        overflow = Overflow(self.choice("fixed", "overflow", [o.value for o in Overflow]))
        softmax_frac = self.integer("fixed", "softmax_frac", 2, 24)

        if loss == "softmax" and fa.frac > 12:
            raise self.error("[fixed] activation.frac", f"= {fa.frac} would make the softmax exponent table "
                             f"2**{fa.frac} entries", "use activation.frac <= 12")
        recip_bits = softmax_frac + fe.frac + math.ceil(math.log2(n_classes)) + 2
        if loss == "softmax" and recip_bits > 62:
            raise self.error("[fixed] softmax_frac", f"= {softmax_frac} with error.frac = {fe.frac} needs a "
                             f"{recip_bits}-bit reciprocal (> 62)", "lower softmax_frac or error.frac")
        self._check_layers(fan_in, fin, fw, fa, fe, lr_shift)
        return {"input": fin, "weight": fw, "act": fa, "error": fe, "learning_rate_shift": lr_shift,
                "rounding": rounding, "update_rounding": update_rounding, "overflow": overflow,
                "softmax_frac": softmax_frac}

    def _check_layers(self, fan_in, fin, fw, fa, fe, lr_shift):
        """``fan_in``: every layer's inputs a neuron sums (a convolution's window elements)."""
        for index, x in enumerate([fin] + [fa] * (len(fan_in) - 1)):
            if x.frac + fw.frac < fa.frac:
                name = "input" if index == 0 else "activation"
                raise self.error("[fixed] activation.frac", f"= {fa.frac} exceeds {name}.frac + weight.frac = {x.frac + fw.frac}",
                                 "lower activation.frac or raise weight.frac")
            if x.frac + fe.frac + lr_shift < fw.frac:
                raise self.error("[fixed] weight.frac", f"= {fw.frac} is finer than an update can reach "
                                 f"(x.frac + error.frac + learning_rate_shift = {x.frac + fe.frac + lr_shift})",
                                 "lower weight.frac or raise learning_rate_shift")
            init_lsbs = fw.one / math.sqrt(fan_in[index])  # the initial weights are uniform in +-1/sqrt(n_in)
            if init_lsbs < 4:
                need = math.ceil(math.log2(4 * math.sqrt(fan_in[index])))
                raise self.error("[fixed] weight.frac", f"= {fw.frac} is too coarse: layer {index}'s initial weights "
                                 f"(|w| <= {1 / math.sqrt(fan_in[index]):.3g}) would span only {init_lsbs:.1f} LSBs",
                                 f"use weight.frac >= {need}")
            acc = accumulator_width(x, fw, fan_in[index] + 1)
            if acc > 62:
                raise self.error("[fixed] weight.width", f"makes layer {index}'s accumulator {acc} bits wide (> 62)",
                                 "use narrower formats or smaller layers")

    def _training(self, lr_shift):
        epochs = self.integer("training", "epochs", 1, MAX_EPOCHS)
        lr_raw = self.get("training", "learning_rate")
        if lr_raw is AUTO:
            learning_rate = 2.0 ** -lr_shift  # the float models take the fixed model's step unless told otherwise
        elif isinstance(lr_raw, bool) or not isinstance(lr_raw, (int, float)) or not 0 < lr_raw < 10:
            raise self.error("[training] learning_rate", f"= {lr_raw!r} must be a number in (0, 10)", "write e.g. learning_rate = 0.01")
        else:
            learning_rate = float(lr_raw)
        return epochs, learning_rate

    def _data(self, fin) -> dict:
        dataset = self.get("data", "dataset")
        if not isinstance(dataset, str) or not (dataset in ("digits", "mnist5k") or
                                                dataset.startswith(("idx:", "npz:", "csv:")) and dataset[4:].strip()):
            raise self.error("[data] dataset", f"= {dataset!r} is not a data set",
                             "use 'digits', 'mnist5k', 'idx:DIR', 'npz:PATH' or 'csv:PATH'")
        test_fraction = self.get("data", "test_fraction")
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
            raise self.error("[data] test_fraction", f"= {test_fraction!r} must be a number in (0, 1)", "write e.g. test_fraction = 0.2")
        split_seed = self.integer("data", "split_seed", 0, MAX_SEED)
        standardize = self.get("data", "standardize")
        if not isinstance(standardize, bool):
            raise self.error("[data] standardize", f"must be true or false, not {standardize!r}", "write standardize = true")
        clip = self.get("data", "clip")
        if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 < clip < math.inf:  # NaN fails too
            raise self.error("[data] clip", f"= {clip!r} must be a positive finite number", "write e.g. clip = 3.0")
        top = 1.0 if not standardize else clip
        if fin.to_float(fin.max) < top - 1.0 / fin.one:
            raise self.error("[fixed] input", f"= {fin} cannot hold inputs up to {top:g}",
                             "lower input.frac, raise input.width or lower [data] clip")
        return {"dataset": dataset, "test_fraction": float(test_fraction), "split_seed": split_seed,
                "standardize": standardize, "clip": float(clip)}

    def _hardware(self):
        lanes = self.integer("hardware", "lanes", 1, 4096)
        flags = {}
        for key in ("zero_skipping", "cost_counters"):
            flags[key] = self.get("hardware", key)
            if not isinstance(flags[key], bool):
                raise self.error(f"[hardware] {key}", f"must be true or false, not {flags[key]!r}",
                                 f"write {key} = true")
        return (lanes, flags["zero_skipping"], self.choice("hardware", "pipeline", PIPELINES), flags["cost_counters"],
                self.choice("hardware", "banks", BANK_PLACEMENTS))

    def _name(self):
        name = self.get("", "name")
        if name is AUTO:
            name = re.sub(r"\W", "_", self.default_name)
            name = name if re.match(r"[A-Za-z_]", name) else f"core_{name}"
        elif not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise self.error("name", f"= {name!r} is not a Verilog identifier", "use letters, digits and _, e.g. name = 'digits'")

        return name
