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


# The essay's order; the navigation and the home page list sections in this order.
SECTIONS = ("Foundations", "Memorization", "Generalization", "Ensembles & regularization",
            "Data", "Optimization")

PAGES = [
    PageInfo("Foundations", "views/gradient_descent.py", "Gradient descent & backprop",
             ":material/trending_down:",
             "Watch a small network bend its decision boundary as the loss falls, and follow "
             "the chain rule through every number of a 2-2-1 net."),
    PageInfo("Memorization", "views/memorization.py", "Overfitting & memorization",
             ":material/grid_view:",
             "A decision tree's bins beside a ReLU network's linear regions: both memorize "
             "random labels, and regularization narrows the train-test gap."),
    PageInfo("Memorization", "views/superposition.py", "Superposition",
             ":material/hub:",
             "Five features in two neurons: sparse features share directions as antipodal "
             "pairs and a pentagon, and a tiny autoencoder stores more vectors than units."),
    PageInfo("Memorization", "views/hopfield.py", "Hopfield memory",
             ":material/memory:",
             "Recall a pattern from a damaged cue: the classical net fills up near 0.138·N, "
             "the modern softmax one stores far more."),
    PageInfo("Ensembles & regularization", "views/ensembles.py", "Ensembles & distillation",
             ":material/groups:",
             "Networks from different seeds learn different views of each class: their "
             "ensemble sees both, and distilling it teaches one network the views it missed."),
    PageInfo("Ensembles & regularization", "views/dropout.py", "Dropout",
             ":material/visibility_off:",
             "Hide inputs and units at random while training: the train-test gap narrows "
             "and a network hidden its favourite view learns the other one too."),
    PageInfo("Generalization", "views/double_descent.py", "Memorization → generalization",
             ":material/show_chart:",
             "Small training sets are memorized point by point, large ones as features; "
             "in between the test loss peaks (double descent), and repeated examples get "
             "memorized."),
    PageInfo("Generalization", "views/grokking.py", "Grokking",
             ":material/bolt:",
             "Modular addition: the training pairs are memorized within dozens of steps, the rule found "
             "thousands of steps later as weight decay shrinks the weights."),
]
HOME = PageInfo("", "views/home.py", "Home", ":material/home:", "")


def by_section() -> list[tuple[str, list[PageInfo]]]:
    """(section, its pages) in the essay's order, leaving out sections with no page yet."""
    return [(name, [p for p in PAGES if p.section == name]) for name in SECTIONS
            if any(p.section == name for p in PAGES)]
