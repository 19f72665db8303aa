"""Widgets built from a Config's declared fields, "try this" presets, and share-by-URL.

Each widget's key is `<page>.<field>`. On a session's first visit to a page the values
come from the URL's query parameters (bad ones are reported and replaced by defaults);
afterwards the URL follows the controls, so the address bar always holds a link to the
configuration on screen. A page's first Config owns the query keys named like its
fields; a second one owns `<prefix><field>` (e.g. `ae_steps`), so both are in the link.
Values from a link are only ever shown as literal text (`params.literal`).
"""
from __future__ import annotations

import math
from typing import Any, Callable
from urllib.parse import urlencode

import streamlit as st

from core import experiments, params
from ui import talk


def _key(page: str, name: str) -> str:
    return f"{page}.{name}"


def _widget_value(spec: params.Spec, value: Any) -> Any:
    """Values as the widgets hold them (lists as comma-separated text)."""
    return params.format_value(value) if spec.kind.endswith("_list") else value


def init_state(page: str, config_cls: type, prefix: str = "") -> None:
    """Fill the page's widget state once per session, from the URL where it has values."""
    flag = _key(page, "__ready")
    if st.session_state.get(flag):
        _restore(page, config_cls)
        return
    config, warnings = params.from_query(config_cls, dict(st.query_params), prefix)
    for spec in params.specs(config_cls):
        st.session_state[_key(page, spec.name)] = _widget_value(spec, getattr(config, spec.name))
    st.session_state[_key(page, "__warnings")] = warnings
    st.session_state[flag] = True


def _restore(page: str, config_cls: type) -> None:
    """Put back the values a page last used where Streamlit has dropped them: it forgets
    a widget's value once a script run ends without drawing that widget (the visitor
    went to another page), and a widget drawn without one starts at its lowest value."""
    saved = st.session_state.get(_key(page, "__values"), {})
    for spec in params.specs(config_cls):
        key = _key(page, spec.name)
        if key not in st.session_state:
            st.session_state[key] = saved.get(spec.name, _widget_value(spec, spec.default))


def set_values(page: str, config_cls: type, values: dict[str, Any]) -> None:
    """Put every control back to its default, then apply `values` (a preset)."""
    for spec in params.specs(config_cls):
        value = values.get(spec.name, spec.default)
        st.session_state[_key(page, spec.name)] = _widget_value(spec, value)


def apply_preset(page: str, experiment: str, index: int) -> None:
    """Set the page's controls to the experiment's preset `index` (a button or a step)."""
    exp = experiments.get(experiment)
    set_values(page, exp.Config, exp.presets[index].values)
    st.session_state[_key(page, "__step")] = index


def _move(page: str, experiment: str, delta: int) -> None:
    count = len(experiments.get(experiment).presets)
    current = st.session_state.get(_key(page, "__step"))
    start = -1 if current is None and delta > 0 else (count if current is None else current)
    apply_preset(page, experiment, min(max(start + delta, 0), count - 1))


def presets(page: str, experiment: str, title: str | None = "Try this") -> None:
    """The experiment's presets (`Experiment.presets`): one button each, or in talk mode a
    storyboard that steps through them. `hide=presets` leaves them out."""
    if talk.hidden("presets"):
        return
    if talk.active():
        storyboard(page, experiment)
        return
    exp = experiments.get(experiment)
    if title:
        st.markdown(f"**{title}**")
    columns = st.columns(len(exp.presets))
    for index, (column, preset) in enumerate(zip(columns, exp.presets)):
        column.button(preset.label, key=_key(page, f"preset.{preset.label}"),
                      help=preset.caption, on_click=apply_preset,
                      args=(page, experiment, index), width="stretch")


def storyboard(page: str, experiment: str) -> None:
    """Previous / Next through the presets, each with its label, its line and its place."""
    exp = experiments.get(experiment)
    count, index = len(exp.presets), st.session_state.get(_key(page, "__step"))
    if not count:
        return  # nothing to step through
    keys = talk.take_keys()
    left, middle, right = st.columns([2, 7, 2], vertical_alignment="center")
    left.button("Previous", key=_key(page, "talk.previous"),
                on_click=_move, args=(page, experiment, -1), width="stretch",
                disabled=index is not None and index <= 0,
                shortcut="Left" if keys else None)
    right.button("Next", key=_key(page, "talk.next"),
                 on_click=_move, args=(page, experiment, 1), width="stretch",
                 disabled=index is not None and index >= count - 1,
                 shortcut="Right" if keys else None)
    with middle:
        if index is None:
            st.markdown(f"### {count} steps to show")
            st.markdown(f"#### Next: {exp.presets[0].label}")
        else:
            preset = exp.presets[index]
            st.markdown(f"### {preset.label}  \n#### {preset.caption}")
            st.caption(f"step {index + 1} of {count}")


def section(title: str, expanded: bool = True) -> Any:
    """Where a page draws its settings: an expander, or (talk mode, `hide=settings`) a
    bare container that holds only the controls' notices."""
    return st.container() if talk.hidden("settings") else st.expander(title, expanded=expanded)


def _log_options(spec: params.Spec, current: float) -> list[float]:
    lo, hi = math.log10(spec.low), math.log10(spec.high)
    grid = {float(f"{m * 10 ** e:.6g}") for e in range(math.floor(lo), math.ceil(hi) + 1)
            for m in (1, 2, 3, 5) if spec.low <= m * 10 ** e <= spec.high}
    return sorted(grid | {float(current), float(spec.low), float(spec.high)})


def _step(spec: params.Spec) -> float:
    span = (spec.high - spec.low) / 100
    return float(10 ** math.floor(math.log10(span))) if span > 0 else 0.01


def widget(page: str, spec: params.Spec, container: Any = st) -> None:
    """Draw one field's widget; its value lives in session_state under the field's key."""
    key = _key(page, spec.name)
    # The widget's own default is the value it holds now. The browser starts a new widget
    # at its default and only then applies the value the session holds; a rerun sent
    # between the two (a live chart's timer while the page loads) carried the default
    # back, and a default left to Streamlit is the lowest value: 1 step, no hidden layer.
    value = st.session_state.get(key, _widget_value(spec, spec.default))
    common = {"key": key, "help": f"{spec.help} ({spec.allowed()})"}
    if spec.kind == "choice":
        container.selectbox(spec.title, spec.choices, index=spec.choices.index(value),
                            **common)
    elif spec.kind == "bool":
        container.toggle(spec.title, value=bool(value), **common)
    elif spec.kind == "int":
        if spec.high - spec.low <= 200:
            container.slider(spec.title, int(spec.low), int(spec.high), int(value), step=1,
                             **common)
        else:
            container.number_input(spec.title, int(spec.low), int(spec.high), int(value),
                                   step=1, **common)
    elif spec.kind == "float" and spec.log:
        options = _log_options(spec, value)
        container.select_slider(spec.title, options, value=float(value),
                                format_func=lambda v: f"{v:g}", **common)
    elif spec.kind == "float":
        container.slider(spec.title, float(spec.low), float(spec.high), float(value),
                         step=_step(spec), **common)
    else:
        container.text_input(spec.title, value=value, **common)


def controls(page: str, config_cls: type, layout: dict[str, list[str]] | None = None,
             overrides: dict[str, Callable[[params.Spec, Any], None]] | None = None,
             prefix: str = "") -> Any | None:
    """Draw the page's controls and return the validated Config, or None (the reason shown).

    `layout` groups field names into labelled columns; fields it leaves out are drawn in
    a last column. `overrides` draws a field with a page's own widget function. `prefix`
    names this Config's query keys in the share link (a page's second Config needs one).
    """
    init_state(page, config_cls, prefix)
    notices = st.container()
    all_specs = {s.name: s for s in params.specs(config_cls)}
    groups = dict(layout or {"Settings": list(all_specs)})
    rest = [n for n in all_specs if not any(n in names for names in groups.values())]
    if rest:
        groups["More"] = rest
    # Hidden controls (talk mode, a link's `hide=`) keep their values: Streamlit forgets
    # the state of a widget that is not drawn, unless the script writes it back.
    shown = {n: s for n, s in all_specs.items()
             if not (talk.hidden("settings") or talk.hidden(n))}
    for name in set(all_specs) - set(shown):
        st.session_state[_key(page, name)] = st.session_state[_key(page, name)]
    groups = {t: [n for n in names if n in shown] for t, names in groups.items()}
    groups = {t: names for t, names in groups.items() if names}
    for column, (title, names) in zip(st.columns(len(groups)) if groups else (),
                                      groups.items()):
        column.markdown(f"**{title}**")
        for name in names:
            spec = all_specs[name]
            if overrides and name in overrides:
                overrides[name](spec, column)
            else:
                widget(page, spec, column)
    values = {n: st.session_state[_key(page, n)] for n in all_specs}
    st.session_state[_key(page, "__values")] = values  # what _restore puts back
    try:
        config = params.build(config_cls, values)
    except params.ParamError as err:
        notices.error(f"{err.message.markdown} The last valid run stays on screen.")
        return None
    # A bad link's warnings stay until the user changes a control.
    warnings = st.session_state.get(_key(page, "__warnings"))
    if warnings and st.session_state.setdefault(_key(page, "__warned"), config) == config:
        for warning in warnings:
            notices.warning(f"The link's configuration: {warning.markdown}")
    elif warnings:
        st.session_state[_key(page, "__warnings")] = []
    _sync_url(config, prefix)
    return config


def _owned(config_cls: type, prefix: str) -> set[str]:
    return {prefix + s.name for s in params.specs(config_cls)}


def _sync_url(config: Any, prefix: str = "") -> None:
    """Write this Config's keys into the address bar, leaving every other key alone."""
    wanted = params.to_query(config, prefix)
    for key in _owned(type(config), prefix) - set(wanted):
        if key in st.query_params:
            del st.query_params[key]
    for key, text in wanted.items():
        if st.query_params.get(key) != text:
            st.query_params[key] = text


def share_link(config: Any) -> str:
    """The page's URL with the query the address bar holds now: every Config of the page
    that has synced so far (the link of a second Config includes the first's)."""
    base = (st.context.url or "").split("?")[0]
    query = urlencode({k: st.query_params[k] for k in st.query_params}) if config is not None \
        else ""
    return f"{base}?{query}" if query else base


def share(config: Any) -> None:
    """The link that reopens this page with this configuration."""
    with st.popover("Share this configuration", icon=":material/link:"):
        st.caption("Anyone who opens this link sees this configuration (and, once it has "
                   "run, its cached result).")
        st.code(share_link(config), language=None, wrap_lines=True)
