"""The Lab's pages, in the essay's order: the navigation and the home page read this."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    section: str
    path: str
    title: str
    icon: str
    blurb: str


PAGES = [
    PageInfo("Foundations", "pages/gradient_descent.py", "Gradient descent & backprop",
             ":material/trending_down:",
             "Watch a small network bend its decision boundary as the loss falls, and follow "
             "the chain rule through every number of a 2-2-1 net."),
]
HOME = PageInfo("", "pages/home.py", "Home", ":material/home:", "")
