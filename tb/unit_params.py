"""Parameter sets shared by the unit testbenches, and their hand-off to the cocotb side.

Three configurations per unit: the default (digits, 8 lanes); odd sizes with a lane count
that divides none of them, k = 2, hard-tanh, MSE and the fast pipeline; narrow non-default widths with wrap,
truncation and dense ternary feedback.
"""

import dataclasses

import numpy as np

from trifactor.golden.config import config_from_dict, load_config
from trifactor.golden.fixedpoint import Rounding

from conftest import ROOT

CONFIGS = {
    "default": lambda: load_config(ROOT / "configs" / "digits.toml"),
    "odd": lambda: config_from_dict({
        "name": "odd", "network": {"sizes": [37, 23, 19, 3], "activation": "hardtanh", "loss": "mse"},
        "feedback": {"nonzeros_per_row": 2, "seed": 5}, "hardware": {"lanes": 5, "pipeline": "fast"}}),
    "narrow": lambda: config_from_dict({
        "name": "narrow", "network": {"sizes": [20, 16, 10]},
        "feedback": {"rule": "dfa", "seed": 2}, "hardware": {"lanes": 4},
        "fixed": {"input": {"width": 6, "frac": 2}, "weight": {"width": 12, "frac": 7},
                  "activation": {"width": 9, "frac": 2}, "error": {"width": 10, "frac": 7},
                  "learning_rate_shift": 3, "rounding": "truncate", "update_rounding": "truncate",
                  "overflow": "wrap", "softmax_frac": 11},
        "data": {"standardize": False}}),
}


def params_for(config, seed=1, perturb=None, **extra):
    """What the cocotb side needs: the configuration as data, a seed, an optional golden-side perturbation."""
    data = config.to_dict()
    del data["derived"]
    return {"config": data, "seed": seed, "perturb": perturb, **extra}


def golden_config(params):
    """The configuration golden should use; ``perturb = "rounding"`` flips both rounding modes (a self-check)."""
    cfg = config_from_dict(params["config"])
    if params.get("perturb") == "rounding":
        flip = {Rounding.HALF_UP: Rounding.TRUNCATE, Rounding.TRUNCATE: Rounding.HALF_UP}
        cfg = dataclasses.replace(cfg, rounding=flip[cfg.rounding], update_rounding=flip[cfg.update_rounding])
    return cfg


def full_scale_weights(cfg, seed):
    """Random weights over the whole weight format, so sums saturate and extremes multiply."""
    rng = np.random.default_rng(seed)
    return [rng.integers(cfg.weight.min, cfg.weight.max + 1, (s.n_out, s.n_in + 1)) for s in cfg.layers]


def build_name(unit, name, perturb=None):
    """One build folder per unit and parameter set; a perturbed run gets its own (they run in parallel)."""
    return f"{unit}_{name}" + ("_perturbed" if perturb else "")


def format_values(fmt, n, rng, kind="random"):
    """``n`` raw values of ``fmt``: all ``zero``, all ``max``, all ``min``, or ``random`` with 30% zeros (as after ReLU)."""
    if kind == "zero":
        return np.zeros(n, dtype=np.int64)
    if kind in ("max", "min"):
        return np.full(n, getattr(fmt, kind), dtype=np.int64)
    v = rng.integers(fmt.min, fmt.max + 1, n)
    v[rng.random(n) < 0.3] = 0
    return v


# The learner core's configurations (tb/core/test_core.py), and the data each trains on; the store
# and link testbenches take some of them
def _dense(make):
    return lambda: dataclasses.replace(make(), zero_skipping=False)


def with_transfer(raw: dict, frozen: int, seed: int = 11) -> dict:
    """``raw`` (a conv configuration's dict) with its first ``frozen`` [[conv]] layers frozen, their weights in a
    transfer file under build/tb/ (a float initialisation of ``seed``, doubled): what a BP-trained net would hand
    over, made without training one."""
    from trifactor.golden.float_model import init_weights, weight_arrays

    trained = config_from_dict(raw)
    arrays = weight_arrays([2 * w for w in init_weights(trained, seed)])
    path = ROOT / "build" / "tb" / f"transfer_{trained.name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{key: value for key, value in arrays.items() if int(key[1:]) < frozen})
    feedback_keys = ("feedback", "dilation", "groups")  # a frozen layer has no feedback
    convs = [{**{k: v for k, v in table.items() if k not in feedback_keys}, "mode": "frozen"} if index < frozen else table
             for index, table in enumerate(raw["conv"])]
    return {**raw, "conv": convs, "network": {**raw["network"], "transfer": str(path)}}


#: ``[hardware] pipeline = "balanced"`` on the narrow formats (wrap-around, truncation): the split accumulators
BALANCED = {"narrow_balanced": lambda: dataclasses.replace(CONFIGS["narrow"](), name="narrow_balanced",
                                                           pipeline="balanced")}

CORE_CONFIGS = {
    "default": (CONFIGS["default"], "digits"),
    "default_dense": (_dense(CONFIGS["default"]), "digits"),
    # the balanced pipeline (split accumulators and MAC counters, the serialiser's lane resolved a cycle ahead,
    # the argmax from registers), dense: every group's sums; and with the odd core's widths and lanes
    "default_balanced": (lambda: dataclasses.replace(_dense(CONFIGS["default"])(), name="default_balanced",
                                                     pipeline="balanced"), "digits"),
    "odd_balanced": (lambda: dataclasses.replace(CONFIGS["odd"](), name="odd_balanced", pipeline="balanced"),
                     "random"),
    "two_hidden": (lambda: config_from_dict({"name": "two_hidden", "network": {"sizes": [64, 32, 24, 10]},
                                             "feedback": {"seed": 3}, "hardware": {"lanes": 4}}), "digits"),
    "odd": (CONFIGS["odd"], "random"),
    "narrow": (_dense(CONFIGS["narrow"]), "random"),
    # [hardware] cost_counters: every cost counter against the count from golden and the sweeper's walk
    "default_costs": (lambda: dataclasses.replace(CONFIGS["default"](), name="default_costs", cost_counters=True),
                      "digits"),
    # no hidden layer: no feedback unit, the core keeps the errors itself
    "no_hidden": (lambda: config_from_dict({"name": "no_hidden", "network": {"sizes": [24, 6]},
                                            "hardware": {"lanes": 4}}), "random"),
    # backpropagation: the backward unit, and the hybrid rule's LFSR choosing per sample
    "bp_default": (lambda: config_from_dict({"name": "bp_default", "network": {"sizes": [64, 64, 10]},
                                             "feedback": {"rule": "bp"}}), "digits"),
    "bp_odd": (lambda: config_from_dict({"name": "bp_odd", "network": {"sizes": [37, 23, 19, 3],
                                         "activation": "hardtanh", "loss": "mse"}, "feedback": {"rule": "bp"},
                                         "hardware": {"lanes": 5, "pipeline": "fast"}}), "random"),
    "hybrid_two_hidden": (lambda: config_from_dict({"name": "hybrid_two_hidden", "network": {"sizes": [64, 29, 13, 10]},
                                                    "feedback": {"rule": "hybrid", "bp_fraction": 0.4, "seed": 4,
                                                                 "nonzeros_per_row": 2},
                                                    "hardware": {"lanes": 3}}), "digits"),
    # the banks in single-port RAM (SPRAM on the UP5K): 8-bit weights packed 5 to a word, LOADed
    # first, the update's reads and writes alternating
    "spram": (lambda: config_from_dict({"name": "spram", "network": {"sizes": [64, 23, 10]},
                                        "fixed": {"weight": {"width": 8, "frac": 7}},
                                        "hardware": {"lanes": 5, "banks": "spram"}}), "digits"),
    # learned feedback (rule ddfa): the tangent and feedback passes on the lanes, B in the banks after the weights;
    # dense from zero, and sparse from the ternary table on two hidden layers with lanes that divide no size
    "ddfa": (lambda: config_from_dict({"name": "ddfa", "network": {"sizes": [64, 24, 10]},
                                       "feedback": {"rule": "ddfa", "rate_shift": 4},
                                       "hardware": {"lanes": 8, "cost_counters": True}}), "digits"),
    "ddfa_sparse_two_hidden": (lambda: config_from_dict({
        "name": "ddfa_sparse_two_hidden", "network": {"sizes": [37, 19, 13, 7], "activation": "hardtanh"},
        "feedback": {"rule": "ddfa", "nonzeros_per_row": 3, "start": "random", "rate_shift": 3, "seed": 5},
        "fixed": {"rounding": "truncate", "tangent": {"width": 10, "frac": 5}}, "hardware": {"lanes": 3}}), "random"),
    # a zero start (no initial-weight image) on SPRAM banks that clear themselves: no LOAD before training
    "zero_spram": (lambda: config_from_dict({"name": "zero_spram", "network": {"sizes": [64, 23, 10],
                                                                              "activation": "hardtanh", "init": "zero"},
                                             "feedback": {"rule": "dfa"}, "fixed": {"weight": {"width": 8, "frac": 7}},
                                             "hardware": {"lanes": 5, "banks": "spram"}}), "digits"),
    # low-rank feedback (dfa, [feedback] rank): rank 1 (one projection of the errors per layer, broadcast with a
    # sign), and rank 2 on two hidden layers
    "rank1": (lambda: config_from_dict({"name": "rank1", "network": {"sizes": [64, 32, 10]},
                                        "feedback": {"rule": "dfa", "rank": 1}, "hardware": {"lanes": 8}}), "digits"),
    "rank2_two_hidden": (lambda: config_from_dict({
        "name": "rank2_two_hidden", "network": {"sizes": [29, 17, 11, 6], "activation": "hardtanh", "loss": "mse"},
        "feedback": {"rule": "dfa", "rank": 2, "seed": 7}, "hardware": {"lanes": 4}}), "random"),
    # MNIST on the iCEBreaker (configs/mnist-up5k.toml): 784-128-10 in the four SPRAMs
    "mnist_up5k": (lambda: load_config(ROOT / "configs" / "mnist-up5k.toml"), "mnist5k"),
    # convolution layers: configs/digits-conv.toml's network (a 3x3 convolution, stride 2, padding 1, trained by
    # convolutional DFA from its ROM); and two convolutions, the first frozen (transferred), the second trained
    # from LFSR rows in 2 channel groups, 3 lanes for 4 and 5 channels, hard-tanh and MSE
    "conv": (lambda: load_config(ROOT / "configs" / "digits-conv.toml"), "digits"),
    "conv_frozen_lfsr": (lambda: config_from_dict(with_transfer({
        "name": "conv_frozen_lfsr",
        "network": {"input": [8, 8, 1], "sizes": [45, 10], "activation": "hardtanh", "loss": "mse"},
        "conv": [{"channels": 4, "kernel": 3, "stride": 1, "padding": 1},
                 {"channels": 5, "kernel": 3, "stride": 2, "padding": 0, "feedback": "lfsr", "groups": 5}],
        "feedback": {"nonzeros_per_row": 2, "seed": 3}, "hardware": {"lanes": 3}}, frozen=1)), "digits"),
}
# [hardware] cost_counters with backpropagation: every sample (hard-tanh keeps its hidden zeros, the fast
# pipeline), and the hybrid's mix of BP and feedback samples
CORE_CONFIGS.update({
    f"{name}_costs": (lambda make=CORE_CONFIGS[name][0], name=name: dataclasses.replace(
        make(), name=f"{name}_costs", cost_counters=True), CORE_CONFIGS[name][1])
    for name in ("bp_odd", "hybrid_two_hidden", "ddfa_sparse_two_hidden", "rank2_two_hidden", "conv_frozen_lfsr")})


def core_params(cfg, data, samples=100, perturb=None, test_samples=40) -> dict:
    """cocotb_core's parameters: golden's initial weights from seed 2, ``samples`` training samples of ``data``."""
    return params_for(cfg, perturb=perturb, init_seed=2, samples=samples, test_samples=test_samples, data=data)


def link_params(cfg, top, data, samples=24, perturb=None, test_samples=8) -> dict:
    """cocotb_board_link's parameters for the SimulatedBoard ``top`` of ``cfg``."""
    return params_for(cfg, perturb=perturb, init_seed=2, samples=samples, test_samples=test_samples, data=data,
                      idle_cycles=4 * top.timeout_cycles)
