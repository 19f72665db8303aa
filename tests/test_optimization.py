"""The Optimization page's claims, with numbers: GD's edge at lr = 2/L on ½(x² + 100y²),
the learning-rate U and its cliff, the spread through 50 layers per initialization, and
muP against SP (argmin, the curves' overlap, the coordinate check). Then the page through
AppTest and in a real browser."""
import json
import os

import numpy as np
import pytest
import torch

from core import engine, params
from core.experiments import initialization, lr_sweep, mup_transfer, optimizer_paths
from core.instance_mlp import InstanceMLP, InstanceOptimizer, cross_entropy
from tests.apptest_support import (fresh_registry, metric, open_page,  # noqa: F401
                                   receipt_lines, run_until_ended)
from tests.browser import browser_page, wait_idle

PAGE = "views/optimization.py"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    torch.set_num_threads(1)


def done(name, config):
    run = engine.run_sync(name, config)
    assert run.view().status == engine.DONE, run.view().error
    json.dumps(run.view().summary, allow_nan=False)
    return run.view().summary


def gd(summary):
    return next(r for r in summary["optimizers"] if r["optimizer"] == "gd")


# --- 1. optimizer paths ------------------------------------------------------------------

def test_gd_converges_just_below_two_over_l_and_diverges_just_above():
    below = done("optimizer_paths", optimizer_paths.Config(lr=0.019))
    above = done("optimizer_paths", optimizer_paths.Config(lr=0.021))
    assert below["largest_curvature"] == pytest.approx(100.0)
    assert below["gd_edge_lr"] == pytest.approx(0.02, rel=1e-6)
    assert below["momentum_edge_lr"] == pytest.approx(2 * 1.9 / 100, rel=1e-6)
    assert below["gd_stable"] and not above["gd_stable"]
    assert gd(below)["diverged_at_step"] is None
    assert gd(below)["steps_to_tolerance"] is not None and gd(below)["final_gap"] < 1e-3
    assert gd(above)["diverged_at_step"] is not None and gd(above)["steps_to_tolerance"] is None
    # momentum is stable at both (its edge is 0.038) and faster than GD
    for s in (below, above):
        mom = next(r for r in s["optimizers"] if r["optimizer"] == "momentum")
        assert mom["diverged_at_step"] is None and mom["steps_to_tolerance"] is not None
    mom = next(r for r in below["optimizers"] if r["optimizer"] == "momentum")
    assert mom["steps_to_tolerance"] < gd(below)["steps_to_tolerance"] / 1.5


def test_the_paths_receipt_checks_each_edge_against_what_the_optimizer_did():
    above = done("optimizer_paths", optimizer_paths.Config(lr=0.021))
    real = optimizer_paths.EXPERIMENT.receipt(optimizer_paths.Config(lr=0.021), above)
    assert real.holds is True
    assert real.live.startswith(f"at lr 0.021, GD (edge 0.02) diverged at step "
                                f"{gd(above)['diverged_at_step']:,}, momentum")
    # a GD that stayed put past its edge would contradict the analysis
    calm = {**above, "optimizers": [dict(o, diverged_at_step=None) for o in above["optimizers"]]}
    wrong = optimizer_paths.EXPERIMENT.receipt(optimizer_paths.Config(lr=0.021), calm)
    assert wrong.holds is False and "GD did not do what its edge predicts" in wrong.live
    bent = optimizer_paths.EXPERIMENT.receipt(optimizer_paths.Config(function="rosenbrock"),
                                              {**above, "function": "rosenbrock"})
    assert bent.holds is None and "rosenbrock surface" in bent.live


def test_the_computed_rate_matches_what_gd_does():
    """GD's y-error shrinks by |1 − 100·lr| a step: at lr 0.019 by 0.9."""
    run = engine.run_sync("optimizer_paths", optimizer_paths.Config(lr=0.019, steps=40))
    ys = np.asarray(run.view().snapshots["paths"]["gd"])[:, 1]
    assert np.allclose(ys[1:] / ys[:-1], 1 - 100 * 0.019, atol=1e-9)
    assert optimizer_paths.linear_rate("gd", 1.9, 0.9) == pytest.approx(0.9)
    assert optimizer_paths.stable_edge("momentum", 100.0, 0.9) == pytest.approx(0.038)


def test_rosenbrock_and_the_saddle():
    rosen = done("optimizer_paths", optimizer_paths.Config(
        function="rosenbrock", lr=0.0015, adaptive_lr=0.1, steps=1000))
    by = {r["optimizer"]: r for r in rosen["optimizers"]}
    assert by["gd"]["steps_to_tolerance"] is None  # crawls along the banana
    assert by["momentum"]["steps_to_tolerance"] is not None
    assert by["adam"]["steps_to_tolerance"] is not None
    saddle = done("optimizer_paths", optimizer_paths.Config(
        function="saddle", lr=0.03, adaptive_lr=0.03))
    off = {r["optimizer"]: r["steps_off_ridge"] for r in saddle["optimizers"]}
    # per-coordinate scaling leaves the ridge at once, GD takes many times longer
    assert off["rmsprop"] <= 5 and off["adam"] <= 25
    assert off["gd"] > 5 * off["adam"]


# --- 2. learning-rate sweep ----------------------------------------------------------------

@pytest.fixture(scope="module")
def sweep():
    return done("lr_sweep", lr_sweep.Config())


def test_every_optimizer_has_an_interior_best_lr_and_a_diverged_edge(sweep):
    lrs = sweep["lrs"]
    for name, res in sweep["per_optimizer"].items():
        assert res["interior_best"], name
        assert res["first_diverged_lr"] is not None, name
        assert res["first_diverged_lr"] > res["best_lr"], name
        # the U: both ends are far worse than the best
        rows = res["rows"]
        assert rows[0]["mean"] > 10 * res["best_loss"], name
        assert rows[-1]["diverged"] > 0, name
        assert res["diverged_runs"] >= 1
    best = {n: r["best_lr"] for n, r in sweep["per_optimizer"].items()}
    assert best["adam"] < best["momentum"] <= best["sgd"]
    assert lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(10.0)


def test_diverged_runs_are_marked_not_logged_as_nan(sweep):
    rows = sweep["per_optimizer"]["adam"]["rows"]
    last = rows[-1]
    assert last["diverged"] == 3 and last["seed_losses"] == [None, None, None]
    assert last["mean"] is None and last["first_diverged_step"] >= 1
    # instances are independent: diverged neighbours leave a good run untouched
    lr = sweep["lrs"][5]
    alone = done("lr_sweep", lr_sweep.Config(lr_min=lr / 100, lr_max=lr, n_lrs=3))
    together = rows[5]
    alone_row = alone["per_optimizer"]["adam"]["rows"][-1]
    assert alone_row["lr"] == together["lr"] == lr
    assert alone_row["seed_losses"] == pytest.approx(together["seed_losses"], rel=1e-4)


def test_the_instance_optimizer_matches_torch_optim():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 6, generator=gen)
    y = torch.randint(0, 3, (32,), generator=gen)
    lrs = [0.01, 0.3]
    for rule, ref in (("sgd", lambda p, lr: torch.optim.SGD(p, lr=lr)),
                      ("momentum", lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9)),
                      ("adam", lambda p, lr: torch.optim.Adam(p, lr=lr))):
        model = InstanceMLP(2, [6, 5, 3], torch.Generator().manual_seed(1))
        refs = [[p[i].detach().clone().requires_grad_() for p in model.parameters()]
                for i in range(2)]
        opt = InstanceOptimizer(model.parameters(), rule, torch.tensor(lrs))
        ref_opts = [ref(r, lr) for r, lr in zip(refs, lrs)]
        for _ in range(5):
            opt.zero_grad()
            cross_entropy(model(x), y).sum().backward()
            opt.step()
            for r, o in zip(refs, ref_opts):
                w1, w2, b1, b2 = r
                logits = torch.relu(x @ w1 + b1) @ w2 + b2
                o.zero_grad()
                torch.nn.functional.cross_entropy(logits, y).backward()
                o.step()
        for i in range(2):
            for mine, theirs in zip(model.parameters(), refs[i]):
                assert torch.allclose(mine[i], theirs, atol=1e-6), rule


def test_the_sweep_receipt_needs_a_u_and_a_cliff_for_every_optimizer(sweep):
    real = lr_sweep.EXPERIMENT.receipt(lr_sweep.Config(), sweep)
    adam = sweep["per_optimizer"]["adam"]
    assert real.holds is True
    assert f"Adam best at {adam['best_lr']:.2g}, diverging from " \
           f"{adam['first_diverged_lr']:.2g}" in real.live

    def edited(name, **changes):
        per = {k: (dict(v, **changes) if k == name else v)
               for k, v in sweep["per_optimizer"].items()}
        return lr_sweep.EXPERIMENT.receipt(lr_sweep.Config(), {**sweep, "per_optimizer": per})

    flat = edited("sgd", interior_best=False, best_index=0, best_lr=sweep["lrs"][0])
    assert flat.holds is False and "no U with a cliff for SGD" in flat.live
    short = edited("adam", first_diverged_lr=None, interior_best=False,
                   best_index=len(sweep["lrs"]) - 1)
    assert short.holds is None and "raise lr_max" in short.live


# --- 3. initialization ----------------------------------------------------------------------

def test_he_keeps_the_spread_and_the_others_vanish_or_explode():
    s = done("initialization", initialization.Config())["schemes"]
    assert 0.5 <= s["he"]["last_over_first_std"] <= 2.0 and s["he"]["kept"]
    assert 0.5 <= s["he"]["first_over_last_grad"] <= 2.0
    assert s["he_half"]["last_over_first_std"] < 0.01
    assert s["he_double"]["last_over_first_std"] > 100
    # geometrically: half (double) He's σ halves (doubles) the spread every layer
    assert s["he_half"]["factor_per_layer"] == pytest.approx(0.5, abs=0.03)
    assert s["he_double"]["factor_per_layer"] == pytest.approx(2.0, abs=0.1)
    assert s["lecun"]["factor_per_layer"] == pytest.approx(2 ** -0.5, abs=0.03)
    # the backward signal meets the same factors on its way to the first layer
    assert s["he_half"]["first_over_last_grad"] < 1e-6
    assert s["he_double"]["first_over_last_grad"] > 1e6
    # tanh with Xavier shrinks slowly, far less than ReLU with the same variance
    assert s["xavier_tanh"]["last_over_first_std"] > 1e3 * s["lecun"]["last_over_first_std"]
    assert s["xavier_tanh"]["factor_per_layer"] > 0.9


def test_the_init_receipt_holds_only_when_he_alone_keeps_the_spread():
    summary = done("initialization", initialization.Config())
    real = initialization.EXPERIMENT.receipt(initialization.Config(), summary)
    he = summary["schemes"]["he"]["last_over_first_std"]
    assert real.holds is True and f"He {he:.2g}, 1/fan_in" in real.live

    def edited(name, depth=50, **changes):
        schemes = {k: (dict(v, **changes) if k == name else v)
                   for k, v in summary["schemes"].items()}
        return initialization.EXPERIMENT.receipt(initialization.Config(depth=depth),
                                                 {**summary, "schemes": schemes,
                                                  "depth": depth})

    drifted = edited("he", kept=False, last_over_first_std=0.3)
    assert drifted.holds is False and "He's spread left 0.5–2×" in drifted.live
    assert edited("he_half", kept=True, last_over_first_std=0.7).holds is False
    assert edited("he", depth=4).holds is None


# --- 4. muP -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mup():
    return done("mup_transfer", mup_transfer.Config(steps=100))


def test_mup_keeps_the_best_lr_and_the_curves_on_top_of_each_other(mup):
    assert mup["widths"] == [32, 64, 128, 256] and len(mup["lrs"]) == 9
    assert mup["argmin_shift_steps"]["mup"] <= 1
    assert mup["spread_ratio_sp_over_mup"] > 3
    # the SP curves slide: at the smallest lr wider nets are far further along
    sp_low, mup_low = mup["lowest_lr_loss"]["sp"], mup["lowest_lr_loss"]["mup"]
    assert sp_low[0] - sp_low[-1] > 0.3
    assert max(mup_low) - min(mup_low) < 0.05
    # tune at 32, train 256: muP's tuned lr is within a step of the best there
    assert abs(mup["transfer"]["mup"]["steps_off"]) <= 1


def test_the_mup_receipt_needs_a_still_argmin_and_sliding_sp_curves(mup):
    config = mup_transfer.Config(steps=100)
    real = mup_transfer.EXPERIMENT.receipt(config, mup)
    assert real.holds is True
    assert real.live.startswith("best learning rate at widths 32, 64, 128, 256: muP ")
    assert f"SP's curves lie {mup['spread_ratio_sp_over_mup']:.1f}× as far apart" in real.live

    def edited(config=config, **changes):
        return mup_transfer.EXPERIMENT.receipt(config, {**mup, **changes})

    moved = edited(argmin_shift_steps={"sp": 3, "mup": 3})
    assert moved.holds is False
    assert edited(spread_ratio_sp_over_mup=1.2).holds is False  # the SP curves overlap too
    tie = edited(argmin_shift_steps={"sp": 1, "mup": 1})
    assert tie.holds is True and "not the optimum, that sets the two apart" in tie.live
    narrow = edited(mup_transfer.Config(widths=(32, 64)), widths=[32, 64])
    assert narrow.holds is None and "4× apart" in narrow.live


def test_the_coordinate_check_separates_sp_from_mup(mup):
    coord = mup["coord"]
    assert coord["layers"] == ["input layer", "hidden 1", "readout"]
    sp, mp = coord["slopes"]["sp"], coord["slopes"]["mup"]
    last = coord["steps"][-1]
    assert sp[last][1] > 0.25 and sp[last][2] > 0.5  # hidden and readout grow under SP
    assert set(coord["growing"]["sp"][last]) == {"hidden 1", "readout"}
    for t in coord["steps"][1:]:
        assert all(abs(v) < 0.2 for v in mp[t]), (t, mp[t])
        assert coord["growing"]["mup"][t] == []
    assert abs(sp[last][0]) < 0.2  # the input layer's fan-in does not change with width


def test_at_the_base_width_mup_and_sp_are_the_same_network():
    config = mup_transfer.Config(widths=(32,), n_lrs=3, steps=20, n_train=300)
    s = done("mup_transfer", config)
    assert s["loss"]["sp"] == s["loss"]["mup"]


def test_the_hand_written_mup_matches_the_mup_package():
    """`make test` installs mup without its dependencies (pip's mup would pull in
    torchvision and another torch): the app does not need it, this check does. It may
    skip on a machine set up by hand, never in CI."""
    if os.environ.get("CI"):
        import mup
    else:
        mup = pytest.importorskip("mup")
    from torch import nn
    width, lr = 128, 0.01
    config = mup_transfer.Config()
    model, opt, _ = mup_transfer.build_model(width, config, [lr], 0, torch.device("cpu"))

    def net(w):
        return nn.Sequential(nn.Linear(64, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
                             mup.MuReadout(w, 10))
    ref = net(width)
    with torch.no_grad():
        for k, m in enumerate(m for m in ref if isinstance(m, nn.Linear)):
            m.weight.copy_(model.weights[k][0].T)
            m.bias.copy_(model.biases[k][0, 0])
    mup.set_base_shapes(ref, net(32), delta=net(64))
    ref_opt = mup.MuAdam(ref.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        x, y = torch.rand(64, 64, generator=gen), torch.randint(0, 10, (64,), generator=gen)
        ours = cross_entropy(model(x), y)
        theirs = nn.functional.cross_entropy(ref(x), y)
        assert float(ours[1]) == pytest.approx(float(theirs), abs=1e-5)
        opt.zero_grad()
        ours.sum().backward()
        opt.step()
        ref_opt.zero_grad()
        theirs.backward()
        ref_opt.step()


def test_rules_across_fields_are_refused_naming_the_field():
    with pytest.raises(params.ParamError, match="'lr_max' must be larger than 'lr_min'"):
        params.build(mup_transfer.Config, {"lr_min": "0.1", "lr_max": "0.01"})
    with pytest.raises(params.ParamError, match="'batch_size' must be at most 'n_train'"):
        params.build(lr_sweep.Config, {"batch_size": "512", "n_train": "200"})
    with pytest.raises(params.ParamError, match="'lr' must be a float in"):
        params.build(optimizer_paths.Config, {"lr": "5"})


# --- the page ---------------------------------------------------------------------------------

SMALL = {"steps": "60", "sweep_n_lrs": "5", "sweep_seeds": "1", "sweep_steps": "20",
         "sweep_n_train": "300", "init_depth": "10", "init_seeds": "1",
         "mup_widths": "16,32", "mup_base_width": "16", "mup_n_lrs": "3", "mup_steps": "10",
         "mup_n_train": "300"}


def test_the_page_draws_all_four_parts():
    at = open_page(PAGE, query=SMALL)
    assert at.selectbox(key="opt.function").value == "quadratic"
    assert at.select_slider(key="opt.lr").value == pytest.approx(0.012)
    assert at.slider(key="opt_lr.n_lrs").value == 5
    assert at.slider(key="opt_init.depth").value == 10
    assert at.text_input(key="opt_mup.widths").value == "16,32"
    run_until_ended(at)
    assert len(at.success) == 4 and all("Done" in s.value for s in at.success)
    # paths, gaps, rates; sweep, curves; spread, gradient; 2 heatmaps/curves, best lr,
    # spread, coordinate check
    assert len(at.get("vega_lite_chart")) == 12
    assert metric(at, "GD's edge 2/L") == "0.02"
    assert metric(at, "GD at this lr") == "stable"
    assert metric(at, "He (2/fan_in), ReLU") != ""
    assert "grid step" in metric(at, "Best lr moves, muP")
    assert len(at.dataframe) == 5
    assert len(at.get("download_button")) == 9  # + the page's SVG button
    paths, sweep, init, mup = receipt_lines(at)  # one per section, in page order
    # 60 steps are too few for GD to reach the tolerance, but it stays bounded
    assert "This run: at lr 0.012, GD (edge 0.02) stayed bounded" in paths
    assert "Reproduced in this run" in paths
    assert "This run: SGD best at" in sweep
    assert "This run: last layer's spread over the first's after 10 layers" in init
    assert "This run: best learning rate at widths 16, 32: muP" in mup
    assert "This run cannot tell" in mup  # 16 to 32 is only 2× wider
    assert not at.exception


def test_a_preset_changes_the_config_and_a_bad_value_names_the_field():
    at = open_page(PAGE, query=SMALL)
    at.button(key="opt.preset.Just above 2/L").click().run()
    assert at.select_slider(key="opt.lr").value == pytest.approx(0.021)
    at.button(key="opt_mup.preset.Coordinate check at lr 0.1").click().run()
    assert at.select_slider(key="opt_mup.coord_lr").value == pytest.approx(0.1)
    at.text_input(key="opt_mup.widths").set_value("16, 5000").run()
    assert not at.exception
    assert any("'widths' must be a comma-separated list of integers in [8, 1024]" in e.value
               for e in at.error)
    assert not at.exception


def test_the_page_in_a_browser(server):
    from urllib.parse import urlencode
    with browser_page() as page:
        page.goto(f"{server.url}/optimization?{urlencode(SMALL)}")
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stAlertContentSuccess\"]')"
            ".length === 4", timeout=180_000)
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length"
            " === 12", timeout=60_000)
        wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("GD's edge 2/L").count() == 1
