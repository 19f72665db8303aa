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
    PageInfo("Memorization", "pages/superposition.py", "Superposition",
             ":material/hub:",
             "Five features in two neurons: sparse features share directions as antipodal "
             "pairs and a pentagon, and a tiny autoencoder stores more vectors than units."),
    PageInfo("Memorization", "pages/hopfield.py", "Hopfield memory",
             ":material/memory:",
             "Recall a pattern from a damaged cue: the classical net fills up near 0.138·N, "
             "the modern softmax one stores far more."),
    PageInfo("Memorization", "pages/memorization.py", "Overfitting & memorization",
             ":material/grid_view:",
             "A decision tree's bins beside a ReLU network's linear regions: both memorize "
             "random labels, and regularization narrows the train-test gap."),
]
HOME = PageInfo("", "pages/home.py", "Home", ":material/home:", "")
