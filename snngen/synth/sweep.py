"""``snngen sweep``: design-space exploration over neurons, bits, groups, density and targets.

Every point is a seeded random network synthesized (and placed and routed) for one target. Points
run in parallel over the cores; each finished point is stored as ``DIR/points/<key>.json`` and is
never redone, so an interrupted sweep resumes where it stopped. The results are
``DIR/results.csv``, ``DIR/summary.md`` and plots (PNG) in ``DIR``.

Cycles per step are the model's, not a simulation's: the golden model runs the network for
``CYCLE_STEPS`` steps and the plan's serial schedule (an upper bound) and lower bound are averaged
over them (docs/architecture.md measures how close the core comes to the lower bound).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
from pathlib import Path

import numpy as np

from .._figures import figure_style
from .._files import atomic_save_figure, atomic_write_csv, atomic_write_text
from .._progress import Progress
from .._workers import Interrupted, run_in_pool
from ..errors import InputError
from ..hw.plan import plan_hardware
from ..model.generate import random_network
from ..model.golden import simulate

__all__ = ["COLUMNS", "SweepPoint", "run_sweep"]

CYCLE_STEPS = 50
COLUMNS = [
    "target", "neurons", "bits", "groups", "density", "seed", "runtime_weights", "synapses",
    "status", "lut", "ff",
    "carry", "bram", "spram", "dsp", "logic_cells", "fmax_mhz", "timing_met", "memory_bits",
    "cycles_per_step_upper", "cycles_per_step_lower", "firing_rate", "error",
]


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    target: str
    neurons: int
    bits: int
    groups: int
    density: float
    seed: int
    pnr: bool
    runtime_weights: bool = False

    @property
    def key(self) -> str:
        fields = dataclasses.asdict(self)
        if not self.runtime_weights:
            del fields["runtime_weights"]  # keeps the keys of sweeps made before the option
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def evaluate(point: SweepPoint) -> dict:
    """Synthesize one point; a tool failure (e.g. does not fit) is a result, not an exception."""
    from .flow import SynthesisError, synthesize

    network = random_network(neurons=point.neurons, bits=point.bits, density=point.density,
                             seed=point.seed)
    plan = plan_hardware(network, point.groups, runtime_weights=point.runtime_weights)
    trace = simulate(network, CYCLE_STEPS)
    previous = np.vstack([np.zeros((1, network.neurons), np.uint8), trace.spikes[:-1]])
    inputs = np.zeros((CYCLE_STEPS, network.inputs), np.uint8)
    upper = np.mean([plan.serial_step_cycles(previous[t], inputs[t], trace.spikes[t])
                     for t in range(CYCLE_STEPS)])
    lower = np.mean([plan.lower_bound_cycles(previous[t], inputs[t])
                     for t in range(CYCLE_STEPS)])
    row = {**dataclasses.asdict(point), "synapses": network.synapses,
           "memory_bits": sum(plan.memory_bits().values()),
           "cycles_per_step_upper": round(float(upper), 1),
           "cycles_per_step_lower": round(float(lower), 1),
           "firing_rate": round(trace.firing_rate, 4)}
    row.pop("pnr")
    try:
        report = synthesize(network, point.target, groups=point.groups, pnr=point.pnr,
                            runtime_weights=point.runtime_weights)
    except SynthesisError as error:
        return {**row, "status": "failed", "error": str(error)}
    report.pop("raw")
    return {**row, "status": "ok", "error": "",
            **{k: report[k] for k in ("lut", "ff", "carry", "bram", "spram", "dsp",
                                      "logic_cells", "fmax_mhz", "timing_met")}}


def _settled(path: Path) -> bool:
    """A point already done: synthesized, or failed for good (the design does not fit). Any
    other failure (a missing or crashed tool) is tried again."""
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return row.get("status") == "ok" or "does not fit" in row.get("error", "")


def _grid(neurons, bits, groups, density, targets, seed, pnr, runtime_weights=False
          ) -> list[SweepPoint]:
    points = []
    for target, n, b, g, d in itertools.product(targets, neurons, bits, groups, density):
        if g > n:
            continue
        points.append(SweepPoint(target, n, b, g, d, seed, pnr, runtime_weights))
    return points


def run_sweep(out_dir: str | os.PathLike, *, neurons, bits, groups, density, targets,
              seed: int = 0, pnr: bool = True, jobs: int | None = None,
              progress: Progress | None = None, runtime_weights: bool = False,
              skipped_plots: dict | None = None) -> list[dict]:
    """Run (or resume) a sweep; returns the rows in grid order.

    `progress` is called with (points done, points in all, "") as points finish. The plots not
    written, and why, are put into `skipped_plots` when it is given.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out must be a directory, not the file {str(out)!r}")
    points = _grid(neurons, bits, groups, density, targets, seed, pnr, runtime_weights)
    if not points:
        raise InputError("the sweep has no points (every --groups value exceeds --neurons)")
    folder = out / "points"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".*.partial"):   # left by a run killed while writing
        stale.unlink()
    todo = [p for p in points if not _settled(folder / f"{p.key}.json")]
    jobs = max(1, jobs or os.cpu_count() or 1)
    done = len(points) - len(todo)
    if progress is not None:
        progress(done, len(points), "")

    def finished(point: SweepPoint, row: dict) -> None:
        nonlocal done
        atomic_write_text(folder / f"{point.key}.json", json.dumps(row, sort_keys=True) + "\n")
        done += 1
        if progress is not None:
            progress(done, len(points), "")

    if todo:
        try:
            run_in_pool(evaluate, todo, jobs, finished)
        except KeyboardInterrupt:
            raise Interrupted(done, len(points), "points") from None
    rows = [json.loads((folder / f"{p.key}.json").read_text()) for p in points]
    skipped = _write_outputs(out, rows)
    if skipped_plots is not None:
        skipped_plots.update(skipped)
    return rows


def _write_outputs(out: Path, rows: list[dict]) -> dict[str, str]:
    lines = []
    atomic_write_csv(out / "results.csv", COLUMNS, rows)
    lines.append("| target | N | bits | G | density | logic cells | LUT | FF | BRAM | Fmax MHz "
                 "| cycles/step (bound..model) |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        fmax = "-" if r.get("fmax_mhz") is None else f"{r['fmax_mhz']:.1f}"
        if r["status"] != "ok":
            short = re.search(r"needs more (.+?) than the device", r["error"])
            reason = f"does not fit: {short.group(1)}" if short else r["error"]
            lines.append(f"| {r['target']} | {r['neurons']} | {r['bits']} | {r['groups']} | "
                         f"{r['density']} | {reason} | | | | | |")
            continue
        lines.append(f"| {r['target']} | {r['neurons']} | {r['bits']} | {r['groups']} | "
                     f"{r['density']} | {r.get('logic_cells') or '-'} | {r['lut']} | {r['ff']} | "
                     f"{r['bram']} | {fmax} | {r['cycles_per_step_lower']:.0f}.."
                     f"{r['cycles_per_step_upper']:.0f} |")
    skipped = _plot(out, [r for r in rows if r["status"] == "ok"])
    if skipped:
        lines += ["", "Plots not written:", ""]
        lines += [f"- `{name}`: {why}" for name, why in skipped.items()]
    atomic_write_text(out / "summary.md", "# Sweep\n\n" + "\n".join(lines) + "\n")
    return skipped


#: The sweep's plots: (file, x column, y column, one line per value of, title).
SWEEP_PLOTS = (
    ("lut_vs_neurons.png", "neurons", "lut", "bits", "LUTs vs neurons"),
    ("bram_vs_neurons.png", "neurons", "bram", "bits", "block RAM vs neurons"),
    ("fmax_vs_bits.png", "bits", "fmax_mhz", "neurons", "post-route Fmax vs state bits"),
    ("memory_vs_density.png", "density", "memory_bits", "neurons", "memory bits vs density"),
    ("cycles_vs_groups.png", "groups", "cycles_per_step_upper", "neurons",
     "cycles per step (serial model) vs groups"),
)

#: Axis labels, with units, of the sweep's columns.
AXIS_LABELS = {
    "neurons": "neurons N", "bits": "membrane state bits", "groups": "neuron groups G",
    "density": "recurrent density", "lut": "LUTs", "bram": "block RAMs",
    "fmax_mhz": "post-route Fmax (MHz)", "memory_bits": "memory (bits)",
    "cycles_per_step_upper": "cycles per step (serial model)",
}


def _plot(out: Path, rows: list[dict]) -> dict[str, str]:
    """Write the sweep's plots; returns {file: why it was not written} for the ones skipped
    (no data, or a single value on the x axis). A skipped plot left by an earlier run of the
    same folder is removed, so no stale figure stays beside fresh results."""
    with figure_style() as plt:
        return _draw(plt, out, rows)


def _draw(plt, out: Path, rows: list[dict]) -> dict[str, str]:
    import matplotlib.ticker as ticker

    dims = ("target", "neurons", "bits", "groups", "density")
    # The first value of each dimension, in grid order: what a plot holds fixed.
    reference = {d: rows[0][d] for d in dims} if rows else {}

    def series(rows, x, y, line):
        # One line per value of `line`; every other dimension but the target at its reference.
        fixed = [d for d in dims if d not in (x, line, "target")]
        lines: dict = {}
        for r in rows:
            if r.get(y) is None or any(r[d] != reference[d] for d in fixed):
                continue
            lines.setdefault(r[line], []).append((r[x], r[y]))
        note = ", ".join(f"{d}={reference[d]}" for d in fixed
                         if len({r[d] for r in rows}) > 1)
        legend = {"bits": "{} bits", "neurons": "N = {}"}[line]
        return {legend.format(k): sorted(p) for k, p in sorted(lines.items())}, note

    skipped = {}
    targets = sorted({r["target"] for r in rows})
    for name, x, y, line, title in SWEEP_PLOTS:
        if not any(r.get(y) is not None for r in rows):
            skipped[name] = ("no Fmax without place and route (--no-pnr)" if y == "fmax_mhz"
                             else f"no {AXIS_LABELS[y]} measured")
        elif len({r[x] for r in rows}) < 2:
            skipped[name] = f"one value of --{x} ({rows[0][x]}): nothing to plot against"
        if name in skipped:
            (out / name).unlink(missing_ok=True)
            continue
        fig, axes = plt.subplots(1, max(1, len(targets)), figsize=(5.5 * max(1, len(targets)), 4),
                                 squeeze=False)
        for ax, target in zip(axes[0], targets or [None], strict=True):
            chosen = [r for r in rows if r["target"] == target]
            lines, note = series(chosen, x, y, line)
            for label, points in lines.items():
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=label)
            ax.set_xlabel(AXIS_LABELS[x])
            ax.set_ylabel(AXIS_LABELS[y])
            if x != "density":
                ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
            ax.set_title(f"{title}\n{target}" + (f" ({note})" if note else ""), fontsize="medium")
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
        fig.tight_layout()
        atomic_save_figure(fig, out / name)
        plt.close(fig)
    return skipped
