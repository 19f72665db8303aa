"""Receipts: a page's headline claim, set against what the paper reports and what this
run measured.

A receipt is built from a run's summary by the experiment's `receipt(config, summary)`
function, so the "this run" sentence always carries the run's own number, and `holds`
says whether the run reproduced the claim (None when the run cannot tell, e.g. a
configuration that does not measure it).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Receipt:
    claim: str    # the headline claim, one line
    paper: str    # the paper's number, in words
    live: str     # this run's number, in words, computed from the summary
    source: str   # the paper it comes from
    smaller: str  # where the Lab's setup is smaller than (or differs from) the paper's
    holds: bool | None  # True: reproduced here; False: not in this run; None: cannot tell

    @property
    def verdict(self) -> str:
        if self.holds is None:
            return "this run cannot tell"
        return "reproduced in this run" if self.holds else "did not reproduce in this run"
