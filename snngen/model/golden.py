"""The golden model: the executable form of the reference integer semantics (docs/semantics.md).

One step, for every neuron i at once::

    I_i  = Σ_j W[i, j]·s_j(t−1) + Σ_c Win[i, c]·x_c(t) + bias_i     exact integer sum
    u_i  = v_i(t−1) − (v_i(t−1) >> k)                                 arithmetic shift; u = v if no leak
    v'_i = OVF(u_i + I_i)                                             saturate or wrap into the lattice
    s_i(t) = [v'_i ≥ θ]
    v_i(t) = reset_value | v'_i − θ | v'_i                            zero | subtract | none, if s_i(t)

Three executions of the same semantics, all bit-exact with one another:

* :func:`simulate` with ``method="dense"``: one matrix-vector product a step. Sums are computed in
  float32 or float64 only when every partial sum of the network is provably below 2**24 or 2**53
  (integers are exact there in any summation order); otherwise in int64.
* :func:`simulate` with ``method="event"``: only the fan-out of the neurons that spiked is touched,
  so the cost follows the spike count (plus O(N) for the neuron update).
* :func:`simulate_batch`: many networks (of any sizes, widths and options) stepped at once, for sweeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ..errors import InputError, InputTypeError
from .network import Network, Overflow, Reset

__all__ = [
    "BatchTrace",
    "Orbit",
    "Stepper",
    "Trace",
    "check_inputs",
    "find_orbit",
    "first_mismatch",
    "neuron_update",
    "overflow_events",
    "simulate",
    "simulate_batch",
    "synaptic_current",
]

_FLOAT32_EXACT = 1 << 24
_FLOAT64_EXACT = 1 << 53


@dataclasses.dataclass(frozen=True)
class Orbit:
    """An exactly detected orbit of the full state (v, s).

    Members
    -------
    transient : int
        μ: the number of steps before the state first enters the cycle (0: the initial state is on it).
    period : int
        λ ≥ 1: the cycle length; λ = 1 is a fixed point.
    """

    transient: int
    period: int


@dataclasses.dataclass(frozen=True, eq=False)
class Trace:
    """What one run produced.

    Members
    -------
    spikes : ndarray of uint8, shape (T, N)
        ``spikes[t - 1]`` is s(t): 0/1, or a spike count with semantics v2's multi-spike.
    state : ndarray of int64, shape (T, N)
        ``state[t - 1]`` is v(t), after reset.
    current : ndarray of int64, shape (T, N), or None
        ``current[t - 1]`` is the synaptic current I(t) of a network with one (semantics v2).
    """

    spikes: np.ndarray
    state: np.ndarray
    current: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return self.spikes.shape[0]

    @property
    def firing_rate(self) -> float:
        """Spikes per neuron per step."""
        return float(self.spikes.mean()) if self.spikes.size else 0.0


@dataclasses.dataclass(frozen=True, eq=False)
class BatchTrace:
    """What a batch of runs produced, padded to the largest network.

    Members
    -------
    spikes : ndarray of uint8, shape (B, T, Nmax)
    state : ndarray of int, shape (B, T, Nmax), or None when not recorded
        The smallest integer dtype that holds every network's lattice.
    neurons : ndarray of int, shape (B,)
        The real size of each network; columns past it are padding (always 0).
    """

    spikes: np.ndarray
    state: np.ndarray | None
    neurons: np.ndarray

    def trace(self, index: int) -> Trace:
        """The :class:`Trace` of network `index`, unpadded, with an int64 state."""
        n = int(self.neurons[index])
        if self.state is None:
            raise ValueError("this batch was run with record_state=False")
        return Trace(
            spikes=self.spikes[index, :, :n].copy(),
            state=self.state[index, :, :n].astype(np.int64),
        )


def check_inputs(network: Network, steps: int, inputs: object | None) -> np.ndarray:
    """Validate an input-spike array for `steps` steps; returns it as uint8 of shape (steps, K).

    ``inputs[t - 1]`` is x(t). More rows than `steps` are allowed (the first `steps` are used).
    A network with dynamics takes spike counts up to its ``input_max_count``.
    """
    max_count = 1 if network.dynamics is None else network.dynamics.input_max_count
    return check_input_array(network.inputs, steps, inputs, max_count=max_count)


def check_input_array(k: int, steps: int, inputs: object | None, *,
                      max_count: int = 1) -> np.ndarray:
    """:func:`check_inputs` for K input channels, when there is no network at hand (a board)."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise InputTypeError(f"steps must be an integer, not {steps!r}")
    if steps < 1:
        raise InputError(f"steps must be >= 1, not {steps}")
    if inputs is None:
        return np.zeros((steps, k), dtype=np.uint8)
    array = np.asarray(inputs)
    if array.dtype.kind not in "biu":
        raise InputTypeError(f"inputs must hold 0/1 integers, not {array.dtype} values")
    if array.ndim != 2 or array.shape[1] != k:
        raise InputError(
            f"inputs must have shape (steps, {k}) for a network with {k} inputs, "
            f"not {array.shape}"
        )
    if array.shape[0] < steps:
        raise InputError(f"inputs has {array.shape[0]} rows (steps), fewer than the {steps} asked for")
    array = array[:steps]
    bad = (array < 0) | (array > max_count)
    if bad.any():
        t, c = np.argwhere(bad)[0]
        allowed = "0 or 1" if max_count == 1 else f"a spike count in 0..{max_count}"
        raise InputError(f"inputs[{t}][{c}] must be {allowed}, not {array[t, c]}")
    return array.astype(np.uint8)


def _current_bound(network: Network) -> int:
    """The largest |partial sum| any synaptic sum of this network can reach, plus the state."""
    # int64 holds these sums: N, K ≤ 2**24 and |w| ≤ 2**31 (network.MAX_NEURONS).
    w, w_in = network.weight_matrices()
    rows = (np.asarray(abs(w).sum(axis=1)).ravel() + np.asarray(abs(w_in).sum(axis=1)).ravel()
            + np.abs(network.bias))
    return int(rows.max()) + (1 << network.state.bits)


def _sum_dtype(bound: int) -> type:
    if bound < _FLOAT32_EXACT:
        return np.float32
    if bound < _FLOAT64_EXACT:
        return np.float64
    return np.int64


def neuron_update(
    network: Network, state: np.ndarray, current: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One neuron update: leak, add `current`, overflow, threshold, reset.

    Parameters
    ----------
    state : ndarray of int
        v(t−1), any shape, in the lattice.
    current : ndarray of int
        I, the exact synaptic sum, broadcastable to `state`.

    Returns
    -------
    (v(t), s(t)) : int64 array, bool array
    """
    v = np.asarray(state, dtype=np.int64)
    fmt, neuron = network.state, network.neuron
    u = v if neuron.leak_shift is None else v - (v >> neuron.leak_shift)
    x = u + np.asarray(current, dtype=np.int64)
    x = fmt.overflow_of(x)
    threshold = network.thresholds
    spikes = x >= threshold
    if neuron.reset is Reset.ZERO:
        x = np.where(spikes, neuron.reset_value, x)
    elif neuron.reset is Reset.SUBTRACT:
        x = np.where(spikes, x - threshold, x)
    return x, spikes


def synaptic_current(network: Network, spikes: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """I for many steps at once: ``spikes`` (…, N) are s(t−1), ``inputs`` (…, K) are x(t)."""
    s = np.asarray(spikes, dtype=np.int64)
    x = np.asarray(inputs, dtype=np.int64)
    w, w_in = network.weight_matrices()
    # W · sᵀ (not s · Wᵀ) so that a sparse W (a network with projections) works the same.
    # Explicit row counts: reshape(-1, 0) is ambiguous for a network without inputs.
    rows = int(np.prod(s.shape[:-1]))
    flat_s, flat_x = s.reshape(rows, s.shape[-1]), x.reshape(rows, x.shape[-1])
    total = np.asarray(w @ flat_s.T).T + np.asarray(w_in @ flat_x.T).T + network.bias
    return total.reshape(*s.shape[:-1], network.neurons)


def overflow_events(network: Network, trace: Trace, inputs: np.ndarray | None = None) -> np.ndarray:
    """How many neurons left the lattice (and were clamped or wrapped) at each step.

    Computed after the run, all steps at once, from the trace itself. Returns int64 of shape (T,).
    """
    steps = trace.steps
    x = check_inputs(network, steps, inputs)
    previous_v = np.vstack([network.initial_state[None, :], trace.state[:-1]])
    previous_s = np.vstack([np.zeros((1, network.neurons), np.uint8), trace.spikes[:-1]])
    k = network.neuron.leak_shift
    u = previous_v if k is None else previous_v - (previous_v >> k)
    raw = u + synaptic_current(network, previous_s, x)
    outside = (raw < network.state.min) | (raw > network.state.max)
    return outside.sum(axis=1).astype(np.int64)


def simulate(
    network: Network,
    steps: int,
    inputs: np.ndarray | None = None,
    *,
    method: Literal["auto", "dense", "event"] = "auto",
) -> Trace:
    """Run `network` for `steps` steps from v(0) = initial_state, s(0) = 0.

    Parameters
    ----------
    network : Network
    steps : int
        T ≥ 1.
    inputs : array-like of 0/1, shape (≥T, K), optional
        ``inputs[t - 1]`` is x(t). No input spikes when omitted.
    method : {"auto", "dense", "event"}
        ``dense``: one matrix-vector product a step; ``event``: touches only the fan-out of the
        neurons that spiked; ``auto`` picks ``event`` for sparse weight matrices (≤ 5% non-zero,
        N ≥ 256), else ``dense``. All three give identical traces.
    """
    x_in = check_inputs(network, steps, inputs)
    return Stepper(network, method).advance(x_in)


class _Update:
    """The in-place neuron update of one network, with the mode branches resolved once."""

    def __init__(self, network: Network):
        fmt, neuron = network.state, network.neuron
        self.leak = neuron.leak_shift
        self.saturate = fmt.overflow is Overflow.SATURATE
        self.lo, self.hi = fmt.min, fmt.max
        self.mask = fmt.modulus - 1
        self.threshold = network.thresholds
        self.reset = neuron.reset
        self.reset_value = neuron.reset_value
        n = network.neurons
        self.scratch = np.empty(n, dtype=np.int64)

    def __call__(self, v: np.ndarray, current: np.ndarray, out: np.ndarray, spikes: np.ndarray):
        """v(t−1), I → `out` = v(t), `spikes` = s(t) (bool). `out` may not alias `v`."""
        if self.leak is not None:
            np.right_shift(v, self.leak, out=self.scratch)
            np.subtract(v, self.scratch, out=self.scratch)
            np.add(self.scratch, current, out=out, casting="unsafe")
        else:
            np.add(v, current, out=out, casting="unsafe")
        if self.saturate:
            np.minimum(out, self.hi, out=out)
            np.maximum(out, self.lo, out=out)
        elif self.lo == 0:
            np.bitwise_and(out, self.mask, out=out)
        else:
            np.subtract(out, self.lo, out=out)
            np.bitwise_and(out, self.mask, out=out)
            np.add(out, self.lo, out=out)
        np.greater_equal(out, self.threshold, out=spikes)
        if self.reset is Reset.ZERO:
            np.copyto(out, self.reset_value, where=spikes)
        elif self.reset is Reset.SUBTRACT:
            np.subtract(out, self.threshold, out=out, where=spikes)


class Stepper:
    """The golden model, resumable: :meth:`advance` runs the next steps from where the last
    call stopped, so a run of any length can be taken in chunks of bounded memory.

    Parameters
    ----------
    network : Network
    method : {"auto", "dense", "event"}
        As for :func:`simulate`; every method gives the same trace.

    Members
    -------
    steps_done : int
        Steps run so far; the next :meth:`advance` starts with step ``steps_done + 1``.

    :func:`simulate` is one :meth:`advance` of a fresh stepper, so a chunked run and a whole run
    execute the same code and give identical traces.
    """

    def __init__(self, network: Network, method: Literal["auto", "dense", "event"] = "auto"):
        if method not in ("auto", "dense", "event"):
            raise ValueError(f"method must be 'auto', 'dense' or 'event', not {method!r}")
        if method == "auto" and network.structured:
            method = "event"
        elif method == "auto":
            sparse = np.count_nonzero(network.weights) <= 0.05 * network.weights.size
            method = "event" if sparse and network.neurons >= 256 else "dense"
        self.network = network
        self.method = method
        self.steps_done = 0
        if network.dynamics is not None:
            from .dynamics import DynamicsEngine

            self._engine = DynamicsEngine(network, method)
        elif network.structured:
            # Kernels are shared, so the fan-out lists are the projections' (built once).
            self._engine = _EventEngine(network)
        elif method == "dense":
            self._engine = _DenseEngine(network)
        else:
            self._engine = _EventEngine(network)

    def advance(self, inputs: np.ndarray) -> Trace:
        """Run ``len(inputs)`` more steps; ``inputs[i]`` is x(steps_done + 1 + i), validated
        (:func:`check_inputs`). Returns the trace of these steps only."""
        if len(inputs) == 0:
            n = self.network.neurons
            empty = np.empty((0, n), dtype=np.int64)
            return Trace(spikes=np.empty((0, n), dtype=np.uint8), state=empty,
                         current=empty if self.network.dynamics is not None
                         and self.network.dynamics.current is not None else None)
        trace = self._engine.advance(inputs, self.steps_done)
        self.steps_done += len(inputs)
        return trace

    def hidden_state(self) -> np.ndarray | None:
        """Per step of the last :meth:`advance`, the state a trace does not hold, as int64
        columns (refractory counters; the bias phase while biases are delayed), or None."""
        return getattr(self._engine, "hidden", None)


class _DenseEngine:
    """One matrix-vector product a step: [W | Win | bias] · [s(t−1); x(t); 1]."""

    def __init__(self, network: Network):
        n, k = network.neurons, network.inputs
        self.n, self.k = n, k
        self.dtype = _sum_dtype(_current_bound(network))
        self.matrix = np.empty((n, n + k + 1), dtype=self.dtype)
        self.matrix[:, :n] = network.weights
        self.matrix[:, n:n + k] = network.input_weights
        self.matrix[:, n + k] = network.bias
        self.drive = np.zeros(n + k + 1, dtype=self.dtype)
        self.drive[n + k] = 1
        # Zeroed, not empty: OpenBLAS scales the output buffer by β = 0 before adding, and a
        # NaN pattern left in uninitialised memory then raises "invalid value" (once, at random).
        self.current = np.zeros(n, dtype=self.dtype)
        self.update = _Update(network)
        self.v = network.initial_state.astype(np.int64)

    def advance(self, x_in: np.ndarray, _first: int) -> Trace:
        n, k, drive, matrix, current, update = (self.n, self.k, self.drive, self.matrix,
                                                self.current, self.update)
        steps = len(x_in)
        inputs = x_in.astype(self.dtype)
        state = np.empty((steps, n), dtype=np.int64)
        spikes = np.empty((steps, n), dtype=np.bool_)
        v = self.v
        recurrent = drive[:n]
        for t in range(steps):
            if k:
                drive[n:n + k] = inputs[t]
            np.dot(matrix, drive, out=current)
            update(v, current, state[t], spikes[t])
            recurrent[:] = spikes[t]
            v = state[t]
        self.v = v.copy()
        return Trace(spikes=spikes.view(np.uint8), state=state)


class _EventEngine:
    """Touches only the fan-out of the neurons that spiked (compressed sparse columns)."""

    def __init__(self, network: Network):
        self.network = network
        self.n = network.neurons
        # Fan-out lists (compressed sparse columns): column j holds neuron j's non-zero synapses.
        w, w_in = network.weight_matrices()
        if network.structured:
            self.counts = np.diff(w.indptr)
            self.starts = w.indptr.astype(np.int64)
            self.targets = w.indices.astype(np.intp)
            self.values = w.data.astype(np.int64)
        else:
            columns = w.T
            self.counts = np.count_nonzero(columns, axis=1)
            self.starts = np.concatenate([[0], np.cumsum(self.counts)])
            self.targets = np.nonzero(columns)[1].astype(np.intp)
            self.values = columns[columns != 0].astype(np.int64)
        self.w_in = w_in
        self.exact_in_float = _current_bound(network) < _FLOAT64_EXACT
        self.update = _Update(network)
        self.v = network.initial_state.astype(np.int64)
        self.active = np.empty(0, dtype=np.intp)

    def advance(self, x_in: np.ndarray, _first: int) -> Trace:
        network, n = self.network, self.n
        counts, starts, targets, values = self.counts, self.starts, self.targets, self.values
        steps = len(x_in)
        input_current = np.asarray(self.w_in @ x_in.astype(np.int64).T).T + network.bias
        state = np.empty((steps, n), dtype=np.int64)
        spikes = np.empty((steps, n), dtype=np.bool_)
        update = self.update
        v = self.v
        active = self.active
        current = np.empty(n, dtype=np.int64)
        for t in range(steps):
            current[:] = input_current[t]
            if active.size:
                lengths = counts[active]
                total = int(lengths.sum())
                if total:
                    # Positions of every synapse of every active neuron, without a Python loop.
                    offsets = np.repeat(starts[active] - np.cumsum(lengths) + lengths, lengths)
                    positions = offsets + np.arange(total)
                    if self.exact_in_float:
                        current += np.bincount(
                            targets[positions], weights=values[positions], minlength=n
                        ).astype(np.int64)
                    else:
                        np.add.at(current, targets[positions], values[positions])
            update(v, current, state[t], spikes[t])
            active = np.flatnonzero(spikes[t])
            v = state[t]
        self.v, self.active = v.copy(), active
        return Trace(spikes=spikes.view(np.uint8), state=state)


def simulate_batch(
    networks: Sequence[Network],
    steps: int,
    inputs: Sequence[np.ndarray | None] | None = None,
    *,
    record_state: bool = True,
) -> BatchTrace:
    """Step many networks at once; each gets exactly the trace :func:`simulate` would give it.

    Networks may differ in every field. They are padded to the largest N and K with inert neurons
    (no synapses, state 0, never spiking since θ ≥ 1).

    Parameters
    ----------
    networks : sequence of Network
    steps : int
    inputs : sequence of (array or None), optional
        One input array per network, as for :func:`simulate`.
    record_state : bool
        Record v(t) (in the smallest dtype that holds every lattice). Spikes are always recorded.
    """
    if not networks:
        raise InputError("networks must hold at least one network, not 0")
    batch = len(networks)
    if inputs is None:
        inputs = [None] * batch
    if len(inputs) != batch:
        raise InputError(f"inputs must hold one entry per network ({batch}), not {len(inputs)}")
    x_list = [check_inputs(net, steps, x) for net, x in zip(networks, inputs, strict=True)]
    if any(net.dynamics is not None or net.structured for net in networks):
        return _batch_one_by_one(networks, steps, x_list, record_state)
    stepper = BatchStepper(networks)
    n_max, k_max = stepper.n_max, stepper.k_max
    x_all = np.zeros((steps, batch, k_max), dtype=stepper.dtype)
    for b, x in enumerate(x_list):
        x_all[:, b, :x.shape[1]] = x
    spikes = np.zeros((batch, steps, n_max), dtype=np.bool_)
    state = None
    if record_state:
        state = np.zeros((batch, steps, n_max), dtype=stepper.state_dtype)
    for t in range(steps):
        stepper.step(x_all[t] if k_max else None)
        spikes[:, t] = stepper.fired
        if state is not None:
            state[:, t] = stepper.v
    return BatchTrace(
        spikes=spikes.view(np.uint8),
        state=state,
        neurons=np.array([net.neurons for net in networks], dtype=np.int64),
    )


def _batch_one_by_one(networks: Sequence[Network], steps: int, x_list: list[np.ndarray],
                      record_state: bool) -> BatchTrace:
    """A batch holding semantics-v2 networks or networks with projections: each runs on its
    own, padded into one result."""
    n_max = max(net.neurons for net in networks)
    spikes = np.zeros((len(networks), steps, n_max), dtype=np.uint8)
    state = np.zeros((len(networks), steps, n_max), dtype=np.int64) if record_state else None
    for b, (net, x) in enumerate(zip(networks, x_list, strict=True)):
        trace = simulate(net, steps, x)
        spikes[b, :, :net.neurons] = trace.spikes
        if state is not None:
            state[b, :, :net.neurons] = trace.state
    return BatchTrace(spikes=spikes, state=state,
                      neurons=np.array([net.neurons for net in networks], dtype=np.int64))


class BatchStepper:
    """Many networks stepped together, padded to the largest: the engine of the batched paths.

    Networks may differ in every field; padding neurons are inert (no synapses, state 0, never
    spiking since θ ≥ 1). :meth:`keep` drops finished networks so later steps cost less.

    The synaptic sums are kept from step to step and updated only for the sources (spikes and
    input channels) that changed: in the seed paper's grid about 0.5 % of the neurons toggle per
    step, so a step costs a gather of those weight columns instead of a B·N² product (a full
    product when more than an eighth of the sources change). The sums stay exact: every
    intermediate value is a sum of a subset of a neuron's weights, within the bound that chose
    the dtype.

    Members
    -------
    v : ndarray of int64, shape (B, Nmax)
        v(t) after the last :meth:`step` (v(0) before the first).
    fired : ndarray of bool, shape (B, Nmax)
        s(t) (all False before the first step).
    outside : ndarray of int64, shape (B,)
        With ``count_overflow``: neurons that left the lattice (were clamped or wrapped) in the
        last step.
    n_max, k_max : int
    dtype : numpy dtype of the exact synaptic sums; state_dtype : smallest dtype of every lattice
    """

    def __init__(self, networks: Sequence[Network], *, count_overflow: bool = False):
        networks = [net.expanded() for net in networks]
        batch = len(networks)
        self.n_max = n_max = max(net.neurons for net in networks)
        self.k_max = k_max = max(net.inputs for net in networks)
        bound = max(_current_bound(net) for net in networks)
        self.dtype = _sum_dtype(bound)
        lo_all = min(net.state.min for net in networks)
        hi_all = max(net.state.max for net in networks)
        # The membrane arithmetic in int32 when v − (v >> k) + I always fits (half the memory
        # traffic of int64), else int64.
        fits32 = max(hi_all, -lo_all) + bound < 1 << 30
        self.work_dtype = np.int32 if fits32 and self.dtype != np.int64 else np.int64
        self.width = width = n_max + k_max + 1
        self.matrix = np.zeros((batch, n_max, width), dtype=self.dtype)
        self.v = np.zeros((batch, n_max), dtype=self.work_dtype)
        for b, net in enumerate(networks):
            n, k = net.neurons, net.inputs
            self.matrix[b, :n, :n] = net.weights
            self.matrix[b, :n, n_max:n_max + k] = net.input_weights
            self.matrix[b, :n, width - 1] = net.bias
            self.v[b, :n] = net.initial_state

        def column(values: list[int]) -> np.ndarray:
            return np.array(values, dtype=self.work_dtype)[:, None]

        self.lo = column([net.state.min for net in networks])
        self.hi = column([net.state.max for net in networks])
        self.mask = column([net.state.modulus - 1 for net in networks])
        self.wrap = column([net.state.overflow is Overflow.WRAP for net in networks]).astype(bool)
        self.shift = column([net.neuron.leak_shift or 0 for net in networks])
        self.leaky = column([net.neuron.leak_shift is not None for net in networks])
        self.threshold = column([net.neuron.threshold for net in networks])
        if any(np.ndim(net.thresholds) for net in networks):
            # Per-layer or per-neuron thresholds: one per neuron (padding neurons keep their
            # network's θ).
            self.threshold = np.repeat(self.threshold, n_max, axis=1)
            for b, net in enumerate(networks):
                self.threshold[b, :net.neurons] = net.thresholds
        self.subtract = column([net.neuron.reset is Reset.SUBTRACT
                                for net in networks]).astype(bool)
        self.to_value = column([net.neuron.reset is Reset.ZERO for net in networks]).astype(bool)
        self.reset_value = column([net.neuron.reset_value for net in networks])
        self.state_dtype = next(d for d in (np.int8, np.int16, np.int32, np.int64)
                                if np.iinfo(d).min <= lo_all and hi_all <= np.iinfo(d).max)
        self.count_overflow = count_overflow
        # Source j's weights into every neuron, contiguous: what a toggle of j adds or removes.
        self.columns = np.ascontiguousarray(self.matrix.transpose(0, 2, 1))
        self.current = np.zeros((batch, n_max), dtype=self.dtype)
        # The sources (spikes s(t), then input channels x(t)) now, and those `current` is for.
        self.sources = np.zeros((batch, n_max + k_max), dtype=bool)
        self.applied = np.zeros((batch, n_max + k_max), dtype=bool)
        self.fresh = True  # no sums yet: the first step computes them in full
        self._allocate()

    def _allocate(self) -> None:
        self.any_wrap, self.any_saturate = bool(self.wrap.any()), not bool(self.wrap.all())
        self.any_subtract, self.any_to_value = bool(self.subtract.any()), bool(self.to_value.any())
        self.all_leaky, self.any_leaky = bool(self.leaky.all()), bool(self.leaky.any())
        self.u = np.empty_like(self.v)
        self.fired = self.sources[:, :self.n_max].copy()
        self.reset_to = np.broadcast_to(self.reset_value, self.v.shape)
        self.outside = np.zeros(len(self.v), dtype=np.int64)

    @property
    def drive(self) -> np.ndarray:
        """[s(t); x(t); 1] as the sums' dtype, shape (B, width, 1)."""
        drive = np.ones((len(self.v), self.width, 1), dtype=self.dtype)
        drive[:, :self.width - 1, 0] = self.sources
        return drive

    def step(self, inputs: np.ndarray | None = None) -> None:
        """One step of every network; `inputs` (B, Kmax) are x(t), or None for none."""
        v, u, fired, n = self.v, self.u, self.fired, self.n_max
        if inputs is not None and self.k_max:
            self.sources[:, n:] = inputs
        changed = self.sources != self.applied
        rows, sources = np.nonzero(changed)
        if self.fresh or len(rows) * 8 > changed.size:
            # Into a zeroed buffer: see _DenseEngine.current.
            product = np.zeros((len(self.v), self.n_max, 1), dtype=self.dtype)
            self.current = np.matmul(self.matrix, self.drive, out=product)[:, :, 0]
            self.applied[...] = self.sources
            self.fresh = False
        elif len(rows):
            now = self.sources[rows, sources]
            # A changed source went 0 → 1 (add its weights) or 1 → 0 (remove them).
            contributions = self.columns[rows, sources]
            contributions[~now] *= -1
            first = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
            self.current[rows[first]] += np.add.reduceat(contributions, first, axis=0)
            self.applied[rows, sources] = now
        if self.any_leaky:
            np.right_shift(v, self.shift, out=u)
            if not self.all_leaky:
                np.multiply(u, self.leaky, out=u)
            np.subtract(v, u, out=v)
        np.add(v, self.current, out=v, casting="unsafe")
        if self.count_overflow:
            self.outside = np.count_nonzero((v < self.lo) | (v > self.hi), axis=1)
        if self.any_wrap:
            wrapped = ((v - self.lo) & self.mask) + self.lo
        if self.any_saturate:
            np.minimum(v, self.hi, out=v)
            np.maximum(v, self.lo, out=v)
        if self.any_wrap:
            np.copyto(v, wrapped, where=self.wrap) if self.any_saturate else np.copyto(v, wrapped)
        np.greater_equal(v, self.threshold, out=fired)
        if self.any_subtract:
            np.subtract(v, self.threshold, out=v, where=fired & self.subtract)
        if self.any_to_value:
            np.copyto(v, self.reset_to, where=fired & self.to_value)
        self.sources[:, :n] = fired

    def keep(self, rows: np.ndarray) -> None:
        """Keep only the networks at `rows` (in that order), with their current state."""
        for name in ("matrix", "columns", "current", "applied", "sources", "v", "lo", "hi",
                     "mask", "wrap", "shift", "leaky", "threshold", "subtract", "to_value",
                     "reset_value"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[rows]))
        self._allocate()


def first_mismatch(expected: Trace, spikes: np.ndarray, state: np.ndarray,
                   current: np.ndarray | None = None) -> dict | None:
    """The first (step, neuron) where a run differs from `expected`: spikes, then states, then
    (when `expected` has one) synaptic currents.

    Returns ``{"step", "neuron", "what", "expected", "got"}`` (step 1-based) or None when
    bit-exact. Used by every verification path (``snngen verify``, the cocotb scoreboard);
    the currents are compared when both sides have them (the board's host link reads the
    membrane only).
    """
    for t in range(expected.steps):
        checks = [("spike", expected.spikes[t], spikes[t]), ("state", expected.state[t], state[t])]
        if expected.current is not None and current is not None:
            checks.append(("current", expected.current[t], current[t]))
        for what, want, got in checks:
            differs = np.flatnonzero(want != got)
            if differs.size:
                neuron = int(differs[0])
                return {"step": t + 1, "neuron": neuron, "what": what,
                        "expected": int(want[neuron]), "got": int(got[neuron])}
    return None


def find_orbit(
    initial_state: np.ndarray, state: np.ndarray, spikes: np.ndarray
) -> Orbit | None:
    """The first exact revisit of the full state (v, s) in a recorded autonomous run.

    Parameters
    ----------
    initial_state : ndarray, shape (N,)
        v(0); s(0) is 0.
    state, spikes : ndarray, shape (T, N)
        v(t) and s(t) for t = 1..T.

    Returns
    -------
    Orbit or None
        None when no state repeats within the T steps. Only meaningful when the inputs are
        constant (e.g. none): with varying inputs a revisit does not imply periodicity.

    States are compared as raw bytes in a dict (hash, then full equality), so the detection is
    exact, never a hash-collision heuristic.
    """
    state = np.ascontiguousarray(state, dtype=np.int64)
    spikes = np.ascontiguousarray(spikes, dtype=np.uint8)
    first_seen: dict[bytes, int] = {
        np.asarray(initial_state, dtype=np.int64).tobytes()
        + bytes(spikes.shape[1]): 0
    }
    for t in range(state.shape[0]):
        key = state[t].tobytes() + spikes[t].tobytes()
        seen = first_seen.get(key)
        if seen is not None:
            return Orbit(transient=seen, period=t + 1 - seen)
        first_seen[key] = t + 1
    return None
