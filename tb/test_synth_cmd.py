"""``trifactor synth`` as a user runs it: a tiny core through yosys and nextpnr for the UP5K; clear failures."""

import json

from conftest import run_trifactor as run

TINY = """name = "tiny_synth"
[network]
sizes = [8, 6, 3]
[hardware]
lanes = 2
"""


def test_synth_reports_resources_and_fmax(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    result = run("synth", "--config", str(config), "--target", "up5k", "--seeds", "1", "--quiet",
                 "--json", str(tmp_path / "r.json"), timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    for key in ("luts", "ffs", "dsps", "brams", "fmax_mhz", "samples_per_s"):
        assert report[key] > 0, key
    assert report["utilization"]["logic_cells"]["available"] == 5280
    assert report["dsps"] <= 8 and "Fmax" in result.stdout


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
