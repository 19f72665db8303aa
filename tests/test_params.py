"""core.params: declarations, text conversion, refusals, URL query text and cache keys."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pytest

from core import params
from core.params import ParamError, param


@dataclass(frozen=True)
class Cfg:
    steps: int = param(100, "Gradient steps.", low=1, high=1000)
    lr: float = param(0.03, "Step size.", low=1e-4, high=10, log=True, label="Learning rate")
    shuffle: bool = param(True, "Shuffle the batches.")
    optimizer: str = param("adam", "Which optimizer.", choices=("sgd", "adam"))
    widths: tuple[int, ...] = param([8, 8], "Hidden widths.", low=1, high=64, max_items=4)
    betas: tuple[float, ...] = param((0.0, 0.9), "Momenta.", low=0.0, high=1.0)


def refusal(field: str, value) -> str:
    with pytest.raises(ParamError) as info:
        params.build(Cfg, {field: value})
    assert info.value.field == field
    assert isinstance(info.value, ValueError)
    return str(info.value)


# --- declarations ---------------------------------------------------------------------

def test_specs_are_read_from_the_declarations_in_order():
    specs = params.specs(Cfg)
    assert [s.name for s in specs] == ["steps", "lr", "shuffle", "optimizer", "widths", "betas"]
    assert [s.kind for s in specs] == ["int", "float", "bool", "choice", "int_list", "float_list"]
    by_name = {s.name: s for s in specs}
    assert (by_name["lr"].low, by_name["lr"].high, by_name["lr"].log) == (1e-4, 10, True)
    assert by_name["steps"].log is False
    assert by_name["optimizer"].choices == ("sgd", "adam")
    assert by_name["widths"].max_items == 4
    assert by_name["lr"].title == "Learning rate"
    assert by_name["shuffle"].title == "Shuffle"
    assert by_name["lr"].allowed() == "a float in [0.0001, 10] (log scale)"
    assert by_name["widths"].allowed() == \
        "a comma-separated list of integers in [1, 64], 1 to 4 values"


def test_defaults_and_list_defaults_become_tuples():
    cfg = Cfg()
    assert (cfg.steps, cfg.lr, cfg.shuffle, cfg.optimizer) == (100, 0.03, True, "adam")
    assert cfg.widths == (8, 8) and isinstance(cfg.widths, tuple)
    assert cfg.betas == (0.0, 0.9)
    hash(cfg)  # frozen and hashable: no list inside


def test_kinds_from_real_type_objects_without_future_annotations():
    Real = dataclasses.make_dataclass("Real", [
        ("n", int, param(3, "n", low=0, high=9)),
        ("xs", tuple[float, ...], param((0.5,), "xs", low=0, high=1)),
        ("ks", tuple[int, ...], param((1,), "ks", low=0, high=9)),
        ("on", bool, param(False, "on")),
    ], frozen=True)
    assert [s.kind for s in params.specs(Real)] == ["int", "float_list", "int_list", "bool"]
    assert params.build(Real, {"xs": "0.25,1", "ks": "2,3"}).xs == (0.25, 1.0)


def test_undeclared_or_unsupported_fields_are_refused():
    @dataclass(frozen=True)
    class Plain:
        a: int = 1

    with pytest.raises(TypeError, match="Plain.a is not declared with param"):
        params.specs(Plain)

    @dataclass(frozen=True)
    class Text:
        name: str = param("x", "a free text")  # a str needs choices

    with pytest.raises(TypeError, match="'name': unsupported type 'str'"):
        params.specs(Text)


# --- build: conversion from text --------------------------------------------------------

def test_build_converts_text():
    cfg = params.build(Cfg, {"steps": "20", "lr": "0.5", "shuffle": "true",
                             "optimizer": " sgd ", "widths": "4, 16", "betas": "0,0.9,0.99"})
    assert cfg == Cfg(steps=20, lr=0.5, shuffle=True, optimizer="sgd", widths=(4, 16),
                      betas=(0.0, 0.9, 0.99))
    assert type(cfg.steps) is int and type(cfg.lr) is float
    assert all(type(v) is int for v in cfg.widths)
    assert all(type(v) is float for v in cfg.betas)


def test_build_converts_other_spellings_and_python_values():
    cfg = params.build(Cfg, {"steps": "20.0", "lr": 1, "shuffle": " FALSE ", "widths": [3],
                             "betas": (1, 0)})
    assert cfg.steps == 20 and type(cfg.steps) is int
    assert cfg.lr == 1.0 and type(cfg.lr) is float
    assert cfg.shuffle is False
    assert cfg.widths == (3,)
    assert cfg.betas == (1.0, 0.0)
    assert params.build(Cfg, {"steps": 7.0}).steps == 7
    assert params.build(Cfg) == Cfg()
    # the bounds themselves are allowed
    assert params.build(Cfg, {"lr": "0.0001"}).lr == 1e-4
    assert params.build(Cfg, {"lr": "10"}).lr == 10.0


# --- refusals ---------------------------------------------------------------------------

def test_out_of_range_float_names_field_range_and_value():
    assert refusal("lr", "20") == "'lr' must be a float in [0.0001, 10] (log scale); got '20'."
    assert refusal("lr", 0.00001) == \
        "'lr' must be a float in [0.0001, 10] (log scale); got '1e-05'."


def test_malformed_numbers_are_refused():
    assert refusal("lr", "abc") == "'lr' must be a float in [0.0001, 10] (log scale); got 'abc'."
    assert refusal("lr", "") .endswith("got ''.")
    assert refusal("lr", None).endswith("got 'None'.")
    assert refusal("lr", True).endswith("got 'true'.")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", float("nan"), float("inf")])
def test_nan_and_inf_are_refused(value):
    message = refusal("lr", value)
    assert message.startswith("'lr' must be a float in [0.0001, 10] (log scale); got ")


def test_int_fields_refuse_non_integers():
    assert refusal("steps", "2.5") == "'steps' must be an integer in [1, 1000]; got '2.5'."
    assert refusal("steps", 2.5) == "'steps' must be an integer in [1, 1000]; got '2.5'."
    assert refusal("steps", "0") == "'steps' must be an integer in [1, 1000]; got '0'."
    assert refusal("steps", "1001").endswith("got '1001'.")
    assert refusal("steps", "1e400").endswith("got '1e400'.")
    assert refusal("steps", "nan").endswith("got 'nan'.")
    assert refusal("steps", True).endswith("got 'true'.")


def test_bad_choice_and_bad_bool_are_refused():
    assert refusal("optimizer", "rmsprop") == \
        "'optimizer' must be one of sgd, adam; got 'rmsprop'."
    assert refusal("optimizer", 1) == "'optimizer' must be one of sgd, adam; got '1'."
    assert refusal("shuffle", "yes") == "'shuffle' must be true or false; got 'yes'."
    assert refusal("shuffle", 1) == "'shuffle' must be true or false; got '1'."


def test_lists_refuse_empty_too_long_and_bad_items():
    allowed = "'widths' must be a comma-separated list of integers in [1, 64], 1 to 4 values"
    assert refusal("widths", "") == f"{allowed}; got ''."
    assert refusal("widths", " , ") == f"{allowed}; got ' , '."
    assert refusal("widths", []) == f"{allowed}; got ''."
    assert refusal("widths", "1,2,3,4,5") == f"{allowed}; got '1,2,3,4,5'."
    assert refusal("widths", "8,100") == f"{allowed}; got '8,100'."
    assert refusal("widths", "8,x") == f"{allowed}; got '8,x'."
    assert refusal("widths", "8,2.5") == f"{allowed}; got '8,2.5'."
    assert refusal("betas", "0.5,nan").startswith("'betas' must be a comma-separated list "
                                                  "of floats in [0, 1], 1 to 32 values; got ")
    assert refusal("betas", "0.5,1.5").endswith("got '0.5,1.5'.")


def test_unknown_field_is_refused_with_the_known_ones():
    with pytest.raises(ParamError) as info:
        params.build(Cfg, {"momentum": "0.9", "lr": "0.1"})
    assert info.value.field == "momentum"
    assert str(info.value) == ("unknown field; got 'momentum'. Known fields: "
                               "steps, lr, shuffle, optimizer, widths, betas.")


def test_validate_checks_a_config_made_in_code():
    assert params.validate(Cfg(lr=0.5)) == Cfg(lr=0.5)
    with pytest.raises(ParamError, match=r"^'lr' must be a float in \[0.0001, 10\] "
                                         r"\(log scale\); got '20'\.$"):
        params.validate(Cfg(lr=20.0))
    with pytest.raises(ParamError, match="'widths'"):
        params.validate(Cfg(widths=()))


def test_validate_normalizes_values_so_equal_configs_share_a_key():
    made = params.validate(Cfg(lr=1, widths=[4, 8]))  # an int for a float, a list for a tuple
    assert type(made.lr) is float and made.widths == (4, 8) and isinstance(made.widths, tuple)
    hash(made)
    assert params.cache_key("e", 1, made) == params.cache_key("e", 1, Cfg(lr=1.0, widths=(4, 8)))
    floats_for_ints = params.validate(Cfg(widths=(4.0, 8.0), betas=(1, 0)))
    assert [type(v) for v in floats_for_ints.widths] == [int, int]
    assert [type(v) for v in floats_for_ints.betas] == [float, float]
    assert params.cache_key("e", 1, floats_for_ints) == \
        params.cache_key("e", 1, Cfg(widths=(4, 8), betas=(1.0, 0.0)))
    same = Cfg(lr=0.5)
    assert params.validate(same) is same  # nothing to convert: the same object


# --- URL query text ---------------------------------------------------------------------

def test_from_query_replaces_bad_values_by_defaults_with_warnings():
    cfg, warnings = params.from_query(Cfg, {"lr": "20", "steps": "50", "page": "other state",
                                            "shuffle": "maybe", "widths": "4,4"})
    assert cfg == Cfg(steps=50, widths=(4, 4))
    assert len(warnings) == 2
    lr_warning = next(w for w in warnings if w.startswith("'lr'"))
    assert lr_warning == ("'lr' must be a float in [0.0001, 10] (log scale); got '20'. "
                          "Using the default, 0.03.")
    shuffle_warning = next(w for w in warnings if w.startswith("'shuffle'"))
    assert shuffle_warning.endswith("got 'maybe'. Using the default, true.")
    assert params.from_query(Cfg, {}) == (Cfg(), [])


def test_to_query_lists_only_non_defaults():
    assert params.to_query(Cfg()) == {}
    assert params.to_query(Cfg(widths=(8, 8))) == {}  # equal to the list default
    assert params.to_query(Cfg(lr=0.5, widths=(4,), shuffle=False)) == \
        {"lr": "0.5", "shuffle": "false", "widths": "4"}


@pytest.mark.parametrize("config", [
    Cfg(),
    Cfg(steps=7, lr=0.5, shuffle=False, optimizer="sgd", widths=(1, 64, 3), betas=(0.99,)),
    Cfg(lr=10 ** -2.5),                     # a log-slider value with many digits
    Cfg(lr=1.0000001, betas=(0.1 + 0.2, 1 / 3)),
])
def test_to_query_round_trips_through_from_query(config):
    query = params.to_query(config)
    assert all(isinstance(v, str) for v in query.values())
    again, warnings = params.from_query(Cfg, query)
    assert warnings == []
    assert again == config
    assert params.cache_key("e", 1, again) == params.cache_key("e", 1, config)


def test_format_value_keeps_short_forms():
    assert params.format_value(0.0001) == "0.0001"
    assert params.format_value(10.0) == "10"
    assert params.format_value(True) == "true"
    assert params.format_value((0.0, 0.9)) == "0,0.9"
    assert params.format_value(1e-5) == "1e-05"
    assert float(params.format_value(10 ** -2.5)) == 10 ** -2.5


# --- cache keys -------------------------------------------------------------------------

def test_cache_key_is_stable():
    key = params.cache_key("exp", 1, Cfg())
    assert len(key) == 24 and int(key, 16) >= 0
    assert params.cache_key("exp", 1, Cfg()) == key
    assert params.cache_key("exp", 1, params.build(Cfg, {"lr": "0.03", "widths": "8,8"})) == key
    assert params.cache_key("exp", 1, params.build(Cfg, {"lr": "0.5"})) == \
        params.cache_key("exp", 1, Cfg(lr=0.5))


def test_cache_key_differs_for_any_field_version_or_experiment():
    base = params.cache_key("exp", 1, Cfg())
    changed = {"steps": 101, "lr": 0.031, "shuffle": False, "optimizer": "sgd",
               "widths": (8, 8, 8), "betas": (0.0, 0.91)}
    assert set(changed) == {s.name for s in params.specs(Cfg)}
    keys = {params.cache_key("exp", 1, dataclasses.replace(Cfg(), **{name: value}))
            for name, value in changed.items()}
    assert len(keys) == len(changed) and base not in keys
    assert params.cache_key("exp", 2, Cfg()) != base
    assert params.cache_key("exp2", 1, Cfg()) != base


def test_as_dict_is_json_ready():
    d = params.as_dict(Cfg())
    assert d["widths"] == [8, 8] and d["betas"] == [0.0, 0.9] and d["lr"] == 0.03
    assert not any(math.isnan(v) for v in d["betas"])


# --- rules across fields ------------------------------------------------------------------

@dataclass(frozen=True)
class Ruled:
    dim: int = param(20, "Input dimension.", low=1, high=64)
    classes: int = param(10, "Classes.", low=2, high=16)
    RULES = (params.rule(("dim", "classes"), lambda c: c.dim >= 2 * c.classes,
                         "'dim' must be at least 2 x 'classes'"),)


def test_a_rule_across_fields_is_refused_by_build_and_validate_naming_its_first_field():
    with pytest.raises(ParamError) as info:
        params.build(Ruled, {"dim": "10", "classes": "6"})
    assert info.value.field == "dim"
    assert str(info.value) == "'dim' must be at least 2 x 'classes'; got dim=10, classes=6."
    with pytest.raises(ParamError, match="at least 2 x"):
        params.validate(Ruled(dim=4, classes=3))
    assert params.build(Ruled, {"dim": "12", "classes": "6"}) == Ruled(dim=12, classes=6)
    assert "RULES" not in [s.name for s in params.specs(Ruled)]  # not a field


def test_a_link_that_breaks_a_rule_falls_back_to_the_defaults_of_its_fields():
    cfg, warnings = params.from_query(Ruled, {"dim": "4", "classes": "2"})
    assert cfg == Ruled(dim=4, classes=2)  # holds: 4 >= 4
    assert warnings == []
    cfg, warnings = params.from_query(Ruled, {"dim": "4", "classes": "9"})
    assert cfg == Ruled()
    assert len(warnings) == 1 and warnings[0].startswith("'dim' must be at least 2 x")


# --- a second Config under a prefix ---------------------------------------------------

def test_a_prefixed_config_reads_and_writes_only_its_own_query_keys():
    query = {"steps": "50", "m_steps": "7", "m_lr": "0.5", "other": "x"}
    main, _ = params.from_query(Cfg, query)
    second, _ = params.from_query(Cfg, query, prefix="m_")
    assert (main.steps, main.lr) == (50, 0.03)
    assert (second.steps, second.lr) == (7, 0.5)
    assert params.to_query(second, prefix="m_") == {"m_steps": "7", "m_lr": "0.5"}
    again, warnings = params.from_query(Cfg, params.to_query(second, prefix="m_"), prefix="m_")
    assert again == second and warnings == []


# --- values from outside: normalized, and shown literally -------------------------------

@pytest.mark.parametrize("text", ["-0", "-0.0", "-0e5", " -0 "])
def test_a_signed_zero_reaches_the_config_as_plain_zero(text):
    cfg = params.build(Cfg, {"betas": f"{text},0.5"})
    assert math.copysign(1.0, cfg.betas[0]) == 1.0
    Zero = dataclasses.make_dataclass("Zero", [("noise", float, param(0.1, "n", low=0.0, high=1.0))],
                                      frozen=True)
    value = params.build(Zero, {"noise": text}).noise
    assert value == 0.0 and math.copysign(1.0, value) == 1.0
    assert params.format_value(value) == "0"


@pytest.mark.parametrize("text", [
    "![t](http://127.0.0.1:8699/track.png)", "[Claim your prize](http://127.0.0.1:8699/x)",
    "<img src=x onerror=alert(1)>", ":red[alarm]", "a`b``c", "**bold**\nnext line",
    "x" * 5000])
def test_a_refused_value_is_quoted_as_a_literal_code_span(text):
    _, warnings = params.from_query(Cfg, {"optimizer": text})
    (warning,) = warnings
    md = warning.markdown
    assert md.startswith("'optimizer' must be one of sgd, adam; got `")
    assert md.endswith("Using the default, adam.")
    quoted = md[len("'optimizer' must be one of sgd, adam; got "):-len(". Using the default, adam.")]
    fence = quoted[:len(quoted) - len(quoted.lstrip("`"))]
    # one code span: opened and closed by the same fence, which occurs nowhere inside
    assert quoted.endswith(fence) and fence not in quoted[len(fence):-len(fence)]
    assert "\n" not in md
    assert len(md) < 200  # a very long value is cut
