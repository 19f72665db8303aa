"""Multi-view data and the small patch network of Allen-Zhu & Li (2020), instance-batched.

Data (`make_multiview`): k classes, each with two "views", unit vectors v[j, 0], v[j, 1]
in R^d (all 2k orthonormal). An example is P patches of d numbers. A multi-view example
of class j carries both views, each in 2 patches at amplitude U(0.4, 0.6); a single-view
example carries one of them at that amplitude and the other only faintly (ρ = 0.1). The
other patches hold "feature noise": views of 3 other classes at amplitude γ. Gaussian
noise σ on everything. A Gaussian-mixture alternative (`make_gaussian_mixture`) has the
same shapes but no view structure: each class is a mean plus isotropic noise.

Network (`PatchNet`): F_j(X) = Σ_r Σ_p ReLU~(⟨w_{j,r}, x_p⟩) with the smoothed ReLU
(z^q / (q ϱ^{q-1}) below ϱ, linear above). Weights are [instances, k, m, d]: many
networks train as one with an einsum, each with its own gradient.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

N_NOISE_CLASSES = 3  # feature noise comes from this many other classes (fewer if k ≤ 3)
PATCHES_PER_VIEW = 2
WEAK_VIEW = 0.1  # ρ: the missing view's amplitude in a single-view example


@dataclass(frozen=True)
class Setup:
    """The multi-view toy both the ensembles and the dropout pages train on (the one
    measured in SCIENCE.md); pages change only what their Config declares."""
    n_classes: int = 10
    patches: int = 10
    dim: int = 32
    n_train: int = 300
    single_view_fraction: float = 0.02
    n_test: int = 1000  # half of them single-view
    feature_noise: float = 0.15
    noise: float = 0.02  # Gaussian σ on every number
    probes_per_cell: int = 40
    neurons: int = 4
    init_std: float = 0.04
    lr: float = 40.0  # full-batch gradient descent


@dataclass
class Datasets:
    views: torch.Tensor
    train: "MultiView"
    test: "MultiView"
    probes: "MultiView"


def make_datasets(setup: Setup, gen: torch.Generator) -> Datasets:
    """Views, training set, test set (half single-view) and probes, in that order."""
    views = make_views(setup.n_classes, setup.dim, gen)
    common = dict(patches=setup.patches, feature_noise=setup.feature_noise,
                  noise=setup.noise, gen=gen)
    train = make_multiview(views, setup.n_train, setup.single_view_fraction, **common)
    test = make_multiview(views, setup.n_test, 0.5, **common)
    probes = make_probes(views, setup.probes_per_cell, **common)
    return Datasets(views, train, test, probes)


@dataclass
class MultiView:
    """One dataset: x [n, P, d], y [n], single [n] (bool: single-view), view [n] (the
    view a single-view example shows; -1 for multi-view), and the views [k, 2, d]."""
    x: torch.Tensor
    y: torch.Tensor
    single: torch.Tensor
    view: torch.Tensor
    views: torch.Tensor


def make_views(n_classes: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    """2k random orthonormal vectors as [k, 2, d] (needs d ≥ 2k)."""
    if dim < 2 * n_classes:
        raise ValueError(f"dim must be at least 2 × classes = {2 * n_classes}; got {dim}")
    q, _ = torch.linalg.qr(torch.randn(dim, 2 * n_classes, generator=gen))
    return q.T.reshape(n_classes, 2, dim).contiguous()


def make_multiview(views: torch.Tensor, n: int, single_fraction: float, patches: int,
                   feature_noise: float, noise: float, gen: torch.Generator,
                   single_view: int | None = None, label: int | None = None) -> MultiView:
    """n examples. `single_fraction` of them single-view (each showing view 0 or 1 at
    random, or `single_view` when given); `label` fixes the class (for probes)."""
    k, _, d = views.shape
    y = (torch.randint(0, k, (n,), generator=gen) if label is None
         else torch.full((n,), label, dtype=torch.long))
    single = torch.rand(n, generator=gen) < single_fraction
    shown = (torch.randint(0, 2, (n,), generator=gen) if single_view is None
             else torch.full((n,), single_view, dtype=torch.long))
    view = torch.where(single, shown, torch.full_like(shown, -1))
    amp = 0.4 + 0.2 * torch.rand(n, 2, PATCHES_PER_VIEW, generator=gen)
    weak = torch.stack([shown == 1, shown == 0], 1) & single[:, None]  # [n, view]: faint
    amp = torch.where(weak[:, :, None], torch.full_like(amp, WEAK_VIEW), amp)
    # a random order of the patches: the first 4 carry the class, the rest feature noise
    order = torch.argsort(torch.rand(n, patches, generator=gen), dim=1)
    coef = torch.zeros(n, patches, k, 2)
    rows = torch.arange(n)
    for v in range(2):
        for c in range(PATCHES_PER_VIEW):
            coef[rows, order[:, v * PATCHES_PER_VIEW + c], y, v] = amp[:, v, c]
    # feature noise: each other patch gets one view of one of 3 other classes
    n_noise = min(N_NOISE_CLASSES, k - 1)
    others = (y[:, None] + 1 + torch.argsort(torch.rand(n, k - 1, generator=gen), 1)
              [:, :n_noise]) % k
    for slot in range(2 * PATCHES_PER_VIEW, patches):
        cls = others[rows, torch.randint(0, n_noise, (n,), generator=gen)]
        coef[rows, order[:, slot], cls, torch.randint(0, 2, (n,), generator=gen)] += \
            feature_noise
    x = torch.einsum("npkv,kvd->npd", coef, views)
    x = x + noise * torch.randn(x.shape, generator=gen)
    return MultiView(x=x, y=y, single=single, view=view, views=views)


def make_gaussian_mixture(n_classes: int, n: int, patches: int, dim: int, separation: float,
                          noise: float, gen: torch.Generator,
                          means: torch.Tensor | None = None) -> MultiView:
    """Each class a random mean of norm `separation` (over all P×d numbers) plus isotropic
    noise σ; no views, so every example counts as multi-view (single is all False)."""
    if means is None:
        means = torch.randn(n_classes, patches, dim, generator=gen)
        means = separation * means / means.flatten(1).norm(dim=1)[:, None, None]
    y = torch.randint(0, n_classes, (n,), generator=gen)
    x = means[y] + noise * torch.randn(n, patches, dim, generator=gen)
    return MultiView(x=x, y=y, single=torch.zeros(n, dtype=torch.bool),
                     view=torch.full((n,), -1), views=means)


def ablate_view(x: torch.Tensor, y: torch.Tensor, views: torch.Tensor, v: int) -> torch.Tensor:
    """Remove each example's own class's view v from every patch (views are orthonormal,
    so the rest of the example stays exactly as it was)."""
    u = views[y, v]  # [n, d]
    return x - torch.einsum("npd,nd->np", x, u)[:, :, None] * u[:, None, :]


def smooth_relu(z: torch.Tensor, q: int, rho: float) -> torch.Tensor:
    """0 below 0, z^q / (q ρ^{q-1}) on [0, ρ], z − (1 − 1/q) ρ above: ReLU with a
    polynomial start, so small correlations grow slowly and big ones win (the lottery)."""
    zc = z.clamp(min=0.0)
    return torch.where(zc <= rho, zc ** q / (q * rho ** (q - 1)), zc - (1 - 1 / q) * rho)


class PatchNet:
    """`instances` patch networks F_j(X) = Σ_r Σ_p ReLU~(⟨w_{j,r}, x_p⟩), as one tensor
    W [instances, k, m, d]. Inputs x are [n, P, d] (shared by all instances) or
    [instances, n, P, d]; outputs are logits [instances, n, k]."""

    def __init__(self, instances: int, n_classes: int, neurons: int, dim: int,
                 init_std: float, gen: torch.Generator, q: int = 3, rho: float = 1.0,
                 device: torch.device | str = "cpu"):
        w = init_std * torch.randn(instances, n_classes, neurons, dim, generator=gen)
        self.W = w.to(device).requires_grad_(True)
        self.q, self.rho = q, rho

    def parameters(self) -> list[torch.Tensor]:
        return [self.W]

    def forward(self, x: torch.Tensor, W: torch.Tensor | None = None, hidden_drop: float = 0.0,
                gen: torch.Generator | None = None) -> torch.Tensor:
        W = self.W if W is None else W
        if x.dim() == 3:
            z = torch.einsum("npd,ikmd->inpkm", x, W)
        else:
            z = torch.einsum("inpd,ikmd->inpkm", x, W)
        a = smooth_relu(z, self.q, self.rho)
        if hidden_drop > 0:
            a = a * dropout_mask(a.shape, hidden_drop, gen, a.device)
        return a.sum(dim=(2, 4))

    __call__ = forward


def dropout_mask(shape, p: float, gen: torch.Generator | None, device) -> torch.Tensor:
    """Inverted dropout: keep with probability 1 − p and scale by 1 / (1 − p)."""
    keep = torch.rand(shape, generator=gen, device=device) >= p
    return keep.float() / (1.0 - p)


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, tau: float) -> torch.Tensor:
    """τ² · KL(softmax(teacher/τ) ‖ softmax(student/τ)), the same τ in both softmaxes,
    averaged over examples; [instances, n, k] in, [instances] out."""
    target = F.softmax(teacher / tau, dim=-1)
    logp = F.log_softmax(student / tau, dim=-1)
    kl = (target * (torch.log(target.clamp_min(1e-12)) - logp)).sum(-1).mean(-1)
    return tau ** 2 * kl


def ce_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each instance: [instances, n, k] → [instances]."""
    logp = F.log_softmax(logits, dim=-1)
    return -logp.gather(-1, y[None, :, None].expand(logits.shape[0], -1, 1)).squeeze(-1) \
        .mean(-1)


def accuracy_by_kind(pred: torch.Tensor, data: MultiView) -> dict:
    """pred [n] → multi-view, single-view and overall accuracy (None where empty)."""
    right = (pred == data.y).float()
    out = {"accuracy": float(right.mean())}
    for name, mask in (("multi_view_accuracy", ~data.single),
                       ("single_view_accuracy", data.single)):
        out[name] = float(right[mask].mean()) if bool(mask.any()) else None
    return out


def make_probes(views: torch.Tensor, per_cell: int, patches: int, feature_noise: float,
                noise: float, gen: torch.Generator) -> MultiView:
    """Single-view examples of every (class, view), `per_cell` each, in class-major order:
    probe accuracy on a cell says whether a network recognizes that view."""
    k = views.shape[0]
    parts = [make_multiview(views, per_cell, 1.0, patches, feature_noise, noise, gen,
                            single_view=v, label=j) for j in range(k) for v in range(2)]
    return MultiView(x=torch.cat([p.x for p in parts]), y=torch.cat([p.y for p in parts]),
                     single=torch.cat([p.single for p in parts]),
                     view=torch.cat([p.view for p in parts]), views=views)


def view_accuracy(logits: torch.Tensor, probes: MultiView) -> np.ndarray:
    """Probe logits [instances, n, k] → accuracy per [instance, class, view]."""
    k = probes.views.shape[0]
    right = (logits.argmax(-1) == probes.y[None]).float()
    return right.reshape(logits.shape[0], k, 2, -1).mean(-1).cpu().numpy()
