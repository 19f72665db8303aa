"""The cost bound (core.cost): every experiment estimates its run time from its settings,
the server refuses a configuration over LAB_MAX_RUN_SECONDS naming the setting to lower
(and a value that fits), a cached result is served whatever its cost, and the command
line is not bound. How close the estimates come to measured times: bench/costs.py."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from core import cost, engine, experiments, params
from tests.apptest_support import fresh_registry, open_page  # noqa: F401

NAMES = experiments.names()
ROOT = __file__.rsplit("/tests/", 1)[0]


def grown(exp, spec, config=None):
    """`config` (the defaults) with `spec` at its high bound (a list gains its high
    bound as one more entry); None when a rule refuses that."""
    config = config or exp.Config()
    value = getattr(config, spec.name)
    high = (tuple(value) + (type(value[0])(spec.high),) if isinstance(value, tuple)
            else int(spec.high) if spec.kind == "int" else spec.high)
    try:
        return params.check_rules(dataclasses.replace(config, **{spec.name: high}))
    except params.ParamError:
        return None


@pytest.mark.parametrize("name", NAMES)
def test_every_experiment_declares_a_cost_its_defaults_and_small_settings_fit(name):
    exp = experiments.get(name)
    assert isinstance(exp.cost, cost.Cost), f"{name} declares no cost"
    default = cost.estimate(exp, exp.Config())
    assert default == pytest.approx(exp.cost.seconds)
    assert default < cost.DEFAULT_MAX_RUN_SECONDS / 5
    small = params.validate(exp.Config(**{k: tuple(v) if isinstance(v, list) else v
                                          for k, v in exp.small.items()}))
    assert cost.estimate(exp, small) <= default
    assert cost.check(exp, exp.Config()) is None


EFFORT = ("steps", "mv_steps", "student_steps", "steps_max", "coord_steps", "width",
          "widths", "epochs", "seeds", "seeds_per_sparsity", "budget", "n_train",
          "train_size", "train_sizes", "restarts", "trials", "n_models", "n_lrs", "depth",
          "conv_channels", "primary_maps", "n_features", "modulus", "dimension")


@pytest.mark.parametrize("name", [n for n in NAMES if n != "tree_bins"])  # its Config's
def test_the_estimate_grows_with_every_field_that_adds_work(name):  # steps are the net's
    exp = experiments.get(name)
    # the isoFLOP check's budget costs only when the check is asked for
    base = dataclasses.replace(exp.Config(), check=True) if name == "isoflop" else exp.Config()
    default = cost.estimate(exp, base)
    checked = 0
    for spec in params.specs(exp.Config):
        if spec.name not in EFFORT:
            continue
        config = grown(exp, spec, base)
        if config is None or getattr(config, spec.name) == getattr(base, spec.name):
            continue
        assert cost.estimate(exp, config) > default, spec.name
        checked += 1
    if name != "chinchilla_law":
        assert checked, f"{name}: no effort field was checked"


def test_the_refusal_names_the_setting_to_lower_and_a_value_that_fits():
    exp = experiments.get("grokking")
    config = dataclasses.replace(exp.Config(), steps=50_000)
    limit = 60.0
    message = cost.check(exp, config, limit)
    assert message is not None
    assert "steps = 50000" in message and "LAB_MAX_RUN_SECONDS" in message
    assert "`steps`" in message.markdown
    fitting = int(message.split("to at most ")[1].split(".")[0])
    assert exp.Config().steps <= fitting < 50_000
    assert cost.estimate(exp, dataclasses.replace(config, steps=fitting)) <= limit
    assert cost.estimate(exp, dataclasses.replace(config, steps=int(fitting * 1.1))) > limit
    assert "python -m core run grokking --set steps=50000" in message


def test_the_culprit_is_the_field_that_costs_most():
    exp = experiments.get("grokking")
    # 2x the steps, 8x the width: the width is the one to lower
    config = dataclasses.replace(exp.Config(), steps=8000, width=1024)
    assert cost.culprit(exp, config) == "width"
    config = dataclasses.replace(exp.Config(), steps=40_000, width=256)
    assert cost.culprit(exp, config) == "steps"


@pytest.mark.parametrize("text, expected", [("", 600.0), ("120", 120.0), ("0", 0.0),
                                            ("off", 0.0), ("nan", 600.0), ("-5", 600.0),
                                            ("soon", 600.0)])
def test_max_run_seconds_reads_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv("LAB_MAX_RUN_SECONDS", text)
    assert cost.max_run_seconds() == expected


def test_the_server_refuses_a_long_run_but_serves_it_from_the_cache(tmp_path):
    exp = experiments.get("gradient_descent")
    config = dataclasses.replace(exp.Config(), steps=2000)
    limit = cost.estimate(exp, config) / 2
    registry = engine.Registry(workers=1, cache_dir=str(tmp_path), mode="thread",
                               max_run_seconds=limit)
    try:
        with pytest.raises(engine.TooLong) as refused:
            registry.start("gradient_descent", config, owner="s:p")
        assert "`steps`" in refused.value.message.markdown
        assert registry.trainings_started == 0 and not registry.active_runs()
        # what the command line (unbound) trained and cached is served to the page
        unbound = engine.Registry(workers=1, cache_dir=str(tmp_path), mode="thread",
                                  max_run_seconds=0)
        try:
            run = unbound.start("gradient_descent", config)
            assert run.wait(120) and run.status == engine.DONE
        finally:
            unbound.shutdown()
        served = registry.start("gradient_descent", config, owner="s:p")
        assert served.status == engine.DONE and registry.trainings_started == 0
    finally:
        registry.shutdown()


def test_the_command_line_is_not_bound(tmp_path):
    env = dict(os.environ, LAB_MAX_RUN_SECONDS="0.001", LAB_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "core", "run", "gradient_descent",
                           "--set", "steps=30"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"steps_done": 30' in done.stdout


def test_the_page_says_what_to_lower_and_keeps_working(monkeypatch):
    monkeypatch.setenv("LAB_MAX_RUN_SECONDS", "60")
    engine.reset_default_registry()
    at = open_page("views/grokking.py", query={"steps": "50000"})
    refusals = [w.value for w in at.warning if "LAB_MAX_RUN_SECONDS" in w.value]
    assert refusals and "`steps`" in refusals[0]
    assert "python -m core run grokking" in refusals[0]
    assert not at.exception and not engine.default_registry().active_runs()
    # back to a setting that fits: the run starts
    at.query_params.clear()
    at.session_state["gk.steps"] = 4000
    at.run()
    assert not at.exception
    assert not [w for w in at.warning if "LAB_MAX_RUN_SECONDS" in w.value]
    for run in engine.default_registry().active_runs():
        run.cancel()
