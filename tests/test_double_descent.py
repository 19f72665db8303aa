"""Double descent and repeated data on the superposition toy model (Henighan et al. 2023):
the claims with numbers, on small setups."""
import numpy as np
import pytest
import torch

from core import runs
from core.experiments import double_descent as dd


@pytest.fixture(scope="module")
def sweep():
    torch.set_num_threads(1)
    run = runs.run_sync("double_descent", dd.Config(train_sizes=(3, 30, 500)))
    assert run.status == runs.DONE, run.error
    return run.summary


def test_test_loss_peaks_between_memorizing_and_generalizing(sweep):
    test = dict(zip(sweep["train_sizes"], sweep["test_loss"]))
    peak = sweep["peak_train_size"]
    assert peak == 30
    assert test[peak] > 1.3 * test[3] and test[peak] > 1.3 * test[500]
    # small T is fitted almost perfectly (memorized), large T is not
    train = dict(zip(sweep["train_sizes"], sweep["train_loss"]))
    assert train[3] < 0.2 < train[500]


def test_data_owns_the_dimensions_at_small_t_and_features_at_large_t(sweep):
    data, feat = sweep["data_top_dimensionality"], sweep["feature_top_dimensionality"]
    assert data[0] > 1.5 and data[0] > 1.5 * feat[0]
    assert feat[-1] > 1.5 and feat[-1] > 3 * data[-1]
    # the trap: the summed dimensionality is about m at every T and shows nothing
    assert np.allclose(sweep["data_dimensionality"], 2, atol=0.15)


def test_dimensionality_of_known_shapes():
    angles = np.arange(5) * 2 * np.pi / 5
    pentagon = np.stack([np.cos(angles), np.sin(angles)])
    assert np.allclose(dd.dimensionality(pentagon), 0.4)
    pair = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    assert np.allclose(dd.dimensionality(pair), [0.5, 0.5, 1.0])


def test_repeated_examples_are_memorized():
    torch.set_num_threads(1)
    config = dd.RepeatConfig(train_size=600, n_repeated=3, repeat_count=100)
    run = runs.run_sync("repeated_data", config)
    assert run.status == runs.DONE, run.error
    s = run.summary
    repeated = np.array(s["repeated_dimensionality"])
    assert repeated.mean() > 100 * s["unique_dimensionality_mean"]
    assert repeated.min() > s["unique_dimensionality_max"]
    # the same examples without repetition are ordinary
    assert repeated.mean() > 10 * np.mean(s["baseline_same_examples_dimensionality"])
    assert s["test_loss"]["with_repetition"] > s["test_loss"]["without_repetition"] + 0.01
