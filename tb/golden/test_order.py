"""The LFSR sample order (golden/order.py, ``[training] order = "lfsr"``) and how golden's training uses it."""

import dataclasses

import numpy as np
import pytest

from trifactor.golden.config import ConfigError, config_from_dict
from trifactor.golden.fixed_model import FixedNet
from trifactor.golden.order import (MAX_SAMPLES, START, TAPS, LfsrOrder, index_bits, initial_key, seed_words,
                                    step)
from trifactor.golden.train import load_data, sample_orders, train

from conftest import make_config


def _mulmod(a, b, poly, degree):
    out = 0
    while b:
        if b & 1:
            out ^= a
        b >>= 1
        a <<= 1
        if a >> degree & 1:
            a ^= poly
    return out


def _x_power(exponent, poly, degree):
    out, base = 1, 2
    while exponent:
        if exponent & 1:
            out = _mulmod(out, base, poly, degree)
        base, exponent = _mulmod(base, base, poly, degree), exponent >> 1
    return out


def _primes(n):
    found, d = set(), 2
    while d * d <= n:
        while n % d == 0:
            found.add(d)
            n //= d
        d += 1
    return found | ({n} if n > 1 else set())


@pytest.mark.parametrize("width", sorted(TAPS))
def test_every_polynomial_of_the_table_is_primitive(width):
    """x has order 2**width - 1 modulo the table's polynomial: the LFSR has the maximal period."""
    poly = 1 << width | 1 | TAPS[width] << 1 & ((1 << width) - 1)
    period = (1 << width) - 1
    assert _x_power(period, poly, width) == 1
    assert all(_x_power(period // q, poly, width) != 1 for q in _primes(period))


@pytest.mark.parametrize("width", range(2, 15))
def test_the_galois_step_visits_every_nonzero_state(width):
    taps, state, seen = TAPS[width], START, set()
    for _ in range((1 << width) - 1):
        state = step(state, lambda s: -(s & 1) & taps)
        seen.add(state)
    assert state == START and seen == set(range(1, 1 << width))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 16, 17, 36, 100, 1437])
def test_every_epoch_is_a_permutation_and_they_differ(n):
    order = LfsrOrder(seed=3, n=n)
    epochs = [order.epoch() for _ in range(5)]
    for epoch in epochs:
        assert epoch.dtype == np.int64 and sorted(epoch.tolist()) == list(range(n))
    if n >= 16:
        assert len({tuple(e) for e in epochs}) == 5, "each epoch's order differs"


def test_seeds_give_different_orders_and_a_seed_the_same():
    a, b, c = (LfsrOrder(seed, 1437).epoch() for seed in (0, 1, 0))
    assert not np.array_equal(a, b) and np.array_equal(a, c)


def test_widths_keys_and_seed_words():
    assert [index_bits(n) for n in (1, 2, 3, 4, 5, 1437, 4000, 5000, MAX_SAMPLES)] == [1, 1, 2, 2, 3, 11, 12, 13, 24]
    for seed in range(20):
        assert 1 <= initial_key(seed, 7) <= 7
        assert seed_words(seed, 7) == [initial_key(seed, 7) - 1, 6]


def test_the_first_draws_follow_the_documented_steps():
    """n = 5: w = 3, the state is 4 bits (x^4 + x^3 + 1), the mask 8 | (key mod 8); by hand from the docstring."""
    order, taps = LfsrOrder(seed=0, n=5), TAPS[4]
    state, key, want = START, initial_key(0, 5), []
    while len(want) < 10:
        state = step(state, lambda s: -(s & 1) & taps)
        key = step(key, lambda s: -(s & 1) & taps) if state == START else key
        if state ^ (8 | key & 7) < 5:
            want.append(state ^ (8 | key & 7))
    assert [order.next() for _ in range(10)] == want


def test_too_many_samples_are_refused_with_the_fix():
    with pytest.raises(ConfigError, match="order = 'host'"):
        LfsrOrder(0, MAX_SAMPLES + 1)


def test_sample_orders_by_kind():
    lfsr = sample_orders(4, 50, 3, "lfsr")
    draws = LfsrOrder(4, 50)
    want = [draws.epoch() for _ in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(lfsr, want))
    assert np.array_equal(lfsr[2], want[2]) and len(lfsr[1:]) == 2
    host = sample_orders(4, 50, 3)
    assert np.array_equal(host[0], np.random.default_rng([4, 0xDA7A]).permutation(50)), "host: unchanged"
    with pytest.raises(ValueError, match="order must be one of"):
        sample_orders(4, 50, 3, "random")


def test_training_takes_the_configuration_s_order():
    cfg = config_from_dict({"network": {"sizes": [64, 16, 10]}, "training": {"order": "lfsr"}})
    split = load_data(cfg)
    run = train(FixedNet(cfg, 1), split, 1, seed=1)
    # the same samples by hand, in the LFSR's order
    net, x = FixedNet(cfg, 1), cfg.input.quantize(split.x_train)
    for index in LfsrOrder(1, len(split.y_train)).epoch():
        net.train_sample(x[index], int(split.y_train[index]))
    assert run["test_accuracy"] == float(np.mean(net.predict(cfg.input.quantize(split.x_test)) == split.y_test))
    host = train(FixedNet(dataclasses.replace(cfg, order="host"), 1), split, 1, seed=1)
    assert host["train_history_online"] != run["train_history_online"]


def test_config_key_default_choices_and_identity():
    host, lfsr = make_config(), make_config(training={"order": "lfsr"})
    assert host.order == "host" and lfsr.order == "lfsr"
    assert host.to_dict()["training"]["order"] == "host"
    assert "training" not in host.hardware_dict(), "order = 'host' keeps every existing core's identity"
    assert lfsr.hardware_dict()["training"] == {"order": "lfsr"} and lfsr.hardware_id() != host.hardware_id()
    with pytest.raises(ConfigError) as error:
        make_config(training={"order": "random"})
    assert str(error.value).count("\n") == 0
    assert "[training] order = 'random' is not one of 'host', 'lfsr'" in str(error.value)
    assert "use one of host, lfsr" in str(error.value)
