"""The Grokking page: its science, AppTest and browser tests, in three sections in that
order. The science: on modular addition the training pairs are memorized early and the rule
found much later, and only with weight decay."""
import pytest
import torch

from core import engine
from core.experiments import grokking as gk
from tests.apptest_support import (fresh_registry, metric, open_page,  # noqa: F401
                                    receipt_line, run_until_ended)
from tests.browser import browser_page, wait_done


# =============================================================================================
# Science: the page's claims, with numbers
# =============================================================================================


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_train_accuracy_comes_long_before_test_accuracy():
    run = engine.run_sync("grokking", gk.Config(steps=2500))
    assert run.status == engine.DONE, run.error
    s = run.summary
    train, test = s["step_train_accuracy_99"], s["step_test_accuracy_99"]
    assert train is not None and test is not None
    assert test > 10 * train and test - train > 500
    assert s["final_test_accuracy"] >= 0.99 and s["final_train_accuracy"] >= 0.99
    # the hidden and read-out weights shrink between memorizing and generalizing
    curve = {c["step"]: c for c in s["weight_norm_curve"]}
    before = max(c for c in curve if c <= train + 100)
    after = max(curve)
    assert curve[after]["out"] < curve[before]["out"] or \
        curve[after]["hidden"] < curve[before]["hidden"]
    receipt = gk.EXPERIMENT.receipt(gk.Config(steps=2500), s)
    assert receipt.holds is True
    assert receipt.live.startswith(f"train 99 % at step {train:,}, test 99 % at step {test:,}")


def test_without_weight_decay_it_only_memorizes():
    run = engine.run_sync("grokking", gk.Config(steps=2500, weight_decay=0.0))
    s = run.summary
    assert s["final_train_accuracy"] >= 0.99
    assert s["step_test_accuracy_99"] is None and s["final_test_accuracy"] < 0.1
    receipt = gk.EXPERIMENT.receipt(gk.Config(steps=2500, weight_decay=0.0), s)
    assert receipt.holds is False and "test never reached 99 % in 2,500 steps" in receipt.live
    assert "weight decay 0;" in receipt.smaller


def test_the_receipt_says_when_the_wait_is_too_short_to_count():
    def made(train, test, steps=4000):
        return gk.EXPERIMENT.receipt(gk.Config(), {
            "step_train_accuracy_99": train, "step_test_accuracy_99": test,
            "steps_done": steps, "final_test_accuracy": 0.5})
    quick = made(40, 120)  # 3× later: no long wait
    assert quick.holds is False and "80 steps later (3× the time)" in quick.live
    assert made(30, 1500).holds is True and "1,470 steps later (50×" in made(30, 1500).live
    assert made(None, None).holds is None


# =============================================================================================
# AppTest: the page through Streamlit's AppTest
# =============================================================================================


GK = "views/grokking.py"


def test_grokking_page_draws_both_runs():
    at = open_page(GK, query={"steps": "300"})
    assert at.slider(key="gk.modulus").value == 67
    assert at.select_slider(key="gk.lr").value == pytest.approx(0.01)
    run_until_ended(at)
    assert len(at.success) == 2 and all("Done" in s.value for s in at.success)
    # accuracy, weight norms, loss; the weight-decay comparison
    assert len(at.get("vega_lite_chart")) == 4
    assert metric(at, "Train accuracy") == "100.0%"
    assert metric(at, "Train ≥ 99% at step") != "–"
    assert any("Memorized (train ≥ 99%) at step" in i.value for i in at.info)
    assert any("Without weight decay" in c.value for c in at.caption)
    line = receipt_line(at)  # the main run's, drawn once
    assert f"This run: train 99 % at step {metric(at, 'Train ≥ 99% at step')}" in line


def test_grokking_preset():
    at = open_page(GK, query={"steps": "100"})
    run_until_ended(at)
    at.button(key="gk.preset.No weight decay").click().run()
    assert not at.exception
    assert at.slider(key="gk.weight_decay").value == 0.0
    assert at.number_input(key="gk.steps").value == gk.Config().steps  # the rest: defaults
    # with weight decay 0 the comparison is the same run: one training, shown in both
    # places (the test does not wait the ~30 s for it to end)
    (run,) = engine.default_registry().active_runs()
    assert run.config == gk.Config(weight_decay=0.0)
    panels = [i.value for i in at.info if "queue" in i.value] + \
        [b.proto.text for b in at.get("progress")]
    assert len(panels) == 2, panels
    run.cancel()


# =============================================================================================
# Browser: the page in a real Chromium against a real server
# =============================================================================================


def test_grokking_in_a_browser(server):
    with browser_page() as page:
        page.goto(f"{server.url}/grokking?steps=300")
        wait_done(page, 2, 4)
        assert page.get_by_text("Train ≥ 99% at step", exact=True).count() == 1
        assert page.get_by_text("Without weight decay").count() >= 1
