"""The Gradient descent & backprop page: its science, AppTest and browser tests, in three
sections in that order."""
import re
import time

import numpy as np
import pytest

from core import backprop, engine
from core.experiments.gradient_descent import EXPERIMENT as GD
from core.experiments.gradient_descent import GRID, Config
from tests.apptest_support import (fresh_registry, open_page, receipt_line,  # noqa: F401
                                    run_until_ended)
from tests.browser import browser_page, wait_charts


# =============================================================================================
# Science: the page's claims, with numbers
# =============================================================================================


@pytest.fixture(scope="module")
def default_run():
    return engine.run_sync("gradient_descent", Config())


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
    again = engine.run_sync("gradient_descent", Config())
    assert again.summary == default_run.summary


def test_plain_sgd_with_lr_10_diverges_with_a_hint():
    run = engine.run_sync("gradient_descent", Config(optimizer="sgd", lr=10.0, steps=300))
    assert run.status == "diverged"
    assert run.summary["diverged"] is True
    assert "lower the learning rate" in run.error.lower()


def test_a_small_learning_rate_does_not_diverge():
    run = engine.run_sync("gradient_descent", Config(optimizer="sgd", lr=0.3, steps=300))
    assert run.status == "done"
    steps, losses = run.metrics["train_loss"]
    assert losses[-1] < losses[0]


def test_a_linear_model_cannot_solve_xor_but_a_hidden_layer_can():
    linear = engine.run_sync("gradient_descent", Config(dataset="xor", hidden_layers=0))
    deep = engine.run_sync("gradient_descent", Config(dataset="xor"))
    assert linear.summary["test_accuracy"] < 0.75
    assert deep.summary["test_accuracy"] > 0.9
    assert "embedding" not in linear.snapshots


def test_minibatches_and_other_settings_run():
    run = engine.run_sync("gradient_descent", Config(
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


def test_the_receipt_follows_the_gradient_check_and_the_loss(default_run):
    s = default_run.summary
    assert s["first_train_loss"] == pytest.approx(default_run.metrics["train_loss"][1][0],
                                                  rel=0.2)
    real = GD.receipt(Config(), s)
    assert real.holds is True
    assert real.live.startswith(f"the chain rule matches autograd to a relative "
                                f"{s['grad_check_max_rel_error']:.0e}; training loss "
                                f"{s['first_train_loss']:.3g} → {s['final_train_loss']:.3g}")

    def edited(**changes):
        return GD.receipt(Config(), {**s, **changes})

    off = edited(grad_check_max_rel_error=1e-3)
    assert off.holds is False and "the hand-computed gradient is off" in off.live
    flat = edited(final_train_loss=s["first_train_loss"] * 2)
    assert flat.holds is False and "the loss did not fall" in flat.live
    blown = edited(diverged=True)
    assert blown.holds is None and "diverged" in blown.live


# =============================================================================================
# AppTest: the page through Streamlit's AppTest
# =============================================================================================


def test_gradient_descent_page_shows_controls_and_streams_charts():
    at = open_page("views/gradient_descent.py")
    # (a lookup by key raises when the key is missing: compare the keys instead)
    assert [w.key for w in at.selectbox] == ["gd.dataset", "gd.activation", "gd.loss",
                                             "gd.optimizer"]
    assert {"gd.hidden_layers", "gd.width", "gd.noise", "gd.test_fraction"} <= \
        {w.key for w in at.slider}
    assert at.select_slider(key="gd.lr").value == pytest.approx(0.01)
    assert at.number_input(key="gd.steps").value == 1000
    run_until_ended(at)
    assert "Done" in at.success[0].value
    assert len(at.get("vega_lite_chart")) == 5  # loss, accuracy, boundary, embedding, grads
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Train loss", "Test loss", "Train accuracy", "Test accuracy"]
    assert float(at.metric[3].value.rstrip("%")) >= 95.0
    assert len(at.get("download_button")) == 3  # + the page's SVG button
    # The chain-rule tables: forward values and one row per weight.
    forward, backward = at.dataframe[0].value, at.dataframe[1].value
    assert list(forward["quantity"])[-1] == "loss"
    assert len(backward) == 9
    assert (abs(backward["by hand"] - backward["autograd"]) < 1e-9).all()
    line = receipt_line(at)
    assert "This run: the chain rule matches autograd" in line and "test accuracy" in line
    assert "Reproduced in this run" in line


def test_a_preset_sets_its_controls():
    at = open_page("views/gradient_descent.py")
    at.button(key="gd.preset.XOR defeats a line").click().run()
    assert at.selectbox(key="gd.dataset").value == "xor"
    assert at.slider(key="gd.hidden_layers").value == 0
    assert at.query_params["dataset"] == ["xor"] or at.query_params["dataset"] == "xor"


def test_a_diverging_run_is_reported_as_such():
    at = open_page("views/gradient_descent.py")
    at.button(key="gd.preset.Too large a step").click().run()
    run_until_ended(at)
    assert not at.success
    assert any("diverged" in w.value.lower() and "learning rate" in w.value.lower()
               for w in at.warning)


def test_a_shared_link_restores_its_configuration():
    at = open_page("views/gradient_descent.py",
                   query={"dataset": "spiral", "width": "32", "lr": "0.03", "steps": "200"})
    assert at.selectbox(key="gd.dataset").value == "spiral"
    assert at.slider(key="gd.width").value == 32
    assert at.select_slider(key="gd.lr").value == pytest.approx(0.03)
    assert not at.warning


def test_a_bad_link_warns_and_falls_back_to_defaults():
    at = open_page("views/gradient_descent.py",
                   query={"lr": "20", "dataset": "banana", "steps": "200"})
    warnings = " ".join(w.value for w in at.warning)
    assert "'lr' must be a float in [0.0001, 10]" in warnings
    assert "'dataset' must be one of moons" in warnings
    assert at.select_slider(key="gd.lr").value == pytest.approx(0.01)
    assert at.selectbox(key="gd.dataset").value == "moons"
    assert at.number_input(key="gd.steps").value == 200
    run_until_ended(at)  # the warning stays while the link's configuration is on screen
    assert any("'lr' must be" in w.value for w in at.warning)
    at.selectbox(key="gd.dataset").select("circles").run()
    assert not any("'lr' must be" in w.value for w in at.warning)


def test_take_one_step_shows_the_loss_change():
    at = open_page("views/gradient_descent.py", query={"steps": "50"})
    before = at.dataframe[1].value.copy()
    step = next(b for b in at.button if b.label == "Take one step")
    step.click().run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "The last step" in text
    moved = at.dataframe[-1].value
    assert list(moved.columns) == ["weight", "before", "gradient", "−lr × gradient", "after"]
    assert (abs(moved["after"] - (moved["before"] + moved["−lr × gradient"])) < 1e-12).all()
    assert list(moved["before"]) == list(before["value"])


def test_cancel_stops_the_run_and_rerun_trains_it_again():
    at = open_page("views/gradient_descent.py", query={"steps": "20000", "seed": "5"})
    at.button(key="gd.cancel").click().run()
    deadline = time.monotonic() + 30
    while not any("Cancelled" in i.value for i in at.info):
        assert time.monotonic() < deadline, "the run was not cancelled"
        time.sleep(0.3)
        at.run()
    for _ in range(3):  # later reruns keep showing the cancelled run, not a new one
        time.sleep(0.3)
        at.run()
        assert any("Cancelled" in i.value for i in at.info)
    assert not engine.default_registry().active_runs()
    at.button(key="gd.rerun").click().run()
    assert len(engine.default_registry().active_runs()) == 1
    at.button(key="gd.cancel").click().run()


# =============================================================================================
# Browser: the page in a real Chromium against a real server
# =============================================================================================


PAGE = "/gradient_descent"


def progress_step(page) -> int | None:
    bar = page.locator('[data-testid="stProgress"]')
    if not bar.count():
        return None
    match = re.search(r"step ([\d,]+) of", bar.first.inner_text())
    return int(match.group(1).replace(",", "")) if match else None


def test_the_loss_chart_fills_in_while_training(server):
    with browser_page() as page:
        page.goto(f"{server.url}{PAGE}?steps=6000&seed=11")
        page.wait_for_selector('[data-testid="stProgress"]', timeout=60_000)
        page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=30_000)
        first = progress_step(page)
        assert first is not None, "the progress bar shows no step count"
        deadline = time.monotonic() + 30
        later = first
        done = '[data-testid="stAlertContentSuccess"]'
        while later == first and time.monotonic() < deadline:
            time.sleep(0.5)
            if page.locator(done).count():  # it finished between two looks: it moved
                later = 6_000
                break
            later = progress_step(page) or later
        assert later > first, "the progress did not move while the page was open"
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 2
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=120_000)
        assert "Done: 6,000 steps" in page.locator(
            '[data-testid="stAlertContentSuccess"]').inner_text()
        wait_charts(page, 5)
        assert page.locator('[data-testid="stException"]').count() == 0


def test_changing_a_control_starts_a_new_run(server):
    with browser_page() as page:
        page.goto(f"{server.url}{PAGE}?steps=3000&seed=21")
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=90_000)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Dataset").click()
        page.get_by_role("option", name="circles", exact=True).click()
        page.wait_for_url(re.compile(r"dataset=circles"), timeout=30_000)
        # the new run shows up training (its progress bar), then done
        page.wait_for_selector('[data-testid="stProgress"]', timeout=60_000)
        page.wait_for_function(
            "() => document.body.innerText.includes('--set dataset=circles')", timeout=30_000)
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=90_000)
        success = page.locator('[data-testid="stAlertContentSuccess"]').inner_text()
        assert "Done: 3,000 steps" in success and "from the cache" not in success
        assert page.locator('[data-testid="stException"]').count() == 0


def test_a_shared_url_restores_its_configuration(server):
    with browser_page() as page:
        page.goto(f"{server.url}{PAGE}?dataset=xor&hidden_layers=0&steps=200")
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=90_000)
        dataset = page.locator('[data-testid="stSelectbox"]').filter(has_text="Dataset")
        assert "xor" in dataset.inner_text() + dataset.locator("input").first.input_value()
        # A direct link opens the page inside the app: its navigation and sidebar.
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "Foundations" in sidebar and "Training on" in sidebar
        layers = page.locator('[data-testid="stSlider"]').filter(has_text="Hidden layers")
        assert layers.locator('[data-testid="stSliderThumbValue"]').inner_text() == "0"
        page.wait_for_function(
            "() => document.body.innerText.includes('--set dataset=xor --set hidden_layers=0')",
            timeout=60_000)


def test_a_bad_url_warns_and_the_page_keeps_working(server):
    with browser_page() as page:
        page.goto(f"{server.url}{PAGE}?lr=50&steps=100")
        page.wait_for_function(
            "() => document.body.innerText.includes(\"'lr' must be a float in [0.0001, 10]\")",
            timeout=90_000)
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=90_000)
        assert page.locator('[data-testid="stException"]').count() == 0


def test_a_link_trains_its_own_settings_while_the_live_view_ticks(server):
    """A new run's live view looks every 0.4 s from the page's first draw, while the
    browser is still setting up the controls. A control's default used to be its lowest
    value, and a look sent in between carried it back: the page then trained 1 step of a
    model with no hidden layer instead of the link's (about every second load here)."""
    with browser_page() as page:
        for seed in (31, 32, 33):
            page.goto(f"{server.url}{PAGE}?hidden_layers=3&steps=2500&seed={seed}")
            page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=90_000)
            assert "Done: 2,500 steps" in page.locator(
                '[data-testid="stAlertContentSuccess"]').inner_text()
            assert f"--set hidden_layers=3 --set steps=2500 --set seed={seed}" in \
                page.locator('[data-testid="stMain"]').inner_text()


def test_the_decision_boundary_is_one_picture_the_right_way_up(default_run):
    """P(class 1) is drawn as one PNG, not 2,500 rectangles: a fraction of the spec to
    send on every redraw. Its top row must be the plane's top: where the model says
    class 1 the picture is red, where it says class 0 blue."""
    import base64
    import io
    import json

    from PIL import Image

    from core.charts import base
    from core.charts import gradient_descent as charts

    snaps = default_run.view().snapshots
    d, b = snaps["data"], snaps["boundary"]
    points = base.points_frame(d["x"], d["label"], d["split"])
    spec = charts.decision_boundary(b["xs"], b["ys"], b["prob"], points, "t").to_dict()
    assert len(json.dumps(spec)) < 60_000
    (url,) = [row["url"] for rows in spec["datasets"].values() for row in rows if "url" in row]
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert picture.shape == (GRID, GRID, 4)
    # grid cell (row i along ys, column j along xs) is picture row GRID-1-i
    prob = np.asarray(b["prob"])
    upright = picture[::-1].astype(int)
    redder = upright[..., 0] > upright[..., 2]
    assert (prob > 0.8).sum() > 100 and (prob < 0.2).sum() > 100  # both classes in view
    assert redder[prob > 0.8].all() and not redder[prob < 0.2].any()
    assert {"x", "x2", "y", "y2"} <= {k for layer in spec["layer"]
                                      for k in layer.get("encoding", {})}
