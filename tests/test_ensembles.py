"""The Ensembles & distillation page: its science, AppTest and browser tests, in three
sections in that order. The science: on multi-view data the ensemble and the distilled
network beat the individual networks on single-view test examples, and seeds learn
different views; on a Gaussian mixture the ensemble adds little. The setup and the measured
spread are in ../shared/SCIENCE.md (individual single-view 0.57–0.62, ensemble 0.92–0.99,
distilled 0.87–0.90, equal-budget control 0.64–0.68, Gaussian-mixture gain +0.02–0.03)."""
import numpy as np
import pytest
import torch

from core import multiview as mv
from core import engine, params
from core.experiments.ensembles import Config
from tests.apptest_support import (fresh_registry, metric, open_page,  # noqa: F401
                                    receipt_line, run_until_ended)
from tests.browser import browser_page, wait_charts


# =============================================================================================
# Science: the page's claims, with numbers
# =============================================================================================


SEEDS = (0, 1)


@pytest.fixture(scope="module")
def multi():
    torch.set_num_threads(1)
    out = {}
    for seed in SEEDS:
        run = engine.run_sync("ensemble_distillation", params.build(Config, {
            "seed": seed, "random_features": seed == 0}))
        assert run.status == "done", run.error
        out[seed] = run.summary
    return out


@pytest.fixture(scope="module")
def mixture():
    torch.set_num_threads(1)
    out = {}
    for seed in SEEDS:
        run = engine.run_sync("ensemble_distillation", params.build(Config, {
            "seed": seed, "dataset": "gaussian_mixture", "random_features": False,
            "student_steps": 20}))
        assert run.status == "done", run.error
        out[seed] = run.summary
    return out


def single(summary, kind):
    return summary["models"][kind]["single_view_accuracy"]


def test_individuals_fit_multi_view_but_not_single_view(multi):
    for s in multi.values():
        ind = s["models"]["individual"]
        assert ind["multi_view_accuracy"] > 0.9
        assert ind["single_view_accuracy"] < 0.8


def test_ensemble_beats_the_mean_individual_on_single_view(multi):
    gains = [single(s, "ensemble") - single(s, "individual") for s in multi.values()]
    assert min(gains) > 0.15 and np.mean(gains) > 0.2, gains
    for s in multi.values():
        assert s["ensemble_gain_measure"] == "single_view_accuracy"
        assert s["ensemble_gain"] == pytest.approx(single(s, "ensemble") -
                                                   single(s, "individual"))


def test_distillation_transfers_most_of_the_gain(multi):
    for s in multi.values():
        # beats the mean individual, and the fresh network trained as long on hard labels
        assert single(s, "distilled") > single(s, "individual") + 0.15
        assert single(s, "distilled") > single(s, "hard_label_control") + 0.05
        assert s["models"]["distilled"]["multi_view_accuracy"] > 0.95
        # self-distillation passes on one network's views: less than the ensemble's
        assert single(s, "self_distilled") < single(s, "distilled")


def test_individual_models_learn_different_views(multi):
    for s in multi.values():
        assert s["classes_split_between_models"] >= 3
        learned = np.array(s["view_accuracy"]) >= 0.5  # [models, classes, views]
        assert learned.shape == (8, 10, 2)
        # most (network, class) pairs know one view, not both
        assert learned.sum(-1).mean() < 1.5
        assert learned.any(-1).mean() > 0.8
        # the networks are not all the same network
        assert len({tuple(m.ravel()) for m in learned}) == 8


def test_random_features_gain_from_averaging(multi):
    s = multi[0]["models"]
    assert s["random_features_ensemble"]["accuracy"] > s["random_features"]["accuracy"] + 0.05


def test_gaussian_mixture_ensemble_gain_is_small(multi, mixture):
    for seed, s in mixture.items():
        assert s["ensemble_gain_measure"] == "accuracy"
        assert s["models"]["individual"]["accuracy"] > 0.85
        assert abs(s["ensemble_gain"]) < 0.06, s["ensemble_gain"]
        assert s["ensemble_gain"] < multi[seed]["ensemble_gain"] / 4
        assert "views_learned" not in s


def test_the_receipt_reports_the_gain_and_what_distillation_keeps(multi, mixture):
    from core.experiments.ensembles import EXPERIMENT
    for seed, s in multi.items():
        r = EXPERIMENT.receipt(Config(seed=seed), s)
        assert r.holds is True
        assert f"{single(s, 'ensemble'):.0%} for the ensemble of 8" in r.live
        assert f"({100 * s['ensemble_gain']:+.0f} points)" in r.live
    assert EXPERIMENT.receipt(Config(dataset="gaussian_mixture"), mixture[0]).holds is None

    def made(ind, ens, kd, hard, self_kd):
        models = {k: {"single_view_accuracy": v} for k, v in zip(
            ("individual", "ensemble", "distilled", "hard_label_control", "self_distilled"),
            (ind, ens, kd, hard, self_kd))}
        return EXPERIMENT.receipt(Config(), {"dataset": "multi_view", "models": models,
                                             "ensemble_gain_measure": "single_view_accuracy"})

    weak = made(0.60, 0.65, 0.63, 0.62, 0.61)  # a 5-point ensemble gain: not reproduced
    assert weak.holds is False and "65% for the ensemble of 8 (+5 points)" in weak.live
    assert "self-distillation adds only +1 point over" in weak.live
    no_kd = made(0.60, 0.95, 0.66, 0.65, 0.70)  # the ensemble gains, distillation does not
    assert no_kd.holds is False and "keeps 17% of the gain" in no_kd.live
    good = made(0.60, 0.95, 0.88, 0.66, 0.70)
    assert good.holds is True and "self-distillation adds only" not in good.live


def test_batched_instances_match_one_network_alone():
    gen = torch.Generator().manual_seed(0)
    views = mv.make_views(4, 16, gen)
    data = mv.make_multiview(views, 20, 0.5, 6, 0.15, 0.02, gen)
    net = mv.PatchNet(3, 4, 2, 16, 0.3, gen)
    together = net(data.x)
    for i in range(3):
        alone = net(data.x, W=net.W[i:i + 1])
        assert torch.allclose(together[i], alone[0], atol=1e-6)
    grad, = torch.autograd.grad(mv.ce_loss(together, data.y).sum(), net.W)
    grad1, = torch.autograd.grad(mv.ce_loss(net(data.x), data.y)[1], net.W)
    assert torch.allclose(grad[1], grad1[1], atol=1e-6) and grad1[0].abs().max() == 0


def test_multiview_generator_and_ablation():
    gen = torch.Generator().manual_seed(1)
    views = mv.make_views(5, 12, gen)
    assert torch.allclose(views.flatten(0, 1) @ views.flatten(0, 1).T, torch.eye(10),
                          atol=1e-5)
    data = mv.make_multiview(views, 400, 0.5, 8, 0.0, 0.0, gen)
    own = torch.einsum("npd,nvd->nvp", data.x, views[data.y]).sum(-1)  # [n, view]
    multi = ~data.single
    assert torch.all(own[multi] >= 0.8) and torch.all(own[multi] <= 1.2)  # 2 × U(0.4, 0.6)
    shown = data.view[data.single]
    weak = own[data.single].gather(1, (1 - shown)[:, None]).squeeze(1)
    assert torch.allclose(weak, torch.full_like(weak, 2 * mv.WEAK_VIEW), atol=1e-5)
    ablated = mv.ablate_view(data.x, data.y, views, 0)
    left = torch.einsum("npd,nvd->nvp", ablated, views[data.y]).sum(-1)
    assert left[:, 0].abs().max() < 1e-5 and torch.allclose(left[:, 1], own[:, 1], atol=1e-5)


def test_kd_loss_is_zero_when_student_matches_teacher():
    logits = torch.randn(2, 5, 4)
    assert mv.kd_loss(logits, logits, 2.0).abs().max() < 1e-6
    assert torch.all(mv.kd_loss(logits, torch.randn(2, 5, 4), 2.0) > 0)


# =============================================================================================
# AppTest: the page through Streamlit's AppTest
# =============================================================================================


ENS = "views/ensembles.py"


SMALL_ENS = {"n_models": "4", "steps": "60", "student_steps": "60", "n_train": "150",
             "n_test": "200", "random_features": "false"}


def test_ensembles_page_draws_bars_views_and_curves():
    at = open_page(ENS, query=SMALL_ENS)
    assert at.slider(key="ens.n_models").value == 4
    assert at.selectbox(key="ens.dataset").value == "multi_view"
    assert at.toggle(key="ens.random_features").value is False
    # the other sliders hold their Config's defaults (a lookup by key raises when the key
    # is missing: compare the values instead)
    expected = {f"ens.{name}": getattr(Config(), name)
                for name in ("n_classes", "neurons", "rf_projections")}
    assert {key: at.slider(key=key).value for key in expected} == expected
    assert at.number_input(key="ens.steps").value == 60
    assert at.number_input(key="ens.student_steps").value == 60
    run_until_ended(at)
    assert "Done" in at.success[0].value
    # grouped bars, view heatmaps, accuracy curves, losses
    assert len(at.get("vega_lite_chart")) == 4
    assert metric(at, "Ensemble single-view accuracy").endswith("%")
    ensemble = metric(at, "Ensemble single-view accuracy")  # one decimal; the receipt rounds
    line = receipt_line(at)
    assert "% for the ensemble of 4" in line and "equal-budget hard-label network" in line
    assert f"{round(float(ensemble[:-1]))}% for the ensemble" in line
    table = at.dataframe[0].value
    assert list(table["model"]) == ["individual (mean)", "ensemble", "distilled",
                                    "self-distilled", "equal-budget control"]
    assert {"multi-view", "single-view"} <= set(table.columns)
    assert len(at.get("download_button")) == 3  # + the page's SVG button


def test_ensembles_gaussian_mixture_preset():
    at = open_page(ENS, query=SMALL_ENS)
    at.button(key="ens.preset.No views: Gaussian mixture").click().run()
    assert at.selectbox(key="ens.dataset").value == "gaussian_mixture"
    at.slider(key="ens.n_models").set_value(3).run()
    at.number_input(key="ens.steps").set_value(40).run()
    at.toggle(key="ens.random_features").set_value(False).run()
    run_until_ended(at)
    assert not at.exception
    assert metric(at, "Ensemble accuracy").endswith("%")
    assert "the paper's mechanism does not apply" in receipt_line(at)
    # no views on a Gaussian mixture: bars and two curves, no heatmap
    assert len(at.get("vega_lite_chart")) == 3
    assert list(at.dataframe[0].value.columns) == ["model", "accuracy"]


def test_ensembles_bad_link_is_refused():
    at = open_page(ENS, query={**SMALL_ENS, "temperature": "50"})
    assert any("'temperature' must be a float in [0.5, 10]" in w.value for w in at.warning)
    assert at.slider(key="ens.temperature").value == pytest.approx(2.0)


# =============================================================================================
# Browser: the page in a real Chromium against a real server
# =============================================================================================


def test_ensembles_in_a_browser(server):
    with browser_page() as page:
        page.goto(f"{server.url}/ensembles?n_models=4&steps=60&student_steps=60&n_train=150"
                  "&n_test=200&random_features=false")
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=120_000)
        wait_charts(page, 4)
        assert page.get_by_text("Ensemble single-view accuracy").count() == 1
        assert page.get_by_text("Which view of each class each network learned").count() >= 1
        assert page.locator('[data-testid="stException"]').count() == 0
