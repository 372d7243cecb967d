"""``trifactor measure --what conv``: the convolutional networks' part measures what the golden models give, alone
(the configuration as given, the BP CNN, the frozen convolutions transferred from it), sizes the MLP of the same
weight budget, and writes its section with the aims; the two conv configurations are the ones the part promises,
and ``trifactor bench`` takes them."""

import tomllib

import numpy as np
import pytest

import trifactor
from trifactor.golden.config import load_config
from trifactor.scripts import measure as measuring
from trifactor.scripts.cli.bench import CONV_ROWS, config_variant, network_text, rows_of
from trifactor.scripts.measure import conv
from trifactor.training import make_model

from conftest import ROOT

CONFIGS = ROOT / "configs"


def test_the_conv_configurations():
    digits = load_config(CONFIGS / "digits-conv.toml")
    assert digits.input_shape == (8, 8, 1) and list(digits.sizes) == [64, 128, 10] and len(digits.convs) == 1
    layer = digits.convs[0]
    assert (layer.channels, layer.kernel, layer.stride, layer.padding, layer.pool, layer.mode) == (8, 3, 2, 1, 1,
                                                                                                   "trained")
    assert (digits.rule, digits.nonzeros_per_row, digits.lanes) == ("ssdfa", 1, 8)
    mnist = load_config(CONFIGS / "mnist5k-conv.toml")
    assert mnist.input_shape == (28, 28, 1) and mnist.dataset == "mnist5k" and mnist.lanes == 32
    assert 1 <= len(mnist.convs) <= 2 and all(c.trained and c.channels % 4 == 0 for c in mnist.convs)
    assert mnist.rule in ("ssdfa", "dfa") and conv.weight_count(mnist) <= 105_000


def test_the_mlp_of_the_same_budget_has_about_the_cnns_weights():
    for cnn_name, mlp_name in (("digits-conv", "digits"), ("mnist5k-conv", "mnist5k")):
        cnn, mlp = load_config(CONFIGS / f"{cnn_name}.toml"), load_config(CONFIGS / f"{mlp_name}.toml")
        weights, n_in, n_out = conv.weight_count(cnn), mlp.sizes[0], mlp.n_classes
        hidden = conv.budget_hidden(weights, n_in, n_out)
        size = lambda h: h * (n_in + 1) + n_out * (h + 1)  # noqa: E731
        assert abs(size(hidden) - weights) <= (n_in + 1 + n_out) / 2  # the closest hidden size
    assert conv.weight_count(load_config(CONFIGS / "digits-conv.toml")) == 8 * 10 + 10 * 129


def test_the_conv_part_measures_the_golden_models(tmp_path, monkeypatch):
    """The real part on digits, one seed and epoch: each figure is the golden model's, trained alone."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(conv, "NETWORKS", conv.NETWORKS[:1])  # digits
    done = measuring.measure(["conv"], tmp_path / "m.md", seeds=1, epochs=1, quiet=True)
    entry = done["conv"]["figures"]["digits"]
    rows = entry["rows"]
    assert list(rows) == [key for key, *_ in conv.ROWS]
    for key, _, backends in conv.ROWS:
        assert [backend for backend in ("float", "fixed") if backend in rows[key]] == list(backends), key
        assert all(len(rows[key][backend]["per_seed"]) == 1 for backend in backends), rows[key]

    base = load_config(CONFIGS / "digits-conv.toml")
    for backend in ("float", "fixed"):  # the configuration as given
        expected = trifactor.train(base, backend=backend, epochs=1, seed=0, quiet=True)
        assert rows["trained"][backend]["per_seed"] == [expected.test_accuracy], backend
    bp = trifactor.train(config_variant(base, feedback={"rule": "bp"}), backend="float", epochs=1, seed=0, quiet=True)
    assert rows["bp"]["float"]["per_seed"] == [bp.test_accuracy]
    # the transfer: the BP CNN's weights, its convolution frozen, the head trained by SSDFA k=1
    np.savez(tmp_path / "bp.npz", **bp.weights)
    raw = tomllib.loads((CONFIGS / "digits-conv.toml").read_text())
    raw["conv"][0]["mode"] = "frozen"
    raw["network"]["transfer"] = str(tmp_path / "bp.npz")
    frozen = trifactor.config_from_dict(raw)
    assert not frozen.layers[0].trained and frozen.rule == "ssdfa" and frozen.nonzeros_per_row == 1
    for backend in ("float", "fixed"):
        expected = trifactor.train(frozen, backend=backend, epochs=1, seed=0, quiet=True)
        assert rows["frozen"][backend]["per_seed"] == [expected.test_accuracy], backend
    # the MLPs: the reference configuration, and one hidden layer of about the CNN's 1,370 weights
    assert rows["budget"]["network"] == "64 → 18 → 10" and rows["budget"]["weights"] == 18 * 65 + 10 * 19
    reference = trifactor.train(load_config(CONFIGS / "digits.toml"), epochs=1, seed=0, quiet=True)
    assert rows["reference"]["fixed"]["per_seed"] == [reference.test_accuracy]

    text = (tmp_path / "m.md").read_text()
    assert "<!-- measure:conv begin" in text and "[conv](#conv)" in text
    assert "`trifactor measure --what conv`" in text
    assert "### digits 8x8x1: 8x8x1 → conv 8ch 3x3 s2 p1 → 128 → 10" in text
    for _, label, _ in conv.ROWS:
        assert f"| {label} |" in text, label
    trained = rows["trained"]["fixed"]["per_seed"][0]
    assert f"| {100 * trained:.2f}% ± 0.00 | {100 * trained:.2f} |" in text
    [aim] = entry["aims"]  # digits: only (b), the on-chip CNN against the reference MLP
    assert aim["met"] == (trained > reference.test_accuracy)
    assert f"- (b) the CNN trained entirely on chip (fixed) beats the reference MLP configs/digits.toml (fixed): " \
           f"**{'met' if aim['met'] else 'not met'}**" in text


@pytest.mark.parametrize("name", ["digits-conv", "mnist5k-conv"])
def test_bench_takes_the_conv_configurations(name):
    config = load_config(CONFIGS / f"{name}.toml")
    assert rows_of(config) is CONV_ROWS and network_text(config).startswith("x".join(map(str, config.input_shape)))
    seen = set()
    for label, (backend, overrides) in CONV_ROWS.items():
        variant = config_variant(config, feedback=overrides)
        make_model(backend, variant, 0)  # the backend takes it
        seen.add((variant.rule, variant.nonzeros_per_row, backend))
    assert seen == {("bp", 10, "float"), ("dfa", 10, "float"), ("dfa", 10, "fixed"), ("ssdfa", 1, "float"),
                    ("ssdfa", 1, "fixed")}
