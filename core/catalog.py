"""The Lab's pages, in the essay's order: the navigation and the home page read this."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    """One page. Its file `views/<name>.py` gives its name, which is also its URL path
    (`/<name>`); `experiments` are the runs it shows, the first one's Config owning the
    link's plain query keys (the others sync under a prefix)."""
    section: str
    path: str
    title: str
    icon: str
    blurb: str
    experiments: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.removeprefix("views/").removesuffix(".py")


def here(view_file: str) -> PageInfo:
    """The catalog entry of the page script `view_file` (its `__file__`): a page reads
    its experiment names from here rather than spelling them again."""
    name = view_file.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
    return next(p for p in PAGES if p.name == name)


# The essay's order; the navigation and the home page list sections in this order.
SECTIONS = ("Foundations", "Memorization", "Generalization", "Ensembles & regularization",
            "Data", "Optimization", "Architectures")

PAGES = [
    PageInfo("Foundations", "views/gradient_descent.py", "Gradient descent & backprop",
             ":material/trending_down:",
             "Watch a small network bend its decision boundary as the loss falls, and follow "
             "the chain rule through every number of a 2-2-1 net.",
             experiments=("gradient_descent",)),
    PageInfo("Memorization", "views/memorization.py", "Overfitting & memorization",
             ":material/grid_view:",
             "A decision tree's bins beside a ReLU network's linear regions: both memorize "
             "random labels, and regularization narrows the train-test gap.",
             experiments=("tree_bins", "relu_regions")),
    PageInfo("Memorization", "views/superposition.py", "Superposition",
             ":material/hub:",
             "Five features in two neurons: sparse features share directions as antipodal "
             "pairs and a pentagon, and a tiny autoencoder stores more vectors than units.",
             experiments=("superposition", "autoencoder_memory")),
    PageInfo("Memorization", "views/hopfield.py", "Hopfield memory",
             ":material/memory:",
             "Recall a pattern from a damaged cue: the classical net fills up near 0.138·N, "
             "the modern softmax one stores far more.",
             experiments=("hopfield",)),
    PageInfo("Ensembles & regularization", "views/ensembles.py", "Ensembles & distillation",
             ":material/groups:",
             "Networks from different seeds learn different views of each class: their "
             "ensemble sees both, and distilling it teaches one network the views it missed.",
             experiments=("ensemble_distillation",)),
    PageInfo("Ensembles & regularization", "views/dropout.py", "Dropout",
             ":material/visibility_off:",
             "Hide inputs and units at random while training: the train-test gap narrows "
             "and a network hidden its favourite view learns the other one too.",
             experiments=("dropout",)),
    PageInfo("Generalization", "views/double_descent.py", "Memorization → generalization",
             ":material/show_chart:",
             "Small training sets are memorized point by point, large ones as features; "
             "in between the test loss peaks (double descent), and repeated examples get "
             "memorized.",
             experiments=("double_descent", "repeated_data")),
    PageInfo("Generalization", "views/grokking.py", "Grokking",
             ":material/bolt:",
             "Modular addition: the training pairs are memorized within dozens of steps, the rule found "
             "thousands of steps later as weight decay shrinks the weights.",
             experiments=("grokking",)),
    PageInfo("Data", "views/data.py", "Data", ":material/dataset:",
             "Repeated examples are memorized and cost more than fresh ones; copies found "
             "and removed; labels spent where the model is unsure; the compute-optimal "
             "model size.",
             experiments=("repetition", "deduplication", "active_learning",
                          "chinchilla_law", "isoflop")),
    PageInfo("Optimization", "views/optimization.py", "Optimization",
             ":material/speed:",
             "GD, momentum and Adam on a narrow valley (GD breaks past lr = 2/L), the "
             "learning-rate U, the signal through 50 layers at init, and muP's width "
             "transfer.",
             experiments=("optimizer_paths", "lr_sweep", "initialization", "mup_transfer")),
    PageInfo("Architectures", "views/capsules.py", "Capsule networks",
             ":material/scatter_plot:",
             "Dynamic routing by agreement on 8×8 digits: the couplings sharpen toward the "
             "winning digit, and a uniform-routing control and a plain CNN check whether it pays.",
             experiments=("capsules",)),
]
HOME = PageInfo("", "views/home.py", "Home", ":material/home:", "")


def by_section() -> list[tuple[str, list[PageInfo]]]:
    """(section, its pages) in the essay's order, leaving out sections with no page yet."""
    return [(name, [p for p in PAGES if p.section == name]) for name in SECTIONS
            if any(p.section == name for p in PAGES)]
