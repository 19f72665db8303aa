"""The Superposition page: its science, AppTest and browser tests, in three sections in
that order (n=5 features, m=2 hidden units)."""
import numpy as np
import pytest
import torch

from core import data, engine, params
from core.charts import superposition as charts
from core.experiments.superposition import (RECOVERED, REPRESENTED, Config, MemoryConfig,
                                            feature_geometry)
from core.models import ToyModel
from core.experiments.superposition import EXPERIMENT as SUPERPOSITION
from tests.apptest_support import (fresh_registry, metric, open_page,  # noqa: F401
                                    receipt_line,
                                    run_until_ended)
from tests.browser import browser_page, wait_charts


# =============================================================================================
# Science: the page's claims, with numbers
# =============================================================================================


SPARSITIES = (0.0, 0.7, 0.95, 0.99)


@pytest.fixture(scope="module")
def sweep():
    torch.set_num_threads(1)
    return engine.run_sync("superposition", Config(sparsities=SPARSITIES))


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


def test_the_page_draws_the_geometry_the_run_sends(sweep):
    geo, w = sweep.snapshots["model"]["geometry"], sweep.snapshots["model"]["W"]
    for k, p in enumerate(sweep.summary["per_sparsity"]):
        assert geo["n_represented"][k] == p["n_represented"]
        assert geo["dimensionality"][k] == pytest.approx(p["dimensionality"], abs=0)
        assert list(geo["represented"][k]) == [n > REPRESENTED for n in p["feature_norms"]]
    counts = [p["n_represented"] for p in sweep.summary["per_sparsity"]]
    assert geo["most_represented"] == max(counts) == 5
    assert geo["represented_densest"] == counts[0] and geo["represented_sparsest"] == counts[-1]
    frames = charts.superposition_frames(w, SPARSITIES, sweep.snapshots["setup"]["importance"],
                                         geo)
    dims = frames["dims"]
    assert len(dims) == 5 * len(SPARSITIES)
    assert (dims["represented"] == "represented").sum() == sum(counts)
    assert sweep.snapshots["setup"]["instances"] == 3 * len(SPARSITIES)
    losses = charts.instance_loss_frame(sweep.metrics, SPARSITIES)
    assert losses["instance"].nunique() == 3 * len(SPARSITIES)


def test_same_config_gives_the_same_summary(sweep):
    again = engine.run_sync("superposition", Config(sparsities=SPARSITIES))
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


def test_the_receipt_reads_the_pentagon_off_the_sparsest_model(sweep):
    real = SUPERPOSITION.receipt(Config(sparsities=SPARSITIES), sweep.summary)
    gaps = entry(sweep, 0.99)["angles"]
    assert real.holds is True
    assert real.live == (f"5 of 5 features represented at S = 0.99, "
                         f"gaps {min(gaps):.0f}–{max(gaps):.0f}°")

    def made(count, gaps, sparsity=0.99, n=5, m=2):
        summary = {"n_features": n, "n_hidden": m, "per_sparsity": [
            {"sparsity": 0.0, "n_represented": 2, "angles": [90.0, 270.0]},
            {"sparsity": sparsity, "n_represented": count, "angles": gaps}]}
        return SUPERPOSITION.receipt(Config(), summary)

    square = made(4, [85.0, 90.0, 92.0, 93.0])  # a square of four: not reproduced
    assert square.holds is False and square.live.startswith("4 of 5 features")
    assert "85–93°" in square.live
    assert made(5, [60.0, 84.0, 72.0, 72.0, 72.0]).holds is False  # a lopsided five
    assert made(5, [71.0, 73.0, 72.0, 70.0, 74.0]).holds is True
    assert made(5, [72.0] * 5, sparsity=0.8).holds is None  # not sparse enough to tell
    assert made(5, [72.0] * 5, n=6).holds is None


def test_bad_values_are_refused_with_the_field_named():
    with pytest.raises(params.ParamError, match="'sparsities' must be"):
        params.build(Config, {"sparsities": "0.5,1.5"})
    with pytest.raises(params.ParamError, match="'n_hidden' must be"):
        params.build(Config, {"n_hidden": "0"})


def test_an_autoencoder_recovers_more_vectors_than_it_has_hidden_units():
    run = engine.run_sync("autoencoder_memory", MemoryConfig())
    s = run.summary
    assert run.status == "done", run.error
    assert s["n_vectors"] == 8 and s["n_hidden"] == 2
    assert s["recovered"] > 2 * s["n_hidden"]  # at least 5 of 8 in 2 units
    assert s["recovered"] == sum(c >= 0.9 for c in s["cosine"])
    assert len(s["reconstruction_error"]) == 8
    state = run.snapshots["memory"]
    assert RECOVERED == 0.9 and state["n_recovered"] == s["recovered"]
    assert list(state["recovered"]) == [c >= RECOVERED for c in s["cosine"]]
    assert state["recovered_per_unit"] == s["recovered"] / 2
    points, projected = charts.memory_points(state)
    assert not projected and (points["status"] == "recovered").sum() == s["recovered"]
    assert list(charts.memory_table(state)["non-zero entries"]) == list(
        (run.snapshots["vectors"] > 0).sum(1))
    hidden = run.snapshots["memory"]["hidden"]
    assert hidden.shape == (8, 2)
    # recovered vectors sit at distinct directions in the hidden plane (a polygon)
    ok = np.array(s["cosine"]) >= 0.9
    unit = hidden[ok] / np.linalg.norm(hidden[ok], axis=1, keepdims=True)
    cos = unit @ unit.T - 2 * np.eye(int(ok.sum()))
    assert cos.max() < 0.99


def test_crowding_the_plane_loses_vectors():
    few = engine.run_sync("autoencoder_memory", MemoryConfig(n_vectors=6, steps=1000))
    many = engine.run_sync("autoencoder_memory", MemoryConfig(n_vectors=20, steps=1000))
    assert few.summary["recovered"] >= 5
    assert many.summary["recovered"] / 20 < few.summary["recovered"] / 6


# =============================================================================================
# AppTest: the page through Streamlit's AppTest
# =============================================================================================


SP = "views/superposition.py"


def test_superposition_page_draws_both_runs():
    at = open_page(SP, query={"steps": "300", "sparsities": "0,0.95"})
    assert at.text_input(key="sp.sparsities").value == "0,0.95"
    # the other sliders hold their Config's defaults (a lookup by key raises when the key
    # is missing: compare the values instead)
    expected = {**{f"sp.{name}": getattr(Config(), name)
                   for name in ("n_features", "n_hidden", "importance_decay")},
                **{f"ae.{name}": getattr(MemoryConfig(), name)
                   for name in ("n_vectors", "n_hidden", "sparsity")}}
    assert {key: at.slider(key=key).value for key in expected} == pytest.approx(expected)
    assert at.select_slider(key="sp.lr").value == pytest.approx(0.01)
    run_until_ended(at)
    assert len(at.success) == 2 and all("Done" in s.value for s in at.success)
    # directions, norms, WᵀW, dimensionality, losses; hidden points, losses
    assert len(at.get("vega_lite_chart")) == 7
    assert metric(at, "Features / hidden units") == "5 / 2"
    # at 300 steps the run may or may not have finished the pentagon: the line says which
    line = receipt_line(at)
    assert "This run: " in line and " of 5 features represented at S = 0.95" in line
    assert ("Reproduced in this run" in line) != ("Did not reproduce in this run" in line)
    recovered, total = metric(at, "Recovered vectors").split(" of ")
    assert total == "8" and int(recovered) > 2
    table = at.dataframe[0].value
    assert list(table["sparsity"]) == [0.0, 0.95]
    assert len(at.get("download_button")) == 5  # + the page's SVG button


def test_superposition_preset_and_bad_input():
    at = open_page(SP, query={"steps": "100"})
    at.button(key="sp.preset.Pentagon").click().run()
    assert at.text_input(key="sp.sparsities").value == "0.9,0.95,0.99"
    at.text_input(key="sp.sparsities").set_value("0.5, 2").run()
    assert not at.exception
    assert any("'sparsities' must be a comma-separated list of floats in [0, 0.999]" in e.value
               for e in at.error)
    # the memory section below keeps working
    at.button(key="ae.preset.One hidden unit").click().run()
    assert at.slider(key="ae.n_hidden").value == 1
    run_until_ended(at)
    assert any("Done" in s.value for s in at.success)


# =============================================================================================
# Browser: the page in a real Chromium against a real server
# =============================================================================================


def test_superposition_in_a_browser(server):
    with browser_page() as page:
        page.goto(f"{server.url}/superposition?steps=200&sparsities=0,0.9")
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stAlertContentSuccess\"]')"
            ".length === 2", timeout=120_000)
        wait_charts(page, 7)
        assert page.get_by_text("Recovered vectors").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
