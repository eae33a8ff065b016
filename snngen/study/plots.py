"""Plots and the one-page summary of ``snngen explore`` (matplotlib, Agg, deterministic files)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .._figures import REGIME_COLORS, SERIES_COLORS, figure_style
from .._files import atomic_save_figure
from ..model.golden import find_orbit, simulate

__all__ = ["activity_threshold", "plot_all", "summary"]


def _semantics(row: dict) -> str:
    leak = "none" if row["leak_shift"] is None else row["leak_shift"]
    return f"{row['representation']}, {row['overflow']}, reset {row['reset']}, k={leak}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").replace("__", "_")


def _majority(regimes: list[str]) -> str:
    counts = Counter(regimes)
    return max(counts, key=lambda r: (counts[r], -list(REGIME_COLORS).index(r)))


ACTIVE_REGIMES = ("periodic", "not yet recurrent")


def activity_threshold(rows: list[dict]) -> int | None:
    """The smallest bit width from which on at least half of the runs are *active*: their
    spiking keeps changing (periodic with period > 1, or not yet recurrent), at that width and
    every wider one measured. A frozen fixed point, quiescent or saturated run is not active.
    None if no such width."""
    by_bits: dict[int, list[str]] = {}
    for row in rows:
        by_bits.setdefault(row["bits"], []).append(row["regime"])
    widths = sorted(by_bits)
    active = {b: sum(r in ACTIVE_REGIMES for r in by_bits[b]) >= len(by_bits[b]) / 2
              for b in widths}
    for i, bits in enumerate(widths):
        if all(active[b] for b in widths[i:]):
            return bits
    return None


PLOT_STEPS = 5000


def plot_all(out: Path, rows: list[dict], show, steps: int) -> None:
    with figure_style() as plt:
        _plot_all(plt, out, rows, show, steps)


def _plot_all(plt, out: Path, rows: list[dict], show, steps: int) -> None:
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(_semantics(row), []).append(row)
    names = list(REGIME_COLORS)
    cmap = ListedColormap([REGIME_COLORS[r] for r in names])

    # Regime maps: neurons × density, one panel per bit width, per semantics.
    for label, chosen in groups.items():
        widths = sorted({r["bits"] for r in chosen})
        neurons = sorted({r["neurons"] for r in chosen})
        densities = sorted({r["density"] for r in chosen})
        cols = min(5, len(widths))
        rows_n = -(-len(widths) // cols)
        fig, axes = plt.subplots(rows_n, cols, figsize=(3.2 * cols, 3.0 * rows_n + 0.6),
                                 squeeze=False)
        for ax in axes.flat[len(widths):]:
            ax.axis("off")
        for ax, bits in zip(axes.flat, widths, strict=False):
            grid = np.full((len(neurons), len(densities)), np.nan)
            cells: dict[tuple, list[str]] = {}
            for r in chosen:
                if r["bits"] == bits:
                    cells.setdefault((r["neurons"], r["density"]), []).append(r["regime"])
            for (n, d), regimes in cells.items():
                grid[neurons.index(n), densities.index(d)] = names.index(_majority(regimes))
            ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, origin="lower",
                      aspect="auto", interpolation="nearest")
            ax.grid(False)
            ax.set_title(f"{bits} bits")
            ax.set_xticks(range(len(densities)), [f"{d:g}" for d in densities], fontsize=7)
            ax.set_yticks(range(len(neurons)), [str(n) for n in neurons], fontsize=7)
            ax.set_xlabel("density", fontsize="small")
            ax.set_ylabel("neurons", fontsize="small")
        fig.legend(handles=[Patch(color=REGIME_COLORS[r], label=r) for r in names],
                   loc="lower center", ncol=len(names), fontsize="small")
        fig.suptitle(f"regime (majority over seeds): {label}", fontsize="medium")
        fig.tight_layout(rect=(0, 0.06, 1, 0.95))
        atomic_save_figure(fig, out / f"regime_map_{_slug(label)}.png")
        plt.close(fig)

    # Rate and active fraction vs bits.
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, chosen in groups.items():
        widths = sorted({r["bits"] for r in chosen})
        left.plot(widths, [np.mean([r["rate"] for r in chosen if r["bits"] == b]) for b in widths],
                  marker="o", label=label)
        right.plot(widths, [np.mean([r["active_fraction"] for r in chosen if r["bits"] == b])
                            for b in widths], marker="o", label=label)
    left.set(xlabel="state bits", ylabel="firing rate (spikes / neuron / step)",
             title=f"mean firing rate over steps 1..{steps}")
    right.set(xlabel="state bits", ylabel="fraction of neurons that ever spike",
              title="active neurons")
    left.legend()
    fig.tight_layout()
    atomic_save_figure(fig, out / "rate_vs_bits.png")
    plt.close(fig)

    # Orbit periods vs bits: a box per width and semantics, every run beside it with a seeded
    # jitter, so that hundreds of runs at 4, 8 and 16 bits do not hide one another.
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    jitter = np.random.default_rng(0)
    width = 0.7 / max(1, len(groups))
    plotted_any = False
    for offset, (label, chosen) in enumerate(groups.items()):
        shift = width * (offset - (len(groups) - 1) / 2)
        widths = sorted({r["bits"] for r in chosen if r["period"] is not None})
        periods = [[r["period"] for r in chosen if r["bits"] == b and r["period"] is not None]
                   for b in widths]
        if not widths:
            continue
        plotted_any = True
        positions = [widths.index(b) + shift for b in widths]
        color = SERIES_COLORS[offset % len(SERIES_COLORS)]
        ax.boxplot(periods, positions=positions, widths=0.8 * width, showfliers=False,
                   medianprops={"color": color}, boxprops={"color": color},
                   whiskerprops={"color": color}, capprops={"color": color})
        for position, values in zip(positions, periods, strict=True):
            ax.scatter(position + jitter.uniform(-0.3, 0.3, len(values)) * width, values, s=8,
                       alpha=0.45, color=color, label=label if position == positions[0] else None)
    all_widths = sorted({r["bits"] for r in rows if r["period"] is not None})
    ax.set_xticks(range(len(all_widths)), [str(b) for b in all_widths])
    ax.set_yscale("log")
    ax.set(xlabel="membrane state bits", ylabel="orbit period (steps, log)",
           title="orbit periods of the runs that recurred (box: quartiles; dots: runs)")
    if plotted_any:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no run recurred within the horizon", transform=ax.transAxes,
                ha="center", va="center")
    fig.tight_layout()
    atomic_save_figure(fig, out / "period_vs_bits.png")
    plt.close(fig)

    # Raster and membrane traces of one run.
    network = show.network()
    # The plotted run is bounded in memory whatever --steps is: its first PLOT_STEPS steps.
    plotted = min(steps, PLOT_STEPS)
    trace = simulate(network, plotted)
    fig, ax = plt.subplots(figsize=(9, 4))
    # An image, one pixel per (step, neuron): fast for any number of spikes.
    ax.grid(False)
    ax.imshow(trace.spikes.T, aspect="auto", cmap="Greys", interpolation="nearest",
              origin="lower", extent=(0.5, plotted + 0.5, -0.5, network.neurons - 0.5))
    shown_steps = "" if plotted == steps else f", first {plotted} of {steps} steps"
    ax.set(xlabel="step", ylabel="neuron",
           title=f"raster: N={show.neurons}, density {show.density:g}, {show.bits} bits, "
                 f"seed {show.seed}, {show.representation}/{show.overflow}/reset {show.reset}"
                 f"{shown_steps}")
    fig.tight_layout()
    atomic_save_figure(fig, out / "raster.png")
    plt.close(fig)
    # The membrane traces show the orbit: the whole transient (or its last 100 steps) and three
    # periods, with the transient shaded and each period's start marked.
    orbit = find_orbit(network.initial_state, trace.state, trace.spikes)
    if orbit is None:
        first, last = 1, min(plotted, 200)
        window_note = f"steps {first}..{last}; no orbit within {plotted} steps"
    else:
        first = max(1, orbit.transient - 100)
        last = min(plotted, orbit.transient + 3 * orbit.period + 1)
        last = max(last, min(plotted, first + 30))
        window_note = (f"steps {first}..{last}: transient {orbit.transient}, "
                       f"period {orbit.period}")
    fig, ax = plt.subplots(figsize=(10, 4))
    shown = min(6, network.neurons)
    steps_axis = np.arange(first, last + 1)
    for neuron in range(shown):
        ax.plot(steps_axis, trace.state[first - 1:last, neuron], lw=0.9,
                label=f"neuron {neuron}", drawstyle="steps-post")
    threshold = np.asarray(network.thresholds)
    ax.axhline(int(threshold.flat[0]) if threshold.size else 0, color="red", ls="--", lw=0.8,
               label="threshold")
    if orbit is not None:
        if orbit.transient >= first:
            ax.axvspan(first, orbit.transient, color="grey", alpha=0.12, label="transient")
        for k in range(4):
            start = orbit.transient + k * orbit.period
            if first <= start <= last and orbit.period > 1:
                ax.axvline(start, color="black", lw=0.6, ls=":",
                           label="period start" if k == 0 else None)
    ax.set(xlabel="step", ylabel="membrane state v",
           title=f"membrane traces ({window_note}; same run as raster.png)")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    atomic_save_figure(fig, out / "membrane.png")
    plt.close(fig)


def summary(rows: list[dict], show, steps: int) -> str:
    """The one-page markdown summary: what was found."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(_semantics(row), []).append(row)
    horizon = max(r["horizon"] for r in rows)
    lines = ["# Dynamics study", "",
             f"{len(rows)} runs, T = {steps} steps, orbit search up to {horizon} steps "
             "(exact first revisit of the full state (v, s)). Networks: docs/dynamics.md "
             "(recipe snngen-explore-v1).", ""]
    for label, chosen in groups.items():
        widths = sorted({r["bits"] for r in chosen})
        threshold = activity_threshold(chosen)
        lines += [f"## {label}", ""]
        if threshold is None:
            lines.append("- Activity never takes over: at no width (and every wider one) are "
                         "at least half of the runs active (spiking that keeps changing: "
                         "periodic, or not yet recurrent).")
        elif threshold == widths[0]:
            lines.append(f"- Active at every width measured (from {threshold} bits): at least "
                         "half of the runs keep changing (periodic or not yet recurrent).")
        else:
            below = Counter(r["regime"] for r in chosen if r["bits"] < threshold)
            lines.append(f"- **Activity appears at {threshold} bits**: from there on at least "
                         "half of the runs keep changing (periodic or not yet recurrent); below "
                         f"it runs end mostly as {below.most_common(1)[0][0]} "
                         f"({', '.join(f'{k} {v}' for k, v in below.most_common())}).")
        recurred = [r for r in chosen if r["period"] is not None]
        lines.append(f"- {len(recurred)} of {len(chosen)} runs reached their orbit within "
                     f"{horizon} steps.")
        lines += ["", "| bits | runs | quiescent | fixed point | periodic | saturated "
                  "| not yet recurrent | mean rate | median period | longest period "
                  "| overflow events / run |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for bits in widths:
            at = [r for r in chosen if r["bits"] == bits]
            counts = Counter(r["regime"] for r in at)
            periods = [r["period"] for r in at if r["period"] is not None]
            median = f"{np.median(periods):g}" if periods else "-"
            longest = f"{max(periods)}" if periods else "-"
            lines.append(
                f"| {bits} | {len(at)} | " + " | ".join(str(counts.get(k, 0)) for k in
                                                        REGIME_COLORS)
                + f" | {np.mean([r['rate'] for r in at]):.3f} | {median} | {longest} | "
                f"{np.mean([r['overflow_events'] for r in at]):.0f} |")
        lines.append("")
    lines += ["## Files", "",
              "- `results.csv`: one row per run (neurons, density, bits, seed, representation, "
              "overflow, reset, leak_shift, leak_applied, threshold, synapses, rate, active_fraction, "
              "transient, period, regime, orbit_spikes, overflow_events, horizon, key)",
              "- `regime_map_*.png`, `rate_vs_bits.png`, `period_vs_bits.png`",
              f"- `raster.png`, `membrane.png`: N={show.neurons}, density {show.density:g}, "
              f"{show.bits} bits, seed {show.seed}",
              "- `networks/KEY.json` (with `--save-networks`): build and verify any run with "
              "`snngen build` / `snngen verify`", ""]
    return "\n".join(lines)
