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
from ..model.network import Network, NeuronModel, Reset, StateFormat

__all__ = ["FloatModel", "ImportReport", "import_nir", "nir_to_float"]

_NEURONS = ("LIF", "IF")
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


def _size(node, key: str) -> int:
    types = getattr(node, key)
    shape = next(iter(types.values())) if isinstance(types, dict) and types else types
    return int(np.prod(np.asarray(shape))) if shape is not None else 0


def _uniform(values: np.ndarray, what: str, name: str, tolerance: float = 1e-6) -> float:
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise InputError(f"node {name!r}: {what} is empty")
    if np.ptp(values) > tolerance * max(1.0, float(np.abs(values).max())):
        raise InputError(f"node {name!r}: {what} must be the same for every neuron of the "
                         f"layer, not {values.min():g}..{values.max():g}")
    return float(values[0])


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
    """

    recurrent: np.ndarray
    incoming: np.ndarray
    bias: np.ndarray
    structure: np.ndarray
    leak_shift: int | None
    reset_to: float
    layers: list
    dt: float

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
    model = nir_to_float(source, dt=dt)
    recurrent, incoming, bias = model.recurrent, model.incoming, model.bias
    leak_shift, reset_to, layers = model.leak_shift, model.reset_to, model.layers

    state = StateFormat(bits, representation, overflow)
    scale = float(1 << (bits - 2)) if state.signed else float(1 << (bits - 1))
    bw = min(bits, 16) if weight_bits is None else weight_bits
    w_lo, w_hi = -(1 << (bw - 1)), (1 << (bw - 1)) - 1
    clipped = 0
    quantized = []
    max_error = 0.0
    for values, lo, hi in ((recurrent, w_lo, w_hi), (incoming, w_lo, w_hi),
                           (bias, state.min, state.max)):
        exact = values * scale
        rounded = np.rint(exact)
        clipped += int(((rounded < lo) | (rounded > hi)).sum())
        integer = np.clip(rounded, lo, hi).astype(np.int64)
        if values is not bias and values.size:
            max_error = max(max_error, float(np.abs(integer - exact).max()) / scale)
        quantized.append(integer)
    mode = check_reset(reset)
    reset_value = int(np.clip(round(reset_to * scale), state.min, state.max))
    neuron = NeuronModel(threshold=max(1, int(scale)), leak_shift=leak_shift,
                         reset=Reset(mode), reset_value=reset_value if mode == "zero" else 0)
    check_leak_fits(leak_shift, bits)
    report = ImportReport(layers=layers, leak_shift=leak_shift, scale=scale, clipped=clipped,
                          max_error=max_error)
    network = Network(
        state=state, neuron=neuron, weight_bits=bw, weights=quantized[0],
        input_weights=quantized[1], bias=quantized[2],
        initial_state=np.zeros(model.neurons, dtype=np.int64),
        extra={"import": {"format": "nir", "dt": dt, "scale": scale, "layers": layers,
                          "clipped": clipped}},
    )
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


def nir_to_float(source, *, dt: float = 1e-4) -> FloatModel:
    """Map a NIR graph or file to a :class:`FloatModel` (the structure and the real-valued
    weights in thresholds); :func:`import_nir` and :mod:`snngen.quant.quantize` quantize it."""
    try:
        import nir
    except ImportError:
        raise InputError("NIR import needs the nir package: pip install 'snngen[nir]'") from None
    graph = source
    if not isinstance(source, nir.NIRGraph):
        try:
            graph = nir.read(str(source))
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise InputError(f"cannot read the NIR file {str(source)!r}: {error}") from None
    if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
        raise InputError(f"--dt must be a positive number of seconds, not {dt!r}")
    _check_finite(graph)

    # Flatten nodes only reshape: bridge them (snnTorch puts one in front of its first layer).
    edges = list(graph.edges)
    for name, node in graph.nodes.items():
        if type(node).__name__ == "Flatten":
            before = [a for a, b in edges if b == name]
            after = [b for a, b in edges if a == name]
            edges = [(a, b) for a, b in edges if name not in (a, b)]
            edges += [(a, b) for a in before for b in after]

    inputs, neurons, weights = [], [], []
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        if kind == "Input":
            inputs.append(name)
        elif kind in _NEURONS:
            neurons.append(name)
        elif kind in _WEIGHTS:
            weights.append(name)
        elif kind in ("Output", "Flatten"):
            continue
        elif kind in ("CubaLIF", "LI"):
            raise InputError(f"node {name!r} ({kind}) cannot be mapped: the integer semantics "
                             "have one membrane state per neuron and no synaptic current "
                             "(CubaLIF) and every neuron spikes (LI has no threshold)")
        else:
            raise InputError(f"node {name!r} ({kind}) cannot be mapped: only Input, Flatten, "
                             "Affine, Linear, LIF, IF and Output nodes are supported")
    if len(inputs) != 1:
        raise InputError(f"the graph must have exactly one Input node, not {len(inputs)}")
    if not neurons:
        raise InputError("the graph has no LIF or IF node: nothing to map to neurons")
    predecessors, successors = defaultdict(list), defaultdict(list)
    for source_name, target_name in edges:
        predecessors[target_name].append(source_name)
        successors[source_name].append(target_name)

    # Neuron layers in the order a breadth-first walk from the input reaches them.
    order, frontier, seen = [], [inputs[0]], {inputs[0]}
    while frontier:
        following = []
        for name in frontier:
            for target in successors[name]:
                if target not in seen:
                    seen.add(target)
                    following.append(target)
                    if target in neurons:
                        order.append(target)
        frontier = following
    order += [name for name in neurons if name not in order]

    starts, total = {}, 0
    for name in order:
        starts[name] = total
        total += _size(graph.nodes[name], "input_type") or len(
            np.atleast_1d(graph.nodes[name].v_threshold))
    k_inputs = _size(graph.nodes[inputs[0]], "output_type") or _size(
        graph.nodes[inputs[0]], "input_type")
    n = total

    # Per neuron: input scale (r·dt/τ or r), leak shift, threshold, reset value.
    scale_in = np.zeros(n)
    threshold = np.zeros(n)
    reset_to = np.zeros(n)
    shifts, layers = set(), []
    for name in order:
        node = graph.nodes[name]
        size = _size(node, "input_type") or len(np.atleast_1d(node.v_threshold))
        span = slice(starts[name], starts[name] + size)
        r = np.broadcast_to(np.asarray(node.r, dtype=np.float64), (size,))
        theta = np.broadcast_to(np.asarray(node.v_threshold, dtype=np.float64), (size,))
        if (theta <= 0).any():
            raise InputError(f"node {name!r}: v_threshold must be > 0, not {theta.min():g}")
        v_reset = np.broadcast_to(np.asarray(getattr(node, "v_reset", 0.0) if getattr(
            node, "v_reset", None) is not None else 0.0, dtype=np.float64), (size,))
        if type(node).__name__ == "LIF":
            tau = _uniform(node.tau, "tau", name)
            if tau <= 0:
                raise InputError(f"node {name!r}: tau must be > 0, not {tau:g}")
            if np.abs(np.asarray(node.v_leak, dtype=np.float64)).max() > 0:
                raise InputError(f"node {name!r}: v_leak must be 0 (the shift leak decays "
                                 "towards 0), not " f"{np.abs(node.v_leak).max():g}")
            ratio = tau / dt
            if ratio < 1.5:
                raise InputError(f"node {name!r}: tau/dt must be at least 1.5 for a shift leak, "
                                 f"not {ratio:g} (tau {tau:g} s, dt {dt:g} s): check --dt")
            shifts.add(round(math.log2(ratio)))
            scale_in[span] = r * dt / tau
            layer = {"name": name, "kind": "LIF", "tau": tau}
        else:
            shifts.add(None)
            scale_in[span] = r
            layer = {"name": name, "kind": "IF"}
        threshold[span] = theta
        reset_to[span] = v_reset / theta
        layers.append({**layer, "first": span.start, "last": span.stop - 1,
                       "threshold": float(theta[0])})
    if len(shifts) != 1:
        named = ", ".join("none" if s is None else str(s) for s in sorted(
            shifts, key=lambda s: -1 if s is None else s))
        raise InputError(f"every neuron layer must have the same leak (one shift k for the "
                         f"network), not k = {named}: the layers' tau/dt differ")
    leak_shift = shifts.pop()
    if np.ptp(reset_to) > 1e-9:
        raise InputError("every neuron must reset to the same v_reset/v_threshold, not "
                         f"{reset_to.min():g}..{reset_to.max():g}")

    # Weights in thresholds: W[target, source] · input scale of the target / its threshold.
    recurrent = np.zeros((n, n))
    incoming = np.zeros((n, k_inputs))
    bias = np.zeros(n)
    declared = np.zeros((n, n + k_inputs), dtype=bool)
    for name in weights:
        node = graph.nodes[name]
        (source,) = predecessors[name] or [None]
        targets = successors[name]
        if source is None or len(predecessors[name]) != 1 or len(targets) != 1 \
                or targets[0] not in starts:
            raise InputError(f"node {name!r} ({type(node).__name__}) cannot be mapped: a weight "
                             "node must connect the input or one neuron layer to one neuron "
                             "layer")
        target = targets[0]
        matrix = np.asarray(node.weight, dtype=np.float64)
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
        if type(node).__name__ == "Affine":
            bias[rows] += np.asarray(node.bias, dtype=np.float64)
    factor = (scale_in / threshold)[:, None]
    structure = np.concatenate([recurrent != 0, incoming != 0], axis=1) | declared
    recurrent, incoming, bias = recurrent * factor, incoming * factor, bias * factor[:, 0]
    return FloatModel(recurrent=recurrent, incoming=incoming, bias=bias, structure=structure,
                      leak_shift=leak_shift, reset_to=float(reset_to[0]), layers=layers, dt=dt)
