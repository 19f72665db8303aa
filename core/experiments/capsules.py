"""Capsule networks: dynamic routing by agreement (Sabour, Frosst & Hinton 2017), on
scikit-learn's 8×8 digits, against a uniform-routing control and a plain CNN.

The capsule net: a 3×3 convolution, then primary capsules (a second 3×3 convolution
whose channels are read as `primary_maps` 8-D capsules at each of the 4×4 positions),
squashed to length < 1; each primary capsule i predicts every digit capsule j (10 of
them, 16-D) through its own matrix, û_j|i = W_ij u_i. Routing starts from logits b = 0,
sets the couplings c_i = softmax_j(b_i), sums s_j = Σ_i c_ij û_j|i, squashes it to v_j,
and adds the agreement û_j|i · v_j to b before the next iteration. A digit capsule's
length is its class probability; the margin loss (m+ 0.9, m− 0.1, λ 0.5) trains it, and
an optional decoder (weight 0.0005) reconstructs the 64 pixels from the digit capsules
with all but the target's masked out.

One run trains, for every seed, three models on the same batches: the capsule net, its
uniform control (the same initial weights, with the agreement update switched off, so
the couplings stay 1/10, which is the same computation as one routing iteration; Paik et
al. 2019), and a plain CNN with the same trunk and a dense head of about the capsule
net's parameter count. All of them are instances of instance-batched modules (weights
shaped [instances, ...]; grouped convolutions), so the seeds cost one forward call.

What the scale does: a digit capsule needs length ≥ 0.9, i.e. |s_j| ≥ 3, but with
couplings 1/10 each primary capsule contributes a tenth of its prediction. With 128
primary capsules (8 maps) short predictions suffice, the agreements stay tiny and the
couplings barely leave 1/10 (measured: entropy 2.3026 → 2.3009 over 3 iterations);
with 16 primary capsules (1 map) every prediction must be about 8 times longer, the
agreements are large enough to move the softmax, and the couplings to the winning
class roughly double over 3 iterations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.device import choose as choose_device
from core import cost as work
from core.cost import Cost
from core.experiments import Experiment, Preset
from core.params import param
from core.receipts import Receipt

CLASSES = 10
SIDE = 8  # load_digits images are 8×8
PRIMARY_DIM = 8
DIGIT_DIM = 16
POSITIONS = 16  # 4×4: two valid 3×3 convolutions of an 8×8 image
M_PLUS, M_MINUS, LAMBDA = 0.9, 0.1, 0.5
TRAIN_DIGITS, TEST_DIGITS = 1200, 597  # the fixed split of the 1,797 digits
SPLIT_SEED = 0  # the split never changes with the run's seed
DECODER_SIZES = (128, 256)
PERTURBATIONS = tuple(round(float(v), 2) for v in np.linspace(-0.25, 0.25, 11))
EVAL_CHUNK = 100  # test digits per forward call when evaluating (bounds memory)
MAX_ENTROPY = math.log(CLASSES)
UNIFORM = 1.0 / CLASSES
# Sabour et al. 2017, Table 1: MNIST test error (%) with the reconstruction decoder
PAPER_MNIST_ERROR = {"capsnet_3_iterations": 0.25, "capsnet_1_iteration": 0.29,
                     "baseline_cnn": 0.39}
MIN_SEEDS = 3  # seeds a comparison needs before it calls a difference clear
SHARPENED_WINNER_COUPLING = 0.15  # mean coupling to the winner that counts as sharpened


@dataclass(frozen=True)
class Config:
    routing_iterations: int = param(3, "Routing iterations r (1: the couplings stay 1/10, "
                                    "no routing at all).", low=1, high=5)
    primary_maps: int = param(1, "Primary capsule types, each an 8-D capsule at every one "
                              "of the 4×4 positions (1 → 16 capsules, 8 → 128).",
                              low=1, high=8)
    w_init: float = param(0.5, "Standard deviation of the prediction matrices W_ij at "
                          "the start.", low=0.01, high=2.0, log=True,
                          label="W init scale")
    conv_channels: int = param(64, "Channels of the first convolution (shared by the "
                               "CNN).", low=8, high=128)
    decoder: bool = param(True, "Train the reconstruction decoder beside the margin loss.",
                          label="Reconstruction decoder")
    decoder_weight: float = param(0.0005, "Weight of the reconstruction loss (sum of "
                                  "squared pixel errors).", low=1e-5, high=0.05, log=True)
    epochs: int = param(15, "Passes over the training digits.", low=1, high=60)
    lr: float = param(3e-3, "Adam learning rate (every model).", low=1e-4, high=0.02,
                      log=True, label="Learning rate")
    batch_size: int = param(64, "Digits per step.", low=16, high=128)
    train_size: int = param(1200, "Training digits used (of the fixed 1,200; the test "
                            "set is always the other 597).", low=100, high=1200)
    seeds: int = param(3, "Seeds for the comparison table: each trains all three "
                       "models.", low=1, high=5)
    example: int = param(1, "The test digit whose couplings, lengths and reconstructions "
                         "are shown.", low=0, high=TEST_DIGITS - 1, label="Shown test digit")
    seed: int = param(0, "First seed (the others follow it); the split stays fixed.",
                      low=0, high=2**31 - 1)


# --- data -------------------------------------------------------------------------------

def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fixed stratified split of load_digits: 1,200 training and 597 test digits,
    pixels / 16, as float32 [n, 64] and int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(
        (x / 16.0).astype(np.float32), y.astype(np.int64), train_size=TRAIN_DIGITS,
        test_size=TEST_DIGITS, random_state=SPLIT_SEED, stratify=y)
    return xtr, ytr, xte, yte


def stream_seed(*parts: int) -> int:
    """A 32-bit seed for one purpose (init, batch order) of one seed of a run."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


# --- instance-batched layers -------------------------------------------------------------

def uniform_init(shape: tuple[int, ...], fan_in: int, gen: torch.Generator) -> torch.Tensor:
    """PyTorch's default init for convolutions and linear layers: U(±1/√fan_in)."""
    return (torch.rand(shape, generator=gen) * 2 - 1) * fan_in ** -0.5


def stack_params(per_instance: list[dict[str, torch.Tensor]], device) -> nn.ParameterDict:
    return nn.ParameterDict({name: nn.Parameter(torch.stack([p[name] for p in
                                                             per_instance]).to(device))
                             for name in per_instance[0]})


def grouped_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Each instance's convolution on its own channels: x [B, I*C_in, H, W], weight
    [I, C_out, C_in, 3, 3]."""
    instances = weight.shape[0]
    return F.conv2d(x, weight.flatten(0, 1), bias.flatten(), groups=instances)


def dense(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x [B, I, n_in] @ weight [I, n_in, n_out] + bias [I, n_out]."""
    return torch.einsum("bki,kio->bko", x, weight) + bias


def trunk_params(channels: int, out: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """The two 3×3 convolutions every model starts with."""
    return {"conv1_w": uniform_init((channels, 1, 3, 3), 9, gen),
            "conv1_b": uniform_init((channels,), 9, gen),
            "conv2_w": uniform_init((out, channels, 3, 3), 9 * channels, gen),
            "conv2_b": uniform_init((out,), 9 * channels, gen)}


def trunk(p: nn.ParameterDict, x: torch.Tensor) -> torch.Tensor:
    """x [B, I, 8, 8] -> [B, I, out, 16]: conv 3×3, ReLU, conv 3×3 (4×4 positions)."""
    batch, instances = x.shape[:2]
    h = F.relu(grouped_conv(x, p["conv1_w"], p["conv1_b"]))
    return grouped_conv(h, p["conv2_w"], p["conv2_b"]).view(batch, instances, -1, POSITIONS)


def squash(s: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """v = |s|² / (1 + |s|²) · s / |s| along the last dimension: length in [0, 1)."""
    n2 = (s * s).sum(-1, keepdim=True)
    return n2 / (1 + n2) * s / torch.sqrt(n2 + eps)


def route(u_hat: torch.Tensor, iterations: int, agree: bool = True
          ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Dynamic routing of u_hat [B, I, N, 10, 16]: the digit capsules v [B, I, 10, 16]
    and the couplings of every iteration, each [B, I, N, 10]. With `agree` False the
    agreement update is left out: the logits stay 0, so the couplings stay 1/10 and
    every iteration would compute the same v (it is computed once)."""
    logits = u_hat.new_zeros(u_hat.shape[:-1])
    couplings = []
    v = None
    for it in range(iterations):
        c = logits.softmax(-1)
        couplings.append(c)
        if agree or v is None:
            v = squash((c.unsqueeze(-1) * u_hat).sum(2))
        if agree and it < iterations - 1:
            logits = logits + (u_hat * v.unsqueeze(2)).sum(-1)
    return v, couplings


class CapsNets(nn.Module):
    """Capsule nets, one per instance: instance k was initialized from `seeds[k]` (two
    instances with one seed start identical); the first `routed` instances route by
    agreement, the others are uniform-routing controls."""

    def __init__(self, seeds: list[int], routed: int, config: Config, device):
        super().__init__()
        self.maps, self.iterations = config.primary_maps, config.routing_iterations
        n_primary = self.maps * POSITIONS
        per = []
        for s in seeds:
            gen = torch.Generator().manual_seed(s)
            p = trunk_params(config.conv_channels, self.maps * PRIMARY_DIM, gen)
            p["W"] = torch.randn((n_primary, CLASSES, DIGIT_DIM, PRIMARY_DIM),
                                 generator=gen) * config.w_init
            if config.decoder:
                sizes = (CLASSES * DIGIT_DIM, *DECODER_SIZES, SIDE * SIDE)
                for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                    p[f"dec{k}_w"] = uniform_init((fan_in, fan_out), fan_in, gen)
                    p[f"dec{k}_b"] = uniform_init((fan_out,), fan_in, gen)
            per.append(p)
        self.p = stack_params(per, device)
        self.has_decoder = config.decoder
        self.instances, self.routed = len(seeds), routed

    def primary(self, x: torch.Tensor) -> torch.Tensor:
        """[B, I, N, 8]: capsule type m at position q is primary capsule m·16 + q."""
        out = trunk(self.p, x)  # [B, I, maps*8, 16]
        batch, instances = x.shape[:2]
        u = out.view(batch, instances, self.maps, PRIMARY_DIM, POSITIONS).transpose(3, 4)
        return squash(u.reshape(batch, instances, self.maps * POSITIONS, PRIMARY_DIM))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        u_hat = torch.einsum("knjdp,bknp->bknjd", self.p["W"], self.primary(x))
        k = self.routed
        if k == self.instances:
            return route(u_hat, self.iterations)
        v, c = route(u_hat[:, :k], self.iterations)
        v_uniform, c_uniform = route(u_hat[:, k:], self.iterations, agree=False)
        return (torch.cat([v, v_uniform], 1),
                [torch.cat(pair, 1) for pair in zip(c, c_uniform)])

    def decode(self, v: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Pixels [B, I, 64] from v [B, I, 10, 16] with every capsule but `classes`
        [B, I] masked out."""
        mask = F.one_hot(classes, CLASSES).to(v.dtype).unsqueeze(-1)
        h = (v * mask).flatten(2)
        layers = len(DECODER_SIZES) + 1
        for k in range(layers):
            h = dense(h, self.p[f"dec{k}_w"], self.p[f"dec{k}_b"])
            h = torch.sigmoid(h) if k == layers - 1 else F.relu(h)
        return h

    def classifier_params(self) -> int:
        """Parameters of one instance, the decoder left out."""
        return sum(t[0].numel() for n, t in self.p.items() if not n.startswith("dec"))

    def decoder_params(self) -> int:
        return sum(t[0].numel() for n, t in self.p.items() if n.startswith("dec"))


def cnn_hidden(config: Config) -> int:
    """Width of the CNN's hidden dense layer that gives it about the capsule net's
    parameter count (the trunks are identical; the dense head replaces W)."""
    n_w = config.primary_maps * POSITIONS * CLASSES * DIGIT_DIM * PRIMARY_DIM
    flat = config.primary_maps * PRIMARY_DIM * POSITIONS
    return max(CLASSES, round((n_w - CLASSES) / (flat + 1 + CLASSES)))


class CNNs(nn.Module):
    """Plain CNNs, one per seed: the capsule net's two convolutions, ReLU, then
    flatten → dense (ReLU) → 10 logits."""

    def __init__(self, seeds: list[int], config: Config, device):
        super().__init__()
        flat, hidden = config.primary_maps * PRIMARY_DIM * POSITIONS, cnn_hidden(config)
        per = []
        for s in seeds:
            gen = torch.Generator().manual_seed(s)
            p = trunk_params(config.conv_channels, config.primary_maps * PRIMARY_DIM, gen)
            p.update(fc1_w=uniform_init((flat, hidden), flat, gen),
                     fc1_b=uniform_init((hidden,), flat, gen),
                     fc2_w=uniform_init((hidden, CLASSES), hidden, gen),
                     fc2_b=uniform_init((CLASSES,), hidden, gen))
            per.append(p)
        self.p = stack_params(per, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(trunk(self.p, x)).flatten(2)
        return dense(F.relu(dense(h, self.p["fc1_w"], self.p["fc1_b"])),
                     self.p["fc2_w"], self.p["fc2_b"])

    def params(self) -> int:
        return sum(t[0].numel() for t in self.p.values())


# --- losses and measures ------------------------------------------------------------------

def lengths(v: torch.Tensor) -> torch.Tensor:
    return v.norm(dim=-1)


def margin_loss(v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per digit and instance [B, I]: Σ_j T_j max(0, m+ − |v_j|)² + λ (1 − T_j)
    max(0, |v_j| − m−)²."""
    length = lengths(v)
    target = F.one_hot(y, CLASSES).to(v.dtype)
    return (target * F.relu(M_PLUS - length) ** 2
            + LAMBDA * (1 - target) * F.relu(length - M_MINUS) ** 2).sum(-1)


def squared_error(reconstruction: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sum of squared pixel errors per digit and instance [B, I]."""
    return ((reconstruction - x.flatten(2)) ** 2).sum(-1)


def coupling_stats(couplings: list[torch.Tensor], winner: torch.Tensor) -> dict[str, torch.Tensor]:
    """Sums over digits (to be divided by their count) of, per iteration and instance
    [r, I]: the couplings' entropy (mean over primary capsules), the mean coupling to the
    winning class, the share of primary capsules whose largest coupling goes to it
    (ties at 1/10 count as no), and the largest |c − 1/10|."""
    entropy, to_winner, top, deviation = [], [], [], []
    for c in couplings:
        entropy.append(-(c * torch.log(c.clamp_min(1e-30))).sum(-1).mean(-1).sum(0))
        cw = torch.gather(c, -1, winner[:, :, None, None].expand(*c.shape[:-1], 1))[..., 0]
        to_winner.append(cw.mean(-1).sum(0))
        is_top = (cw >= c.max(-1).values) & (cw > UNIFORM + 1e-6)
        top.append(is_top.float().mean(-1).sum(0))
        deviation.append((c - UNIFORM).abs().amax(dim=(0, 2, 3)))
    return {"entropy": torch.stack(entropy), "winner_coupling": torch.stack(to_winner),
            "top_is_winner": torch.stack(top), "deviation": torch.stack(deviation)}


def per_instance(x: torch.Tensor, instances: int) -> torch.Tensor:
    """The same digits [B, 64] for every instance: [B, I, 8, 8]."""
    return x.view(-1, 1, SIDE, SIDE).expand(-1, instances, SIDE, SIDE)


@torch.no_grad()
def evaluate(caps: CapsNets, cnn: CNNs, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Test accuracy and losses of every instance, and the routing measures."""
    n_caps, n_cnn = caps.instances, cnn.p["fc2_b"].shape[0]
    total = {"caps_correct": 0.0, "caps_margin": 0.0, "caps_recon": 0.0,
             "cnn_correct": 0.0, "cnn_loss": 0.0}
    stats = None
    for start in range(0, len(y), EVAL_CHUNK):
        xb, yb = x[start:start + EVAL_CHUNK], y[start:start + EVAL_CHUNK]
        v, couplings = caps(per_instance(xb, n_caps))
        pred = lengths(v).argmax(-1)  # [B, I]
        y_caps = yb[:, None].expand_as(pred)
        total["caps_correct"] = total["caps_correct"] + (pred == y_caps).float().sum(0)
        total["caps_margin"] = total["caps_margin"] + margin_loss(v, y_caps).sum(0)
        if caps.has_decoder:  # at test time the longest capsule is the one decoded
            rec = caps.decode(v, pred)
            total["caps_recon"] = total["caps_recon"] + squared_error(
                rec, per_instance(xb, n_caps)).sum(0)
        part = coupling_stats(couplings, pred)
        stats = part if stats is None else {
            k: torch.maximum(stats[k], part[k]) if k == "deviation" else stats[k] + part[k]
            for k in part}
        logits = cnn(per_instance(xb, n_cnn))
        y_cnn = yb[:, None].expand(-1, n_cnn)
        total["cnn_correct"] = total["cnn_correct"] + (logits.argmax(-1) == y_cnn).float().sum(0)
        total["cnn_loss"] = total["cnn_loss"] + F.cross_entropy(
            logits.flatten(0, 1), y_cnn.flatten(), reduction="none").view_as(y_cnn).sum(0)
    n = float(len(y))
    out = {k: (v / n).cpu().numpy() if torch.is_tensor(v) else np.zeros(n_caps)
           for k, v in total.items()}
    for k, v in stats.items():
        out[k] = (v if k == "deviation" else v / n).cpu().numpy()  # [r, I]
    return out


@torch.no_grad()
def example_pictures(caps: CapsNets, x: torch.Tensor) -> dict:
    """For one test digit and instance 0 (the first seed's routed net): the couplings of
    every iteration [r, N, 10], the ten lengths, and (with the decoder) the
    reconstructions of the winning capsule with each of its 16 dimensions moved by each
    of PERTURBATIONS ([16, len(PERTURBATIONS), 64])."""
    v, couplings = caps(per_instance(x[None], caps.instances))
    v0 = v[:, :1]  # [1, 1, 10, 16]
    length = lengths(v0)[0, 0]
    winner = int(length.argmax())
    out = {"couplings": torch.stack([c[0, 0] for c in couplings]).cpu().numpy(),
           "lengths": length.cpu().numpy(), "predicted": winner,
           "image": x.cpu().numpy()}
    if caps.has_decoder:
        steps = torch.tensor(PERTURBATIONS, dtype=v.dtype, device=v.device)
        eye = torch.eye(DIGIT_DIM, dtype=v.dtype, device=v.device)
        moved = v0[0, 0, winner] + steps[None, :, None] * eye[:, None, :]  # [16, S, 16]
        caps_in = v0.expand(DIGIT_DIM * len(PERTURBATIONS), 1, CLASSES, DIGIT_DIM).clone()
        caps_in[:, 0, winner] = moved.reshape(-1, DIGIT_DIM)
        cls = torch.full((caps_in.shape[0], 1), winner, device=v.device)
        # decode with instance 0's decoder only: pad the other instances with zeros
        pad = caps_in.new_zeros(caps_in.shape[0], caps.instances, CLASSES, DIGIT_DIM)
        pad[:, :1] = caps_in
        rec = caps.decode(pad, cls.expand(-1, caps.instances))[:, 0]
        out["perturbed"] = rec.view(DIGIT_DIM, len(PERTURBATIONS), SIDE * SIDE).cpu().numpy()
        out["reconstruction"] = caps.decode(v, lengths(v).argmax(-1))[0, 0].cpu().numpy()
    return out


# --- comparison ------------------------------------------------------------------------------

def paired_verdict(a: list[float], b: list[float]) -> dict:
    """a − b over seeds: the mean difference, how many seeds each side won, and whether
    the difference is clear of the seed-to-seed noise: with at least MIN_SEEDS seeds,
    every seed on the same side and |mean| ≥ 2 standard errors of the paired
    differences ("better" / "worse"); else "unclear", "few_seeds" or "identical"."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else None
    if np.all(d == 0):
        verdict = "identical"
    elif len(d) < MIN_SEEDS:
        verdict = "few_seeds"
    elif abs(mean) >= 2 * se and (np.all(d > 0) or np.all(d < 0)):
        verdict = "better" if mean > 0 else "worse"
    else:
        verdict = "unclear"
    return {"mean_difference": mean, "standard_error": se,
            "seeds_better": int((d > 0).sum()), "seeds_worse": int((d < 0).sum()),
            "seeds_equal": int((d == 0).sum()), "verdict": verdict}


def seed_table(seeds: list[int], caps: np.ndarray, uniform: np.ndarray,
               cnn: np.ndarray) -> dict:
    return {"seed": list(seeds), "capsules": [float(a) for a in caps],
            "uniform": [float(a) for a in uniform], "cnn": [float(a) for a in cnn]}


# --- the run ----------------------------------------------------------------------------------

def train_epoch(caps: CapsNets, cnn: CNNs, opt: torch.optim.Optimizer, x_train: torch.Tensor,
                y_train: torch.Tensor, perms: torch.Tensor, config: Config, report) -> dict:
    """One pass over the training digits in each seed's order `perms` [n, train]: the
    capsule nets (routed and uniform twins see the same batches) and the CNNs take one
    Adam step per batch. Returns per-instance running means over the epoch."""
    n = perms.shape[0]
    sums = {"caps_correct": 0.0, "caps_margin": 0.0, "caps_recon": 0.0,
            "cnn_correct": 0.0, "cnn_loss": 0.0}
    for start in range(0, config.train_size, config.batch_size):
        if report.cancelled:
            report.log(0)  # raises Cancelled: a cancelled run returns no partial summary
        idx = perms[:, start:start + config.batch_size]  # [n, B]
        x = x_train[idx].permute(1, 0, 2).reshape(idx.shape[1], n, SIDE, SIDE)
        y = y_train[idx].t()  # [B, n]
        x_caps, y_caps = torch.cat([x, x], 1), torch.cat([y, y], 1)
        v, _ = caps(x_caps)
        margin = margin_loss(v, y_caps)  # [B, 2n]
        # each instance's mean loss, summed: with Adam the instances train independently
        loss = margin.mean(0).sum()
        if caps.has_decoder:  # trained on the true class, as in the paper
            recon = squared_error(caps.decode(v, y_caps), x_caps)
            loss = loss + config.decoder_weight * recon.mean(0).sum()
            sums["caps_recon"] = sums["caps_recon"] + recon.detach().sum(0)
        logits = cnn(x)
        ce = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view_as(y)
        loss = loss + ce.mean(0).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            sums["caps_correct"] = sums["caps_correct"] + (
                lengths(v).argmax(-1) == y_caps).float().sum(0)
            sums["caps_margin"] = sums["caps_margin"] + margin.detach().sum(0)
            sums["cnn_correct"] = sums["cnn_correct"] + (logits.argmax(-1) == y).float().sum(0)
            sums["cnn_loss"] = sums["cnn_loss"] + ce.detach().sum(0)
    return {k: (v / config.train_size).cpu().numpy() if torch.is_tensor(v)
            else np.zeros(2 * n) for k, v in sums.items()}


def epoch_scalars(train: dict, ev: dict, n: int, decoder: bool) -> dict[str, float]:
    """What one epoch logs: each model's accuracy and loss (means over the seeds), the
    lowest and highest test accuracy over the seeds, the routing measures of the last
    iteration, and the reconstruction error."""
    routed, uniform = slice(0, n), slice(n, 2 * n)
    out = {}
    for name, part in (("capsules", routed), ("uniform", uniform)):
        out[f"{name}_train_accuracy"] = train["caps_correct"][part].mean()
        out[f"{name}_test_accuracy"] = ev["caps_correct"][part].mean()
        out[f"{name}_train_loss"] = train["caps_margin"][part].mean()
        out[f"{name}_test_loss"] = ev["caps_margin"][part].mean()
    # the seeds' spread of the headline curve: its band on the page
    for name, correct in (("capsules", ev["caps_correct"][routed]),
                          ("uniform", ev["caps_correct"][uniform]),
                          ("cnn", ev["cnn_correct"])):
        out[f"{name}_test_accuracy_lo"] = correct.min()
        out[f"{name}_test_accuracy_hi"] = correct.max()
    out.update(cnn_train_accuracy=train["cnn_correct"].mean(),
               cnn_test_accuracy=ev["cnn_correct"].mean(),
               cnn_train_loss=train["cnn_loss"].mean(), cnn_test_loss=ev["cnn_loss"].mean(),
               entropy_last_iteration=ev["entropy"][-1, routed].mean(),
               winner_coupling_last_iteration=ev["winner_coupling"][-1, routed].mean())
    if decoder:
        out["reconstruction_loss_train"] = train["caps_recon"][routed].mean()
        out["reconstruction_loss_test"] = ev["caps_recon"][routed].mean()
    return {k: float(v) for k, v in out.items()}


CURVES = ("capsules_test_accuracy", "uniform_test_accuracy", "cnn_test_accuracy",
          "entropy_last_iteration", "winner_coupling_last_iteration",
          "reconstruction_loss_test")


def run(config: Config, report) -> dict:
    device = choose_device()
    xtr, ytr, xte, yte = digits_split()
    x_train = torch.tensor(xtr[:config.train_size], device=device)
    y_train = torch.tensor(ytr[:config.train_size], device=device)
    x_test, y_test = torch.tensor(xte, device=device), torch.tensor(yte, device=device)
    seeds = [config.seed + k for k in range(config.seeds)]
    n = len(seeds)
    init = [stream_seed(s, 1) for s in seeds]
    # instances 0..n-1 route by agreement, n..2n-1 are their uniform twins (same init)
    caps = CapsNets(init + init, n, config, device)
    cnn = CNNs([stream_seed(s, 2) for s in seeds], config, device)
    opt = torch.optim.Adam([*caps.parameters(), *cnn.parameters()], lr=config.lr)
    orders = [torch.Generator().manual_seed(stream_seed(s, 3)) for s in seeds]
    example, example_label = x_test[config.example], int(yte[config.example])
    report.set_total(config.epochs)
    curves: dict[str, list[float]] = {"epoch": [], **{k: [] for k in CURVES}}
    routed, uniform = slice(0, n), slice(n, 2 * n)
    for epoch in range(1, config.epochs + 1):
        perms = torch.stack([torch.randperm(config.train_size, generator=g)
                             for g in orders]).to(device)
        train = train_epoch(caps, cnn, opt, x_train, y_train, perms, config, report)
        ev = evaluate(caps, cnn, x_test, y_test)
        pictures = {**example_pictures(caps, example), "label": example_label}
        scalars = epoch_scalars(train, ev, n, caps.has_decoder)
        report.log(epoch, **scalars)
        curves["epoch"].append(epoch)
        for key in CURVES:
            if key in scalars:
                curves[key].append(scalars[key])
        report.snapshot("example", pictures)
        report.snapshot("routing", routing_measures(ev, n))
        report.snapshot("table", seed_table(seeds, ev["caps_correct"][routed],
                                            ev["caps_correct"][uniform], ev["cnn_correct"]))
    return summarize(config, seeds, ev, train["caps_correct"], curves, pictures, caps, cnn,
                     config.epochs, example_label)


def routing_measures(ev: dict, n: int) -> dict:
    """Per routing iteration, averaged over the test digits and the seeds: the
    couplings' entropy, the coupling to the winning class and the share of primary
    capsules whose strongest coupling goes to it, for the routed nets and their uniform
    controls."""
    routed, uniform = slice(0, n), slice(n, 2 * n)
    return {"entropy": ev["entropy"][:, routed].mean(1),
            "winner_coupling": ev["winner_coupling"][:, routed].mean(1),
            "top_is_winner": ev["top_is_winner"][:, routed].mean(1),
            "uniform_entropy": ev["entropy"][:, uniform].mean(1),
            "uniform_winner_coupling": ev["winner_coupling"][:, uniform].mean(1),
            "max_entropy": MAX_ENTROPY}


def summarize(config: Config, seeds: list[int], ev: dict, train_acc: np.ndarray,
              curves: dict, pictures: dict, caps: CapsNets, cnn: CNNs,
              epochs_done: int, label: int) -> dict:
    n = len(seeds)
    routed, uniform = slice(0, n), slice(n, 2 * n)
    caps_acc, uni_acc, cnn_acc = (ev["caps_correct"][routed], ev["caps_correct"][uniform],
                                  ev["cnn_correct"])
    measures = routing_measures(ev, n)
    entropy = [float(e) for e in measures["entropy"]]
    winner = [float(w) for w in measures["winner_coupling"]]
    rec = curves["reconstruction_loss_test"]

    def stats(acc: np.ndarray) -> dict:
        return {"mean": float(acc.mean()), "std": float(acc.std(ddof=1)) if n > 1 else 0.0,
                "error_percent": float(100 * (1 - acc.mean()))}

    return {
        "seeds": seeds,
        "test_accuracy": seed_table(seeds, caps_acc, uni_acc, cnn_acc),
        "capsules": stats(caps_acc), "uniform": stats(uni_acc), "cnn": stats(cnn_acc),
        "capsules_train_accuracy": float(train_acc[routed].mean()),
        "routing_vs_uniform": paired_verdict(caps_acc, uni_acc),
        "capsules_vs_cnn": paired_verdict(caps_acc, cnn_acc),
        "routing_is_uniform": config.routing_iterations == 1,
        "entropy_per_iteration": entropy,
        "entropy_per_iteration_by_seed": ev["entropy"][:, routed].T.round(6).tolist(),
        "entropy_drop": entropy[0] - entropy[-1],
        "max_entropy": MAX_ENTROPY,
        "winner_coupling_per_iteration": winner,
        "top_is_winner_per_iteration": [float(t) for t in measures["top_is_winner"]],
        "uniform_entropy_per_iteration": [float(e) for e in measures["uniform_entropy"]],
        "uniform_coupling_max_deviation": float(ev["deviation"][:, uniform].max()),
        "sharpened": winner[-1] >= SHARPENED_WINNER_COUPLING,
        "sharpened_threshold": SHARPENED_WINNER_COUPLING,
        "reconstruction": ({"first_epoch_test_loss": rec[0], "last_epoch_test_loss": rec[-1],
                            "test_loss_per_epoch": rec} if caps.has_decoder else None),
        "example": {"index": config.example, "label": label,
                    "predicted": int(pictures["predicted"]),
                    "lengths": [float(v) for v in pictures["lengths"]]},
        "primary_capsules": config.primary_maps * POSITIONS,
        "capsule_params": caps.classifier_params(),
        "decoder_params": caps.decoder_params(),
        "cnn_params": cnn.params(), "cnn_hidden": cnn_hidden(config),
        "curves": curves,
        "paper_mnist_error_percent": PAPER_MNIST_ERROR,
        "epochs_done": epochs_done, "train_digits": config.train_size,
        "test_digits": TEST_DIGITS,
    }


def receipt(config: Config, summary: dict) -> Receipt:
    """Test error of the routed capsule net, its uniform control and the CNN, set
    against Sabour et al.'s MNIST errors: it holds when routing beats the uniform control
    and the capsule net beats the CNN, each clear of the seed noise (paired_verdict
    "better"); it cannot tell with r = 1 (no routing to test) or too few seeds."""
    caps, uni, cnn = (summary[k]["error_percent"] for k in ("capsules", "uniform", "cnn"))
    routing, versus_cnn = summary["routing_vs_uniform"], summary["capsules_vs_cnn"]
    n = len(summary["seeds"])
    live = (f"test error {caps:.1f} % with {config.routing_iterations} routing iterations, "
            f"{uni:.1f} % for the uniform control (what one iteration computes), {cnn:.1f} % "
            f"for the CNN (mean of {n} "
            f"seed{'' if n == 1 else 's'}; routing ahead in {routing['seeds_better']} of "
            f"{n}, capsules ahead of the CNN in {versus_cnn['seeds_better']} of {n})")
    if summary["routing_is_uniform"]:
        holds = None
        live += "; with one iteration the capsule net is its uniform control"
    elif n < MIN_SEEDS:
        holds = None
        live += f"; {MIN_SEEDS} seeds are needed to call a difference clear"
    else:
        holds = routing["verdict"] == "better" and versus_cnn["verdict"] == "better"
        if routing["verdict"] != "better":
            live += "; routing is not clearly better than uniform couplings, as Paik et " \
                    "al. 2019 often found"
        if versus_cnn["verdict"] != "better":
            live += "; the capsule net is not clearly ahead of the CNN"
    paper = PAPER_MNIST_ERROR
    return Receipt(
        claim="Routing by agreement makes a capsule net more accurate than no routing "
              "and than a CNN",
        paper=f"MNIST test error {paper['capsnet_3_iterations']} % with 3 routing "
              f"iterations, {paper['capsnet_1_iteration']} % with 1, "
              f"{paper['baseline_cnn']} % for the baseline CNN",
        live=live,
        source="Sabour, Frosst & Hinton 2017, Dynamic Routing Between Capsules; the "
               "uniform control after Paik et al. 2019",
        smaller=f"scikit-learn's 8×8 digits ({config.train_size:,} training, {TEST_DIGITS} "
                f"test) instead of 60,000 MNIST images, {summary['primary_capsules']} "
                f"primary capsules instead of 1,152, {config.epochs} epochs and a CNN of "
                f"the capsule net's size; with {TEST_DIGITS} test digits one error is "
                f"{100 / TEST_DIGITS:.2f} %, so errors are far above the paper's.",
        holds=holds)


# the work of a run, for core.cost: it grows as the run's compute does
def _capsules_work(c) -> float:
    return (
        3
        * c.seeds
        * c.epochs
        * (
            c.train_size / c.batch_size * work.STEP_OVERHEAD
            + 3
            * c.train_size
            * (
                36 * 9 * c.conv_channels
                + 16 * 9 * c.conv_channels * c.primary_maps * PRIMARY_DIM
                + c.routing_iterations
                * c.primary_maps
                * POSITIONS
                * CLASSES
                * PRIMARY_DIM
                * DIGIT_DIM
                + work.mlp([CLASSES * DIGIT_DIM, *DECODER_SIZES, 64])
            )
        )
    )


PRESETS = (
    Preset("16 capsules",
           "The default: 16 primary capsules with long predictions; the couplings to the "
           "winning digit roughly double over three iterations.",
           {}),
    Preset("128 short capsules",
           "8 capsule types (128 primary capsules), small W, 5 epochs: each vote can be "
           "short, the agreements stay tiny and the couplings hardly leave 1/10.",
           {"primary_maps": 8, "w_init": 0.05, "lr": 0.001, "epochs": 5, "seeds": 1}),
    Preset("One iteration",
           "r = 1: no agreement step at all, so the capsule net and its uniform control "
           "are the same computation.",
           {"routing_iterations": 1}),
    Preset("Five iterations",
           "More rounds of agreement: the couplings sharpen further.",
           {"routing_iterations": 5}),
    Preset("No decoder",
           "Margin loss only: accuracy barely changes, but the capsule's dimensions no "
           "longer redraw the digit.",
           {"decoder": False}),
    Preset("200 training digits",
           "Little data, more epochs: who copes better with few examples?",
           {"train_size": 200, "epochs": 40}),
)

EXPERIMENT = Experiment(
    name="capsules",
    title="Capsule networks: routing by agreement",
    Config=Config,
    run=run,
    cost=Cost(18.7, _capsules_work),
    version=2,  # 2: logs the seeds' lowest and highest test accuracy (the band)
    small={"epochs": 1, "train_size": 100, "seeds": 1, "conv_channels": 8,
           "batch_size": 50},
    diverge_hint="Lower the learning rate (lr) or the W init scale (w_init).",
    presets=PRESETS,
    receipt=receipt,
)
