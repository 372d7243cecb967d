"""``trifactor synth`` as a user runs it: a tiny core through yosys and nextpnr for the UP5K; clear failures."""

import json

import pytest

from conftest import run_trifactor as run

from trifactor.golden.config import load_config

TINY = """name = "tiny_synth"
[network]
sizes = [8, 6, 3]
[hardware]
lanes = 2
"""


def core_run(tmp_path, config_path, cycles=123.5, **changes):
    """A file as ``trifactor train --backend rtl --json`` writes it (only the keys synth reads)."""
    resolved = load_config(config_path).to_dict()
    for section, values in changes.items():
        resolved[section] = {**resolved[section], **values}
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"backend": "rtl", "cycles_per_sample": cycles, "config": resolved}))
    return path


def test_synth_reports_resources_and_fmax(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    result = run("synth", "--config", str(config), "--target", "up5k", "--seeds", "1", "--quiet",
                 "--json", str(tmp_path / "r.json"), "--cycles-from", str(core_run(tmp_path, config)), timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    for key in ("luts", "ffs", "dsps", "brams", "fmax_mhz", "samples_per_s"):
        assert report[key] > 0, key
    assert report["utilization"]["logic_cells"]["available"] == 5280
    assert report["dsps"] <= 8 and "Fmax" in result.stdout
    # the logic levels of the mapped design (scripts/flow/depth.py), and the deepest groups in the table
    assert report["logic_depth"]["deepest"] >= 2 and "logic levels (LUTs)" in result.stdout
    # samples/s from the measured cycles, and the table says where they come from
    assert report["cycles_per_sample"] == 123.5 and report["samples_per_s"] == report["fmax_mhz"] * 1e6 / 123.5
    assert "measured: rtl run in" in result.stdout and "123.5" in result.stdout


def test_synth_says_what_does_not_fit(tmp_path):
    config = tmp_path / "wide.toml"
    # 10 lanes take 10 SB_MAC16 (the MAC array and the update unit share them), the UP5K has 8
    config.write_text(TINY.replace("lanes = 2", "lanes = 10").replace("[8, 6, 3]", "[8, 12, 3]"))
    result = run("synth", "--config", str(config), "--target", "up5k", "--seeds", "1", "--quiet", timeout=900)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "does not fit the iCE40 UP5K" in result.stderr and "fix:" in result.stderr


def test_synth_rejects_bad_options(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    result = run("synth", "--config", str(config), "--target", "up5k", "--seeds", "0")
    assert result.returncode == 2 and "--seeds" in result.stderr
    result = run("synth", "--config", str(config), "--target", "virtex")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_synth_refuses_cycles_that_are_not_this_cores(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    other = core_run(tmp_path, config, hardware={"lanes": 4})
    golden = tmp_path / "golden.json"
    golden.write_text(json.dumps({"backend": "fixed", "test_accuracy": 0.9}))
    for path, says in ((tmp_path / "missing.json", "cannot read it"),
                       (golden, "has no measured cycles per sample"),
                       (other, "[hardware] differ from those of 'tiny_synth'")):
        result = run("synth", "--config", str(config), "--target", "up5k", "--cycles-from", str(path), cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert says in result.stderr and "fix: give the --json file" in result.stderr
        assert not (tmp_path / "build").exists()  # refused before anything was synthesised


def test_cycles_of_another_convolution_are_not_this_cores(tmp_path):
    """Two convolutions with one output size (3x3, padding 1 and 5x5, padding 2, stride 2: 4x4x8) are two cores:
    cycles measured on one are refused for the other, and taken for the same one."""
    import trifactor
    from trifactor.golden.config import config_from_dict
    from trifactor.scripts.util.errors import UsageError

    from conftest import ROOT

    config = load_config(ROOT / "configs" / "digits-conv.toml")
    resolved = config.to_dict()
    resolved["conv"][0].update(kernel=5, padding=2)
    other = config_from_dict({k: v for k, v in resolved.items() if k != "derived"})
    assert other.sizes == config.sizes
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"backend": "rtl", "cycles_per_sample": 700.0, "config": resolved}))
    assert trifactor.hardware.measured_cycles(path, other)[0] == 700.0
    with pytest.raises(UsageError, match=r"whose \[conv\] differ from those of 'digits_conv'"):
        trifactor.hardware.measured_cycles(path, config)  # a 5x5 convolution's cycles for the 3x3 one


@pytest.mark.parametrize("target, family, dsp_instances", [("ecp5-85k", "ecp5", True), ("up5k", "ice40", False)])
def test_synth_converts_the_core_for_its_targets_family(tmp_path, monkeypatch, target, family, dsp_instances):
    """``trifactor synth`` writes the core for the target's family, so on the ECP5 each lane's product register is
    its MULT18X18D's (as in a board build); the iCE40's Verilog has no such instance. Yosys is not run."""
    from trifactor.golden.config import config_from_dict
    from trifactor.scripts.flow import synth

    class Written(Exception):
        pass

    write = synth.write_design

    def write_only(top, name, config, out, platform=None):
        write(top, name, config, out, platform)
        raise Written(platform)

    monkeypatch.setattr(synth, "write_design", write_only)
    cfg = config_from_dict({"name": "tiny_dsp", "network": {"sizes": [4, 3, 2]}, "hardware": {"lanes": 2}})
    with pytest.raises(Written) as written:
        synth.map_design(cfg, target, tmp_path)
    assert written.value.args[0].family == family
    assert ("MULT18X18D" in (tmp_path / "top.v").read_text()) == dsp_instances


def test_synth_of_an_spram_core_honours_no_rw_check_as_its_verilog_would(tmp_path):
    """A core with its banks in SPRAM goes to Yosys as RTLIL, whose front end ignores ``no_rw_check``: the written
    RTLIL has every marked memory's read ports' collision mask set (the input lists', ``fprimes``'), as a board
    build's has. Yosys is not run."""
    import re

    from trifactor.golden.config import config_from_dict
    from trifactor.hdl.boards.synth_top import MeasurementTop
    from trifactor.scripts.flow import synth

    cfg = config_from_dict({"name": "tiny_spram", "network": {"sizes": [8, 6, 3]},
                            "hardware": {"lanes": 2, "banks": "spram"}})
    assert synth.write_design(MeasurementTop(cfg), "top", cfg, tmp_path, synth.TargetFamily("ice40")) \
        == "read_rtlil top.il"
    rtlil = (tmp_path / "top.il").read_text()
    marked = len(re.findall(r"attribute \\no_rw_check 1\n(?:  attribute .*\n)*  memory ", rtlil))
    assert marked >= 2 and rtlil.count("COLLISION_X_MASK 1'1") == marked  # a read port each
