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
