"""Import a NIR graph (Neuromorphic Intermediate Representation) as an integer network.

Supported: one ``Input``, ``Affine``/``Linear`` weight nodes, ``LIF``/``IF`` neuron layers, and
``Output`` nodes, wired as weight nodes between the input or a neuron layer and a neuron layer
(feed-forward or recurrent). The mapping to the integer semantics (docs/nir.md):

- all neuron layers become one population of N neurons (layers in graph order), the input node
  the K input channels;
- a LIF neuron's leak ``dt/τ`` becomes the shift leak ``v − (v >> k)`` with
  ``k = round(log2(τ/dt))`` (as Rockpool maps τ); IF has no leak; every neuron must get the same k;
- a neuron's input weights and bias are scaled by ``r·dt/τ`` (LIF) or ``r`` (IF), then divided by
  its threshold, so that every neuron has threshold 1; that is exact in the continuous model;
- one scale q = 2^(B−2) (signed) or 2^(B−1) (unsigned) makes the threshold q; weights and biases
  are rounded to nearest and clipped to Bw bits (the import reports how many were clipped).

A spike crosses one layer per time step (the integer semantics deliver s(t−1)), so an L-layer
feed-forward network answers L − 1 steps later than a same-step discrete simulation would.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

import numpy as np

from ..errors import InputError
from ..model.network import (
    DECAY_UNITY,
    Current,
    Dynamics,
    Network,
    NeuronModel,
    Reset,
    StateFormat,
)

__all__ = ["FloatDynamics", "FloatModel", "ImportReport", "import_nir", "nir_to_float",
           "simulate_float"]

_NEURONS = ("LIF", "IF", "CubaLIF", "CubaLI", "LI", "I", "Threshold")
# Kinds only semantics v2 can hold: a synaptic current, or a neuron that never spikes.
_V2_NEURONS = ("CubaLIF", "CubaLI", "LI", "I", "Threshold")
_WEIGHTS = ("Affine", "Linear")


@dataclasses.dataclass(frozen=True)
class ImportReport:
    """What the import did.

    Members
    -------
    layers : list of dict
        name, first and last neuron index, kind, τ, threshold of each neuron layer.
    leak_shift : int or None
    scale : float
        q: integer units per threshold.
    clipped : int
        Weights and biases clipped to the weight range.
    max_error : float
        Largest rounding error of a weight, in thresholds.
    """

    layers: list
    leak_shift: int | None
    scale: float
    clipped: int
    max_error: float
    notes: tuple = ()


def _size(node, key: str) -> int:
    types = getattr(node, key)
    shape = next(iter(types.values())) if isinstance(types, dict) and types else types
    shape = np.asarray(shape) if shape is not None else np.zeros(0)
    # An empty shape is an undeclared one (snnTorch's Synaptic export), not a scalar.
    return int(np.prod(shape)) if shape.size else 0


def _uniform(values: np.ndarray, what: str, name: str, tolerance: float = 1e-6) -> float:
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise InputError(f"node {name!r}: {what} is empty")
    if np.ptp(values) > tolerance * max(1.0, float(np.abs(values).max())):
        raise InputError(f"node {name!r}: {what} must be the same for every neuron of the "
                         f"layer, not {values.min():g}..{values.max():g}")
    return float(values[0])


@dataclasses.dataclass(frozen=True, eq=False)
class FloatDynamics:
    """The per-neuron discrete-time dynamics of a graph that needs semantics v2.

    With thresholds normalized to 1, one step of neuron i is (forward Euler with the time step
    dt, the current integrated first, as snnTorch's ``Synaptic`` and Norse's ``LIFCell`` do)::

        I_i ← α_i·I_i + Σ_j W_ij s_j + Σ_c Win_ic x_c + b_I,i        (with a current)
        v_i ← β_i·v_i + (I_i, or the weighted sum without a current) + b_i
        spike when v_i > 1 (spiking neurons only), then reset

    Members
    -------
    membrane_keep : ndarray, shape (N,)
        β = 1 − dt/τ_mem (LIF, CubaLIF, LI, CubaLI), 1 (IF, I), 0 (Threshold: no memory).
    current_keep : ndarray, shape (N,), or None
        α = 1 − dt/τ_syn for CubaLIF and CubaLI; 0 for the other neurons of a network that has a
        current (their current is just the step's input); None when no neuron has one.
    current_bias : ndarray, shape (N,)
        b_I in thresholds (an Affine's bias in front of a neuron with a current).
    spiking : ndarray of bool, shape (N,)
        False for LI, CubaLI and I (their membrane is the output).
    depth : ndarray of int, shape (N,)
        Synaptic hops from the input along the feed-forward edges (1 for a first layer).
    """

    membrane_keep: np.ndarray
    current_keep: np.ndarray | None
    current_bias: np.ndarray
    spiking: np.ndarray
    depth: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class FloatModel:
    """A NIR graph mapped to the integer semantics' structure, before quantization.

    Every neuron's threshold is 1: weights and biases are in thresholds (already scaled by the
    neuron's input scale and divided by its threshold), so quantizing is choosing an integer
    threshold q and rounding ``q · weight``.

    Members
    -------
    recurrent : ndarray, shape (N, N)
        ``recurrent[i, j]``: from neuron j to neuron i.
    incoming : ndarray, shape (N, K)
        From input channel c to neuron i.
    bias : ndarray, shape (N,)
    structure : ndarray of bool, shape (N, N + K)
        Where the graph has a weight (also one that happens to be 0): a layer's weight count.
    leak_shift : int or None
    reset_to : float
        v_reset / v_threshold, the same for every neuron.
    layers : list of dict
        name, kind, first and last neuron, τ (LIF), threshold of each neuron layer.
    dt : float
    dynamics : FloatDynamics or None
        Set when the graph needs semantics v2 (a synaptic current, a neuron that never spikes,
        or leaks that differ between neurons); then ``leak_shift`` is None and the decays are
        here.
    notes : tuple of str
        What the import had to approximate or work around, for the report.
    """

    recurrent: np.ndarray
    incoming: np.ndarray
    bias: np.ndarray
    structure: np.ndarray
    leak_shift: int | None
    reset_to: float
    layers: list
    dt: float
    dynamics: FloatDynamics | None = None
    notes: tuple = ()

    @property
    def neurons(self) -> int:
        return self.recurrent.shape[0]

    @property
    def inputs(self) -> int:
        return self.incoming.shape[1]

    def layer_rows(self, index: int) -> slice:
        layer = self.layers[index]
        return slice(layer["first"], layer["last"] + 1)

    def layer_weights(self, index: int) -> np.ndarray:
        """The weights into layer `index`'s neurons, shape (size, N + K)."""
        rows = self.layer_rows(index)
        return np.concatenate([self.recurrent[rows], self.incoming[rows]], axis=1)

    def layer_weight_count(self, index: int) -> int:
        """The layer's weights as the graph declares them (dense Affine/Linear matrices)."""
        return int(self.structure[self.layer_rows(index)].sum())


def import_nir(source, *, bits: int = 8, weight_bits: int | None = None, dt: float = 1e-4,
               representation: str = "signed", overflow: str = "saturate",
               reset: str | None = None) -> tuple[Network, ImportReport]:
    """A :class:`Network` and an :class:`ImportReport` from a NIR graph or file.

    Parameters
    ----------
    source : nir.NIRGraph or path
    bits, weight_bits : int
        State width B and weight width Bw (default min(B, 16)).
    dt : float
        The time step the graph's time constants refer to (snnTorch exports with 1e-4).
    reset : {"zero", "subtract"}, optional
        NIR neurons reset to ``v_reset`` ("zero", to that value, the default); snnTorch's default
        is a subtractive reset, which NIR cannot express: pass "subtract" for such models.
    """
    graph, read_notes = _read_graph(source)  # read once: the kind of graph picks the import
    from .nir_conv import import_structured, is_structured

    if is_structured(graph):
        return import_structured(graph, bits=bits, weight_bits=weight_bits, dt=dt,
                                 representation=representation, overflow=overflow, reset=reset,
                                 read_notes=read_notes)
    model = nir_to_float(graph, dt=dt, read_notes=read_notes)
    if model.dynamics is not None:
        return _import_v2(model, bits=bits, weight_bits=weight_bits,
                          representation=representation, overflow=overflow, reset=reset)
    recurrent, incoming, bias = model.recurrent, model.incoming, model.bias
    leak_shift, reset_to, layers = model.leak_shift, model.reset_to, model.layers

    state = StateFormat(bits, representation, overflow)
    scale = float(1 << (bits - 2)) if state.signed else float(1 << (bits - 1))
    bw = min(bits, 16) if weight_bits is None else weight_bits
    w_lo, w_hi = -(1 << (bw - 1)), (1 << (bw - 1)) - 1
    quantized, clipped, max_error = _round_weights((recurrent, incoming), scale, w_lo, w_hi)
    integer_bias, clipped_bias, _ = _round_weights((bias,), scale, state.min, state.max)
    quantized.extend(integer_bias)
    clipped += clipped_bias
    mode = check_reset(reset)
    reset_value = int(np.clip(round(reset_to * scale), state.min, state.max))
    neuron = NeuronModel(threshold=max(1, int(scale)), leak_shift=leak_shift,
                         reset=Reset(mode), reset_value=reset_value if mode == "zero" else 0)
    check_leak_fits(leak_shift, bits)
    notes = list(model.notes)
    if clipped:
        notes.append(f"{clipped} weights and biases clipped to the {bw}-bit weight range (or "
                     f"the state's for biases): widen --weight-bits (now {bw})")
    report = ImportReport(layers=layers, leak_shift=leak_shift, scale=scale, clipped=clipped,
                          max_error=max_error, notes=tuple(notes))
    network = Network(
        state=state, neuron=neuron, weight_bits=bw, weights=quantized[0],
        input_weights=quantized[1], bias=quantized[2],
        initial_state=np.zeros(model.neurons, dtype=np.int64),
        extra={"import": {"format": "nir", "dt": dt, "scale": scale, "layers": layers,
                          "clipped": clipped}},
    )
    return network, report


def _round_weights(matrices, scale: float, lo: int, hi: int) -> tuple[list, int, float]:
    """Each array of `matrices` times `scale`, rounded to nearest and clipped to lo..hi: the
    integers, how many were clipped, and the largest rounding error in thresholds."""
    integers, clipped, max_error = [], 0, 0.0
    for values in matrices:
        exact = values * scale
        rounded = np.rint(exact)
        clipped += int(((rounded < lo) | (rounded > hi)).sum())
        integer = np.clip(rounded, lo, hi).astype(np.int64)
        if values.size:
            max_error = max(max_error, float(np.abs(integer - exact).max()) / scale)
        integers.append(integer)
    return integers, clipped, max_error


def current_bits_for(bits: int) -> int:
    """The synaptic current's width for a B-bit membrane: two bits more (at most 32), because
    a current decaying by α holds up to 1/(1 − α) steps of input (2.2 for the braille
    network's α = 0.55) and one threshold is only a quarter of the membrane's range."""
    return min(32, bits + 2)


def v2_dynamics(model: FloatModel, thresholds: np.ndarray, state: StateFormat,
                current_state: StateFormat, weight_shift=0) -> tuple[Dynamics, np.ndarray]:
    """The integer :class:`Dynamics` of a v2 float model whose neuron i is quantized with θ_i
    integer units per threshold (its stored weights shifted left by `weight_shift` into the
    state); returns it and the compare thresholds (θ_i, or the lattice's top for a neuron that
    never spikes: ``v > max`` is never true)."""
    dyn = model.dynamics

    def decay(keep: np.ndarray) -> tuple[str, np.ndarray]:
        d = np.rint(DECAY_UNITY * (1.0 - keep)).astype(np.int64)
        return ("none", np.zeros_like(d)) if not d.any() else ("multiply", d)

    current = None
    if dyn.current_keep is not None:
        mode, d = decay(dyn.current_keep)
        current_bias = np.clip(np.rint(dyn.current_bias * thresholds), current_state.min,
                               current_state.max).astype(np.int64)
        current = Current(current_state, mode, d, "decay_then_add", 0, current_bias)
    mode, d = decay(dyn.membrane_keep)
    dynamics = Dynamics(current=current, membrane_decay=mode, membrane_decay_parameter=d,
                        compare=">", bias_delay=np.asarray(dyn.depth) - 1,
                        weight_shift=weight_shift, input_weight_shift=weight_shift)
    compare_at = np.where(dyn.spiking, thresholds, state.max).astype(np.int64)
    return dynamics, compare_at


def _import_v2(model: FloatModel, *, bits: int, weight_bits: int | None, representation: str,
               overflow: str, reset: str | None) -> tuple[Network, ImportReport]:
    """:func:`import_nir` for a graph that needs semantics v2 (network.json version 3)."""
    state = StateFormat(bits, representation, overflow)
    bw = min(bits, 16) if weight_bits is None else weight_bits
    w_lo, w_hi = -(1 << (bw - 1)), (1 << (bw - 1)) - 1
    # One threshold is q = 2^(B−2) units (signed), or fewer when the largest weight would not
    # fit the weight range at that scale: trained recurrent weights reach 13 thresholds.
    scale = float(1 << (bits - 2)) if state.signed else float(1 << (bits - 1))
    largest = max(float(np.abs(model.recurrent).max(initial=0)),
                  float(np.abs(model.incoming).max(initial=0)))
    if largest * scale > w_hi:
        scale = float(max(1, math.floor(w_hi / largest)))
    # The membrane must hold what the float model reaches on a calibration stimulus (a
    # trained recurrent network's inhibited neurons sink to −170 thresholds): a coarser scale
    # where the B bits cannot, and a current wide enough for its own range.
    notes = list(model.notes)
    v_extent, i_extent = float_ranges(model)
    fits = math.floor(state.max / (1.25 * max(v_extent, 1.0)))
    if fits < scale:
        if fits >= 1:
            scale = float(fits)
        else:
            scale = 1.0
            notes.append(f"the membrane reaches {v_extent:.0f} thresholds on the calibration "
                         f"stimulus, more than {bits} bits hold at one unit per threshold: it "
                         "saturates (use a wider --bits)")
    current_state = StateFormat(min(32, max(current_bits_for(bits),
                                            state_bits_for(i_extent, scale))),
                                representation, overflow)
    quantized, clipped, max_error = _round_weights((model.recurrent, model.incoming), scale,
                                                   w_lo, w_hi)
    theta = np.full(model.neurons, max(1, int(scale)), dtype=np.int64)
    dynamics, compare_at = v2_dynamics(model, theta, state, current_state)
    mode = check_reset(reset)
    reset_value = int(np.clip(round(model.reset_to * scale), state.min, state.max))
    bias = np.clip(np.rint(model.bias * scale), state.min, state.max).astype(np.int64)
    neuron = NeuronModel(threshold=int(compare_at[0]), leak_shift=None, reset=Reset(mode),
                         reset_value=reset_value if mode == "zero" else 0)
    uniform = bool((compare_at == compare_at[0]).all())
    network = Network(
        state=state, neuron=neuron,
        weight_bits=bw, weights=quantized[0], input_weights=quantized[1], bias=bias,
        initial_state=np.zeros(model.neurons, dtype=np.int64),
        neuron_thresholds=None if uniform else compare_at, dynamics=dynamics,
        extra={"import": {"format": "nir", "dt": model.dt, "scale": scale,
                          "layers": model.layers, "clipped": clipped}})
    if clipped:
        notes.append(f"{clipped} weights clipped to the {bw}-bit weight range (widen "
                     "--weight-bits)")
    report = ImportReport(layers=model.layers, leak_shift=None, scale=scale, clipped=clipped,
                          max_error=max_error, notes=tuple(notes))
    return network, report


def check_reset(reset: str | None) -> str:
    """The reset mode of an import: "zero" (NIR's own) unless "subtract" is asked for."""
    mode = reset or "zero"
    if mode not in ("zero", "subtract"):
        raise InputError(f"--reset must be zero or subtract for a NIR import, not {reset!r}")
    return mode


def check_leak_fits(leak_shift: int | None, bits: int) -> None:
    if leak_shift is not None and leak_shift >= bits:
        raise InputError(f"the leak shift k = {leak_shift} (tau/dt) needs more than {bits}-bit "
                         f"state: use --bits {leak_shift + 1} or more")


def _check_finite(graph) -> None:
    """Refuse a NaN or infinite parameter, naming the node, the field and the element."""
    for name, node in graph.nodes.items():
        for field, value in vars(node).items():
            if field in ("input_type", "output_type", "metadata") or isinstance(value, str):
                continue
            try:
                array = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                continue
            bad = ~np.isfinite(array)
            if bad.any():
                where = "" if array.ndim == 0 else "".join(
                    f"[{i}]" for i in np.unravel_index(int(np.argmax(bad)), array.shape))
                number = array[bad].flat[0] if array.ndim else array
                raise InputError(f"node {name!r} {field}{where} must be a finite number, "
                                 f"not {float(number)!r}")


def _read_graph(source, read_notes: tuple = ()):
    """The NIR graph of `source` (a graph or a path), and a note when nir's type check had to be
    switched off (Rockpool's and batched Norse exports declare shapes it rejects). A graph that
    was already read comes back with the `read_notes` of that reading."""
    try:
        import nir
    except ImportError:
        raise InputError("NIR import needs the nir package: pip install 'snngen[nir]'") from None
    if isinstance(source, nir.NIRGraph):
        return source, tuple(read_notes)
    try:
        return nir.read(str(source)), ()
    except (OSError, KeyError, ValueError, TypeError) as error:
        try:
            graph = nir.read(str(source), type_check=False)
        except (OSError, KeyError, ValueError, TypeError):
            # The first error says what is wrong with the file.
            raise InputError(f"cannot read the NIR file {str(source)!r}: {error}") from None
        return graph, (f"read without nir's type check, which refused the file: {error}",)


def _fold_scales(graph, edges: list) -> tuple[dict, list]:
    """Scale nodes folded into their neighbouring weight nodes (or made diagonal Linear ones).

    Returns the weight nodes as (weight, bias or None) by name, and the edges without the
    Scale nodes."""
    matrices = {}
    for name, node in graph.nodes.items():
        if type(node).__name__ in _WEIGHTS:
            matrices[name] = [np.asarray(node.weight, dtype=np.float64),
                              np.asarray(node.bias, dtype=np.float64)
                              if type(node).__name__ == "Affine" else None]
    for name, node in graph.nodes.items():
        if type(node).__name__ != "Scale":
            continue
        scale = np.asarray(node.scale, dtype=np.float64).ravel()
        before = [a for a, b in edges if b == name]
        after = [b for a, b in edges if a == name]
        if len(before) != 1 or len(after) != 1:
            raise InputError(f"node {name!r} (Scale) cannot be mapped: it must have one input "
                             "and one output")
        (source,), (target,) = before, after
        sole_successor = [b for a, b in edges if a == source] == [name]
        if source in matrices and sole_successor:
            weight, bias = matrices[source]
            matrices[source] = [weight * scale[:, None],
                                None if bias is None else bias * scale]
            edges = [(a, b) for a, b in edges if name not in (a, b)] + [(source, target)]
        elif target in matrices:
            weight, bias = matrices[target]
            matrices[target] = [weight * scale[None, :], bias]
            edges = [(a, b) for a, b in edges if name not in (a, b)] + [(source, target)]
        else:
            matrices[name] = [np.diag(scale), None]
    return matrices, edges


def nir_to_float(source, *, dt: float = 1e-4, read_notes: tuple = ()) -> FloatModel:
    """Map a NIR graph or file to a :class:`FloatModel` (the structure and the real-valued
    weights in thresholds); :func:`import_nir` and :mod:`snngen.quant.quantize` quantize it."""
    graph, notes = _read_graph(source, read_notes)
    if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
        raise InputError(f"--dt must be a positive number of seconds, not {dt!r}")
    _check_finite(graph)
    from .nir_conv import is_structured

    if is_structured(graph):
        raise InputError("the graph has convolution or pooling nodes: its float model is a "
                         "structured one (snngen.quant.nir_conv.structured_from_nir)")

    # Flatten nodes only reshape: bridge them (snnTorch puts one in front of its first layer).
    edges = list(graph.edges)
    for name, node in graph.nodes.items():
        if type(node).__name__ == "Flatten":
            before = [a for a, b in edges if b == name]
            after = [b for a, b in edges if a == name]
            edges = [(a, b) for a, b in edges if name not in (a, b)]
            edges += [(a, b) for a in before for b in after]

    inputs, neurons = [], []
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        if kind == "Input":
            inputs.append(name)
        elif kind in _NEURONS:
            neurons.append(name)
        elif kind in (*_WEIGHTS, "Output", "Flatten", "Scale"):
            continue
        else:
            raise InputError(f"node {name!r} ({kind}) cannot be mapped: only Input, Flatten, "
                             "Affine, Linear, Scale, LIF, IF, CubaLIF, CubaLI, LI, I, Threshold "
                             "and Output nodes are supported")
    if len(inputs) != 1:
        raise InputError(f"the graph must have exactly one Input node, not {len(inputs)}")
    if not neurons:
        raise InputError("the graph has no neuron node (LIF, IF, CubaLIF, …): nothing to map")
    matrices, edges = _fold_scales(graph, edges)
    weights = sorted(matrices, key=list(graph.nodes).index)
    predecessors, successors = defaultdict(list), defaultdict(list)
    for source_name, target_name in edges:
        predecessors[target_name].append(source_name)
        successors[source_name].append(target_name)

    # Neuron layers in the order a breadth-first walk from the input reaches them; a layer's
    # depth is its number of synaptic hops from the input along that walk.
    order, frontier, seen, depth_of = [], [inputs[0]], {inputs[0]}, {}
    hops = 0
    while frontier:
        following = []
        hops += 1
        for name in frontier:
            for target in successors[name]:
                if target not in seen:
                    seen.add(target)
                    following.append(target)
                    if target in neurons:
                        order.append(target)
                        depth_of[target] = (hops + 1) // 2
        frontier = following
    order += [name for name in neurons if name not in order]

    starts, total, sizes = {}, 0, {}
    for name in order:
        # A layer's size: its declared type, else the rows of a weight node feeding it (snnTorch
        # exports Synaptic layers with scalar parameters and no shapes), else its parameters.
        feeding = [matrices[p][0].shape[0] for p in predecessors[name] if p in matrices]
        sizes[name] = _size(graph.nodes[name], "input_type") or (
            max(feeding) if feeding else _layer_size(graph.nodes[name]))
        starts[name] = total
        total += sizes[name]
    k_inputs = _size(graph.nodes[inputs[0]], "output_type") or _size(
        graph.nodes[inputs[0]], "input_type")
    n = total
    kinds = {type(graph.nodes[name]).__name__ for name in order}
    v2 = bool(kinds & set(_V2_NEURONS)) or _leaks_differ(graph, order, dt)

    # Per neuron: input scale, threshold, reset value, and (v2) the decays.
    scale_in = np.zeros(n)
    threshold = np.ones(n)
    reset_to = np.zeros(n)
    membrane_keep = np.ones(n)
    current_keep = np.zeros(n)
    has_current = np.zeros(n, dtype=bool)
    spiking = np.ones(n, dtype=bool)
    leak_bias = np.zeros(n)
    depth = np.ones(n, dtype=np.int64)
    shifts, layers = set(), []
    for name in order:
        node = graph.nodes[name]
        kind = type(node).__name__
        size = sizes[name]
        span = slice(starts[name], starts[name] + size)
        depth[span] = depth_of.get(name, 1)

        def per_neuron(field, default=None, node=node, size=size):
            value = getattr(node, field, default)
            value = np.asarray(default if value is None else value, dtype=np.float64)
            return np.broadcast_to(value.ravel() if value.ndim else value, (size,)).astype(
                np.float64)

        layer = {"name": name, "kind": kind}
        if kind in ("LIF", "IF", "CubaLIF", "Threshold"):
            theta = per_neuron("threshold" if kind == "Threshold" else "v_threshold")
            if (theta <= 0).any():
                raise InputError(f"node {name!r}: v_threshold must be > 0, not {theta.min():g}")
            threshold[span] = theta
            reset_to[span] = per_neuron("v_reset", 0.0) / theta if kind != "Threshold" else 0.0
            layer["threshold"] = float(theta[0])
        else:
            spiking[span] = False
        if kind == "Threshold":
            scale_in[span] = 1.0
            membrane_keep[span] = 0.0
        elif kind in ("IF", "I"):
            scale_in[span] = per_neuron("r")
            shifts.add(None)
        else:  # LIF, LI, CubaLIF, CubaLI
            tau = per_neuron("tau_mem" if kind.startswith("Cuba") else "tau")
            if (tau <= 0).any():
                raise InputError(f"node {name!r}: tau must be > 0, not {tau.min():g}")
            v_leak = per_neuron("v_leak", 0.0)
            if not v2:
                tau_value = _uniform(tau, "tau", name)
                if np.abs(v_leak).max() > 0:
                    raise InputError(f"node {name!r}: v_leak must be 0 (the shift leak decays "
                                     "towards 0), not " f"{np.abs(v_leak).max():g}")
                ratio = tau_value / dt
                if ratio < 1.5:
                    raise InputError(f"node {name!r}: tau/dt must be at least 1.5 for a shift "
                                     f"leak, not {ratio:g} (tau {tau_value:g} s, dt {dt:g} s): "
                                     "check --dt")
                shifts.add(round(math.log2(ratio)))
            elif (tau < dt).any():
                raise InputError(f"node {name!r}: tau must be at least dt ({dt:g} s) for a "
                                 f"forward-Euler decay, not {tau.min():g} s: check --dt")
            membrane_keep[span] = 1.0 - dt / tau
            scale_in[span] = per_neuron("r") * dt / tau
            leak_bias[span] = v_leak * dt / tau
            layer["tau"] = float(tau[0]) if np.ptp(tau) == 0 else [float(t) for t in tau]
            if kind.startswith("Cuba"):
                tau_syn = per_neuron("tau_syn")
                if (tau_syn < dt).any():
                    raise InputError(f"node {name!r}: tau_syn must be at least dt ({dt:g} s), "
                                     f"not {tau_syn.min():g} s: check --dt")
                has_current[span] = True
                current_keep[span] = 1.0 - dt / tau_syn
                scale_in[span] *= per_neuron("w_in", 1.0) * dt / tau_syn
                layer["tau_syn"] = float(tau_syn[0]) if np.ptp(tau_syn) == 0 \
                    else [float(t) for t in tau_syn]
        layers.append({**layer, "first": span.start, "last": span.stop - 1})
        if "threshold" not in layer:
            layers[-1]["threshold"] = 1.0
    leak_shift = None
    if not v2:
        if len(shifts) != 1:
            named = ", ".join("none" if s is None else str(s) for s in sorted(
                shifts, key=lambda s: -1 if s is None else s))
            raise InputError(f"every neuron layer must have the same leak (one shift k for the "
                             f"network), not k = {named}: the layers' tau/dt differ")
        leak_shift = shifts.pop()
    if np.ptp(reset_to[spiking]) > 1e-9 if spiking.any() else False:
        raise InputError("every neuron must reset to the same v_reset/v_threshold, not "
                         f"{reset_to[spiking].min():g}..{reset_to[spiking].max():g}")

    # Weights in thresholds: W[target, source] · input scale of the target / its threshold.
    recurrent = np.zeros((n, n))
    incoming = np.zeros((n, k_inputs))
    bias = np.zeros(n)
    declared = np.zeros((n, n + k_inputs), dtype=bool)
    for name in weights:
        matrix, node_bias = matrices[name]
        (source,) = predecessors[name] or [None]
        targets = successors[name]
        if source is None or len(predecessors[name]) != 1 or len(targets) != 1 \
                or targets[0] not in starts:
            kind = type(graph.nodes[name]).__name__
            raise InputError(f"node {name!r} ({kind}) cannot be mapped: a weight "
                             "node must connect the input or one neuron layer to one neuron "
                             "layer")
        target = targets[0]
        rows = slice(starts[target], starts[target] + matrix.shape[0])
        if source == inputs[0]:
            if matrix.shape[1] != k_inputs:
                raise InputError(f"node {name!r}: weight has {matrix.shape[1]} columns, the "
                                 f"input has {k_inputs} channels")
            incoming[rows] += matrix
            declared[rows, n:] = True
        elif source in starts:
            columns = slice(starts[source], starts[source] + matrix.shape[1])
            recurrent[rows, columns] += matrix
            declared[rows, columns] = True
        else:
            raise InputError(f"node {name!r}: its source {source!r} is neither the input nor a "
                             "neuron layer")
        if node_bias is not None:
            bias[rows] += node_bias
    factor = (scale_in / threshold)[:, None]
    structure = np.concatenate([recurrent != 0, incoming != 0], axis=1) | declared
    recurrent, incoming, bias = recurrent * factor, incoming * factor, bias * factor[:, 0]
    dynamics = None
    if v2:
        # In a network with a current, every neuron's input and Affine bias go through it (a
        # neuron without one has α = 0: its current is the step's input); v_leak stays a
        # membrane bias.
        any_current = bool(has_current.any())
        current_bias = bias if any_current else np.zeros(n)
        membrane_bias = leak_bias / threshold + (0 if any_current else bias)
        dynamics = FloatDynamics(
            membrane_keep=membrane_keep, current_keep=current_keep if any_current else None,
            current_bias=current_bias, spiking=spiking, depth=depth)
        bias = membrane_bias
    return FloatModel(recurrent=recurrent, incoming=incoming, bias=bias, structure=structure,
                      leak_shift=leak_shift,
                      reset_to=float(reset_to[spiking][0]) if spiking.any() else 0.0,
                      layers=layers, dt=dt, dynamics=dynamics, notes=notes)


def _layer_size(node) -> int:
    for field in ("input_type", "output_type"):
        size = _size(node, field)
        if size:
            return size
    for field in ("v_threshold", "threshold", "tau", "tau_mem", "r"):
        if getattr(node, field, None) is not None:
            return len(np.atleast_1d(getattr(node, field)))
    return 0


def _leaks_differ(graph, order: list, dt: float) -> bool:
    """Whether the LIF layers' leaks need semantics v2's decays: τ differs within a layer, the
    layers' shift leaks round to different k, IF and LIF layers mix, or v_leak is not 0."""
    shifts = set()
    for name in order:
        node = graph.nodes[name]
        if type(node).__name__ == "IF":
            shifts.add(None)
            continue
        tau = np.asarray(node.tau, dtype=np.float64).ravel()
        if tau.size and np.ptp(tau) > 1e-6 * max(1.0, float(np.abs(tau).max())):
            return True
        if np.abs(np.asarray(node.v_leak, dtype=np.float64)).max(initial=0) > 0:
            return True  # a leak toward v_leak is a membrane bias: semantics v2
        if tau.size and tau[0] > 0:
            shifts.add(round(math.log2(max(tau[0] / dt, 1e-12))))
    return len(shifts) > 1


def simulate_float(model: FloatModel, inputs: np.ndarray, *, reset: str = "zero",
                   ranges: np.ndarray | None = None) -> np.ndarray:
    """The float reference of a v2 :class:`FloatModel`: spikes of shape (T, N).

    `ranges`, an array of shape (2, N), is raised in place to the largest |v| and |I| seen
    (in thresholds).

    The graph's own discrete-time semantics, not the integer one's: every feed-forward hop
    within the step (layer by layer in depth order), every recurrent edge (to the same or a
    shallower layer) from the step before. An integer layer at depth ℓ is this model delayed by
    ℓ − 1 steps (its bias too: ``bias_delay``), so the two are compared with that shift.
    """
    dyn = model.dynamics
    if dyn is None:
        raise InputError("simulate_float needs a model with semantics-v2 dynamics")
    steps = inputs.shape[0]
    n = model.neurons
    depth = dyn.depth
    feed_forward = depth[:, None] > depth[None, :]
    w_now = np.where(feed_forward, model.recurrent, 0.0)
    w_before = np.where(feed_forward, 0.0, model.recurrent)
    alpha = dyn.current_keep
    v = np.zeros(n)
    current = np.zeros(n)
    spikes = np.zeros((steps, n), dtype=np.uint8)
    previous = np.zeros(n)
    levels = sorted(set(depth.tolist()))
    for t in range(steps):
        now = np.zeros(n)
        drive_inputs = model.incoming @ inputs[t] + w_before @ previous
        for level in levels:
            rows = depth == level
            a = drive_inputs[rows] + w_now[rows] @ now
            if alpha is not None:
                current[rows] = alpha[rows] * current[rows] + a + dyn.current_bias[rows]
                a = current[rows]
            v[rows] = dyn.membrane_keep[rows] * v[rows] + a + model.bias[rows]
            if ranges is not None:  # the membrane before its reset is what the lattice holds
                np.maximum(ranges[0][rows], np.abs(v[rows]), out=ranges[0][rows])
            fired = (v[rows] > 1.0) & dyn.spiking[rows]
            block = v[rows]
            if reset == "subtract":
                block[fired] -= 1.0
            else:
                block[fired] = model.reset_to
            v[rows] = block
            now[rows] = fired
        if ranges is not None:
            np.maximum(ranges[0], np.abs(v), out=ranges[0])
            np.maximum(ranges[1], np.abs(current), out=ranges[1])
        spikes[t] = now
        previous = now
    return spikes


CALIBRATION_RATES = (0.02, 0.05, 0.1, 0.2, 0.4)
CALIBRATION_STEPS = 256


def float_ranges(model: FloatModel, inputs: np.ndarray | None = None) -> tuple[float, float]:
    """The largest |v| and |I| (in thresholds) of the float model: on `inputs` (samples, T, K),
    or without data on a seeded calibration stimulus of random spike trains at the rates
    :data:`CALIBRATION_RATES`, :data:`CALIBRATION_STEPS` steps each."""
    if inputs is None:
        rng = np.random.default_rng(2026)
        inputs = np.stack([(rng.random((CALIBRATION_STEPS, model.inputs)) < rate)
                           for rate in CALIBRATION_RATES]).astype(np.uint8)
    ranges = np.zeros((2, model.neurons))
    for sample in inputs:
        simulate_float(model, sample, ranges=ranges)
    return float(ranges[0].max(initial=0)), float(ranges[1].max(initial=0))


def state_bits_for(extent: float, scale: float, margin: float = 1.25) -> int:
    """Signed bits that hold ±margin·extent thresholds at `scale` units per threshold."""
    top = max(1, math.ceil(margin * extent * scale))
    return top.bit_length() + 1


def import_nir_compat(source, compat: str, *, dt: float = 1e-4) -> tuple[Network, ImportReport]:
    """A NIR graph mapped onto a chip's neuron (a ``loihi`` or ``xylo`` preset network), saying
    what it had to round or drop (docs/nir.md)."""
    if compat not in ("loihi", "xylo"):
        raise InputError(f"--compat must be xylo or loihi, not {compat!r}")
    model = nir_to_float(source, dt=dt)
    if compat == "xylo":
        return _import_xylo(model, dt)
    return _import_loihi(model, dt)


# Xylo's current saturates at ±2^15: the threshold leaves room for this margin times the
# largest current of the calibration run (the margin of state_bits_for).
_XYLO_HEADROOM_MARGIN = 1.25


def _import_xylo(model: FloatModel, dt: float) -> tuple[Network, ImportReport]:
    """Map the float model onto Xylo's neuron: hidden layers (recurrent and feed-forward
    weights in Xylo's one recurrent matrix) and the last layer as the readout."""
    from ..model.compat import XYLO_MAX_WEIGHT_SHIFT, xylo_network

    notes = list(model.notes)
    n = model.neurons
    layers = model.layers
    if len(layers) < 2:
        raise InputError(f"compat xylo needs hidden layers and a readout layer, not "
                         f"{len(layers)} layer")
    first_readout = layers[-1]["first"]
    h = first_readout
    hidden, readout = slice(0, h), slice(h, n)
    if model.incoming[readout].any():
        raise InputError("compat xylo: Xylo's readout takes no input channel; the graph's last "
                         f"layer {layers[-1]['name']!r} has input weights")
    if model.recurrent[readout, readout].any() or model.recurrent[hidden, readout].any():
        raise InputError(f"compat xylo: Xylo's readout has no outgoing weights; the graph's "
                         f"last layer {layers[-1]['name']!r} has some")
    dyn = model.dynamics
    if dyn is None:
        keep_v = np.full(n, 1.0 if model.leak_shift is None else 1.0 - 2.0 ** -model.leak_shift)
        alpha, current_bias = np.zeros(n), np.zeros(n)
        spiking = np.ones(n, dtype=bool)
        depth = np.ones(n, dtype=np.int64)
    else:
        keep_v = dyn.membrane_keep
        alpha = np.zeros(n) if dyn.current_keep is None else dyn.current_keep
        current_bias, spiking, depth = dyn.current_bias, dyn.spiking, dyn.depth
    if not spiking.all():
        raise InputError("compat xylo: every neuron must spike (Xylo's LIF); the graph has LI, "
                         "CubaLI or I neurons")

    def dash(keep, low, what):
        # x − (x >> dash) keeps 1 − 2^−dash: dash = log2(τ/dt), rounded.
        leak = np.maximum(1.0 - np.asarray(keep, dtype=np.float64), 2.0 ** -15)
        exact = -np.log2(leak)
        rounded = np.clip(np.rint(exact), low, 15).astype(np.int64)
        if np.abs(rounded - exact).max(initial=0) > 1e-9:
            notes.append(f"{what}: τ/dt became a power of two, 2^dash (dash "
                         f"{int(rounded.min())}..{int(rounded.max())})")
        return rounded

    dash_mem = dash(keep_v, 1, "dash_mem")
    if (alpha <= 0).any():
        notes.append("neurons without a synaptic current get Xylo's shortest, dash_syn 1: their "
                     "input now lingers a step at half strength")
    dash_syn = dash(np.where(alpha <= 0, 0.5, alpha), 1, "dash_syn")
    alpha_int = 1.0 - 2.0 ** -dash_syn.astype(np.float64)
    # Xylo adds the events and then decays the current, so an event reaches the membrane
    # already multiplied by α: each neuron's weights are divided by its α to match a graph that
    # decays first (snnTorch, Norse).
    notes.append("Xylo decays the current after adding the step's events: weights into each "
                 "neuron were divided by its α = 1 − 2^−dash_syn")
    w_rec = model.recurrent / alpha_int[:, None]
    w_in = model.incoming / alpha_int[:, None]
    # The membrane bias the current's bias settles to (Xylo has no bias on the current).
    if np.abs(current_bias).max(initial=0) > 0:
        notes.append("Xylo has no bias on the synaptic current: each b_I became the membrane "
                     "bias b_I/(1 − α) it settles to (exact after the current settles)")
    bias = model.bias + current_bias / np.maximum(1e-12, 1.0 - alpha_int)
    if (depth > 1).any():
        notes.append("Xylo has no bias delay: deeper layers integrate their bias from the "
                     "first step")
    notes.append("Xylo subtracts θ at a spike and a hidden neuron may spike up to 31 times a "
                 "step (the graph's neurons spike once and reset)")
    blocks = {"in": w_in[hidden], "rec": w_rec[hidden, hidden], "out": w_rec[readout, hidden]}
    top = max(*(float(np.abs(b).max(initial=0)) for b in blocks.values()), 1e-12)
    # θ: as fine as 8-bit weights with shifts up to 7 allow, and leaving the current room for
    # the largest value a calibration run of the float model reaches. Not the membrane's: its
    # largest magnitudes are deep negative values, where saturating changes no spike soon.
    _, i_extent = float_ranges(model)
    headroom = _XYLO_HEADROOM_MARGIN * max(i_extent, 1.0)
    theta = int(min(math.floor(127 * (1 << XYLO_MAX_WEIGHT_SHIFT) / top),
                    math.floor(32767 / headroom), 32767))
    if theta < 1:
        raise InputError(f"compat xylo: a weight of {top:g} thresholds does not fit Xylo's "
                         "8-bit weights at any weight shift")
    shifts, integers, errors, clipped = {}, {}, [], 0
    for name, block in blocks.items():
        largest = float(np.abs(block).max(initial=0))
        shift = 0 if largest == 0 else max(0, math.ceil(math.log2(largest * theta / 127)))
        shifts[name] = min(shift, XYLO_MAX_WEIGHT_SHIFT)
        scaled = np.rint(block * theta / (1 << shifts[name]))
        clipped += int((np.abs(scaled) > 127).sum())
        integers[name] = np.clip(scaled, -128, 127).astype(np.int64)
        errors.append(np.abs(integers[name] * (1 << shifts[name]) / theta - block))
    max_error = float(max(e.max(initial=0) for e in errors))
    notes.append(f"weights: 8-bit at threshold {theta}, weight_shift {shifts['in']} (input), "
                 f"{shifts['rec']} (recurrent), {shifts['out']} (readout); largest rounding "
                 f"error {max_error:.4f} thresholds")
    integer_bias = np.clip(np.rint(bias * theta), -32768, 32767).astype(np.int64)
    network = xylo_network(
        integers["in"].T, integers["rec"].T, integers["out"].T,
        dash_mem=dash_mem[hidden], dash_syn=dash_syn[hidden], dash_mem_out=dash_mem[readout],
        dash_syn_out=dash_syn[readout], threshold=theta, threshold_out=theta,
        bias=integer_bias[hidden], bias_out=integer_bias[readout],
        weight_shift_in=shifts["in"], weight_shift_rec=shifts["rec"],
        weight_shift_out=shifts["out"])
    network = network.replace(extra={"import": {"format": "nir", "dt": dt, "compat": "xylo",
                                                "layers": model.layers}})
    report = ImportReport(layers=model.layers, leak_shift=None, scale=float(theta),
                          clipped=clipped, max_error=max_error, notes=tuple(notes))
    return network, report


def _import_loihi(model: FloatModel, dt: float) -> tuple[Network, ImportReport]:
    """Map the float model onto Lava's Loihi LIF and Dense."""
    from ..model.compat import LOIHI_MAX_WEIGHT, loihi_network

    compat = "loihi"
    dyn = model.dynamics
    notes = list(model.notes)
    n = model.neurons
    if dyn is None:
        # A LIF/IF graph: no current (Loihi's current then decays fully: du = 4095).
        keep = np.full(n, 1.0 if model.leak_shift is None else 1.0 - 2.0 ** -model.leak_shift)
        dyn = FloatDynamics(membrane_keep=keep, current_keep=np.zeros(n),
                            current_bias=np.zeros(n), spiking=np.ones(n, dtype=bool),
                            depth=np.ones(n, dtype=np.int64))
        membrane_bias, current_bias = model.bias, np.zeros(n)
    else:
        membrane_bias = model.bias
        current_bias = dyn.current_bias
    if not dyn.spiking.all():
        raise InputError("compat loihi: every neuron must spike (Loihi's LIF); the graph has "
                         "LI, CubaLI or I neurons")
    if abs(model.reset_to) > 1e-9:
        raise InputError(f"compat loihi resets v to 0, not to v_reset/v_threshold = "
                         f"{model.reset_to:g}")
    alpha = np.zeros(n) if dyn.current_keep is None else dyn.current_keep
    # Loihi has no bias on the current: b_I becomes the membrane bias it settles to, b_I/(1 − α)
    # per step (exact once the current has settled, not in the first steps).
    if np.abs(current_bias).max(initial=0) > 0:
        notes.append("Loihi has no bias on the synaptic current: each b_I became the membrane "
                     "bias b_I/(1 − α) it settles to (exact after the current settles)")
    bias = membrane_bias + current_bias / np.maximum(1e-12, 1.0 - alpha)
    if (dyn.depth > 1).any():
        notes.append("Loihi has no bias delay: deeper layers integrate their bias from the "
                     "first step")
    # One threshold vth·64 for the network; each Dense its own weight_exp (0..7).
    largest = max(float(np.abs(model.recurrent).max(initial=0)),
                  float(np.abs(model.incoming).max(initial=0)), 1e-12)
    vth = int(min((1 << 17) - 1, math.floor(LOIHI_MAX_WEIGHT * (1 << 7) / largest)))
    if vth < 1:
        raise InputError(f"compat loihi: a weight of {largest:g} thresholds does not fit "
                         "Loihi's 8-bit weights at any weight_exp")
    exps, integers = [], []
    for matrix in (model.recurrent, model.incoming):
        top = float(np.abs(matrix).max(initial=0))
        exp = 0 if top == 0 else max(0, math.ceil(math.log2(top * vth / LOIHI_MAX_WEIGHT)))
        exps.append(min(exp, 7))
        integers.append((2 * np.rint(matrix * vth / (1 << exps[-1]) / 2)).astype(np.int64))
    theta = vth << 6
    exact = np.concatenate([model.recurrent.ravel(), model.incoming.ravel()])
    rounded = np.concatenate([integers[0].ravel() * (1 << exps[0]),
                              integers[1].ravel() * (1 << exps[1])]) / vth
    max_error = float(np.abs(rounded - exact).max(initial=0))
    notes.append(f"weights: even 8-bit values at vth {vth} (threshold {theta}), weight_exp "
                 f"{exps[0]} (recurrent) and {exps[1]} (input); largest rounding error "
                 f"{max_error:.4f} thresholds")
    du = np.clip(np.rint(DECAY_UNITY * (1 - alpha)) - 1, 0, 4095).astype(np.int64)
    dv = np.clip(np.rint(DECAY_UNITY * (1 - dyn.membrane_keep)), 0, 4095).astype(np.int64)
    if (np.rint(DECAY_UNITY * (1 - alpha)) < 1).any():
        notes.append("Loihi's current decays by at least 1/4096 a step (du + 1): a current "
                     "that should not decay now does, slightly")
    scaled = bias * theta
    bias_exp = np.clip(np.ceil(np.log2(np.maximum(np.abs(scaled) / 4095, 1.0))), 0, 7)
    bias_exp = bias_exp.astype(np.int64)
    bias_mant = np.clip(np.rint(scaled / (1 << bias_exp)), -4096, 4095).astype(np.int64)
    network = loihi_network(integers[0], integers[1], du=du, dv=dv, vth=vth,
                            bias_mant=bias_mant, bias_exp=bias_exp, weight_exp=exps[0],
                            input_weight_exp=exps[1])
    network = network.replace(extra={"import": {"format": "nir", "dt": dt, "compat": compat,
                                                "layers": model.layers}})
    report = ImportReport(layers=model.layers, leak_shift=None, scale=float(theta), clipped=0,
                          max_error=max_error, notes=tuple(notes))
    return network, report
