"""Grokking on modular addition: memorized early, generalized much later, and only with
weight decay."""
import pytest
import torch

from core import runs
from core.experiments import grokking as gk


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_train_accuracy_comes_long_before_test_accuracy():
    run = runs.run_sync("grokking", gk.Config(steps=2500))
    assert run.status == runs.DONE, run.error
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


def test_without_weight_decay_it_only_memorizes():
    run = runs.run_sync("grokking", gk.Config(steps=2500, weight_decay=0.0))
    s = run.summary
    assert s["final_train_accuracy"] >= 0.99
    assert s["step_test_accuracy_99"] is None and s["final_test_accuracy"] < 0.1
