"""The first page's claims, with numbers."""
import numpy as np
import pytest

from core import backprop, runs
from core.experiments.gradient_descent import GRID, Config


@pytest.fixture(scope="module")
def default_run():
    return runs.run_sync("gradient_descent", Config())


def test_defaults_learn_moons_and_the_loss_falls(default_run):
    assert default_run.status == "done"
    s = default_run.summary
    assert s["test_accuracy"] >= 0.95
    assert s["train_accuracy"] >= 0.95
    steps, losses = default_run.metrics["train_loss"]
    assert steps[0] == 1 and steps[-1] == Config().steps
    assert losses[-1] < 0.2 * losses[0]
    assert s["final_test_loss"] < 0.2 * default_run.metrics["test_loss"][1][0]
    assert s["steps_done"] == Config().steps and s["diverged"] is False


def test_snapshots_hold_what_the_page_draws(default_run):
    snaps = default_run.snapshots
    assert snaps["boundary"]["prob"].shape == (GRID, GRID)
    prob = snaps["boundary"]["prob"]
    assert 0.0 <= prob.min() < 0.1 and 0.9 < prob.max() <= 1.0  # both classes claimed
    n = len(snaps["data"]["label"])
    assert snaps["embedding"]["xy"].shape == (n, 2)
    # The embeddings separate the classes: the class means lie far apart compared
    # with the spread inside each class.
    xy, label = snaps["embedding"]["xy"], snaps["data"]["label"]
    gap = np.linalg.norm(xy[label == 0].mean(0) - xy[label == 1].mean(0))
    spread = max(xy[label == 0].std(0).sum(), xy[label == 1].std(0).sum())
    assert gap > spread
    assert {f"grad_norm_layer{i}" for i in (1, 2, 3)} <= set(default_run.metrics)


def test_same_config_gives_the_same_summary(default_run):
    again = runs.run_sync("gradient_descent", Config())
    assert again.summary == default_run.summary


def test_plain_sgd_with_lr_10_diverges_with_a_hint():
    run = runs.run_sync("gradient_descent", Config(optimizer="sgd", lr=10.0, steps=300))
    assert run.status == "diverged"
    assert run.summary["diverged"] is True
    assert "lower the learning rate" in run.error.lower()


def test_a_small_learning_rate_does_not_diverge():
    run = runs.run_sync("gradient_descent", Config(optimizer="sgd", lr=0.3, steps=300))
    assert run.status == "done"
    steps, losses = run.metrics["train_loss"]
    assert losses[-1] < losses[0]


def test_a_linear_model_cannot_solve_xor_but_a_hidden_layer_can():
    linear = runs.run_sync("gradient_descent", Config(dataset="xor", hidden_layers=0))
    deep = runs.run_sync("gradient_descent", Config(dataset="xor"))
    assert linear.summary["test_accuracy"] < 0.75
    assert deep.summary["test_accuracy"] > 0.9
    assert "embedding" not in linear.snapshots


def test_minibatches_and_other_settings_run():
    run = runs.run_sync("gradient_descent", Config(
        dataset="circles", batch_size=32, optimizer="momentum", lr=0.05, activation="tanh",
        loss="mse", weight_decay=1e-3, steps=400))
    assert run.status == "done"
    assert run.summary["test_accuracy"] > 0.9


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_chain_rule_matches_autograd_and_finite_differences(activation, loss):
    p = backprop.tiny_params(3)
    x, y = np.array([0.7, -0.4]), 1.0
    result = backprop.chain_rule(p, x, y, activation, loss)
    assert result["max_rel_error"] < 1e-6
    for row in result["gradients"]:
        assert row["by hand"] == pytest.approx(row["autograd"], rel=1e-9, abs=1e-15)
        assert row["finite difference"] == pytest.approx(row["autograd"], rel=1e-5, abs=1e-9)
    assert result["loss"] == pytest.approx(backprop.loss_of(p, x, y, activation, loss))


def test_one_small_step_lowers_the_loss_on_that_point():
    p = backprop.tiny_params(0)
    x, y = np.array([0.3, 0.9]), 0.0
    result = backprop.chain_rule(p, x, y, "tanh", "cross_entropy")
    after = backprop.take_step(p, result["grads"], 0.1)
    assert backprop.loss_of(after, x, y, "tanh", "cross_entropy") < result["loss"]
    assert after["b2"] == pytest.approx(p["b2"] - 0.1 * result["grads"]["b2"])


def test_grad_check_is_in_the_summary(default_run):
    assert default_run.summary["grad_check_max_rel_error"] < 1e-6
