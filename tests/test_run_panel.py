"""ui/run_panel.py: the pace of the live fragment (quick while a run that is starting
waits for its first points, calm while it trains or waits behind others, off once it
ended; bench/latency.py part (a') measures what this buys), and the files a finished
run's download buttons hand over."""
from __future__ import annotations

import csv
import io
import json

import pytest

from core import engine
from core.experiments.gradient_descent import Config
from ui.run_panel import FIRST_POINTS_EVERY, LIVE_EVERY, metrics_csv, redraw_every, summary_json

POINTS = {"loss": ([1], [0.5])}


def view(status: str, metrics: dict | None = None, queue_position: int | None = None):
    return engine.RunView(key="k", experiment="gradient_descent", config=None,
                          status=status, step=0, total=None, elapsed=0.0, device="cpu",
                          error=None, summary=None, metrics=metrics or {}, snapshots={},
                          queue_position=queue_position, from_cache=False)


def test_a_run_just_started_is_watched_closely_even_before_a_worker_takes_it():
    # the page's first look usually finds its new run still at the head of the queue
    assert redraw_every(view(engine.QUEUED, queue_position=1)) == FIRST_POINTS_EVERY
    assert redraw_every(view(engine.RUNNING)) == FIRST_POINTS_EVERY
    # taken off the queue by a worker, not yet marked running
    assert redraw_every(view(engine.QUEUED, queue_position=None)) == FIRST_POINTS_EVERY


def test_a_run_behind_others_or_one_with_points_redraws_calmly():
    assert redraw_every(view(engine.QUEUED, queue_position=2)) == LIVE_EVERY
    assert redraw_every(view(engine.RUNNING, POINTS)) == LIVE_EVERY
    assert FIRST_POINTS_EVERY < LIVE_EVERY


@pytest.mark.parametrize("status", (engine.DONE, engine.DIVERGED, engine.FAILED, engine.CANCELLED))
def test_an_ended_run_is_not_redrawn(status):
    assert redraw_every(view(status, POINTS)) is None


def test_the_downloads_hold_every_logged_step_and_the_command_that_trains_it_again():
    run = engine.run_sync("gradient_descent", Config(steps=40, seed=3))
    done = run.view()
    rows = list(csv.DictReader(io.StringIO(metrics_csv(done))))
    steps, losses = done.metrics["train_loss"]
    assert [int(float(r["step"])) for r in rows] == steps  # one row per logged step
    assert {"train_loss", "test_accuracy"} <= set(rows[0])
    assert float(rows[-1]["train_loss"]) == pytest.approx(losses[-1])
    record = json.loads(summary_json(done))
    assert record["status"] == engine.DONE and record["config"]["steps"] == 40
    assert record["cli"].startswith("python -m core run gradient_descent")
    assert "--set seed=3" in record["cli"] and "--set steps=40" in record["cli"]
    assert metrics_csv(view(engine.FAILED)) == "step\n"  # a run that logged nothing
