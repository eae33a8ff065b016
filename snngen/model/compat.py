"""Compatibility presets: networks whose semantics-v2 options are fixed as a peer chip fixes them.

``xylo``
    SynSense Xylo (core v2) as Rockpool's ``XyloSim`` (the C++ ``xylosim`` package) defines it:
    16-bit signed saturating current and membrane, bit-shift decays by at least 1 toward zero
    (``dash_syn``, ``dash_mem`` per neuron), every input (≤ 15 a channel) and recurrent (≤ 31 a
    neuron) event a separate saturating add of ``w << weight_shift`` into the current, events
    first and decay after, Xylo's staged membrane sum, ``v ≥ θ`` with repeated subtraction: up to
    31 spikes a step for hidden neurons, 1 for readout neurons.
``loihi``
    Intel Loihi as Lava's bit-accurate models (``PyLifModelBitAcc`` and ``PyDenseModelBitAcc``,
    lava-nc 0.10) define it: a 24-bit current decayed by ``u·(4096 − (du + 1))`` rounded toward
    zero (Lava adds a 1-bit offset to du) and wrapped once into (−2^23, 2^23]; a 24-bit voltage
    decayed by ``v·(4096 − dv)`` and clipped to ±(2^23 − 1); ``a_in = (W·s) << weight_exp``
    added as ``a_in << 6``; bias ``bias_mant << bias_exp``; spike when ``v > vth << 6``, then
    v = 0 with u kept. Lava's Dense delivers every spike one step late, inputs included: the input
    that Lava's source sends at step t is this network's x(t + 1).

Each preset is a :class:`~snngen.model.network.Dynamics` with ``compat`` set; :func:`check_compat`
refuses a network that leaves the part of the chip's behaviour this semantics reproduces exactly.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .network import (
    Accumulate,
    Compare,
    Current,
    CurrentOrder,
    Decay,
    Dynamics,
    Layer,
    MembraneSum,
    Network,
    NeuronModel,
    Overflow,
    Rail,
    Representation,
    Reset,
    StateFormat,
)

__all__ = ["COMPAT_PRESETS", "check_compat", "loihi_network", "random_compat_network",
           "xylo_network"]

COMPAT_PRESETS = ("xylo", "loihi")

XYLO_BITS = 16
XYLO_MAX_SPIKES = 31
XYLO_MAX_INPUT_SPIKES = 15
XYLO_WEIGHT_BITS = 8
XYLO_MAX_WEIGHT_SHIFT = 7

LOIHI_BITS = 24
LOIHI_ACTIVATION_SHIFT = 6
LOIHI_THRESHOLD_SHIFT = 6
LOIHI_WEIGHT_BITS = 9      # Lava's 8-bit mixed-sign weights are the even values of 9 bits
LOIHI_MAX_WEIGHT = 254     # kept unchanged by Lava's clipping and truncation in every sign mode


def _state16() -> StateFormat:
    return StateFormat(XYLO_BITS, Representation.SIGNED, Overflow.SATURATE)


def xylo_network(weights_in, weights_rec, weights_out, *, dash_mem=1, dash_syn=1,
                 dash_mem_out=1, dash_syn_out=1, threshold=1, threshold_out=1, bias=0,
                 bias_out=0, weight_shift_in=0, weight_shift_rec=0, weight_shift_out=0
                 ) -> Network:
    """A Xylo network from the arguments of Rockpool's ``XyloSim.from_specification``.

    Parameters
    ----------
    weights_in : array (K, H)
        Input → hidden weights, int8 (Rockpool's (pre, post) orientation; one synapse).
    weights_rec : array (H, H)
        Hidden → hidden, (pre, post).
    weights_out : array (H, O)
        Hidden → readout, (pre, post).
    dash_mem, dash_syn, dash_mem_out, dash_syn_out : int or array
        Bit-shift decays of the hidden and readout neurons (dash_mem ≥ 1: see check_compat).
    threshold, threshold_out, bias, bias_out : int or array
        Per hidden and readout neuron.
    weight_shift_in, weight_shift_rec, weight_shift_out : int
        Left shifts of the three weight matrices.

    The network's neurons are the H hidden neurons, then the O readout neurons (layers
    ``hidden`` and ``readout``).
    """
    w_in, w_rec, w_out = (np.asarray(a, dtype=np.int64) for a in (weights_in, weights_rec,
                                                                   weights_out))
    k, h = w_in.shape
    o = w_out.shape[1]
    if w_rec.shape != (h, h) or w_out.shape[0] != h:
        raise InputError(f"xylo weights must be (K, H), (H, H), (H, O), not {w_in.shape}, "
                         f"{w_rec.shape}, {w_out.shape}")
    n = h + o
    weights = np.zeros((n, n), dtype=np.int64)
    weights[:h, :h] = w_rec.T
    weights[h:, :h] = w_out.T
    input_weights = np.zeros((n, k), dtype=np.int64)
    input_weights[:h] = w_in.T

    def both(hidden, readout):
        return np.concatenate([np.broadcast_to(np.asarray(hidden, dtype=np.int64), (h,)),
                               np.broadcast_to(np.asarray(readout, dtype=np.int64), (o,))])

    dynamics = Dynamics(
        current=Current(_state16(), Decay.SHIFT_MIN1, both(dash_syn, dash_syn_out),
                        CurrentOrder.ADD_THEN_DECAY, 0),
        membrane_decay=Decay.SHIFT_MIN1,
        membrane_decay_parameter=both(dash_mem, dash_mem_out),
        accumulate=Accumulate.PER_EVENT, membrane_sum=MembraneSum.STAGED, compare=Compare.GE,
        max_spikes=both(XYLO_MAX_SPIKES, 1), refractory=0,
        weight_shift=both(weight_shift_rec, weight_shift_out),
        input_weight_shift=both(weight_shift_in, 0),
        input_max_count=XYLO_MAX_INPUT_SPIKES, compat="xylo")
    network = Network(
        state=_state16(), neuron=NeuronModel(threshold=1, leak_shift=None, reset=Reset.SUBTRACT),
        weight_bits=XYLO_WEIGHT_BITS, weights=weights, input_weights=input_weights,
        bias=both(bias, bias_out), neuron_thresholds=both(threshold, threshold_out),
        layers=(Layer("hidden", h, XYLO_WEIGHT_BITS), Layer("readout", o, XYLO_WEIGHT_BITS)),
        dynamics=dynamics)
    check_compat(network)
    return network


def loihi_network(weights, input_weights, *, du=0, dv=0, vth=1, bias_mant=0, bias_exp=0,
                  weight_exp=0, input_weight_exp=0) -> Network:
    """A Loihi network from the parameters of Lava's LIF and two Dense processes.

    Parameters
    ----------
    weights : array (N, N)
        The recurrent Dense's weights, (post, pre) as Lava stores them: even values in −254..254.
    input_weights : array (N, K)
        The input Dense's weights, likewise.
    du, dv : int or array
        Lava's 12-bit current and voltage decays, 0..4095.
    vth : int
        Lava's threshold (the chip compares with vth << 6), 1..131071.
    bias_mant, bias_exp : int or array
        Lava's bias mantissa (−4096..4095) and exponent (0..7).
    weight_exp, input_weight_exp : int
        The two Dense processes' weight exponents, 0..7 (Lava right-shifts for negative ones,
        which rounds a whole sum: not an exact per-weight shift, so they are refused).
    """
    w = np.asarray(weights, dtype=np.int64)
    w_in = np.asarray(input_weights, dtype=np.int64)
    n = w.shape[0]
    du = np.broadcast_to(np.asarray(du, dtype=np.int64), (n,))
    dv = np.broadcast_to(np.asarray(dv, dtype=np.int64), (n,))
    for name, values in (("du", du), ("dv", dv)):
        if ((values < 0) | (values > 4095)).any():
            raise InputError(f"loihi {name} must be in 0..4095, not {int(values.max())}")
    for name, value in (("weight_exp", weight_exp), ("input_weight_exp", input_weight_exp)):
        if not 0 <= int(value) <= 7:
            raise InputError(f"loihi {name} must be in 0..7, not {value}")
    if not 1 <= int(vth) <= (1 << 17) - 1:
        raise InputError(f"loihi vth must be in 1..131071, not {vth}")
    bias_mant = np.broadcast_to(np.asarray(bias_mant, dtype=np.int64), (n,))
    bias_exp = np.broadcast_to(np.asarray(bias_exp, dtype=np.int64), (n,))
    if ((bias_mant < -4096) | (bias_mant > 4095)).any() or \
            ((bias_exp < 0) | (bias_exp > 7)).any():
        raise InputError("loihi bias_mant must be in -4096..4095 and bias_exp in 0..7")
    top = (1 << (LOIHI_BITS - 1)) - 1
    dynamics = Dynamics(
        current=Current(StateFormat(LOIHI_BITS, Representation.SIGNED, Overflow.WRAP,
                                    Rail.SYMMETRIC),
                        Decay.MULTIPLY, du + 1, CurrentOrder.DECAY_THEN_ADD, 0),
        membrane_decay=Decay.MULTIPLY, membrane_decay_parameter=dv,
        accumulate=Accumulate.EXACT, membrane_sum=MembraneSum.EXACT, compare=Compare.GT,
        max_spikes=1, refractory=0,
        weight_shift=LOIHI_ACTIVATION_SHIFT + int(weight_exp),
        input_weight_shift=LOIHI_ACTIVATION_SHIFT + int(input_weight_exp),
        input_max_count=1, compat="loihi")
    network = Network(
        state=StateFormat(LOIHI_BITS, Representation.SIGNED, Overflow.SATURATE, Rail.SYMMETRIC),
        neuron=NeuronModel(threshold=int(vth) << LOIHI_THRESHOLD_SHIFT, leak_shift=None,
                           reset=Reset.ZERO, reset_value=0),
        weight_bits=LOIHI_WEIGHT_BITS, weights=w, input_weights=w_in,
        bias=np.clip(bias_mant << bias_exp, -top, top), dynamics=dynamics)
    check_compat(network)
    return network


def check_compat(network: Network) -> None:
    """Refuse a network marked ``compat`` whose options leave what the chip does exactly."""
    dynamics = network.dynamics
    if dynamics is None or dynamics.compat is None:
        return
    what = f"compat {dynamics.compat}"
    network = network.expanded()  # the chips' checks read the synapse matrices
    _require(not dynamics.bias_delay.any(), f"{what} has no bias delay")
    _require(dynamics.current is None or not dynamics.current.bias.any(),
             f"{what} has no bias on the synaptic current (its bias is the membrane's)")
    if dynamics.compat == "xylo":
        _check_xylo(network)
    else:
        _check_loihi(network)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


def _check_xylo(network: Network) -> None:
    d, c = network.dynamics, network.dynamics.current
    state16 = _state16()
    what = "compat xylo"
    _require(network.state == state16, f"{what} needs a 16-bit signed saturating membrane")
    _require(c is not None and c.state == state16,
             f"{what} needs a 16-bit signed saturating synaptic current")
    _require(c.decay is Decay.SHIFT_MIN1 and d.membrane_decay is Decay.SHIFT_MIN1,
             f"{what} needs shift_min1 decays (Xylo's bit-shift decay)")
    _require(c.order is CurrentOrder.ADD_THEN_DECAY, f"{what} needs order add_then_decay")
    _require(d.accumulate is Accumulate.PER_EVENT and d.membrane_sum is MembraneSum.STAGED
             and d.compare is Compare.GE, f"{what} needs per_event, staged and >=")
    _require(network.neuron.reset is Reset.SUBTRACT, f"{what} needs reset subtract")
    # XyloSim negates the membrane decay in 16 bits: at dash_mem 0 that overflows for −32768.
    _require(int(d.membrane_decay_parameter.min()) >= 1 and
             int(d.membrane_decay_parameter.max()) <= 15,
             f"{what} needs dash_mem in 1..15, not {int(d.membrane_decay_parameter.min())}")
    _require(int(c.decay_parameter.max()) <= 15, f"{what} needs dash_syn in 0..15")
    _require(network.weight_bits == XYLO_WEIGHT_BITS, f"{what} needs 8-bit weights")
    for name, shifts in (("weight_shift", d.weight_shift),
                         ("input_weight_shift", d.input_weight_shift)):
        _require(int(shifts.max()) <= XYLO_MAX_WEIGHT_SHIFT,
                 f"{what} needs {name} in 0..7 (a shifted weight must fit 16 bits)")
    _require(d.input_max_count <= XYLO_MAX_INPUT_SPIKES, f"{what} takes ≤ 15 input spikes")
    _require(not d.refractory.any(), f"{what} has no refractory period")
    _require(not network.initial_state.any() and not c.initial.any(),
             f"{what} starts from zero states")
    readout = d.max_spikes == 1
    _require(bool(((d.max_spikes == XYLO_MAX_SPIKES) | readout).all()),
             f"{what} needs max_spikes 31 (hidden) or 1 (readout)")
    _require(not network.weights[:, readout].any(),
             f"{what}: readout neurons (max_spikes 1) must have no outgoing weights")
    _require(not network.input_weights[readout].any(),
             f"{what}: readout neurons (max_spikes 1) take no input weights")


def _check_loihi(network: Network) -> None:
    d, c = network.dynamics, network.dynamics.current
    what = "compat loihi"
    membrane = StateFormat(LOIHI_BITS, Representation.SIGNED, Overflow.SATURATE, Rail.SYMMETRIC)
    current = StateFormat(LOIHI_BITS, Representation.SIGNED, Overflow.WRAP, Rail.SYMMETRIC)
    _require(network.state == membrane, f"{what} needs a 24-bit symmetric saturating membrane")
    _require(c is not None and c.state == current,
             f"{what} needs a 24-bit symmetric wrapping synaptic current")
    _require(c.decay is Decay.MULTIPLY and d.membrane_decay is Decay.MULTIPLY,
             f"{what} needs multiply decays")
    _require(int(c.decay_parameter.min()) >= 1,
             f"{what}: the current's d is Lava's du + 1, at least 1")
    _require(c.order is CurrentOrder.DECAY_THEN_ADD, f"{what} needs order decay_then_add")
    _require(d.accumulate is Accumulate.EXACT and d.membrane_sum is MembraneSum.EXACT
             and d.compare is Compare.GT, f"{what} needs exact sums and >")
    _require(network.neuron.reset is Reset.ZERO and network.neuron.reset_value == 0,
             f"{what} needs reset zero to 0")
    _require(network.neuron.threshold % (1 << LOIHI_THRESHOLD_SHIFT) == 0 and
             network.neuron_thresholds is None and not network.layers,
             f"{what} needs one threshold, a multiple of 64 (vth << 6)")
    _require(int(d.max_spikes.max()) == 1 and not d.refractory.any() and
             d.input_max_count == 1, f"{what} has one spike a step and no refractory period")
    _require(not network.initial_state.any() and not c.initial.any(),
             f"{what} starts from zero states")
    for name, matrix in (("weights", network.weights), ("input_weights", network.input_weights)):
        _require(not (matrix % 2).any() and int(np.abs(matrix).max(initial=0)) <=
                 LOIHI_MAX_WEIGHT, f"{what} needs even {name} in -254..254")
    _require(bool((d.weight_shift >= LOIHI_ACTIVATION_SHIFT).all() and
                  (d.input_weight_shift >= LOIHI_ACTIVATION_SHIFT).all()),
             f"{what} needs weight shifts of at least 6 (a_in << 6)")
    # Lava wraps the current once: exact modular wrapping needs every step's input below 2^24.
    reach = (np.abs(network.weights).sum(axis=1) << d.weight_shift) \
        + (np.abs(network.input_weights).sum(axis=1) << d.input_weight_shift)
    _require(int(reach.max(initial=0)) < 1 << LOIHI_BITS,
             f"{what}: a step's synaptic input must stay below 2^24 (Lava wraps the current "
             f"once), not {int(reach.max(initial=0))}")


def random_compat_network(compat: str, *, neurons: int = 32, inputs: int = 8,
                          density: float = 0.3, seed: int = 0, readout: int = 4) -> Network:
    """A seeded random network of a preset, with parameters spread over the chip's ranges.

    For ``xylo`` `neurons` counts hidden neurons and `readout` readout neurons are added.
    """
    if compat not in COMPAT_PRESETS:
        raise InputError(f"compat must be one of {', '.join(COMPAT_PRESETS)}, not {compat!r}")
    if not 0.0 <= density <= 1.0:
        raise InputError(f"density must be in 0..1, not {density}")
    rng = np.random.default_rng([seed, 0x5E6])

    def sparse(shape, lo, hi):
        values = rng.integers(lo, hi + 1, size=shape)
        return np.where(rng.random(shape) < density, values, 0)

    if compat == "xylo":
        h, o = neurons, readout
        w_rec = sparse((h, h), -128, 127)
        np.fill_diagonal(w_rec, 0)
        return xylo_network(
            sparse((inputs, h), -128, 127), w_rec, sparse((h, o), -128, 127),
            dash_mem=rng.integers(1, 6, h), dash_syn=rng.integers(0, 6, h),
            dash_mem_out=rng.integers(1, 6, o), dash_syn_out=rng.integers(0, 6, o),
            threshold=rng.integers(200, 4000, h), threshold_out=rng.integers(200, 4000, o),
            bias=rng.integers(-40, 41, h), bias_out=rng.integers(-40, 41, o),
            weight_shift_in=int(rng.integers(2, 6)), weight_shift_rec=int(rng.integers(1, 5)),
            weight_shift_out=int(rng.integers(1, 5)))
    w = 2 * sparse((neurons, neurons), -127, 127)
    np.fill_diagonal(w, 0)
    return loihi_network(
        w, 2 * sparse((neurons, inputs), -127, 127),
        du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)),
        vth=int(rng.integers(20, 400)), bias_mant=rng.integers(-200, 201, neurons),
        bias_exp=rng.integers(0, 3, neurons), weight_exp=int(rng.integers(0, 2)),
        input_weight_exp=int(rng.integers(0, 2)))
