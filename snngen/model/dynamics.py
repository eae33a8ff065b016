"""The golden model of semantics v2 (docs/semantics.md, "Semantics v2"): networks with ``dynamics``.

One step, for every neuron i at once (x(t) input counts, s(t−1) spike counts)::

    A    = Σ_j (W[i,j] << ws_i)·s_j(t−1) + Σ_c (Win[i,c] << wsin_i)·x_c(t)       exact
    with a current:
      decay_then_add: I = ACC(D_I(I), events)      add_then_decay: I = D_I(ACC(I, events))
      ACC exact: OVF_I(I + A + b_I); per_event: OVF_I(I + b_I), then one OVF_I add per event,
      inputs by channel, then neurons by index (a source's s_j events collapse into one add:
      every add has its sign)
      J = I
    without one: J = A
    u  = D_V(v)
    v' = OVF_V(u + J + b)                                     membrane_sum exact
    (b and b_I are 0 in steps t ≤ bias_delay)
         δ = OVF_V(u − v + J); δ = OVF_V(δ + b); OVF_V(v + δ)  membrane_sum staged
    refractory neurons: v' = v, no spike
    n  = min(M, #subtractions of θ while v' ≥ θ (or > θ));  s(t) = n
    v(t) = reset_value if n > 0 (zero) | v' − n·θ (subtract) | v' (none)

Three engines give identical traces: ``dense`` (one product per step for the exact sum),
``event`` (only the fan-out of the sources that fired), and :func:`simulate_batch`, which steps
networks with dynamics one by one through this module.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .network import (
    DECAY_UNITY,
    Accumulate,
    Compare,
    CurrentOrder,
    Decay,
    MembraneSum,
    Network,
    Reset,
    StateFormat,
)

__all__ = ["DynamicsEngine", "decay", "simulate_dynamics"]

_EXACT_LIMIT = 1 << 62


def decay(mode: Decay, values: np.ndarray, parameter: np.ndarray) -> np.ndarray:
    """D(x) of one decay mode, elementwise; `parameter` is k (shift modes) or d (multiply)."""
    x = np.asarray(values, dtype=np.int64)
    if mode is Decay.NONE:
        return x
    if mode is Decay.MULTIPLY:
        product = x * (DECAY_UNITY - parameter)
        return np.sign(product) * (np.abs(product) >> 12)
    step = x >> parameter
    if mode is Decay.SHIFT_MIN1:
        # The floor already moves a negative x by at least 1; a small positive x moves by 1.
        step = np.where((step == 0) & (x != 0), np.sign(x), step)
    return x - step


def _shifted(weights, shifts: np.ndarray):
    """Row i of `weights` shifted left by shifts[i]; a sparse matrix stays sparse (CSC)."""
    if not isinstance(weights, np.ndarray):
        from scipy import sparse

        return (sparse.diags_array(np.left_shift(1, shifts).astype(np.int64), dtype=np.int64)
                @ weights.astype(np.int64)).tocsc()
    return weights.astype(np.int64) << shifts[:, None]


def _sum_bound(network: Network, w, w_in) -> int:
    dynamics = network.dynamics
    rows = np.asarray(abs(w) @ dynamics.max_spikes).ravel() \
        + np.asarray(abs(w_in).sum(axis=1)).ravel() * dynamics.input_max_count
    return int(rows.max()) if rows.size else 0


def _column(matrix, j: int) -> np.ndarray:
    """Column j as a dense int64 vector (of a dense or a sparse CSC matrix)."""
    if isinstance(matrix, np.ndarray):
        return matrix[:, j]
    column = np.zeros(matrix.shape[0], dtype=np.int64)
    start, end = matrix.indptr[j], matrix.indptr[j + 1]
    column[matrix.indices[start:end]] = matrix.data[start:end]
    return column


def simulate_dynamics(network: Network, steps: int, x_in: np.ndarray, method: str):
    """Run a network with dynamics; returns a Trace with spike counts and the current."""
    return DynamicsEngine(network, method).advance(x_in[:steps], 0)


class DynamicsEngine:
    """The resumable engine of semantics v2 behind :class:`~snngen.model.golden.Stepper`.

    Parameters
    ----------
    network : Network
        A network with ``dynamics``.
    method : {"dense", "event"}

    Members
    -------
    hidden : ndarray of int64, shape (steps, H), or None
        After :meth:`advance`, per step the state no trace holds: the refractory counters (N
        columns, when any neuron has a refractory period) and min(t, the longest bias_delay) (one
        column, when biases are delayed), so that (v, s, I, hidden) is the whole state of the map.
    """

    def __init__(self, network: Network, method: str):
        dyn = network.dynamics
        self.network, self.method = network, method
        weights, input_weights = network.weight_matrices()
        self.w = _shifted(weights, dyn.weight_shift)
        self.w_in = _shifted(input_weights, dyn.input_weight_shift)
        if _sum_bound(network, self.w, self.w_in) + 4 * (1 << 33) >= _EXACT_LIMIT:
            raise InputError("the shifted weights' synaptic sums must stay below 2^62 to be "
                             "exact")
        n = network.neurons
        self.v = network.initial_state.astype(np.int64)
        self.i_syn = None if dyn.current is None else dyn.current.initial.astype(np.int64)
        self.counts = np.zeros(n, dtype=np.int64)
        self.frozen_for = np.zeros(n, dtype=np.int64)
        self.hidden = None

    def advance(self, x_in: np.ndarray, first: int):
        from .golden import Trace

        network, method, w, w_in = self.network, self.method, self.w, self.w_in
        dyn = network.dynamics
        n = network.neurons
        steps = len(x_in)
        membrane: StateFormat = network.state
        current = dyn.current
        per_event = dyn.accumulate is Accumulate.PER_EVENT
        staged = dyn.membrane_sum is MembraneSum.STAGED
        threshold = np.broadcast_to(np.asarray(network.thresholds, dtype=np.int64), (n,))
        reset = network.neuron.reset
        reset_value = network.neuron.reset_value
        max_spikes, refractory = dyn.max_spikes, dyn.refractory
        bias_delay = dyn.bias_delay
        current_bias = None if current is None else current.bias
        track_refractory = bool(refractory.any())

        v, i_syn, counts, frozen_for = self.v, self.i_syn, self.counts, self.frozen_for
        x_all = x_in.astype(np.int64)
        spikes_out = np.empty((steps, n), dtype=np.uint8)
        state_out = np.empty((steps, n), dtype=np.int64)
        current_out = None if current is None else np.empty((steps, n), dtype=np.int64)
        longest_delay = int(bias_delay.max())
        hidden_columns = (n if track_refractory else 0) + (1 if longest_delay else 0)
        hidden = np.empty((steps, hidden_columns), dtype=np.int64) if hidden_columns else None
        if longest_delay:
            hidden[:, -1] = np.minimum(np.arange(first + 1, first + steps + 1), longest_delay)

        def exact_sum(x_t: np.ndarray) -> np.ndarray:
            if method == "event":
                fired = np.flatnonzero(counts)
                driven = np.flatnonzero(x_t)
                return np.asarray(w[:, fired] @ counts[fired] + w_in[:, driven] @ x_t[driven])
            return np.asarray(w @ counts + w_in @ x_t)

        def accumulate(into: np.ndarray, x_t: np.ndarray, fmt: StateFormat, b_i) -> np.ndarray:
            if not per_event:
                return fmt.overflow_of(into + exact_sum(x_t) + b_i)
            # The bias first, then each event is its own overflowing add: inputs by channel,
            # then neurons by index.
            into = fmt.overflow_of(into + b_i)
            # `c` equal addends of one sign collapse exactly into one add of c times the weight.
            for c in np.flatnonzero(x_t):
                into = fmt.overflow_of(into + x_t[c] * _column(w_in, c))
            for j in np.flatnonzero(counts):
                into = fmt.overflow_of(into + counts[j] * _column(w, j))
            return into

        for local in range(steps):
            t = first + local
            x_t = x_all[local]
            biased = bias_delay <= t  # step t + 1 adds the biases when t + 1 > bias_delay
            bias = np.where(biased, network.bias, 0)
            if current is not None:
                fmt = current.state
                b_i = np.where(biased, current_bias, 0)
                if current.order is CurrentOrder.DECAY_THEN_ADD:
                    i_syn = accumulate(decay(current.decay, i_syn, current.decay_parameter),
                                       x_t, fmt, b_i)
                else:
                    i_syn = decay(current.decay, accumulate(i_syn, x_t, fmt, b_i),
                                  current.decay_parameter)
                drive = i_syn
            else:
                drive = exact_sum(x_t)
            u = decay(dyn.membrane_decay, v, dyn.membrane_decay_parameter)
            if staged:
                delta = membrane.overflow_of(u - v + drive)
                delta = membrane.overflow_of(delta + bias)
                v_new = membrane.overflow_of(v + delta)
            else:
                v_new = membrane.overflow_of(u + drive + bias)
            frozen = frozen_for > 0
            v_new = np.where(frozen, v, v_new)
            if dyn.compare is Compare.GE:
                fire = v_new >= threshold
                possible = v_new // threshold
            else:
                fire = v_new > threshold
                possible = (v_new - 1) // threshold
            fire &= ~frozen
            counts = np.where(fire, np.minimum(possible, max_spikes), 0)
            if reset is Reset.ZERO:
                v_new = np.where(fire, reset_value, v_new)
            elif reset is Reset.SUBTRACT:
                v_new = v_new - counts * threshold
            frozen_for = np.where(fire, refractory, np.maximum(frozen_for - 1, 0))
            v = v_new
            spikes_out[local] = counts
            state_out[local] = v
            if current_out is not None:
                current_out[local] = i_syn
            if track_refractory:
                hidden[local, :n] = frozen_for
        self.v, self.i_syn, self.counts, self.frozen_for = v, i_syn, counts, frozen_for
        self.hidden = hidden
        return Trace(spikes=spikes_out, state=state_out, current=current_out)
