import streamlit as st

from core import catalog, engine
from core.charts import optimization as charts
from core.experiments import initialization, lr_sweep, mup_transfer, optimizer_paths
from ui import controls, receipt, run_panel, talk

PATHS, SWEEP, INIT, MUP = catalog.here(__file__).experiments
PATHS_PAGE, SWEEP_PAGE, INIT_PAGE, MUP_PAGE = "opt", "opt_lr", "opt_init", "opt_mup"


def fmt(value, spec: str = ".3g", missing: str = "–") -> str:
    return missing if value is None else format(value, spec)


st.title("Optimization: step sizes, optimizers, initialization and muP")
talk.prose(
    "How fast a network learns, and whether it learns at all, depends on choices made "
    "before the first step: the optimizer, its learning rate, the scale of the initial "
    "weights, and how those scales change when the network gets wider. Four experiments "
    "below, each small enough to run while you watch: optimizers on 2-D surfaces, where "
    "their paths can be seen (Goh 2017, *Why Momentum Really Works*); a learning-rate "
    "sweep on a digits MLP; the spread of the signal through 50 layers at initialization "
    "(He et al. 2015, *Delving Deep into Rectifiers*; Glorot & Bengio 2010, "
    "*Understanding the difficulty of training deep feedforward neural networks*); and "
    "muP, which makes the best learning rate of a narrow network the best one of a wide "
    "one too (Yang et al. 2022, *Tensor Programs V*)."
)

# --- 1. optimizer paths ------------------------------------------------------------------

st.header("1. Five optimizers on three surfaces")
talk.prose(
    "On ½(x² + 100y²) the valley is a hundred times steeper across (y) than along (x). "
    "Gradient descent multiplies the error along each axis by (1 − lr·curvature) per step: "
    "along y that factor is 1 − 100·lr, which stays inside (−1, 1) only while "
    "**lr < 2/L = 2/100 = 0.02**, L being the largest curvature. Past that edge each step "
    "overshoots the valley floor by more than the last, and the path flies off. Along x "
    "the factor is 1 − lr, so a learning rate that is safe across the valley is tiny "
    "along it: GD crawls. Momentum keeps a running sum of gradients; the zig-zag across "
    "cancels in the sum while the steady pull along the valley adds up. RMSProp and Adam "
    "divide each coordinate's step by its own recent gradient size, so the steep and the "
    "flat direction get steps of about the same length."
)
controls.presets(PATHS_PAGE, PATHS)
with controls.section("Settings", expanded=True):
    paths_config = controls.controls(PATHS_PAGE, optimizer_paths.Config, layout={
        "Surface": ["function", "steps", "tolerance"],
        "Learning rates": ["lr", "adaptive_lr", "momentum"],
    })


def draw_paths(view: engine.RunView) -> None:
    surface, paths = view.snapshots.get("surface"), view.snapshots.get("paths")
    if surface is None or paths is None:
        st.caption("The first steps are on their way...")
        return
    summary = view.summary or {}
    config = view.config
    if summary:
        edge = summary["gd_edge_lr"]
        cols = st.columns(4)
        cols[0].metric("Largest curvature L at the minimum",
                       fmt(summary["largest_curvature"], ".4g"))
        cols[1].metric("GD's edge 2/L", fmt(edge, ".4g"))
        cols[2].metric("Momentum's edge 2(1+β)/L", fmt(summary["momentum_edge_lr"], ".4g"))
        cols[3].metric("GD at this lr", "stable" if summary["gd_stable"] else "unstable",
                       help=f"lr = {config.lr:g} against 2/L = {edge:.4g}")
    receipt.show_for(PATHS, config, None if view.active else view.summary)
    upto = st.slider("Show the paths up to step", 1, max(1, config.steps), config.steps,
                     key=f"{PATHS_PAGE}.upto.{config.function}.{config.steps}")
    left, right = st.columns([3, 2])
    left.altair_chart(talk.sized(charts.contour_paths(
        surface, charts.paths_frame(paths, upto),
        f"Paths on the {surface['name']} surface (step {min(upto, view.step):,} of "
        f"{config.steps:,})")))
    left.caption("Grey bands are contours of log₁₀(f − f_min), darker is higher. The "
                 "diamonds mark the start and the minimum; a path that leaves the frame "
                 "for good is cut where it left.")
    right.altair_chart(talk.sized(charts.gap_curves(charts.gap_frame(view.metrics), config.tolerance,
                                         "Distance to the minimum value")))
    right.caption(f"The dashed line is the tolerance ({config.tolerance:g}); a curve that "
                  "stops has diverged.")
    if not summary:
        return
    st.dataframe(charts.steps_table(summary), hide_index=True, column_config={
        "learning rate": st.column_config.NumberColumn(format="%.4g"),
        "final f − f_min": st.column_config.NumberColumn(format="%.3e"),
        "stable below lr": st.column_config.NumberColumn(format="%.4g")})
    left, right = st.columns([2, 3])
    left.altair_chart(talk.sized(charts.rate_chart(charts.rate_frame(summary["rate_curve"]), config.lr,
                                        summary["gd_edge_lr"],
                                        "How much of the error survives a step")))
    left.caption("For GD, momentum and Nesterov on a quadratic with this minimum's "
                 "curvatures (computed, not trained): above 1 the error grows every step.")
    gd = summary["optimizers"][0]
    if summary["function"] == "quadratic":
        verdict = (f"diverged at step {gd['diverged_at_step']}" if gd["diverged_at_step"]
                   else f"came within {config.tolerance:g} in {gd['steps_to_tolerance']} "
                   "steps" if gd["steps_to_tolerance"] is not None
                   else f"had not come within {config.tolerance:g} after {config.steps} "
                   "steps")
        right.markdown(
            f"**The source and this run.** Goh (2017) shows that on a quadratic plain GD "
            f"converges only for 0 < lr·λ < 2 on every curvature λ, and heavy-ball "
            f"momentum for 0 < lr·λ < 2(1 + β). Here L = "
            f"{summary['largest_curvature']:.4g}, so GD's edge is "
            f"{summary['gd_edge_lr']:.4g} and momentum's (β = {config.momentum:g}) "
            f"{summary['momentum_edge_lr']:.4g}. At lr = {config.lr:g} GD {verdict}. "
            f"Torch's Nesterov form is stable only below "
            f"{summary['nesterov_edge_lr']:.4g}: it looks ahead with the new velocity, "
            "which costs it range at this β.")
    else:
        right.markdown(
            f"**This surface.** Its largest curvature is {summary['largest_curvature']:.4g} "
            f"at the minimum but {summary['curvature_at_start'][-1]:.4g} at the start: a "
            "single safe learning rate for GD is set by the steepest place it passes, "
            "which is why the adaptive methods, whose steps do not grow with the gradient, "
            "get further.")
    run_panel.downloads(view, PATHS_PAGE)


if paths_config is not None:
    run_panel.show(PATHS_PAGE, PATHS, paths_config, draw_paths)

# --- 2. learning-rate sweep -----------------------------------------------------------------

st.divider()
st.header("2. The learning-rate sweep: a U with a cliff")
talk.prose(
    "An MLP learns scikit-learn's 8×8 digits with SGD, SGD with momentum and Adam, at "
    "each learning rate of a log grid and from several starts. Too small a rate hardly "
    "moves in the step budget (the left arm of the U); the best rate sits just below the "
    "point where steps start to overshoot; a little past it the loss blows up (the "
    "cliff). Runs that blow up are stopped and drawn as crosses at the top, not dropped. "
    "Adam's steps are normalized to about the learning rate per weight, so its U sits "
    "far left of SGD's; momentum adds up past gradients, up to 1/(1 − β) times one step "
    "when they agree, so its cliff comes at a smaller rate than plain SGD's."
)
controls.presets(SWEEP_PAGE, SWEEP)
with controls.section("Settings", expanded=True):
    sweep_config = controls.controls(SWEEP_PAGE, lr_sweep.Config, layout={
        "Grid": ["lr_min", "lr_max", "n_lrs", "seeds"],
        "Training": ["steps", "batch_size", "momentum", "seed"],
        "Model and data": ["width", "hidden_layers", "n_train"],
    }, prefix="sweep_")


def draw_sweep(view: engine.RunView) -> None:
    summary = view.summary
    names = lr_sweep.NAMES
    if summary:
        frame = charts.sweep_frame(summary)
        best = {names[k]: v["best_lr"] for k, v in summary["per_optimizer"].items()}
        title = "Final training loss against the learning rate"
        cols = st.columns(3)
        for col, (key, res) in zip(cols, summary["per_optimizer"].items()):
            col.metric(f"Best lr, {names[key]}", fmt(res["best_lr"]),
                       help=f"Lowest mean loss among the rates where no seed diverged: "
                            f"{fmt(res['best_loss'], '.4f')}")
        receipt.show_for(SWEEP, view.config, None if view.active else summary)
    else:
        snap = view.snapshots.get("sweep")
        if snap is None:
            st.caption("The first steps are on their way...")
            return
        frame = charts.live_sweep_frame(snap, names)
        best = {}
        title = f"Batch loss against the learning rate (step {int(snap['step']):,})"
    ceiling = 2 * (summary or {}).get("start_loss", 2.3)
    left, right = st.columns([3, 2])
    left.altair_chart(talk.sized(charts.sweep_chart(frame, best, ceiling, title)))
    left.caption("Band: lowest to highest loss over the seeds; line: their mean; ring: "
                 "each optimizer's best rate; crosses at the top: rates where seeds "
                 "diverged (loss NaN or above "
                 f"{lr_sweep.BLOWUP:g}), stopped on their own while the rest trained on.")
    right.altair_chart(talk.sized(charts.sweep_curves(view.metrics, names,
                                           "Best batch loss over the grid while training")))
    if summary:
        right.dataframe(charts.sweep_table(summary), hide_index=True, column_config={
            "loss at best lr": st.column_config.NumberColumn(format="%.4f")})
        adam, sgd = summary["per_optimizer"]["adam"], summary["per_optimizer"]["sgd"]
        if summary["sgd_over_adam_best_lr"] is not None:
            right.caption(f"This run: Adam's best rate is {adam['best_lr']:.3g}, SGD's "
                          f"{sgd['best_lr']:.3g}, a factor "
                          f"{summary['sgd_over_adam_best_lr']:.0f} apart.")
    run_panel.downloads(view, SWEEP_PAGE)


if sweep_config is not None:
    run_panel.show(SWEEP_PAGE, SWEEP, sweep_config, draw_sweep)

# --- 3. initialization ---------------------------------------------------------------------

st.divider()
st.header("3. Initialization: keeping the signal alive through 50 layers")
talk.prose(
    "Each layer multiplies the spread of its input by about √(fan_in · Var(w) · g), g "
    "being the share of the signal's power the activation lets through: ½ for ReLU, "
    "which zeroes the negative half, about 1 for tanh near zero. Fifty layers raise that "
    "factor to the 50th power, so anything but exactly 1 vanishes or explodes. He "
    "initialization, Var(w) = 2/fan_in, makes the ReLU factor 1; LeCun's 1/fan_in (also "
    "Xavier's 2/(fan_in + fan_out) for square layers) is right for tanh but loses √2 per "
    "ReLU layer. The gradient on its way back meets the same factors in reverse, so it "
    "vanishes or explodes toward the first layer by the same amount."
)
controls.presets(INIT_PAGE, INIT)
with controls.section("Settings", expanded=True):
    init_config = controls.controls(INIT_PAGE, initialization.Config, layout={
        "Network": ["depth", "width"],
        "Sampling": ["batch_size", "seeds", "seed"],
    }, prefix="init_")


def draw_init(view: engine.RunView) -> None:
    summary = view.summary
    if not summary:
        st.caption("Pushing the batch through every scheme...")
        return
    schemes = summary["schemes"]
    cols = st.columns(len(schemes))
    for col, s in zip(cols, schemes.values()):
        col.metric(s["label"], fmt(s["last_over_first_std"], ".2g"),
                   help="Spread of the last layer's pre-activations over the first's")
    receipt.show_for(INIT, view.config, None if view.active else summary)
    left, right = st.columns(2)
    left.altair_chart(talk.sized(charts.per_layer_chart(
        charts.layers_frame(summary, "std_per_layer"),
        "Spread (std) of the pre-activations per layer", "std (log scale)")))
    right.altair_chart(talk.sized(charts.per_layer_chart(
        charts.layers_frame(summary, "grad_norm_per_layer"),
        "Gradient norm per layer after one backward pass", "‖∂L/∂z‖ (log scale)")))
    st.caption("Pre-activations z = W h of each layer, for a batch of standard normal "
               "inputs; the gradient is that of a linear read-out of the last layer with "
               "respect to each layer's z, per example. Geometric mean over the seeds.")
    st.dataframe(charts.init_table(summary), hide_index=True, column_config={
        "last / first spread": st.column_config.NumberColumn(format="%.2e"),
        "factor per layer": st.column_config.NumberColumn(format="%.3f"),
        "first / last gradient": st.column_config.NumberColumn(format="%.2e")})
    he, half, double = schemes["he"], schemes["he_half"], schemes["he_double"]
    tanh = schemes["xavier_tanh"]
    st.markdown(
        f"**The sources and this run.** He et al. (2015) derive that ReLU layers keep "
        f"the variance at Var(w) = 2/fan_in and report a 30-layer ReLU network that "
        f"trains from their init but stalls from Xavier's. Here, over {summary['depth']} "
        f"layers of {summary['width']}, He's spread ends at "
        f"{fmt(he['last_over_first_std'], '.2g')}× the first layer's (a factor "
        f"{fmt(he['factor_per_layer'], '.3f')} per layer: at finite width the typical "
        f"path drifts slightly down), half He's σ at "
        f"{fmt(half['last_over_first_std'], '.1e')} and twice He's at "
        f"{fmt(double['last_over_first_std'], '.1e')}, 2^±(layers − 1) as predicted. "
        f"Glorot & Bengio (2010) chose their variance for activations that are linear "
        f"near zero; with tanh it gives {fmt(tanh['last_over_first_std'], '.2g')}: tanh "
        f"squashes large values, so the spread still shrinks, but slowly (on average "
        f"{fmt(tanh['factor_per_layer'], '.3f')} per layer here, against "
        f"{fmt(schemes['lecun']['factor_per_layer'], '.3f')} for the same variance with "
        "ReLU).")
    run_panel.downloads(view, INIT_PAGE)


if init_config is not None:
    run_panel.show(INIT_PAGE, INIT, init_config, draw_init)

# --- 4. muP --------------------------------------------------------------------------------

st.divider()
st.header("4. muP: tune small, train wide")
talk.prose(
    "Widen a network and, in the standard parametrization (SP), its best learning rate "
    "moves: with Adam every weight moves by about the learning rate per step, and a "
    "hidden unit sums w such moves, so the same rate changes a wide layer's output w "
    "times as much. The maximal update parametrization (muP) sets the scales so that "
    "each layer's output changes by the same amount per step at every width. For Adam, "
    "with m = width / base width: **hidden w×w weights get the learning rate divided by "
    "m; the readout's input is divided by m** (the same as dividing its learning rate by "
    "m and starting it smaller); the input layer and the biases keep the rate. At the "
    "base width both are the same network. This is what the `mup` package does (MuReadout, "
    "MuAdam), written out in a few lines here. An MLP 64 → w → w → 10 learns the digits "
    "at every width and learning rate, in both parametrizations."
)
controls.presets(MUP_PAGE, MUP)
with controls.section("Settings", expanded=True):
    mup_config = controls.controls(MUP_PAGE, mup_transfer.Config, layout={
        "Widths": ["widths", "base_width", "hidden_layers"],
        "Learning rates": ["lr_min", "lr_max", "n_lrs", "seeds"],
        "Training": ["steps", "batch_size", "n_train", "seed"],
        "Coordinate check": ["coord_lr", "coord_steps"],
    }, prefix="mup_")


def draw_mup(view: engine.RunView) -> None:
    summary = view.summary
    if summary:
        frame = charts.grid_frame(summary["widths"], summary["lrs"], summary["loss"])
    else:
        grid = view.snapshots.get("grid")
        if grid is None:
            st.caption("The first width is training...")
            return
        frame = charts.grid_frame(grid["widths"], grid["lrs"], grid["loss"])
    st.altair_chart(talk.sized(charts.loss_heatmaps(
        frame, "Final training loss, width × learning rate (ring: best lr per width)")),
        width="content")
    st.altair_chart(talk.sized(charts.lr_curves(
        frame, "The same losses as curves, one per width (darker is wider)")),
        width="content")
    if not summary:
        st.caption("The remaining widths are on their way...")
        return
    sp, mp = summary["mean_spread"]["sp"], summary["mean_spread"]["mup"]
    cols = st.columns(4)
    for col, p, name in ((cols[0], "sp", "SP"), (cols[1], "mup", "muP")):
        shift = summary["argmin_shift_steps"][p]
        col.metric(f"Best lr moves, {name}", f"{shift} grid step{'' if shift == 1 else 's'}",
                   help="Largest minus smallest grid index of the best lr across widths")
    cols[2].metric("Curve spread SP / muP", fmt(summary["spread_ratio_sp_over_mup"], ".1f"),
                   help="Mean over the learning rates of (max − min) loss across widths: "
                        f"SP {fmt(sp, '.3f')}, muP {fmt(mp, '.3f')}")
    cols[3].metric("Wider never worse (muP)",
                   "yes" if summary["wider_is_never_worse"]["mup"] else "no")
    receipt.show_for(MUP, view.config, None if view.active else summary)
    left, right = st.columns(2)
    left.altair_chart(talk.sized(charts.best_lr_chart(charts.best_frame(summary), summary["lrs"],
                                           "Best learning rate per width")))
    right.altair_chart(talk.sized(charts.spread_chart(charts.spread_frame(summary),
                                           "How far apart the widths' curves lie")))
    st.markdown("**Tune at the smallest width, train the largest with that rate**")
    st.dataframe(charts.transfer_table(summary), hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.4g")
        for c in charts.transfer_table(summary).columns if c != "parametrization"})
    low_sp, low_mup = summary["lowest_lr_loss"]["sp"], summary["lowest_lr_loss"]["mup"]
    wider = "holds" if summary["wider_is_never_worse"]["mup"] else "does not hold cleanly"
    st.markdown(
        f"**The source and this run.** Yang et al. (2022) show the best learning rate "
        f"drifting with width under SP and staying put under muP, with wider networks "
        f"never worse. On this small task the SP optimum moves "
        f"{summary['argmin_shift_steps']['sp']} grid step(s) and the muP one "
        f"{summary['argmin_shift_steps']['mup']}: the optimum itself barely moves in "
        f"either. What separates them is the whole curve: at lr {summary['lrs'][0]:g} the "
        f"SP loss goes from {fmt(low_sp[0], '.2f')} at width {summary['widths'][0]} to "
        f"{fmt(low_sp[-1], '.2f')} at width {summary['widths'][-1]} (wider nets move "
        f"faster at the same rate), while muP goes from {fmt(low_mup[0], '.2f')} to "
        f"{fmt(low_mup[-1], '.2f')}; across all rates the "
        f"SP curves lie {fmt(summary['spread_ratio_sp_over_mup'], '.1f')}× further apart. "
        f"'Wider is never worse' {wider} for muP's best losses in {view.config.steps} "
        "steps.")

    st.subheader("Coordinate check")
    coord = summary["coord"]
    st.altair_chart(talk.sized(charts.coord_chart(charts.coord_frame(summary), coord["layers"],
                                       f"Mean |output| of each layer against width, "
                                       f"Adam at lr {coord['lr']:g}")), width="content")
    st.dataframe(charts.slopes_table(summary), hide_index=True, column_config={
        layer: st.column_config.NumberColumn(format="%.2f") for layer in coord["layers"]})
    readout_1 = coord["slopes"]["mup"][1][-1] if len(coord["steps"]) > 1 else None
    st.caption(
        f"Slopes of log(mean |output|) against log(width); above {coord['grows_above']:g} "
        "counts as growing. At step 0 (the initial weights) both parametrizations are "
        "flat or shrink a little. After a few steps SP's hidden layer and readout grow "
        "with width, muP's stay flat. The muP readout right after step 1 is a known "
        "exception in coordinate checks (raised in the mup repository's issues): its "
        "weights start √m smaller than SP's and one update has not made up the "
        "difference, so it may shrink with width there; in this run its slope after step "
        f"1 is {fmt(readout_1, '.2f')}, as its bias (drawn at the base width's size) "
        "dominates the small logits.")
    run_panel.downloads(view, MUP_PAGE)


if mup_config is not None:
    run_panel.show(MUP_PAGE, MUP, mup_config, draw_mup)
