"""``trifactor bench``: every row (the reference rules, and learned and reduced feedback) builds on the reference
networks, trains exactly as the golden model alone, and a row a network cannot take is recorded, not fatal; the
configuration variants the rows (and ``compare`` and ``measure``) are made of keep what they are told."""

import json
import tomllib

import pytest

from trifactor.golden.config import config_from_dict, load_config
from trifactor.golden.fixed_model import FixedNet
from trifactor.golden.train import load_data, train
from trifactor.scripts.cli.bench import LEARNED_ROWS, REFERENCE_ROWS, ROWS, config_variant
from trifactor.training import make_model

from conftest import ROOT, make_config, tiny_dataset, tiny_run_config
from conftest import run_trifactor as run

def test_a_new_rule_resets_what_follows_the_rule_but_keeps_what_the_overrides_give():
    ssdfa = make_config((8, 6, 5), feedback={"nonzeros_per_row": 2})
    assert config_variant(ssdfa, feedback={"rule": "ddfa"}).nonzeros_per_row == 5  # ddfa is dense by default
    sparse = config_variant(ssdfa, feedback={"rule": "ddfa", "nonzeros_per_row": 1})
    assert (sparse.rule, sparse.nonzeros_per_row, sparse.scale_shift) == ("ddfa", 1, 0)
    assert config_variant(ssdfa, feedback={"rule": "hybrid"}).nonzeros_per_row == 2  # both sparse: k kept
    assert config_variant(ssdfa, feedback={"rule": "hybrid", "bp_fraction": 0.5}).bp_fraction == 0.5
    # from ddfa, its own keys go with the rule; kept while the rule stays
    ddfa = make_config((8, 6, 5), feedback={"rule": "ddfa", "rate_shift": 6, "start": "random"},
                       fixed={"tangent": {"width": 10, "frac": 5}})
    back = config_variant(ddfa, feedback={"rule": "ssdfa"})
    assert (back.rule, back.tangent, back.nonzeros_per_row) == ("ssdfa", None, 1)
    same = config_variant(ddfa, feedback={"perturbation": "gaussian"})
    assert (same.rate_shift, same.feedback_start, same.tangent.width, same.perturbation) == (6, "random", 10, "gaussian")
    # rank belongs to dfa
    rank = config_variant(ssdfa, feedback={"rule": "dfa", "rank": 1})
    assert (rank.rule, rank.rank) == ("dfa", 1)
    assert config_variant(rank, feedback={"rule": "ssdfa"}).rank == 0
    # other sections change with the rule
    zero = config_variant(ssdfa, feedback={"rule": "dfa"}, network={"activation": "hardtanh", "init": "zero"})
    assert (zero.rule, zero.activation, zero.init) == ("dfa", "hardtanh", "zero")


@pytest.mark.parametrize("name", ["digits", "mnist5k"])
def test_every_row_is_a_valid_configuration_of_the_reference_networks(name):
    config = load_config(ROOT / "configs" / f"{name}.toml")
    assert len(ROWS) == len(REFERENCE_ROWS) + len(LEARNED_ROWS)
    seen = set()
    for label, (backend, overrides, *others) in ROWS.items():
        variant = config_variant(config, feedback=overrides, **(others[0] if others else {}))
        make_model(backend, variant, 0)  # the backend takes it
        seen.add((variant.rule, variant.nonzeros_per_row, variant.rank, variant.init, backend))
    n = config.n_classes
    for wanted in [("dfa", n, 0, "uniform", "fixed"), ("ddfa", n, 0, "uniform", "float"), ("ddfa", n, 0, "uniform", "fixed"),
                   ("ddfa", 1, 0, "uniform", "float"), ("ddfa", 1, 0, "uniform", "fixed"), ("dfa", n, 1, "uniform", "float"),
                   ("dfa", n, 1, "uniform", "fixed"), ("dfa", n, 0, "zero", "float"), ("dfa", n, 0, "zero", "fixed")]:
        assert wanted in seen, wanted


def test_bench_trains_every_row_and_records_the_rows_a_network_cannot_take(tmp_path):
    data = tiny_dataset(tmp_path / "data")
    hidden, flat = tmp_path / "hidden.toml", tmp_path / "flat.toml"
    hidden.write_text(tiny_run_config(data, name="hidden"))
    flat.write_text(tiny_run_config(data, name="flat", sizes="[16, 3]"))
    out = tmp_path / "bench"
    result = run("bench", "--configs", str(hidden), str(flat), "--seeds", "1", "--out", str(out), cwd=tmp_path,
                 timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["golden.json", "golden.md", "hidden_curves.png", "hidden_learned_curves.png", "flat_curves.png",
         "flat_learned_curves.png"])
    report = json.loads((out / "golden.json").read_text())["results"]
    text = (out / "golden.md").read_text()
    assert list(report["hidden"]["rows"]) == list(ROWS) and all(label in text for label in ROWS)
    assert not [label for label, row in report["hidden"]["rows"].items() if "error" in row]
    # the sparse DDFA row is the fixed model of that configuration, trained alone
    raw = tomllib.loads(hidden.read_text())
    raw["feedback"] = {"rule": "ddfa", "nonzeros_per_row": 1}
    config = config_from_dict(raw)
    expected = train(FixedNet(config, 0), load_data(config), 1, 0)["test_accuracy"]
    assert report["hidden"]["rows"]["DDFA sparse k=1, learned B (fixed, bit-exact)"]["test_accuracy"] == [expected]
    # without a hidden layer there is no feedback to learn: recorded in one line, the other rows measured
    flat_rows = report["flat"]["rows"]
    failed = {label: row["error"] for label, row in flat_rows.items() if "error" in row}
    assert {label for label in ROWS if "DDFA" in label} <= set(failed)
    assert all("\n" not in reason and "hidden" in reason for label, reason in failed.items() if "DDFA" in label)
    assert "test_accuracy" in flat_rows["BP (float)"] and f"not measured: {failed['DDFA dense, learned B (float)']}" in text
