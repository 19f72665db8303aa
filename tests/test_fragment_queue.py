"""A page must never go blank when its live fragment redraws right after a full run.

Seen in the ten-visitor browser test (tests/test_visitors.py) on a loaded machine, 1 run
in 4: a visitor's page lost its whole app ("'setIn' cannot be called on an ElementNode"
in the browser, an empty root, the websocket closed). The messages the page received
showed why:

1. a full run drew the page; the server had not yet sent its messages when
2. the live fragment's timer started a fragment run. Streamlit then clears the queue of
   that fragment's deltas (the fragment run sends them again), which also removed the
   full run's deltas for the fragment's block, but kept the full run's "finished
   successfully": the browser cleared the fragment's block as stale, and the blocks after
   it moved up one place;
3. the clear keeps every message without a fragment id, and a *reference* to a cached
   element (`ref_hash`, sent for elements over `global.minCachedMessageSize` that the
   browser has seen) has none. A chart addressed inside the removed block reached the
   browser, which found a paragraph at that place and failed.

The Lab sends no references (.streamlit/config.toml) and puts each live fragment in a
container of the full run's own (ui/run_panel.live), so step 2 empties that container for
a moment and moves nothing.
"""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from streamlit import config
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.forward_msg_cache import create_reference_msg, populate_hash_if_needed
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

from core import engine
from tests.apptest_support import fresh_registry, open_page  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
LAB_CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
FRAGMENT = "live-fragment"


def _delta(path: list[int], block: bool = False, spec_chars: int = 0) -> ForwardMsg:
    msg = ForwardMsg()
    msg.metadata.delta_path[:] = path
    msg.delta.fragment_id = FRAGMENT
    if block:
        msg.delta.add_block.allow_empty = True
    else:
        msg.delta.new_element.vega_lite_chart.spec = "x" * spec_chars
    return msg


def _left_after_a_fragment_run_starts(min_cached: float, monkeypatch) -> list[ForwardMsg]:
    """The messages still queued after a full run that drew the fragment (its block and a
    chart the browser had already seen) when a fragment run of it starts: the send step
    of `ScriptRunContext.enqueue` and the clear of `AppSession._clear_queue`."""
    monkeypatch.setattr(config, "get_option", lambda key, _get=config.get_option: (
        min_cached if key == "global.minCachedMessageSize" else _get(key)))
    queue = ForwardMsgQueue()
    for msg in (_delta([0, 6], block=True), _delta([0, 6, 0, 0], spec_chars=20_000)):
        populate_hash_if_needed(msg)
        # the browser holds the chart from its previous redraw, so a cacheable message
        # goes out as a reference to it
        queue.enqueue(create_reference_msg(msg) if msg.metadata.cacheable else msg)
    finished = ForwardMsg()
    finished.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    queue.enqueue(finished)
    queue.clear(retain_lifecycle_msgs=True, fragment_ids_this_run=[FRAGMENT])
    return queue.flush()


def _deltas(messages: list[ForwardMsg]) -> list[list[int]]:
    return [list(m.metadata.delta_path) for m in messages if m.metadata.delta_path]


def test_streamlits_default_leaves_a_chart_without_its_block(monkeypatch):
    """The failure itself, with Streamlit's default cache size (10 kB): the chart's
    reference outlives its block (this is what made the page go blank)."""
    left = _left_after_a_fragment_run_starts(10_000, monkeypatch)
    assert _deltas(left) == [[0, 6, 0, 0]]
    assert left[0].WhichOneof("type") == "ref_hash"


def test_the_labs_setting_leaves_no_delta_of_the_fragment(monkeypatch):
    min_cached = LAB_CONFIG["global"]["minCachedMessageSize"]
    assert min_cached >= 1e12  # larger than any message the Lab sends
    assert _deltas(_left_after_a_fragment_run_starts(min_cached, monkeypatch)) == []


def test_the_server_reads_the_setting():
    """Streamlit reads it from the project's config file, as `make run`, Docker and
    Community Cloud start the Lab (from the repository root)."""
    out = subprocess.run(
        [sys.executable, "-c", "from streamlit import config; "
         "print(config.get_option('global.minCachedMessageSize'))"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert float(out) == LAB_CONFIG["global"]["minCachedMessageSize"]


def test_the_live_fragment_sits_alone_in_a_container_of_the_full_run():
    """If the browser drops the fragment's block, nothing after it moves: the block is
    the only child of a container that the full run itself draws."""
    at = open_page("views/gradient_descent.py", query={"steps": "20000", "seed": "3"})
    cancel = at.button(key="gd.cancel")
    (holder,) = [child for child in at.main.children.values() if _holds(child, cancel)]
    assert holder.type == "flex_container"
    (fragment,) = holder.children.values()  # the fragment's own block, and nothing else
    assert fragment.type == "flex_container" and _holds(fragment, cancel)
    assert len(fragment.children) > 1  # the panel and the page's views
    for run in engine.default_registry().active_runs():
        run.cancel()


def _holds(node, target) -> bool:
    return node is target or any(
        _holds(child, target) for child in getattr(node, "children", {}).values())


def test_no_page_starts_a_fragment_of_its_own():
    """Live views go through run_panel.live, which gives the fragment its container."""
    own = [p.name for p in (ROOT / "views").glob("*.py") if "fragment" in p.read_text()]
    assert own == [], f"these pages start a fragment of their own: {own}"
