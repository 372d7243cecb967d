"""Configuration: defaults, derived widths, and one clear error per bad value."""

import pytest

from trifactor.golden.config import ConfigError, config_from_dict, load_config
from trifactor.golden.fixedpoint import Fixed, Overflow, Rounding

from conftest import ROOT, make_config


def test_default_config_file():
    cfg = load_config(ROOT / "configs" / "digits.toml")
    assert cfg.name == "digits" and cfg.sizes == (64, 64, 10)
    assert (cfg.activation, cfg.loss, cfg.rule, cfg.nonzeros_per_row, cfg.lanes) == ("relu", "softmax", "ssdfa", 1, 8)


def test_only_sizes_is_required_and_defaults_fill_in():
    cfg = config_from_dict({"network": {"sizes": [4, 3]}})
    assert cfg.weight == Fixed(16, 12) and cfg.act == Fixed(12, 3)
    assert cfg.rounding is Rounding.HALF_UP and cfg.overflow is Overflow.SATURATE
    assert cfg.learning_rate == 2.0 ** -cfg.learning_rate_shift


def test_derived_layer_arithmetic():
    cfg = make_config(sizes=(64, 64, 10))
    first, out = cfg.layers
    assert first.hidden and not out.hidden
    assert first.x == cfg.input and out.x == cfg.act
    assert first.forward_shift == cfg.input.frac + cfg.weight.frac - cfg.act.frac
    assert out.update_shift == cfg.act.frac + cfg.error.frac + cfg.learning_rate_shift - cfg.weight.frac
    assert first.accumulator_width == 30  # 65 * 2**7 * 2**15 < 2**29


def test_to_dict_is_complete_and_reloads_to_the_same_config():
    cfg = make_config(sizes=(9, 7, 3), feedback={"nonzeros_per_row": 2})
    data = cfg.to_dict()
    derived = data.pop("derived")
    assert len(derived["layers"]) == 2
    assert config_from_dict(data) == config_from_dict(data)
    again = config_from_dict({**data, "name": cfg.name})
    assert again.to_dict()["feedback"] == cfg.to_dict()["feedback"]
    assert again.layers == cfg.layers


BAD = [
    ({"network": {}}, "[network] sizes", "is required"),
    ({"network": {"sizes": [64]}}, "[network] sizes", "at least two"),
    ({"network": {"sizes": [64, 0, 10]}}, "[network] sizes", "no neurons"),
    ({"network": {"sizes": [64, 1]}}, "[network] sizes", "class"),
    ({"network": {"sizes": "64-10"}}, "[network] sizes", "list of integers"),
    ({"network": {"sizes": [64, 10], "activation": "tanh"}}, "[network] activation", "relu"),
    ({"network": {"sizes": [64, 10], "loss": "xent"}}, "[network] loss", "softmax"),
    ({"network": {"sizes": [64, 10], "size": 3}}, "[network] size", "did you mean 'sizes'"),
    ({"network": {"sizes": [64, 10]}, "netwrk": {}}, "[netwrk]", "did you mean 'network'"),
    ({"network": {"sizes": [64, 10]}, "feedback": {"nonzeros_per_row": 11}}, "[feedback] nonzeros_per_row", "larger than the output count"),
    ({"network": {"sizes": [64, 10]}, "feedback": {"nonzeros_per_row": 0}}, "[feedback] nonzeros_per_row", "out of range"),
    ({"network": {"sizes": [64, 10]}, "feedback": {"rule": "dfa", "nonzeros_per_row": 2}}, "[feedback] nonzeros_per_row", "only applies"),
    ({"network": {"sizes": [64, 10]}, "feedback": {"rule": "fa"}}, "[feedback] rule", "ssdfa"),
    ({"network": {"sizes": [64, 10]}, "feedback": {"balanced": "yes"}}, "[feedback] balanced", "true or false"),
    ({"network": {"sizes": [64, 10]}, "hardware": {"lanes": 0}}, "[hardware] lanes", "out of range"),
    ({"network": {"sizes": [64, 10]}, "hardware": {"lanes": 2.5}}, "[hardware] lanes", "integer"),
    ({"network": {"sizes": [64, 10]}, "fixed": {"weight": {"width": 1, "frac": 0}}}, "[fixed] weight.width", "out of range"),
    ({"network": {"sizes": [64, 10]}, "fixed": {"weight": {"width": 16, "frac": 16}}}, "[fixed] weight.frac", "out of range"),
    ({"network": {"sizes": [64, 10]}, "fixed": {"weight": 16}}, "[fixed] weight", "table"),
    ({"network": {"sizes": [64, 10]}, "fixed": {"input": {"width": 8, "frac": 7}}}, "[fixed] input", "1.0"),
    ({"network": {"sizes": [64, 10]}, "fixed": {"input": {"width": 6, "frac": 4}}}, "[fixed] input", "inputs up to 3"),
    ({"network": {"sizes": [64, 10]}, "fixed": {"activation": {"width": 24, "frac": 20}}}, "[fixed] activation.frac", ""),
    ({"network": {"sizes": [64, 10]}, "fixed": {"weight": {"width": 16, "frac": 15}, "learning_rate_shift": 0}}, "[fixed] weight.frac", "finer than an update"),
    ({"network": {"sizes": [64, 10]}, "fixed": {"rounding": "nearest"}}, "[fixed] rounding", "half_up"),
    ({"network": {"sizes": [64, 40]}, "fixed": {"softmax_frac": 24, "error": {"width": 32, "frac": 31}}}, "[fixed] softmax_frac", "reciprocal"),
    ({"network": {"sizes": [64, 10]}, "training": {"learning_rate": -1}}, "[training] learning_rate", "(0, 10)"),
    ({"network": {"sizes": [64, 10]}, "data": {"dataset": "cifar"}}, "[data] dataset", "digits"),
    ({"network": {"sizes": [64, 10]}, "data": {"test_fraction": 1.5}}, "[data] test_fraction", "(0, 1)"),
    ({"network": {"sizes": [64, 10]}, "name": "9lives"}, "name", "Verilog identifier"),
]
# the learned-feedback keys' (tb/golden/test_learned.py), through the same check
from test_learned import BAD_LEARNED  # noqa: E402

BAD += BAD_LEARNED


@pytest.mark.parametrize("raw, key, words", BAD, ids=[f"{b[1]}:{i}" for i, b in enumerate(BAD)])
def test_bad_value_names_key_and_fix(raw, key, words):
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, source="bad.toml")
    message = str(info.value)
    assert info.value.key.startswith(key), message
    assert message.startswith(f"bad.toml: {info.value.key}")
    assert words in message and "; fix: " in message and "\n" not in message


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[network\nsizes = [1, 2]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_name_defaults_to_the_file_stem(tmp_path):
    path = tmp_path / "my-core.toml"
    path.write_text("[network]\nsizes = [4, 2]\n")
    assert load_config(path).name == "my_core"


def test_hardware_identity_ignores_name_data_and_training():
    base = {"network": {"sizes": [8, 6, 3]}}
    config = config_from_dict(base)
    renamed = config_from_dict({**base, "name": "other", "training": {"epochs": 3}, "data": {"split_seed": 5}})
    assert renamed.hardware_dict() == config.hardware_dict() and renamed.hardware_id() == config.hardware_id()
    for section, values in (("hardware", {"lanes": 4}), ("fixed", {"learning_rate_shift": 6}), ("feedback", {"seed": 1})):
        other = config_from_dict({**base, section: values})
        assert other.hardware_id() != config.hardware_id(), section
    assert 0 <= config.hardware_id() < 1 << 32


def test_cost_counters_are_off_by_default_and_part_of_the_hardware():
    base = {"network": {"sizes": [8, 6, 3]}}
    config = config_from_dict(base)
    assert config.cost_counters is False and config.to_dict()["hardware"]["cost_counters"] is False
    on = config_from_dict({**base, "hardware": {"cost_counters": True}})
    assert on.cost_counters and on.to_dict()["hardware"]["cost_counters"] is True
    assert on.hardware_id() != config.hardware_id()
    # off, the identity is the one cores built before the key existed have (their boards still answer INFO)
    assert "cost_counters" not in config.hardware_dict()["hardware"]
    for c in (config, on):
        data = c.to_dict()
        del data["derived"]
        assert config_from_dict(data).cost_counters == c.cost_counters
    with pytest.raises(ConfigError, match=r"\[hardware\] cost_counters must be true or false"):
        config_from_dict({**base, "hardware": {"cost_counters": 1}})


def test_mac_counts_and_roofline():
    config = config_from_dict({"network": {"sizes": [17, 7, 3]}, "hardware": {"lanes": 3}})
    assert config.macs_per_sample == 2 * (18 * 7 + 8 * 3)
    assert config.roofline_cycles == config.macs_per_sample / 3
    assert config.mac_issue_cycles == 2 * (3 * 18 + 1 * 8)  # ceil(7 / 3) and ceil(3 / 3) neuron groups
    assert config.cycle_budget() == {"mac_issue_cycles": config.mac_issue_cycles, "roofline": config.roofline_cycles,
                                     "macs_per_sample": config.macs_per_sample}


@pytest.mark.parametrize("feedback, key, words", [
    ({"values": "continuous"}, "[feedback] values", "ternary"),
    ({"rule": "hybrid", "values": "continuous"}, "[feedback] values", "ternary"),
])
def test_check_hardware_names_key_and_fix(feedback, key, words):
    config = config_from_dict({"network": {"sizes": [8, 6, 3]}, "feedback": feedback}, source="float.toml")
    with pytest.raises(ConfigError) as info:
        config.check_hardware()
    assert info.value.key == key and words in str(info.value) and "; fix: " in str(info.value)
    config_from_dict({"network": {"sizes": [8, 6, 3]}}).check_hardware()  # the default is hardware
    for rule in ("bp", "hybrid", "dfa"):
        config_from_dict({"network": {"sizes": [8, 6, 3]}, "feedback": {"rule": rule}}).check_hardware()


@pytest.mark.parametrize("feedback, words", [
    ({"rule": "ssdfa", "bp_fraction": 0.5}, "only applies to rule 'hybrid'"),
    ({"rule": "hybrid", "bp_fraction": 1.5}, "must be a number in [0, 1]"),
    ({"rule": "hybrid", "bp_fraction": "half"}, "must be a number in [0, 1]"),
])
def test_bp_fraction_is_checked(feedback, words):
    with pytest.raises(ConfigError) as info:
        config_from_dict({"network": {"sizes": [8, 6, 3]}, "feedback": feedback})
    assert info.value.key == "[feedback] bp_fraction" and words in str(info.value)


def test_backprop_costs_by_rule():
    sizes = {"network": {"sizes": [17, 7, 5, 3]}, "hardware": {"lanes": 3}}
    bp = config_from_dict({**sizes, "feedback": {"rule": "bp"}})
    plain = config_from_dict(sizes)
    hybrid = config_from_dict({**sizes, "feedback": {"rule": "hybrid"}})
    assert bp.backward_macs == 7 * 5 + 5 * 3  # no bias column, nothing below the first layer
    assert bp.macs_per_sample == plain.macs_per_sample + bp.backward_macs
    assert hybrid.macs_per_sample == plain.macs_per_sample + 0.25 * bp.backward_macs
    assert bp.mac_issue_cycles == plain.mac_issue_cycles + 2 * 7 + 1 * 5  # ceil(5/3) groups of 7, ceil(3/3) of 5
    assert (bp.backprop, hybrid.backprop, plain.backprop) == (True, True, False)
    assert (bp.feedback_rows, hybrid.feedback_rows, plain.feedback_rows) == (False, True, True)


def test_bank_placement_is_automatic_from_the_sizes():
    digits, mnist = (load_config(ROOT / "configs" / name) for name in ("digits.toml", "mnist-up5k.toml"))
    assert digits.bank_placement == "block_ram" and digits.update_interval == 1
    assert "banks" not in digits.hardware_dict()["hardware"]  # block RAM: the circuit from before the key
    assert mnist.bank_placement == "spram" and mnist.update_interval == 2
    assert mnist.hardware_dict()["hardware"]["banks"] == "spram"
    assert mnist.bank_depth == 16 * 785 + 2 * 129  # neuron groups x (inputs + bias), per layer
    assert mnist.mac_issue_cycles == 3 * mnist.bank_depth  # forward, then the update at half rate
    wide = make_config(sizes=(784, 128, 10), hardware={"lanes": 8})  # 16-bit weights: 128 bits a word, no SPRAM
    assert wide.bank_placement == "block_ram"
    forced = make_config(sizes=(8, 5, 3), hardware={"lanes": 2, "banks": "spram"})
    assert forced.bank_placement == "spram" and forced.hardware_id() != make_config(
        sizes=(8, 5, 3), hardware={"lanes": 2}).hardware_id()


@pytest.mark.parametrize("changes, key, words", [
    ({"feedback": {"rule": "bp"}}, "[feedback] rule", "one port"),
    ({"hardware": {"lanes": 2, "banks": "spram", "pipeline": "fast"}}, "[hardware] pipeline", "compact"),
    ({"hardware": {"lanes": 5, "banks": "spram"}}, "[hardware] banks", "64 bits"),  # 5 x 16 bits
])
def test_spram_banks_are_checked(changes, key, words):
    raw = {"network": {"sizes": [20, 9, 4]}, "hardware": {"lanes": 2, "banks": "spram"}}
    for section, values in changes.items():
        raw.setdefault(section, {}).update(values)
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw).check_hardware()
    assert info.value.key == key and words in str(info.value)
