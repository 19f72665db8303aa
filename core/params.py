"""Hyperparameters declared once: bounds, choices, help.

An experiment's Config is a frozen dataclass whose fields are made with
`param(...)`. The declaration attached to each field drives the page's widgets,
the CLI's `--set`, URL query parameters, validation and the run's cache key.
Refusals read the same way everywhere (after scikit-learn's `validate_params`):

    'lr' must be a float in [0.0001, 10] (log scale); got 20.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

KINDS = ("int", "float", "bool", "choice", "int_list", "float_list")


SHOWN_CHARS = 60  # a refused value is shown cut to this length


def _shown(got: Any) -> str:
    """A refused value as a refusal quotes it: repr'd, one line, cut when long."""
    text = got if isinstance(got, str) else _fmt(got)
    if len(text) > SHOWN_CHARS:
        text = text[:SHOWN_CHARS] + "…"
    return repr(text)


def literal(text: str) -> str:
    """Text that came from outside as a Markdown code span, so that a page shows it as
    typed: never as a link, an image, HTML, emphasis or a Streamlit directive."""
    text = " ".join(str(text).splitlines()) or " "
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class Message(str):
    """A message about a value from outside: plain text (CLI, logs) as the str itself,
    and `.markdown`, where that value is a literal code span (for a page)."""

    markdown: str

    def __new__(cls, text: str, got: str | None = None, after: str = "") -> "Message":
        plain = f"{text}; got {got}.{after}" if got is not None else f"{text}{after}"
        self = super().__new__(cls, plain)
        self.markdown = (f"{text}; got {literal(got)}.{after}" if got is not None
                         else f"{text}{after}")
        return self

    def then(self, more: str) -> "Message":
        """This message with a declared sentence added (e.g. what was used instead)."""
        out = str.__new__(Message, f"{self} {more}")
        out.markdown = f"{self.markdown} {more}"
        return out


class ParamError(ValueError):
    """A value refused for one named field; the message says what is allowed.
    `str(err)` is plain text; `err.message.markdown` quotes the value given literally."""

    def __init__(self, field: str, message: str | Message):
        self.message = message if isinstance(message, Message) else Message(message)
        super().__init__(str(self.message))
        self.field = field


@dataclass(frozen=True)
class Spec:
    """What one hyperparameter may be. `name` and `kind` are filled in from the dataclass."""

    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    log: bool = False
    label: str | None = None
    max_items: int = 32
    name: str = ""
    kind: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def allowed(self) -> str:
        """The allowed values, in words, for messages and `python -m core list`."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices or ())
        what = {"int": "an integer", "float": "a float",
                "int_list": "a comma-separated list of integers",
                "float_list": "a comma-separated list of floats"}[self.kind]
        text = f"{what} in [{_fmt(self.low)}, {_fmt(self.high)}]"
        if self.kind.endswith("_list"):
            text += f", 1 to {self.max_items} values"
        if self.log:
            text += " (log scale)"
        return text


@dataclass(frozen=True)
class Rule:
    """A rule across fields of one Config, declared beside its fields:

        RULES = (rule(("dim", "n_classes"), lambda c: c.dim >= 2 * c.n_classes,
                      "'dim' must be at least 2 x 'n_classes'"),)

    `holds(config)` gets a Config whose single fields are already valid. A refusal names
    the first of `fields` (the one to change) and shows the values of all of them."""

    fields: tuple[str, ...]
    holds: Callable[[Any], bool]
    text: str


def rule(fields: str | tuple[str, ...], holds: Callable[[Any], bool], text: str) -> Rule:
    return Rule((fields,) if isinstance(fields, str) else tuple(fields), holds, text)


def rules(config_cls: type) -> tuple[Rule, ...]:
    """The cross-field rules a Config class declares in its `RULES` attribute."""
    return tuple(getattr(config_cls, "RULES", ()))


def check_rules(config: Any) -> Any:
    """Return `config` if every declared rule holds, else raise ParamError for the first
    one broken (naming its first field, with the values given)."""
    for r in rules(type(config)):
        if not r.holds(config):
            got = ", ".join(f"{name}={_fmt(getattr(config, name))}" for name in r.fields)
            raise ParamError(r.fields[0], Message(r.text, got))
    return config


def param(default: Any, help: str, *, low: float | None = None, high: float | None = None,
          choices: tuple[str, ...] | list[str] | None = None, log: bool = False,
          label: str | None = None, max_items: int = 32) -> Any:
    """Declare a Config field: `lr: float = param(0.03, "step size", low=1e-4, high=10, log=True)`."""
    spec = Spec(default=default, help=help, low=low, high=high,
                choices=tuple(choices) if choices else None, log=log, label=label,
                max_items=max_items)
    if isinstance(default, list):
        default = tuple(default)
    return dataclasses.field(default=default, metadata={"spec": spec})


def _kind_of(field: dataclasses.Field, spec: Spec) -> str:
    hint = field.type if isinstance(field.type, str) else (
        field.type.__name__ if isinstance(field.type, type) else str(field.type))
    hint = hint.replace(" ", "")
    if spec.choices:
        return "choice"
    if hint.startswith("tuple[int"):
        return "int_list"
    if hint.startswith("tuple[float"):
        return "float_list"
    if hint in ("bool", "int", "float"):
        return hint
    raise TypeError(f"field {field.name!r}: unsupported type {hint!r}")


def specs(config_cls: type) -> list[Spec]:
    """The declared hyperparameters of a Config class, in declaration order."""
    out = []
    for f in dataclasses.fields(config_cls):
        spec = f.metadata.get("spec")
        if spec is None:
            raise TypeError(f"{config_cls.__name__}.{f.name} is not declared with param()")
        out.append(dataclasses.replace(spec, name=f.name, kind=_kind_of(f, spec)))
    return out


def _fmt(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        text = f"{x:g}"  # short, unless that loses digits (a URL must round-trip exactly)
        return text if float(text) == x else repr(x)
    if isinstance(x, (tuple, list)):
        return ",".join(_fmt(v) for v in x)
    return str(x)


def format_value(value: Any) -> str:
    """A value as the CLI and URLs write it (the inverse of `parse_text`)."""
    return _fmt(value)


def _refuse(spec: Spec, got: Any) -> ParamError:
    return ParamError(spec.name, Message(f"'{spec.name}' must be {spec.allowed()}", _shown(got)))


def _number(spec: Spec, value: Any, integer: bool) -> int | float:
    given = value  # a refusal quotes what was given, not what it was turned into
    if isinstance(value, bool):
        raise _refuse(spec, given)
    if isinstance(value, str):
        try:
            value = float(value.strip()) if not integer else _int_text(value)
        except ValueError:
            raise _refuse(spec, given) from None
    if integer:
        if isinstance(value, float):
            if not value.is_integer():
                raise _refuse(spec, given)
            value = int(value)
        if not isinstance(value, int):
            raise _refuse(spec, given)
    else:
        if not isinstance(value, (int, float)):
            raise _refuse(spec, given)
        # + 0.0 turns -0.0 into 0.0: an experiment never sees a signed zero
        value = float(value) + 0.0
        if not math.isfinite(value):
            raise _refuse(spec, given)
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise _refuse(spec, given)
    return value


def _int_text(text: str) -> int:
    number = float(text.strip())
    if not number.is_integer():
        raise ValueError(text)
    return int(number)


def check(spec: Spec, value: Any) -> Any:
    """Return `value` converted to the field's type, or raise ParamError naming the field."""
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _refuse(spec, value)
    if spec.kind == "choice":
        if isinstance(value, str) and value.strip() in (spec.choices or ()):
            return value.strip()
        raise _refuse(spec, value)
    if spec.kind in ("int", "float"):
        return _number(spec, value, spec.kind == "int")
    # lists
    items = value
    if isinstance(value, str):
        items = [v for v in value.split(",") if v.strip()]
    if not isinstance(items, (list, tuple)) or not 1 <= len(items) <= spec.max_items:
        raise _refuse(spec, value)
    integer = spec.kind == "int_list"
    try:
        return tuple(_number(spec, v, integer) for v in items)
    except ParamError:
        raise _refuse(spec, value) from None


def parse_text(spec: Spec, text: str) -> Any:
    """Parse a value written as text (CLI `--set`, URL query parameter)."""
    return check(spec, text)


def build(config_cls: type, values: dict[str, Any] | None = None) -> Any:
    """A validated Config from (possibly textual) values; unknown names are refused."""
    values = dict(values or {})
    known = {s.name: s for s in specs(config_cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParamError(unknown[0], Message("unknown field", _shown(unknown[0]),
                                             " Known fields: " + ", ".join(known) + "."))
    kwargs = {name: check(known[name], v) for name, v in values.items()}
    return check_rules(config_cls(**kwargs))


def validate(config: Any) -> Any:
    """Check every field of an already built Config (e.g. one made in code) and return it
    with converted values (an int given for a float, a list for a tuple), so that equal
    configs get the same cache key."""
    changes = {}
    for spec in specs(type(config)):
        value = getattr(config, spec.name)
        checked = check(spec, value)
        if type(checked) is not type(value) or checked != value or (
                isinstance(checked, tuple) and any(type(a) is not type(b)
                                                   for a, b in zip(checked, value))):
            changes[spec.name] = checked
    return check_rules(dataclasses.replace(config, **changes) if changes else config)


def from_query(config_cls: type, query: dict[str, str],
               prefix: str = "") -> tuple[Any, list[Message]]:
    """A Config from URL query parameters named `prefix + field`: each bad value is
    replaced by its default and reported as a warning; a broken cross-field rule puts
    its fields back to their defaults. Other parameters are left alone (other state)."""
    known = {s.name: s for s in specs(config_cls)}
    good, warnings = {}, []
    for key, text in query.items():
        name = key[len(prefix):] if key.startswith(prefix) else None
        if name not in known:
            continue
        try:
            good[name] = parse_text(known[name], text)
        except ParamError as err:
            warnings.append(err.message.then(
                f"Using the default, {format_value(known[name].default)}."))
    config = config_cls(**good)
    try:
        check_rules(config)
    except ParamError as err:
        warnings.append(err.message.then("Using the defaults for these fields."))
        broken = next(r for r in rules(config_cls) if not r.holds(config))
        config = config_cls(**{k: v for k, v in good.items() if k not in broken.fields})
        try:
            check_rules(config)
        except ParamError:
            config = config_cls()
    return config, warnings


def to_query(config: Any, prefix: str = "") -> dict[str, str]:
    """The fields of a Config that differ from their defaults, as URL query text."""
    out = {}
    for spec in specs(type(config)):
        value = getattr(config, spec.name)
        default = spec.default if not isinstance(spec.default, list) else tuple(spec.default)
        if value != default:
            out[prefix + spec.name] = format_value(value)
    return out


def as_dict(config: Any) -> dict[str, Any]:
    """Plain JSON-ready values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def cache_key(experiment: str, version: int, config: Any) -> str:
    """A stable key for experiment + code version + every field value."""
    text = json.dumps({"experiment": experiment, "version": version, "config": as_dict(config)},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
