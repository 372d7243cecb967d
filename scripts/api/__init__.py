"""trifactor from Python: configurations, data sets, training on every backend, the core's Verilog, synthesis.

>>> import trifactor
>>> cfg = trifactor.load_config("configs/wine.toml")
>>> data = trifactor.datasets.from_arrays(X, y, config=cfg)
>>> run = trifactor.train(cfg, data, backend="fixed", epochs=10, seed=0)
>>> run.history, run.test_accuracy, run.weights, run.counters

The command line is a thin layer over these calls (``trifactor train`` is :func:`train`, ``generate``
:func:`generate`, ``synth`` :func:`synth`, ``build`` :func:`build`), so both give the same results.
Every error a user can fix is a :class:`TrifactorError` (:class:`ConfigError`, :class:`DataError`,
:class:`UsageError`) whose message names the problem and the fix; the command line prints it as one line.

This package is ``scripts/api/`` in the repository (``[tool.setuptools.package-dir]`` maps ``trifactor``
there); import it as ``trifactor``, never as ``trifactor.scripts.api``.
"""

if __name__ != "trifactor":  # a second copy would have its own Run and error classes
    raise ImportError(f"import trifactor, not {__name__} (pyproject.toml maps trifactor to scripts/api)")

from trifactor.golden.config import Config, ConfigError, config_from_dict, load_config
from trifactor.golden.data import Split
from trifactor.golden.errors import DataError, TrifactorError
from trifactor.scripts.util.errors import UsageError

from . import datasets
from .hardware import build, generate, synth
from .training import BACKENDS, Run, train

__all__ = ["load_config", "config_from_dict", "Config", "datasets", "Split", "train", "Run", "BACKENDS",
           "generate", "synth", "build", "TrifactorError", "ConfigError", "DataError", "UsageError"]
