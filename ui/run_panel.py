"""Starting a page's run, the run panel, the live fragment, and downloads."""
from __future__ import annotations

import json
import uuid
from typing import Any, Callable

import pandas as pd
import streamlit as st

from core import engine, params
from ui import controls

LIVE_EVERY = 1.0  # seconds between redraws while a run trains
FIRST_POINTS_EVERY = 0.4  # ... and while a started run waits for its first points


def registry() -> engine.Registry:
    return engine.default_registry()


def session_id() -> str:
    return st.session_state.setdefault("lab.session", uuid.uuid4().hex)


def start(page: str, experiment: str, config: Any, force: bool = False) -> engine.Run | None:
    """The page's run for `config`: an existing one when any session started it before.

    This slot of the page (one session may show several runs on a page, one per `page`
    key) stops watching the run it showed before; a run that no slot of any session
    watches is cancelled, so changing a control does not leave a stale run holding the
    queue, while a run that another slot now shows keeps training.
    """
    reg = registry()
    me = f"{session_id()}:{page}"
    slot = f"{page}.__run"
    shown = reg.get(st.session_state.get(slot, ""))
    if not force and shown is not None and shown.config == config and (
            shown.cancelled or shown.status == engine.FAILED or
            st.session_state.get(f"{page}.__withdrawn") == shown.key):
        return shown  # keep showing how it ended (or is ending); Rerun trains it again
    try:
        run = reg.start(experiment, config, owner=me, force=force)
    except engine.TooLong as err:  # retrying would not help: say what to lower
        st.warning(err.message.markdown, icon=":material/timer_off:")
        return None
    except (engine.QueueFull, engine.SessionBusy) as err:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.warning(f"This run cannot start now. {err}", icon=":material/hourglass_empty:")
        right.button("Try again", key=f"{page}.retry", icon=":material/refresh:",
                     width="stretch")
        return None
    previous = st.session_state.get(slot)
    if previous and previous != run.key and (old := reg.get(previous)) is not None:
        reg.release(old, me)
    st.session_state[slot] = run.key
    st.session_state.pop(f"{page}.__withdrawn", None)
    return run


def withdraw(run: engine.Run, page: str | None = None) -> None:
    """Cancel, for this visitor: the run stops unless another visitor watches it too.
    Every slot of this visitor's pages that showed it stops claiming it (`page` None:
    from the sidebar)."""
    reg, me = registry(), session_id()
    slots = {o.split(":", 1)[1] for o in reg.owners(run) if o.startswith(me + ":")}
    reg.withdraw(run, me)
    for slot in slots | ({page} if page else set()):
        st.session_state[f"{slot}.__withdrawn"] = run.key


def watch_again(page: str) -> None:
    st.session_state.pop(f"{page}.__withdrawn", None)


def panel(view: engine.RunView, run: engine.Run, page: str, experiment: str) -> None:
    """Status, progress, queue position, cancel and rerun."""
    withdrawn = st.session_state.get(f"{page}.__withdrawn") == view.key and view.active
    left, right = st.columns([3, 1], vertical_alignment="center")
    with left:
        if withdrawn:
            st.info("You cancelled this run, but another visitor's page is showing it, so "
                    "it goes on training for them.", icon=":material/cancel:")
        elif view.status == engine.QUEUED:
            st.info(f"Waiting for a free worker: position {view.queue_position or '?'} in "
                    "the queue.", icon=":material/hourglass_top:")
        elif view.status == engine.RUNNING:
            total = view.total or 0
            st.progress(view.progress, text=f"Training on {view.device}: step {view.step:,} "
                                             f"of {total:,} · {view.elapsed:.1f} s")
        elif view.status == engine.DONE:
            source = " (from the cache: this configuration was trained before)" \
                if view.from_cache else ""
            st.success(f"Done: {view.step:,} steps in {view.elapsed:.1f} s{source}.",
                       icon=":material/check_circle:")
        elif view.status == engine.DIVERGED:
            st.warning(view.error or "Training diverged.", icon=":material/warning:")
        elif view.status == engine.CANCELLED:
            st.info("Cancelled. Press Rerun to train this configuration again.",
                    icon=":material/cancel:")
        else:
            st.error(f"The run failed: {view.error}", icon=":material/error:")
    with right:
        if withdrawn:
            st.button("Watch again", key=f"{page}.watch", on_click=watch_again,
                      args=(page,), icon=":material/visibility:", width="stretch")
        elif view.active:
            st.button("Cancel", key=f"{page}.cancel", on_click=withdraw, args=(run, page),
                      icon=":material/stop:", width="stretch")
        else:
            st.button("Rerun", key=f"{page}.rerun", on_click=start,
                      args=(page, experiment, run.config, True),
                      help="Train this configuration again, replacing the cached result.",
                      icon=":material/replay:", width="stretch")


def redraw_every(view: engine.RunView) -> float | None:
    """Seconds between the live fragment's redraws: often until a starting run's first
    points arrive (they come within a second or so), then at the calmer pace; None once
    the run has ended (no timer). A run just started is usually still queued when the
    page first looks (its worker thread has not taken it yet), so the head of the queue
    counts as starting; a run further back waits at the calmer pace."""
    if not view.active:
        return None
    # no place in the queue: training, or just taken by a worker and about to
    starting = view.queue_position in (None, 1)
    return FIRST_POINTS_EVERY if starting and not view.metrics else LIVE_EVERY


def live(run: engine.Run, draw: Callable[[engine.RunView], None], page: str,
         experiment: str) -> None:
    """Draw the run panel and the page's views; redraw every LIVE_EVERY seconds while the
    run is queued or training, and stop redrawing once it has ended."""
    every = redraw_every(run.view())

    @st.fragment(run_every=every)
    def view_fragment() -> None:
        view = run.view()
        panel(view, run, page, experiment)
        draw(view)
        if redraw_every(view) != every:
            st.rerun()  # the whole page once more, with the next pace (or no timer)

    # In a container of the full run's own: should the browser drop the fragment's
    # block (a fragment run that starts before the full run's messages went out removes
    # them from the queue, and the full run's end then clears the block as stale), only
    # this container empties until the fragment draws again; without it the page's later
    # blocks would move up one place, and the fragment would draw over the next one
    with st.container():
        view_fragment()


def show(page: str, experiment: str, config: Any,
         draw: Callable[[engine.RunView], None]) -> engine.Run | None:
    """A page's usual run section: the terminal line and share link, then the run itself
    with its panel and live views."""
    left, right = st.columns([4, 1])
    left.caption(f"Reproduce from a terminal: `{cli_line(experiment, config)}`")
    with right:
        controls.share(config)
    run = start(page, experiment, config)
    if run is not None:
        live(run, draw, page, experiment)
    return run


def metrics_frame(view: engine.RunView) -> pd.DataFrame:
    rows = [pd.DataFrame({"step": s, "metric": name, "value": v})
            for name, (s, v) in view.metrics.items()]
    if not rows:
        return pd.DataFrame(columns=["step", "metric", "value"])
    return pd.concat(rows, ignore_index=True)


def metrics_csv(view: engine.RunView) -> str:
    """The run's metrics as CSV: a row per logged step, a column per metric."""
    if not view.metrics:
        return "step\n"
    return metrics_frame(view).pivot_table(index="step", columns="metric", values="value") \
        .reset_index().to_csv(index=False)


def summary_json(view: engine.RunView) -> str:
    """The run's configuration, outcome and summary, and the command that trains it again."""
    return json.dumps({"experiment": view.experiment, "config": params.as_dict(view.config),
                       "status": view.status, "error": view.error, "summary": view.summary,
                       "cli": cli_line(view.experiment, view.config)}, indent=2)


def downloads(view: engine.RunView, page: str) -> None:
    """The run's metrics as CSV and its summary as JSON, each made when its button is
    clicked (not on every rerun of the page, which then also sends no file)."""
    if view.active:
        return
    left, right, _ = st.columns([1, 1, 3])
    left.download_button("Metrics (CSV)", lambda: metrics_csv(view),
                         file_name=f"{view.experiment}-{view.key}.csv", mime="text/csv",
                         key=f"{page}.csv", icon=":material/download:", on_click="ignore")
    right.download_button("Summary (JSON)", lambda: summary_json(view),
                          file_name=f"{view.experiment}-{view.key}.json",
                          mime="application/json", key=f"{page}.json",
                          icon=":material/download:", on_click="ignore")


def cli_line(experiment: str, config: Any) -> str:
    """The command that reproduces this run from a terminal."""
    sets = " ".join(f"--set {k}={v}" for k, v in params.to_query(config).items())
    return f"python -m core run {experiment} {sets}".strip()
