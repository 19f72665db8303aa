"""The superposition page's claims, with numbers (n=5 features, m=2 hidden units)."""
import numpy as np
import pytest
import torch

from core import data, params, runs
from core.experiments.superposition import Config, MemoryConfig, feature_geometry
from core.models import ToyModel

SPARSITIES = (0.0, 0.7, 0.95, 0.99)


@pytest.fixture(scope="module")
def sweep():
    torch.set_num_threads(1)
    return runs.run_sync("superposition", Config(sparsities=SPARSITIES))


def entry(run, sparsity):
    return next(p for p in run.summary["per_sparsity"] if p["sparsity"] == sparsity)


def test_one_entry_per_sparsity_in_the_order_given(sweep):
    assert sweep.status == "done", sweep.error
    assert [p["sparsity"] for p in sweep.summary["per_sparsity"]] == list(SPARSITIES)
    for p in sweep.summary["per_sparsity"]:
        assert len(p["feature_norms"]) == len(p["dimensionality"]) == 5
        assert len(p["seed_losses"]) == 3 and p["loss"] == min(p["seed_losses"])


def test_dense_features_keep_two_orthogonal_directions(sweep):
    dense = entry(sweep, 0.0)
    assert dense["n_represented"] == 2
    # the two most important features win the two dimensions
    assert np.argsort(dense["feature_norms"])[-2:].tolist() in ([0, 1], [1, 0])
    assert sorted(dense["angles"]) == pytest.approx([90, 270], abs=8)
    assert dense["antipodal_pairs"] == 0


def test_medium_sparsity_packs_antipodal_pairs(sweep):
    mid = entry(sweep, 0.7)
    assert mid["n_represented"] == 4
    assert mid["antipodal_pairs"] == 2
    represented = np.array(mid["feature_norms"]) > 0.5
    assert np.array(mid["dimensionality"])[represented] == pytest.approx([0.5] * 4, abs=0.06)


@pytest.mark.parametrize("sparsity", [0.95, 0.99])
def test_sparse_features_all_fit_as_a_pentagon(sweep, sparsity):
    sparse = entry(sweep, sparsity)
    assert sparse["n_represented"] == 5
    assert len(sparse["angles"]) == 5
    assert sparse["angles"] == pytest.approx([72] * 5, abs=6)
    assert sparse["dimensionality"] == pytest.approx([0.4] * 5, abs=0.05)


def test_every_instance_streams_its_loss_and_it_falls(sweep):
    names = {f"loss_{k}_{j}" for k in range(len(SPARSITIES)) for j in range(3)}
    assert names <= set(sweep.metrics)
    for name in names:
        values = sweep.metrics[name][1]
        assert values[-1] < values[0]
    model = sweep.snapshots["model"]
    assert model["W"].shape == (len(SPARSITIES), 2, 5)


def test_same_config_gives_the_same_summary(sweep):
    again = runs.run_sync("superposition", Config(sparsities=SPARSITIES))
    assert again.summary == sweep.summary


def test_geometry_measures_on_known_shapes():
    angles = np.radians(np.arange(5) * 72.0)
    pentagon = feature_geometry(np.stack([np.cos(angles), np.sin(angles)]))
    assert pentagon["dimensionality"] == pytest.approx([0.4] * 5)
    assert pentagon["angles"] == pytest.approx([72.0] * 5)
    pairs = feature_geometry(np.array([[1.0, -1.0, 0, 0, 0], [0, 0, 1.0, -1.0, 0]]))
    assert pairs["n_represented"] == 4 and pairs["antipodal_pairs"] == 2
    assert pairs["dimensionality"][:4] == pytest.approx([0.5] * 4)
    basis = feature_geometry(np.array([[1.0, 0, 0.01], [0, 1.0, 0]]))
    assert basis["n_represented"] == 2 and basis["dimensionality"][:2] == pytest.approx([1, 1],
                                                                                       abs=1e-3)


def test_batched_toy_model_equals_separate_models():
    gen = torch.Generator().manual_seed(0)
    model = ToyModel(3, 6, 2, generator=gen)
    with torch.no_grad():
        model.b.normal_(generator=gen)
    x = torch.rand(7, 3, 6, generator=gen)
    out = model(x)
    for k in range(3):
        w, b = model.W[k], model.b[k]
        alone = torch.relu(x[:, k] @ w.T @ w + b)
        assert torch.allclose(out[:, k], alone, atol=1e-6)


def test_sparse_batches_have_the_asked_density():
    gen = torch.Generator().manual_seed(0)
    p = torch.tensor([1.0, 0.3, 0.05])
    x = data.sparse_features(4000, 5, p, gen)
    assert x.shape == (4000, 3, 5)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    density = (x > 0).float().mean(dim=(0, 2))
    assert density.tolist() == pytest.approx([1.0, 0.3, 0.05], abs=0.02)


def test_bad_values_are_refused_with_the_field_named():
    with pytest.raises(params.ParamError, match="'sparsities' must be"):
        params.build(Config, {"sparsities": "0.5,1.5"})
    with pytest.raises(params.ParamError, match="'n_hidden' must be"):
        params.build(Config, {"n_hidden": "0"})


def test_an_autoencoder_recovers_more_vectors_than_it_has_hidden_units():
    run = runs.run_sync("autoencoder_memory", MemoryConfig())
    s = run.summary
    assert run.status == "done", run.error
    assert s["n_vectors"] == 8 and s["n_hidden"] == 2
    assert s["recovered"] > 2 * s["n_hidden"]  # at least 5 of 8 in 2 units
    assert s["recovered"] == sum(c >= 0.9 for c in s["cosine"])
    assert len(s["reconstruction_error"]) == 8
    hidden = run.snapshots["memory"]["hidden"]
    assert hidden.shape == (8, 2)
    # recovered vectors sit at distinct directions in the hidden plane (a polygon)
    ok = np.array(s["cosine"]) >= 0.9
    unit = hidden[ok] / np.linalg.norm(hidden[ok], axis=1, keepdims=True)
    cos = unit @ unit.T - 2 * np.eye(int(ok.sum()))
    assert cos.max() < 0.99


def test_crowding_the_plane_loses_vectors():
    few = runs.run_sync("autoencoder_memory", MemoryConfig(n_vectors=6, steps=1000))
    many = runs.run_sync("autoencoder_memory", MemoryConfig(n_vectors=20, steps=1000))
    assert few.summary["recovered"] >= 5
    assert many.summary["recovered"] / 20 < few.summary["recovered"] / 6
