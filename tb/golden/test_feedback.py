"""Feedback matrices: structure (k ternary non-zeros per row), reproducibility, balance, the dense form."""

import numpy as np
import pytest

from trifactor.golden.feedback import feedback_for_layer, feedback_matrices

from conftest import make_config


@pytest.mark.parametrize("k", [1, 2, 3, 10])
@pytest.mark.parametrize("balanced", [False, True])
def test_exactly_k_ternary_nonzeros_per_row(k, balanced):
    cfg = make_config(sizes=(16, 64, 37, 10), feedback={"nonzeros_per_row": k, "balanced": balanced, "scale_shift": 0})
    for fb in feedback_matrices(cfg):
        dense = fb.dense()
        assert dense.shape[1] == 10
        assert np.all(np.count_nonzero(dense, axis=1) == k)
        assert set(np.unique(dense[dense != 0])) <= {-1.0, 1.0}
        assert np.all(np.diff(fb.index, axis=1) > 0), "indices distinct and ascending within a row"
        assert set(np.unique(fb.sign)) <= {-1, 1}


def test_same_seed_same_matrix_other_seed_other_matrix():
    a = feedback_for_layer(make_config(sizes=(8, 64, 10), feedback={"seed": 3}), 0).dense()
    b = feedback_for_layer(make_config(sizes=(8, 64, 10), feedback={"seed": 3}), 0).dense()
    c = feedback_for_layer(make_config(sizes=(8, 64, 10), feedback={"seed": 4}), 0).dense()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_layers_get_different_matrices():
    first, second = feedback_matrices(make_config(sizes=(8, 40, 40, 10)))
    assert not np.array_equal(first.dense(), second.dense())


@pytest.mark.parametrize("k", [1, 3])
def test_balanced_feeds_every_class_equally(k):
    cfg = make_config(sizes=(8, 64, 10), feedback={"nonzeros_per_row": k, "balanced": True})
    counts = np.bincount(feedback_for_layer(cfg, 0).index.ravel(), minlength=10)
    assert counts.max() - counts.min() <= 1
    assert counts.sum() == 64 * k


def test_dfa_is_dense_ternary_with_scale():
    cfg = make_config(sizes=(8, 32, 10), feedback={"rule": "dfa"})
    fb = feedback_for_layer(cfg, 0)
    assert cfg.nonzeros_per_row == 10 and cfg.scale_shift == 2  # round(log2(10) / 2)
    assert np.all(np.abs(fb.dense()) == 0.25)


def test_continuous_values_keep_the_sparse_pattern():
    cfg = make_config(sizes=(8, 32, 10), feedback={"values": "continuous", "nonzeros_per_row": 2})
    fb = feedback_for_layer(cfg, 0)
    assert not fb.ternary
    dense = fb.dense()
    assert np.all(np.count_nonzero(dense, axis=1) == 2)
    assert len(np.unique(np.abs(dense[dense != 0]))) > 10


def test_no_feedback_for_the_output_layer():
    assert feedback_matrices(make_config(sizes=(8, 10))) == []
    with pytest.raises(ValueError):
        feedback_for_layer(make_config(sizes=(8, 6, 10)), 1)
