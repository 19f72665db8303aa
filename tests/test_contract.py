"""The contract every registered experiment keeps, in the spirit of scikit-learn's
`check_param_validation`: declared defaults are valid, values just outside the bounds are
refused naming the field, URL and CLI text round-trip to the same Config and cache key,
every field at its low and its high bound runs (others at the experiment's `small`
settings), the same Config gives the identical summary, and the summary is JSON.

The high bound of a field that only makes a run longer (steps and the like) can take
minutes; those cases are marked `slow` and run with `make test-slow`.
"""
from __future__ import annotations

import dataclasses
import json

import pytest

from core import cost, engine, experiments, params

NAMES = experiments.names()
# fields whose high bound only makes a run much longer (a loop count, a hidden width):
# their high-bound runs take from seconds to minutes, so they are marked slow
EFFORT = ("steps", "width", "epochs", "iterations", "rounds", "budget")


def small_config(exp: experiments.Experiment, **changes):
    values = {**exp.small, **changes}
    return params.validate(exp.Config(**{k: tuple(v) if isinstance(v, list) else v
                                         for k, v in values.items()}))


def bound_cases():
    for name in NAMES:
        exp = experiments.get(name)
        for spec in params.specs(exp.Config):
            if spec.kind == "choice":
                values = [(c, c) for c in spec.choices]
            elif spec.kind == "bool":
                values = [("true", True), ("false", False)]
            elif spec.kind in ("int", "float"):
                values = [("low", spec.low), ("high", spec.high)]
            else:
                values = [("low", [spec.low]), ("high", [spec.high]),
                          ("longest", [spec.low, spec.high] * (spec.max_items // 2)
                           + [spec.low] * (spec.max_items % 2))]
            for label, value in values:
                slow = label in ("high", "longest") and any(
                    spec.name == e or spec.name.endswith("_" + e) or
                    spec.name.startswith(e) for e in EFFORT)
                marks = [pytest.mark.slow] if slow else []
                yield pytest.param(name, spec.name, value,
                                   id=f"{name}-{spec.name}-{label}", marks=marks)


def outside_values(spec: params.Spec):
    """Values just outside what the declaration accepts."""
    if spec.kind == "choice":
        return ["not-" + spec.choices[0], ""]
    if spec.kind == "bool":
        return ["maybe", "1"]
    if spec.kind == "int":
        return [str(int(spec.low) - 1), str(int(spec.high) + 1), "1.5", "nan"]
    if spec.kind == "float":
        below = spec.low * 0.999 if spec.log else spec.low - max(abs(spec.low), 1) * 1e-6
        above = spec.high * 1.001 if spec.log else spec.high + max(abs(spec.high), 1) * 1e-6
        return [repr(below), repr(above), "nan", "inf"]
    low, high = params.format_value(spec.low), params.format_value(spec.high)
    below = str(int(spec.low) - 1) if spec.kind == "int_list" else repr(spec.low - 1e-6 * max(abs(spec.low), 1))
    return ["", f"{low},{below}", ",".join([high] * (spec.max_items + 1)), f"{low},x"]


@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_small_settings_are_inside_the_declared_bounds(name):
    exp = experiments.get(name)
    assert params.validate(exp.Config()) == exp.Config()
    small = small_config(exp)
    assert small != exp.Config() or not exp.small
    for spec in params.specs(exp.Config):
        assert spec.help.strip(), f"{name}.{spec.name} has no help line"


@pytest.mark.parametrize("name", NAMES)
def test_values_just_outside_the_bounds_are_refused_naming_the_field(name):
    exp = experiments.get(name)
    for spec in params.specs(exp.Config):
        for text in outside_values(spec):
            with pytest.raises(params.ParamError) as info:
                params.build(exp.Config, {spec.name: text})
            assert info.value.field == spec.name, (spec.name, text)
            assert f"'{spec.name}'" in str(info.value)
            # the URL path refuses the same value with the same words, and uses the default
            config, warnings = params.from_query(exp.Config, {spec.name: text})
            assert len(warnings) == 1 and warnings[0].startswith(str(info.value))
            assert getattr(config, spec.name) == getattr(exp.Config(), spec.name)


@pytest.mark.parametrize("name", NAMES)
def test_url_and_cli_text_round_trip_to_the_same_config_and_cache_key(name):
    exp = experiments.get(name)
    for config in (exp.Config(), small_config(exp)):
        query = params.to_query(config)
        from_url, warnings = params.from_query(exp.Config, query)
        from_cli = params.build(exp.Config, {k: params.format_value(v) for k, v in
                                             params.as_dict(config).items()})
        assert warnings == []
        assert from_url == from_cli == config
        key = params.cache_key(exp.name, exp.version, config)
        assert params.cache_key(exp.name, exp.version, from_url) == key
        assert params.cache_key(exp.name, exp.version, from_cli) == key


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_rule_is_refused_up_front_by_the_cli_path(name):
    """A rule across fields is checked before a run starts: build() refuses the broken
    combination naming a field of the rule, so the CLI exits 2, not 1."""
    exp = experiments.get(name)
    for rule in params.rules(exp.Config):
        assert set(rule.fields) <= {s.name for s in params.specs(exp.Config)}
        assert rule.holds(exp.Config()), f"{name}'s defaults break {rule.text!r}"


@pytest.mark.parametrize("name", NAMES)
def test_every_preset_is_declared_valid_and_fits_the_servers_bound(name, monkeypatch):
    """A preset is a page's button and a talk's step: it names declared fields only, its
    values pass the bounds and the rules, and the server (at its default bound) trains it."""
    monkeypatch.delenv("LAB_MAX_RUN_SECONDS", raising=False)
    exp = experiments.get(name)
    assert exp.presets, f"{name} offers nothing to try"
    fields = {s.name for s in params.specs(exp.Config)}
    labels = [p.label for p in exp.presets]
    assert len(labels) == len(set(labels)), f"{name} repeats a preset label"
    for preset in exp.presets:
        assert preset.label.strip() and preset.caption.strip() and "\n" not in preset.caption
        assert set(preset.values) <= fields, (name, preset.label, set(preset.values) - fields)
        config = preset.config(exp.Config)
        assert params.check_rules(config) == config
        # the URL text of the preset builds the same Config (its share link reopens it)
        assert params.build(exp.Config, params.to_query(config)) == config
        assert cost.check(exp, config) is None, (preset.label, cost.check(exp, config))


@pytest.mark.parametrize("name, field, value", list(bound_cases()))
def test_every_field_at_its_bounds_runs_without_an_exception(name, field, value):
    exp = experiments.get(name)
    try:
        config = small_config(exp, **{field: value})
    except params.ParamError as err:
        # the bound breaks a declared rule together with the small settings: it is refused
        # up front, naming a field of that rule (never a crash inside the run)
        broken = [r for r in params.rules(exp.Config) if err.field in r.fields]
        assert broken, f"{name}.{field}={value!r} refused without a rule: {err}"
        return
    run = engine.run_sync(exp, config)
    assert run.view().status in (engine.DONE, engine.DIVERGED), run.view().error
    if run.view().status == engine.DIVERGED:
        assert "diverged" in (run.view().error or "").lower()


@pytest.mark.parametrize("name", NAMES)
def test_the_same_config_gives_the_identical_json_summary(name):
    exp = experiments.get(name)
    config = small_config(exp)
    first, second = engine.run_sync(exp, config).view(), engine.run_sync(exp, config).view()
    assert first.status in (engine.DONE, engine.DIVERGED), first.error
    assert first.summary == second.summary
    text = json.dumps(first.summary, allow_nan=False)  # strict JSON: no NaN/inf either
    assert json.loads(text) == first.summary


def test_every_experiment_declares_small_settings_and_a_fresh_name():
    assert len(NAMES) == len(set(NAMES))
    for name in NAMES:
        exp = experiments.get(name)
        assert exp.small, f"{name} declares no small settings for quick checks"
        assert dataclasses.is_dataclass(exp.Config)
        assert exp.Config.__dataclass_params__.frozen
