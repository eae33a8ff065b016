"""``snngen explore``: the integer-state dynamics study of the seed paper, and past it.

Every grid point is one autonomous network (no inputs) stepped from its initial state. Because
the state space is finite, every trajectory ends in a periodic orbit; the study finds it exactly
(the first revisit of the full state (v, s), checked element by element, never a heuristic) and
classifies the run.

Networks come from one continuous recipe quantized to each bit width (docs/dynamics.md, "scaling"),
so the same point at 4, 8 and 16 bits is the same network at three precisions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._files import atomic_write_csv, atomic_write_text
from .._progress import Progress
from .._workers import Interrupted, run_in_pool
from ..errors import InputError
from ..model.golden import BatchStepper
from ..model.network import Network, NeuronModel, StateFormat, network_to_json

__all__ = ["COLUMNS", "REGIMES", "ExplorePoint", "analyse", "effective_leak_shift",
           "explore_network", "run_explore"]

RECIPE = "snngen-explore-v1"
# Recurrent gain of the continuous network: weights ~ N(0, (GAIN / (τ·sqrt(N·density)))²)
# against a threshold of 1 (τ = 2^k). At 5 the full-precision network sustains irregular activity
# over the whole grid (2 and 3 let much of it die out; docs/dynamics.md).
GAIN = 5.0
REGIMES = ("quiescent", "fixed point", "periodic", "saturated", "not yet recurrent")
COLUMNS = [
    "neurons", "density", "bits", "seed", "representation", "overflow", "reset", "leak_shift",
    "leak_applied", "threshold", "synapses", "rate", "active_fraction", "transient", "period", "regime",
    "orbit_spikes", "overflow_events", "horizon", "key",
]
# Hash multipliers for the first-revisit search (candidates only: every hit is checked exactly).
_HASH_SEED = 0x5EED


@dataclasses.dataclass(frozen=True)
class ExplorePoint:
    """One run of the study."""

    neurons: int
    density: float
    bits: int
    seed: int
    representation: str = "unsigned"
    overflow: str = "saturate"
    reset: str = "none"
    leak_shift: int | None = 4

    @property
    def key(self) -> str:
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def network(self) -> Network:
        return explore_network(self.neurons, self.density, self.bits, self.seed,
                               representation=self.representation, overflow=self.overflow,
                               reset=self.reset, leak_shift=self.leak_shift)


def explore_network(neurons: int, density: float, bits: int, seed: int = 0, *,
                    representation: str = "unsigned", overflow: str = "saturate",
                    reset: str = "none", leak_shift: int | None = 4) -> Network:
    """The study's network: a continuous random network quantized to `bits` (docs/dynamics.md).

    The continuous network depends only on (neurons, density, seed): threshold 1, weights
    ``N(0, (GAIN/(τ·sqrt(N·density)))²)``, τ = 2^k, on a random fraction `density` of the off-diagonal pairs,
    initial states uniform over the state range (``[0, 2)`` unsigned, ``[−2, 2)`` signed). It is
    quantized by one scale q per width: q = 2^(B−1) unsigned, 2^(B−2) signed, so the threshold is
    q and the state range fills the lattice; weights are rounded to nearest (ties to even) and
    clipped to Bw = min(B, 16) signed bits; initial states are floored.
    """
    state = StateFormat(bits, representation, overflow)
    scale = 1 << (bits - 1) if not state.signed else 1 << max(0, bits - 2)
    threshold = max(1, scale)
    weight_bits = min(bits, 16)
    rng = np.random.default_rng([seed, neurons, round(density * 1_000_000)])
    connected = rng.random((neurons, neurons)) < density
    np.fill_diagonal(connected, False)
    # Per-step weights scale with 1/τ, τ = 2^k the leak's time constant in steps: the membrane
    # integrates about τ steps of input, so the recurrent gain against the threshold is GAIN.
    tau = 1 << leak_shift if leak_shift is not None else 1
    sigma = GAIN / (tau * math.sqrt(max(neurons * density, 1.0)))
    weights_float = rng.normal(0.0, sigma, size=(neurons, neurons))
    low = -2.0 if state.signed else 0.0
    initial_float = rng.uniform(low, 2.0, size=neurons)
    w_lim = (1 << (weight_bits - 1)) - 1
    weights = np.where(connected, np.clip(np.rint(weights_float * scale), -w_lim - 1, w_lim), 0)
    initial = np.clip(np.floor(initial_float * scale), state.min, state.max)
    neuron = NeuronModel(threshold=threshold, leak_shift=effective_leak_shift(leak_shift, state),
                         reset=reset, reset_value=0)
    return Network(
        state=state, neuron=neuron, weight_bits=weight_bits,
        weights=weights.astype(np.int64), input_weights=np.zeros((neurons, 0), np.int64),
        bias=np.zeros(neurons, np.int64), initial_state=initial.astype(np.int64),
        extra={"generator": {"recipe": RECIPE, "density": density, "seed": seed,
                             "gain": GAIN}},
    )


def effective_leak_shift(leak_shift: int | None, state: StateFormat) -> int | None:
    """The study's fixed k at a width B where k ≥ B: the paper's arithmetic, where it exists.

    On an unsigned B-bit lattice ``v >> k`` is 0 for every k ≥ B, so the leak vanishes: that is
    no leak (None), exactly. A signed lattice has no such equivalent (``v >> k`` is −1 for
    negative v), so there k is capped at B − 1.
    """
    if leak_shift is None or leak_shift < state.bits:
        return leak_shift
    return None if not state.signed else state.bits - 1


def analyse(points: Sequence[ExplorePoint], steps: int, horizon: int | None = None) -> list[dict]:
    """Run `points` as one batch; one result row per point, in order.

    Parameters
    ----------
    steps : int
        T: rate, active fraction and overflow events are over steps 1..T.
    horizon : int, optional
        Search for the orbit up to this many steps (default T). Runs that have not recurred by
        T continue (Brent's cycle search, exact comparisons) until they do or the horizon ends.
    """
    horizon = steps if horizon is None else max(horizon, steps)
    networks = [p.network() for p in points]
    batch = len(networks)
    stepper = BatchStepper(networks, count_overflow=True)
    n_max = stepper.n_max
    # Per step and run: the spike count and the overflow events (time-major, small); per run:
    # which neurons ever spiked. Entries a run writes after its orbit closed are never read.
    counts = np.zeros((steps + 1, batch), dtype=np.int32)
    outside = np.zeros((steps + 1, batch), dtype=np.int64)
    ever = np.zeros((batch, n_max), dtype=bool)
    # The full state (v, s) is coded as 2·v + s. Hash candidates come from an exact dot product
    # with random integers: in float64 when every partial sum stays below 2^53 (fast, BLAS),
    # else in int64 (wrapping). Every candidate is then compared byte for byte.
    bits = max(net.state.bits for net in networks)
    rng = np.random.default_rng(_HASH_SEED)
    if bits <= 16 and n_max <= 4096:
        multipliers = rng.integers(1, 1 << 20, size=n_max).astype(np.float64)
        code_dtype = np.float64
    else:
        multipliers = rng.integers(-(1 << 62), 1 << 62, size=n_max, dtype=np.int64)
        code_dtype = np.int64
    seen: list[dict] = [{} for _ in range(batch)]
    # (μ, λ, spikes on the orbit, every neuron fires on every orbit step), or None.
    orbit: list[tuple | None] = [None] * batch
    # Stepper row i is network rows_b[i]; `live` rows still search. Finished rows keep stepping
    # until enough of them are dropped at once (dropping copies the weight matrices).
    rows_b = np.arange(batch)
    live = np.ones(batch, dtype=bool)

    def record(t: int) -> None:
        """Note x(t) of every live row; rows that close an orbit stop being live."""
        code = stepper.v * 2 + stepper.fired
        with np.errstate(over="ignore"):
            keys = (code.astype(code_dtype) @ multipliers).tolist()
        numbers = rows_b.tolist()
        for position in np.flatnonzero(live).tolist():
            b = numbers[position]
            state = code[position].tobytes()
            earlier = seen[b].setdefault(keys[position], [])
            for t0, other in earlier:
                if other == state:
                    window = counts[t0:t, b]   # spike counts of the orbit's states
                    orbit[b] = (t0, t - t0, int(window.sum()),
                                bool((window == networks[b].neurons).all()))
                    live[position] = False
                    break
            else:
                earlier.append((t, state))

    record(0)
    for t in range(1, steps + 1):
        stepper.step()
        fired = stepper.fired
        if len(rows_b) == batch:
            counts[t] = fired.sum(axis=1)
            outside[t] = stepper.outside
            ever |= fired
        else:
            counts[t, rows_b] = fired.sum(axis=1)
            outside[t, rows_b] = stepper.outside
            ever[rows_b] |= fired
        record(t)
        finished = len(live) - int(live.sum())
        if finished and (finished == len(live) or finished >= max(8, len(live) // 4)):
            keep = np.flatnonzero(live)
            if not len(keep):
                break
            rows_b, live = rows_b[keep], live[keep]
            stepper.keep(keep)
    if live.any() and horizon > steps:
        keep = np.flatnonzero(live)
        if len(keep) < len(live):
            stepper.keep(keep)
        _brent(networks, rows_b[keep], stepper, steps, horizon, orbit)

    return [_row(point, net, steps, horizon, counts[:, b], outside[:, b], ever[b], orbit[b])
            for b, (point, net) in enumerate(zip(points, networks, strict=True))]


def _advance(stepper: BatchStepper, counts: np.ndarray) -> None:
    """Step each row `counts[row]` times (rows that are done stay where they are)."""
    remaining = counts.astype(np.int64).copy()
    while (remaining > 0).any():
        frozen = np.flatnonzero(remaining <= 0)
        saved_v, saved_s = stepper.v[frozen].copy(), stepper.fired[frozen].copy()
        stepper.step()
        stepper.v[frozen] = saved_v
        stepper.fired[frozen] = saved_s
        stepper.sources[frozen, :stepper.n_max] = saved_s
        remaining -= 1


def _brent(networks, active, stepper, steps, horizon, orbit) -> None:
    """Exact orbits of the runs still open at T: Brent's cycle search from x(T), then μ.

    Fills ``orbit[b] = (μ, λ, spikes on the orbit, every neuron fires on every orbit step)`` for
    every orbit that closes within the horizon (μ + λ ≤ H). Brent's search may need up to about
    2·max(μ, λ) + λ steps to see such an orbit, so it runs for up to 3H steps; orbits it finds
    that close after H are not reported, so the answer does not depend on the search's pace.
    """
    count = len(active)
    tortoise_v, tortoise_s = stepper.v.copy(), stepper.fired.copy()
    power = np.ones(count, dtype=np.int64)
    lam = np.zeros(count, dtype=np.int64)
    period = np.zeros(count, dtype=np.int64)
    open_rows = np.arange(count)
    t = steps
    while len(open_rows) and t < 3 * horizon:
        stepper.step()
        t += 1
        lam[open_rows] += 1
        equal = ((stepper.v == tortoise_v[open_rows]).all(axis=1)
                 & (stepper.fired == tortoise_s[open_rows]).all(axis=1))
        found = np.flatnonzero(equal)
        period[open_rows[found]] = lam[open_rows[found]]
        renew = np.flatnonzero(~equal & (power[open_rows] == lam[open_rows]))
        tortoise_v[open_rows[renew]] = stepper.v[renew]
        tortoise_s[open_rows[renew]] = stepper.fired[renew]
        power[open_rows[renew]] *= 2
        lam[open_rows[renew]] = 0
        if len(found):
            keep = np.flatnonzero(~equal)
            open_rows = open_rows[keep]
            if len(keep):
                stepper.keep(keep)
    closed = np.flatnonzero(period > 0)
    if not len(closed):
        return
    # μ: a copy from x(λ) and one from x(0) stepped together; the first equal pair is x(μ).
    # Then λ more steps of the lagging copy give the orbit's spikes.
    chosen = [networks[active[i]] for i in closed]
    sizes = np.array([net.neurons for net in chosen])
    lead, lag = BatchStepper(chosen), BatchStepper(chosen)
    lam_closed = period[closed]
    _advance(lead, lam_closed)
    mu = np.full(len(closed), -1, dtype=np.int64)
    left = period[closed].copy()
    orbit_spikes = np.zeros(len(closed), dtype=np.int64)
    all_fire = np.ones(len(closed), dtype=bool)
    padding = np.arange(lead.n_max)[None, :] >= sizes[:, None]
    t = 0
    while (left > 0).any():
        equal = (lead.v == lag.v).all(axis=1) & (lead.fired == lag.fired).all(axis=1)
        mu[np.flatnonzero(equal & (mu < 0))] = t
        on_orbit = (mu >= 0) & (left > 0)
        orbit_spikes += np.where(on_orbit, lag.fired.sum(axis=1), 0)
        all_fire &= ~on_orbit | (lag.fired | padding).all(axis=1)
        left -= on_orbit
        lead.step()
        lag.step()
        t += 1
    for i, row in enumerate(closed):
        if mu[i] + period[row] <= horizon:
            orbit[active[row]] = (int(mu[i]), int(period[row]), int(orbit_spikes[i]),
                                  bool(all_fire[i]))


def _regime(orbit) -> str:
    if orbit is None:
        return "not yet recurrent"
    _, period, orbit_spikes, all_fire = orbit
    if orbit_spikes == 0:
        return "quiescent"
    if all_fire:
        return "saturated"
    return "fixed point" if period == 1 else "periodic"


def _row(point: ExplorePoint, net: Network, steps: int, horizon: int, counts, outside, ever,
         orbit) -> dict:
    n = net.neurons
    t = np.arange(1, steps + 1)
    transition = t
    if orbit is not None and orbit[0] + orbit[1] <= steps:
        mu, period = orbit[0], orbit[1]
        # x(t) repeats with the orbit; the overflow of step t belongs to the move x(t−1) → x(t),
        # which repeats one step later (the move into x(μ) is still part of the transient).
        t, transition = (np.where(t < mu + period, t, mu + (t - mu) % period),
                         np.where(t <= mu, t, mu + 1 + (t - 1 - mu) % period))
    # Every state of the orbit was visited before it closed, so `ever` is complete.
    rate = float(counts[t].sum()) / (steps * n)
    return {
        **dataclasses.asdict(point),
        # The leak actually applied at this width (see effective_leak_shift).
        "leak_applied": net.neuron.leak_shift,
        "threshold": net.neuron.threshold,
        "synapses": net.synapses,
        "rate": round(rate, 6),
        "active_fraction": round(float(ever[:n].mean()), 6),
        "transient": None if orbit is None else orbit[0],
        "period": None if orbit is None else orbit[1],
        "regime": _regime(orbit),
        "orbit_spikes": None if orbit is None else orbit[2],
        "overflow_events": int(outside[transition].sum()),
        "horizon": horizon,
        "key": point.key,
    }


# ---------------------------------------------------------------------------------------------
# The sweep: tasks, schedulers, outputs


def plan_tasks(points: Sequence[ExplorePoint], jobs: int) -> list[list[ExplorePoint]]:
    """Batches of points for the workers: similar sizes together (a batch pads to its largest
    network), cost-balanced, at least `jobs` batches when there are enough points."""
    ordered = sorted(points, key=lambda p: (p.neurons, p.bits, p.density, p.seed, p.key))
    if not ordered:
        return []
    # Cost of a batch ≈ count × (largest N)²: cut where the sizes jump. At least two batches a
    # job for balance, and batches of at most MAX_BATCH points: a batch is the unit of work kept
    # when a study is interrupted.
    pieces = max(1, min(len(ordered), max(2 * jobs, -(-len(ordered) // MAX_BATCH))))
    total = sum(p.neurons ** 2 for p in ordered)
    tasks, current, spent = [], [], 0.0
    for point in ordered:
        current.append(point)
        spent += point.neurons ** 2
        if spent >= total / pieces and len(tasks) < pieces - 1:
            tasks.append(current)
            current, spent = [], 0.0
    if current:
        tasks.append(current)
    return tasks


MAX_BATCH = 16


def _run_task(task: tuple[list[ExplorePoint], int, int | None]) -> list[dict]:
    points, steps, horizon = task
    return analyse(points, steps, horizon)


def run_explore(out_dir: str | os.PathLike, points: Sequence[ExplorePoint], *, steps: int = 1000,
                horizon: int | None = None, jobs: int | None = None, scheduler: str | None = None,
                progress: Progress | None = None, save_networks: bool = False,
                show: ExplorePoint | None = None) -> list[dict]:
    """Run (or resume) the study; writes every output and returns the rows in grid order.

    Parameters
    ----------
    jobs : int, optional
        Local worker processes (default: the number of cores); 1 runs in this process.
    scheduler : str, optional
        Address of a Dask distributed scheduler: the batches run there instead.
    progress : Progress, optional
        Called with (runs done, runs in all, "") as batches finish.
    show : ExplorePoint, optional
        The run drawn as raster plot and membrane traces (default: a periodic run of the grid).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out must be a directory, not the file {str(out)!r}")
    # Reach the scheduler before anything is written.
    client = _dask_client(scheduler) if scheduler is not None else None
    folder = out / "points"
    folder.mkdir(parents=True, exist_ok=True)
    # A run killed while writing leaves its temporary file behind: never a result.
    for stale in folder.glob(".*.partial"):
        stale.unlink()
    todo = [p for p in points if not (folder / f"{p.key}.json").exists()]
    jobs = max(1, jobs or os.cpu_count() or 1)
    tasks = [(chunk, steps, horizon) for chunk in plan_tasks(todo, jobs)]
    done = len(points) - len(todo)
    if progress is not None:
        progress(done, len(points), "")

    def finished(rows: list[dict]) -> None:
        nonlocal done
        for row in rows:
            atomic_write_text(folder / f"{row['key']}.json", json.dumps(row, sort_keys=True) + "\n")
            done += 1   # counted per file, so an interrupt reports exactly what is kept
        if progress is not None:
            progress(done, len(points), "")

    if client is not None:
        _run_dask(client, tasks, finished)
    elif jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            finished(_run_task(task))
    else:
        try:
            run_in_pool(_run_task, tasks, jobs, lambda task, rows: finished(rows))
        except KeyboardInterrupt:
            raise Interrupted(done, len(points)) from None
    rows = [json.loads((folder / f"{p.key}.json").read_text()) for p in points]
    if save_networks:
        networks = out / "networks"
        networks.mkdir(exist_ok=True)
        for point in points:
            target = networks / f"{point.key}.json"
            if not target.exists():
                atomic_write_text(target, network_to_json(point.network()))
    write_outputs(out, rows, points, steps, show)
    return rows


def _dask_client(address: str):
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask.distributed: pip install 'snngen[dask]'") from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError) as error:
        raise InputError(f"--scheduler {address!r}: cannot reach a Dask scheduler ({error})") \
            from None


def _run_dask(client, tasks, finished) -> None:
    from dask.distributed import as_completed as dask_completed

    try:
        futures = client.map(_run_task, tasks, pure=False)
        for future in dask_completed(futures):
            finished(future.result())
    finally:
        client.close()


def write_outputs(out: Path, rows: list[dict], points: Sequence[ExplorePoint], steps: int,
                  show: ExplorePoint | None) -> None:
    atomic_write_csv(out / "results.csv", COLUMNS, rows)
    from . import plots as explore_plots

    if show is None:
        show = _default_show(rows, points)
    explore_plots.plot_all(out, rows, show, steps)
    atomic_write_text(out / "summary.md", explore_plots.summary(rows, show, steps))


def _default_show(rows: list[dict], points: Sequence[ExplorePoint]) -> ExplorePoint:
    """A periodic run near the middle of the grid (the most informative raster), else the first."""
    periodic = [p for p, r in zip(points, rows, strict=True) if r["regime"] == "periodic"]
    chosen = periodic or list(points)
    return chosen[len(chosen) // 2]
