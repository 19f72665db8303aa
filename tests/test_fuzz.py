"""Property-based fuzzing of every experiment's declared fields, through the CLI parser
(`params.build` on `--set` text) and the URL parser (`params.from_query`).

Each case changes one to three fields of one experiment (on top of its `small`
settings) to generated text: valid values drawn inside the bounds, values just or far
outside them, NaN, inf, huge integers, unicode, empty text, junk in lists, unknown
field names. The oracle: a refusal names a field that was given; an accepted Config
holds only declared values (finite, in bounds, no signed zero, every rule true) and
trains to the end without an exception. Identical accepted Configs train once.
"""
from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings, strategies as st

from core import engine, experiments, params

NAMES = experiments.names()
JUNK = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "", " ", ",",
        "1,,2", ",,", "--1", "0x10", "1e", "e1", "true", "none", "null", "∞", "١٢", "🙂",
        "9" * 400, "-9" * 30, "-0", "1_0", "0.5.5", "1;2", "[1]", "'1'", "\x00", "\n1",
        "%20", "1 2", "٣,٤"]
# fields that set how much work a run does: drawn near their cheap end, so that a
# thousand cases train in about a minute (their bounds are the contract test's job)
EFFORT = ("steps", "trials", "n_patterns_max", "shown_patterns", "n_test", "n_train",
          "train_size", "n_samples", "width", "batch_size", "n_features", "seeds",
          "budget", "epochs", "iterations", "rounds", "pool", "n_models", "widths")
RAN: dict[str, str] = {}  # cache key -> status: each distinct accepted Config trains once
SEEN = {"accepted": 0, "refused": 0, "warned": 0}


def _effort(name: str) -> bool:
    return any(name == e or name.endswith("_" + e) or name.startswith(e) for e in EFFORT)


def number_text(spec: params.Spec, exp: experiments.Experiment) -> st.SearchStrategy[str]:
    """Numbers inside the bounds (effort fields kept near their cheap end), just and far
    outside them, as the CLI or a URL would carry them."""
    integer = spec.kind in ("int", "int_list")
    low, high = spec.low, spec.high
    if _effort(spec.name):
        cheap = exp.small.get(spec.name, low)
        cheap = min(cheap) if isinstance(cheap, (list, tuple)) else cheap
        high = min(high, max(low, cheap) * 2 if low > 0 else max(cheap, 2))
    inside = (st.integers(int(low), int(high)) if integer else
              st.floats(low, high, allow_nan=False, allow_infinity=False))
    span = (spec.high - spec.low) or 1
    outside = st.sampled_from([spec.low - span, spec.high + span, spec.low - 1, spec.high + 1,
                               -(10 ** 30), 10 ** 30])
    value = st.one_of(inside, inside, inside, outside)
    return value.map(params.format_value)


def field_text(spec: params.Spec, exp: experiments.Experiment) -> st.SearchStrategy[str]:
    if spec.kind == "choice":
        good = st.sampled_from(spec.choices)
    elif spec.kind == "bool":
        good = st.sampled_from(["true", "false", "True", " false "])
    elif spec.kind in ("int", "float"):
        good = number_text(spec, exp)
    else:
        item = number_text(spec, exp)
        good = st.lists(st.one_of(item, item, item, st.sampled_from(JUNK)), min_size=0,
                        max_size=min(spec.max_items + 1, 4)).map(",".join)
    return st.one_of(good, good, good, good, st.sampled_from(JUNK), st.text(max_size=12))


@st.composite
def cases(draw):
    name = draw(st.sampled_from(NAMES))
    exp = experiments.get(name)
    specs = params.specs(exp.Config)
    chosen = draw(st.lists(st.sampled_from(specs), min_size=1, max_size=3,
                           unique_by=lambda s: s.name))
    values = {spec.name: draw(field_text(spec, exp)) for spec in chosen}
    if draw(st.integers(0, 9)) == 0:  # now and then a field that does not exist
        values[draw(st.sampled_from(["momentum", "lr2", "Steps", "", "🙂", "__class__"]))] = "1"
    return exp, values


def declared(spec: params.Spec, value) -> bool:
    """What an experiment may receive for this field, checked without the parser."""
    if spec.kind == "choice":
        return value in spec.choices
    if spec.kind == "bool":
        return isinstance(value, bool)
    items = value if spec.kind.endswith("_list") else (value,)
    if spec.kind.endswith("_list") and not 1 <= len(items) <= spec.max_items:
        return False
    for v in items:
        if spec.kind.startswith("int") and not (isinstance(v, int) and not isinstance(v, bool)):
            return False
        if spec.kind.startswith("float") and not (
                isinstance(v, float) and math.isfinite(v) and math.copysign(1.0, v) > 0):
            return False
        if not spec.low <= v <= spec.high:
            return False
    return True


def check_accepted(exp: experiments.Experiment, config) -> None:
    for spec in params.specs(exp.Config):
        assert declared(spec, getattr(config, spec.name)), (spec.name, getattr(config, spec.name))
    assert all(r.holds(config) for r in params.rules(exp.Config))
    key = params.cache_key(exp.name, exp.version, config)
    if key not in RAN:
        view = engine.run_sync(exp, config).view()
        RAN[key] = view.status
        assert view.status in (engine.DONE, engine.DIVERGED), (config, view.error)


@settings(max_examples=1000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_cli_and_url_text_is_refused_naming_a_field_or_runs(case):
    exp, values = case
    small = {k: params.format_value(tuple(v) if isinstance(v, list) else v)
             for k, v in exp.small.items()}
    text = {**small, **values}
    # the CLI path: refuse, naming a field that was given, or build a Config that runs
    unknown = set(text) - {s.name for s in params.specs(exp.Config)}
    try:
        config = params.build(exp.Config, text)
    except params.ParamError as err:
        assert err.field in text, (err.field, text)
        assert (err.field in unknown) == bool(unknown)  # an unknown name is refused first
        assert "\n" not in str(err) and len(str(err)) < 1000
        SEEN["refused"] += 1
        cli = None
    else:
        check_accepted(exp, config)
        SEEN["accepted"] += 1
        cli = config
    # the URL path: never raises; bad values become defaults with one warning each
    config, warnings = params.from_query(exp.Config, text)
    for spec in params.specs(exp.Config):
        assert declared(spec, getattr(config, spec.name))
    assert all(r.holds(config) for r in params.rules(exp.Config))
    if cli is not None:
        assert config == cli and warnings == []
    elif not unknown:  # (a link ignores names that are not fields: other state)
        assert warnings, "a refused CLI value must warn in a link too"
        SEEN["warned"] += 1
        for w in warnings:
            assert w.markdown and "\n" not in w.markdown


def test_the_fuzzing_above_met_both_outcomes_on_every_experiment():
    """Guards the generator: a fuzz test that only ever refused (or only accepted) would
    prove nothing."""
    assert SEEN["accepted"] >= 200 and SEEN["refused"] >= 200 and SEEN["warned"] >= 100, SEEN
    ran = {key for key in RAN}
    assert len(ran) >= 100, len(ran)
