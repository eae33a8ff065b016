"""Import NIR graphs with convolution layers as networks with projections (format version 4).

Supported: one ``Input``; ``Conv2d``, ``SumPool2d``, ``AvgPool2d``, ``Flatten``, ``Affine`` and
``Linear`` nodes in chains between the input or a neuron layer and a neuron layer; ``IF`` and
``LIF`` neuron layers (one shift leak for the network, as the dense import); ``Output``. The
mapping (docs/nir.md, "Convolutional graphs"):

- each neuron node is a layer with its NIR shape (C×H×W for a convolution's output); each chain
  of linear nodes into it is a :class:`~snngen.model.structure.Projection` of the same ops;
- a neuron's input scale (``r`` for IF, ``r·dt/τ`` for LIF) over its threshold multiplies the
  weights and bias into it, so every neuron fires at 1. A kernel is shared by the positions of
  its output channel, so that factor must be one number per channel;
- an average pool is a sum pool whose 1/(kh·kw) multiplies the weights of the op that follows
  (before rounding): a window of spike counts has no fraction to keep;
- quantization rounds ``θ · w``: one global scale q = 2^(B−2) for ``snngen import`` (the dense
  import's rule), or a scale per layer searched for the least rounding error for
  ``snngen quantize`` (:func:`quantize_structured`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

import numpy as np

from ..errors import InputError
from ..model.network import (
    MAX_SPIKES_PER_STEP,
    Dynamics,
    Layer,
    Network,
    NeuronModel,
    Reset,
    StateFormat,
)
from ..model.structure import Conv2d, Dense, Flatten, Projection, SumPool2d, conv_output_size

__all__ = ["FloatLayer", "FloatProjection", "StructuredFloat", "float_reference",
           "import_structured", "is_structured", "quantize_structured", "structured_from_nir"]

_LINEAR = ("Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Affine", "Linear")
_STRUCTURED = ("Conv2d", "SumPool2d", "AvgPool2d")
_NEURONS = ("IF", "LIF")


def is_structured(graph) -> bool:
    """Whether a NIR graph holds a convolution or a pooling node (the structured import)."""
    return any(type(node).__name__ in _STRUCTURED for node in graph.nodes.values())


@dataclasses.dataclass(frozen=True)
class FloatLayer:
    """A neuron layer of the graph. `threshold` is the layer's NIR v_threshold (for reports)."""

    name: str
    kind: str
    shape: tuple[int, ...]
    threshold: float

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclasses.dataclass(frozen=True, eq=False)
class FloatProjection:
    """A chain of ops in floats: ``("conv2d", weight, bias, stride, padding, dilation, groups)``,
    ``("dense", weight, bias)``, ``("pool", kernel, stride, padding, average)``, ``("flatten",)``.
    Weights and biases are in thresholds of the target (its input scale over its threshold
    folded in); an average pool's 1/(kh·kw) is already in the weights that follow it."""

    source: str
    target: str
    ops: tuple


@dataclasses.dataclass(frozen=True, eq=False)
class StructuredFloat:
    """A convolutional NIR graph before quantization.

    Members
    -------
    input_shape : tuple of int
    layers : list of FloatLayer
        In the order a breadth-first walk from the input reaches them.
    projections : list of FloatProjection
    leak_shift : int or None
    reset_to : float
        v_reset / v_threshold, the same for every neuron.
    depth : dict of str to int
        Synaptic hops from the input of every layer.
    """

    input_shape: tuple[int, ...]
    layers: list
    projections: list
    leak_shift: int | None
    reset_to: float
    depth: dict
    dt: float
    notes: tuple = ()

    @property
    def inputs(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def neurons(self) -> int:
        return sum(layer.size for layer in self.layers)

    def layer_index(self, name: str) -> int:
        return [layer.name for layer in self.layers].index(name)

    def readout(self) -> slice:
        """The last layer's neurons."""
        return slice(self.neurons - self.layers[-1].size, self.neurons)


def _pair(value, name: str, field: str) -> tuple[int, int]:
    array = np.atleast_1d(np.asarray(value)).astype(np.int64).ravel()
    if array.size == 1:
        array = np.repeat(array, 2)
    if array.size != 2:
        raise InputError(f"node {name!r}: {field} must be one integer or a pair, not {value!r}")
    return int(array[0]), int(array[1])


def _shape(node, key: str) -> tuple[int, ...] | None:
    types = getattr(node, key, None)
    if isinstance(types, dict) and types:
        shape = np.asarray(next(iter(types.values()))).ravel()
        if shape.size:
            return tuple(int(d) for d in shape)
    return None


def _padding(node, name: str, kernel: tuple[int, int], dilation: tuple[int, int]
             ) -> tuple[int, int]:
    padding = node.padding
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            spans = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            if any(span % 2 for span in spans):
                raise InputError(f"node {name!r}: padding 'same' with an even kernel pads one "
                                 "side more, which NIR's integer padding cannot say")
            return spans[0] // 2, spans[1] // 2
        raise InputError(f"node {name!r}: padding must be 'valid', 'same' or integers, not "
                         f"{padding!r}")
    return _pair(padding, name, "padding")


def structured_from_nir(source, *, dt: float = 1e-4, read_notes: tuple = ()) -> StructuredFloat:
    """Map a convolutional NIR graph (or file) to a :class:`StructuredFloat`."""
    from .nir_import import _check_finite, _read_graph

    graph, notes = _read_graph(source, read_notes)
    if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
        raise InputError(f"--dt must be a positive number of seconds, not {dt!r}")
    _check_finite(graph)
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    for name, kind in kinds.items():
        if kind not in (*_LINEAR, *_NEURONS, "Input", "Output"):
            raise InputError(f"node {name!r} ({kind}) cannot be mapped in a convolutional "
                             "graph: only Input, Conv2d, SumPool2d, AvgPool2d, Flatten, Affine, "
                             "Linear, IF, LIF and Output nodes are supported")
    inputs = [name for name, kind in kinds.items() if kind == "Input"]
    if len(inputs) != 1:
        raise InputError(f"the graph must have exactly one Input node, not {len(inputs)}")
    predecessors, successors = defaultdict(list), defaultdict(list)
    for a, b in graph.edges:
        predecessors[b].append(a)
        successors[a].append(b)
    input_name = inputs[0]
    input_shape = _shape(graph.nodes[input_name], "input_type") or _shape(
        graph.nodes[input_name], "output_type")
    if input_shape is None:
        raise InputError(f"the Input node {input_name!r} must declare its shape")

    # Neuron layers in breadth-first order from the input (their depth is found below).
    order, frontier, seen = [], [input_name], {input_name}
    while frontier:
        following = []
        for name in frontier:
            for target in successors[name]:
                if target in seen:
                    continue
                seen.add(target)
                following.append(target)
                if kinds[target] in _NEURONS:
                    order.append(target)
        frontier = following
    neurons = [name for name, kind in kinds.items() if kind in _NEURONS]
    order += [name for name in neurons if name not in order]
    if not order:
        raise InputError("the graph has no neuron node (IF, LIF): nothing to map")

    # Each chain: walk back from a neuron node through linear nodes to its source.
    chains = []
    for target in order:
        for last in predecessors[target]:
            chain, node = [], last
            while kinds[node] in _LINEAR:
                chain.append(node)
                before = predecessors[node]
                if len(before) != 1:
                    raise InputError(f"node {node!r} ({kinds[node]}) cannot be mapped: a "
                                     f"linear node must have one input, not {len(before)}")
                node = before[0]
            if kinds[node] not in (*_NEURONS, "Input"):
                raise InputError(f"node {target!r} is fed by {node!r} ({kinds[node]}), not by "
                                 "a chain from the input or a neuron layer")
            chains.append((node, target, chain[::-1]))
    for source, target, chain in chains:
        if not chain or not any(kinds[n] in ("Conv2d", "Affine", "Linear") for n in chain):
            raise InputError(f"the edge {source!r} → {target!r} has no weight node (Conv2d, "
                             "Affine or Linear) between two layers")
        if [kinds[n] in ("Conv2d", "Affine", "Linear") for n in chain].count(True) > 1 or \
                kinds[chain[-1]] not in ("Conv2d", "Affine", "Linear"):
            raise InputError(f"the chain {source!r} → {' → '.join(chain)} → {target!r} must end "
                             "with its only weight node (pooling and flatten go before it)")

    # Layer shapes: propagated along each chain from the source's, checked against NIR's.
    shapes: dict[str, tuple[int, ...]] = {input_name: tuple(input_shape)}
    leaks, reset_to, layers, factors = set(), set(), [], {}
    projections_raw = []
    pending = list(chains)
    for _ in range(len(chains) + 1):
        waiting = []
        for source, target, chain in pending:
            if source not in shapes:
                waiting.append((source, target, chain))
                continue
            shape = shapes[source]
            ops = []
            for name in chain:
                node, kind = graph.nodes[name], kinds[name]
                if kind == "Flatten":
                    ops.append(("flatten",))
                    shape = (int(np.prod(shape)),)
                elif kind in ("SumPool2d", "AvgPool2d"):
                    kernel = _pair(node.kernel_size, name, "kernel_size")
                    stride = _pair(node.stride, name, "stride")
                    padding = _pair(node.padding, name, "padding")
                    if len(shape) != 3:
                        raise InputError(f"node {name!r} ({kind}) needs a C×H×W input, not "
                                         f"{shape}")
                    shape = (shape[0], *(conv_output_size(shape[1 + a], kernel[a], stride[a],
                                                          padding[a], 1) for a in (0, 1)))
                    ops.append(("pool", kernel, stride, padding, kind == "AvgPool2d"))
                elif kind == "Conv2d":
                    weight = np.asarray(node.weight, dtype=np.float64)
                    if weight.ndim != 4:
                        raise InputError(f"node {name!r}: Conv2d weight must be 4-D, not "
                                         f"{weight.ndim}-D")
                    stride = _pair(node.stride, name, "stride")
                    dilation = _pair(node.dilation, name, "dilation")
                    padding = _padding(node, name, weight.shape[2:], dilation)
                    groups = int(node.groups)
                    bias = np.asarray(node.bias, dtype=np.float64).ravel()
                    bias = np.zeros(weight.shape[0]) if bias.size <= 1 and not bias.any() \
                        else bias
                    if len(shape) != 3 or shape[0] != weight.shape[1] * groups:
                        raise InputError(f"node {name!r}: Conv2d takes {weight.shape[1] * groups}"
                                         f" channels, its input is {shape}")
                    shape = (weight.shape[0], *(conv_output_size(
                        shape[1 + a], weight.shape[2 + a], stride[a], padding[a], dilation[a])
                        for a in (0, 1)))
                    ops.append(["conv2d", weight, bias, stride, padding, dilation, groups])
                else:  # Affine, Linear
                    weight = np.asarray(node.weight, dtype=np.float64)
                    if len(shape) != 1:
                        ops.append(("flatten",))  # NIR's Affine reads its input flat
                        shape = (int(np.prod(shape)),)
                    if weight.ndim != 2 or weight.shape[1] != shape[0]:
                        raise InputError(f"node {name!r}: {kind} weight is {weight.shape}, its "
                                         f"input has {shape[0]} values")
                    bias = np.asarray(node.bias, dtype=np.float64).ravel() \
                        if kind == "Affine" else np.zeros(weight.shape[0])
                    shape = (weight.shape[0],)
                    ops.append(["dense", weight, bias])
                if min(shape) < 1:
                    raise InputError(f"node {name!r} ({kind}) leaves no output position")
            declared = _shape(graph.nodes[target], "input_type")
            if declared is not None and int(np.prod(declared)) != int(np.prod(shape)):
                raise InputError(f"node {target!r}: declares shape {declared}, its input chain "
                                 f"gives {shape}")
            if target in shapes and int(np.prod(shapes[target])) != int(np.prod(shape)):
                raise InputError(f"node {target!r}: its input chains give different shapes")
            shapes.setdefault(target, declared if declared is not None and len(declared) == len(
                shape) else shape)
            projections_raw.append((source, target, ops))
        if not waiting:
            break
        if len(waiting) == len(pending):
            raise InputError(f"node {waiting[0][0]!r}: its shape cannot be found (a loop with "
                             "no input)")
        pending = waiting

    for name in order:
        node, kind = graph.nodes[name], kinds[name]
        shape = shapes.get(name)
        if shape is None:
            raise InputError(f"node {name!r} ({kind}) has no input")
        size = int(np.prod(shape))

        def per_neuron(field, default=None, node=node, size=size):
            value = getattr(node, field, default)
            value = np.asarray(default if value is None else value, dtype=np.float64)
            return np.broadcast_to(value.ravel() if value.ndim else value, (size,)).astype(
                np.float64)

        theta = per_neuron("v_threshold")
        if (theta <= 0).any():
            raise InputError(f"node {name!r}: v_threshold must be > 0, not {theta.min():g}")
        scale = per_neuron("r", 1.0)
        if kind == "LIF":
            tau = per_neuron("tau")
            if np.ptp(tau) > 1e-6 * tau.max() or (tau <= 0).any():
                raise InputError(f"node {name!r}: tau must be one positive value for the layer")
            if np.abs(per_neuron("v_leak", 0.0)).max() > 0:
                raise InputError(f"node {name!r}: v_leak must be 0 (the shift leak decays "
                                 "towards 0)")
            ratio = tau[0] / dt
            if ratio < 1.5:
                raise InputError(f"node {name!r}: tau/dt must be at least 1.5 for a shift leak, "
                                 f"not {ratio:g}: check --dt")
            leaks.add(round(math.log2(ratio)))
            scale = scale * dt / tau
        else:
            leaks.add(None)
        reset_to.update(np.round(per_neuron("v_reset", 0.0) / theta, 9).tolist())
        factors[name] = (scale / theta).reshape(shape)
        layers.append(FloatLayer(name, kind, tuple(shape), float(theta[0])))
    if len(leaks) != 1:
        raise InputError("every neuron layer of a convolutional graph must have the same leak "
                         "(one shift k for the network), not a mix of IF and LIF layers or LIF "
                         "layers whose tau/dt round to different k")
    if len(reset_to) != 1:
        raise InputError("every neuron must reset to the same v_reset/v_threshold, not "
                         f"{min(reset_to):g}..{max(reset_to):g}")

    projections = []
    for source, target, ops in projections_raw:
        factor = factors[target]
        weighted = ops[-1]
        if weighted[0] == "conv2d":
            per_channel = factor.reshape(factor.shape[0], -1)
            if np.ptp(per_channel, axis=1).max() > 1e-9 * max(1.0, np.abs(per_channel).max()):
                raise InputError(f"node {target!r}: r/v_threshold must be one number per "
                                 "channel under a convolution (its kernel is shared)")
            channel = per_channel[:, 0]
            weighted[1] = weighted[1] * channel[:, None, None, None]
            weighted[2] = weighted[2] * channel
        else:
            flat = factor.ravel()
            weighted[1] = weighted[1] * flat[:, None]
            weighted[2] = weighted[2] * flat
        # An average pool's 1/(kh·kw) goes into the weights after it.
        divisor = math.prod(math.prod(op[1]) for op in ops if op[0] == "pool" and op[4])
        weighted[1] = weighted[1] / divisor
        projections.append(FloatProjection(source if source != input_name else "input", target,
                                           tuple(tuple(op) for op in ops)))

    depth, level, frontier = {}, 0, ["input"]
    while frontier:
        level += 1
        frontier = [p.target for p in projections if p.source in frontier
                    and p.target not in depth]
        for name in frontier:
            depth[name] = level
    for layer in layers:
        depth.setdefault(layer.name, level)
    return StructuredFloat(input_shape=tuple(input_shape), layers=layers,
                           projections=projections, leak_shift=leaks.pop(),
                           reset_to=reset_to.pop(), depth=depth, dt=dt, notes=tuple(notes))


def _integer_ops(ops: tuple, weight: np.ndarray, bias: np.ndarray | None) -> tuple:
    """The chain with its weighted op's float weights replaced by integers."""
    out = []
    for op in ops:
        if op[0] == "flatten":
            out.append(Flatten())
        elif op[0] == "pool":
            out.append(SumPool2d(op[1], op[2], op[3], average=op[4]))
        elif op[0] == "conv2d":
            out.append(Conv2d(weight, op[3], op[4], op[5], op[6],
                              None if bias is None or not bias.any() else bias))
        else:
            out.append(Dense(weight, None if bias is None or not bias.any() else bias))
    return tuple(out)


def quantize_structured(model: StructuredFloat, bits, *, state_bits: int | None = None,
                        representation: str = "signed", overflow: str = "saturate",
                        reset: str | None = "subtract", scale: float | None = None,
                        spikes_per_step: int = 1, granularity: str = "layer") -> Network:
    """The integer network (format version 4) of a :class:`StructuredFloat`.

    Parameters
    ----------
    bits : int or sequence of int
        Weight width of every layer, or one per layer.
    state_bits : int, optional
        B. Default: the narrowest that holds ±4·θ_max and the leak shift.
    reset : {"subtract", "zero"}
    scale : float, optional
        One θ for every layer (``snngen import``'s q = 2^(B−2)); default a θ per layer, the one
        with the least squared rounding error (:func:`~snngen.quant.quantize.quantize_layer`).
    spikes_per_step : int
        M > 1: up to M spikes a step with a subtractive reset (semantics v2's max_spikes; Sinabs'
        MultiSpike), so that a neuron driven far above θ passes on what it holds.
    granularity : {"layer", "channel"}
        One θ per layer, or one per output channel (the neurons of a convolution layer's
        channel share its kernel, so they share its scale; a layer reached by dense projections
        only has a channel per neuron): every channel's weights then span the whole width.
    """
    from ..hw.plan import bits_for_range
    from .nir_import import check_leak_fits, check_reset, state_bits_for
    from .quantize import STATE_HEADROOM, quantize_layer

    widths = [bits] * len(model.layers) if isinstance(bits, int) else list(bits)
    if len(widths) != len(model.layers):
        raise InputError(f"bits must give one width per layer ({len(model.layers)}), not "
                         f"{len(widths)}")
    mode = check_reset(reset)
    if isinstance(spikes_per_step, bool) or not isinstance(spikes_per_step, int) or \
            not 1 <= spikes_per_step <= MAX_SPIKES_PER_STEP:
        raise InputError(f"--spikes-per-step must be in 1..{MAX_SPIKES_PER_STEP}, not "
                         f"{spikes_per_step!r}")
    if spikes_per_step > 1 and mode != "subtract":
        raise InputError(f"--spikes-per-step {spikes_per_step} needs --reset subtract (a spike "
                         f"removes one threshold each), not {mode}")
    if granularity not in ("layer", "channel"):
        raise InputError(f"granularity must be layer or channel for a graph with convolution "
                         f"layers, not {granularity!r}")
    if granularity == "channel" and scale is not None:
        raise InputError("a fixed scale gives every layer one threshold: granularity channel "
                         "needs the scales searched (no scale)")
    incoming = defaultdict(list)
    for projection in model.projections:
        incoming[projection.target].append(projection)
    # thetas[name]: θ of each neuron of the layer (one value throughout with one per layer).
    thetas, integer_ops, clipped = {}, {}, 0
    for layer, width in zip(model.layers, widths, strict=True):
        chains = incoming[layer.name]
        together = np.concatenate([p.ops[-1][1].ravel() for p in chains] or [np.zeros(0)])
        fixed = None if scale is None else max(1, round(scale))
        theta, _, _, _, _ = quantize_layer(together, width, fixed)
        lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
        unit, row_unit = _channel_units(layer, chains) if granularity == "channel" \
            else (np.zeros(layer.size, np.int64), {id(p): 0 for p in chains})
        units = int(unit.max()) + 1 if unit.size else 1
        unit_theta = np.full(units, theta, dtype=np.int64)
        if granularity == "channel":
            for u in range(units):
                mine = np.concatenate([p.ops[-1][1][row_unit[id(p)] == u].ravel()
                                       for p in chains] or [np.zeros(0)])
                # A channel without weights keeps the layer's θ (its bias still needs one).
                if mine.size and np.abs(mine).max() > 0:
                    unit_theta[u] = quantize_layer(mine, width)[0]
        thetas[layer.name] = unit_theta[unit]
        for projection in chains:
            factor = unit_theta[row_unit[id(projection)]].astype(np.float64)
            weight_op = projection.ops[-1]
            exact = weight_op[1] * factor.reshape((-1,) + (1,) * (weight_op[1].ndim - 1))
            rounded = np.rint(exact)
            clipped += int(((rounded < lo) | (rounded > hi)).sum())
            weight = np.clip(rounded, lo, hi).astype(np.int64)
            bias = np.rint(weight_op[2] * factor).astype(np.int64)
            integer_ops[id(projection)] = (weight, bias)
    every_theta = np.concatenate([thetas[layer.name] for layer in model.layers])
    largest = int(every_theta.max())
    needed, _ = bits_for_range(-STATE_HEADROOM * largest, STATE_HEADROOM * largest)
    if model.leak_shift is not None:
        needed = max(needed, model.leak_shift + 1)
    if state_bits is None:
        # An IF membrane without leak holds what its inputs left it: a moving edge drives a
        # layer to tens of thresholds (saturating there cost half the class agreement on moving
        # bars). The width comes from the float model on a calibration stimulus.
        extents = calibration_ranges(model, reset=mode, spikes_per_step=spikes_per_step)
        needed = max(needed, *(state_bits_for(extents[layer.name], int(thetas[layer.name].max()))
                               for layer in model.layers))
    state = StateFormat(min(needed, 32) if state_bits is None else state_bits, representation,
                        overflow)
    if largest > state.max:
        raise InputError(f"--state-bits {state.bits} cannot hold the largest threshold {largest} "
                         f"({state.describe()} tops out at {state.max}); use --state-bits "
                         f"{needed}")
    check_leak_fits(model.leak_shift, state.bits)
    reset_value = 0
    if mode == "zero" and model.reset_to != 0:
        if (every_theta != largest).any():
            raise InputError(f"a zero reset to v_reset/v_threshold = {model.reset_to:g} needs "
                             "one threshold for every layer; use reset subtract or v_reset = 0")
        reset_value = int(np.clip(round(model.reset_to * largest), state.min, state.max))
    projections = []
    for projection in model.projections:
        weight, bias = integer_ops[id(projection)]
        bias = np.clip(bias, state.min, state.max)
        projections.append(Projection(projection.source, projection.target,
                                      _integer_ops(projection.ops, weight, bias)))
    per_layer = granularity == "layer"
    layers = tuple(Layer(layer.name, layer.size, width,
                         int(thetas[layer.name][0]) if per_layer else None, layer.shape)
                   for layer, width in zip(model.layers, widths, strict=True))
    neuron_thresholds = None if per_layer else every_theta
    dynamics = None
    if spikes_per_step > 1:
        leak = model.leak_shift
        dynamics = Dynamics(membrane_decay="none" if leak is None else "shift",
                            membrane_decay_parameter=0 if leak is None else leak,
                            max_spikes=spikes_per_step)
    return Network(
        state=state,
        neuron=NeuronModel(threshold=int(thetas[model.layers[0].name].max()),
                           leak_shift=model.leak_shift if dynamics is None else None,
                           reset=Reset(mode), reset_value=reset_value),
        dynamics=dynamics,
        weight_bits=max(widths), weights=None, input_weights=None, layers=layers,
        projections=tuple(projections), input_shape=model.input_shape,
        neuron_thresholds=neuron_thresholds,
        extra={"quantization": {"dt": model.dt, "bits": [int(b) for b in widths],
                                "granularity": granularity, "clipped": clipped,
                                "thresholds": [int(t[0]) if per_layer
                                               else [int(t.min()), int(t.max())]
                                               for t in (thetas[layer.name]
                                                         for layer in model.layers)]}},
    )


def _channel_units(layer, chains) -> tuple[np.ndarray, dict]:
    """The channel of each neuron of `layer` and, per chain (by id), the channel of each row of
    its weighted op's weight (axis 0: a convolution's output channels, a dense op's neurons).
    A layer shaped C×H×W reached by a convolution has C channels of H·W neurons; otherwise
    each neuron is its own channel."""
    convolved = layer.shape is not None and len(layer.shape) == 3 and any(
        p.ops[-1][0] == "conv2d" for p in chains)
    neuron = np.arange(layer.size, dtype=np.int64)
    if not convolved:
        return neuron, {id(p): neuron for p in chains}
    plane = layer.shape[1] * layer.shape[2]
    rows = {id(p): np.arange(layer.shape[0], dtype=np.int64) if p.ops[-1][0] == "conv2d"
            else neuron // plane for p in chains}
    return neuron // plane, rows


#: The calibration stimulus of :func:`calibration_ranges`: events per position and step.
CALIBRATION_DENSITIES = (0.005, 0.02, 0.05)
CALIBRATION_STEPS = 64


def calibration_ranges(model: StructuredFloat, *, reset: str = "subtract",
                       spikes_per_step: int = 1) -> dict[str, float]:
    """Each layer's largest |v| (in thresholds) in the float model on a seeded calibration
    stimulus: synthetic streams of every kind at :data:`CALIBRATION_DENSITIES`."""
    from .streams import STREAM_KINDS, synthetic_streams

    ranges: dict[str, float] = {}
    cells = CALIBRATION_STEPS * model.inputs
    for index, density in enumerate(CALIBRATION_DENSITIES):
        streams, _ = synthetic_streams(2 * len(STREAM_KINDS), CALIBRATION_STEPS,
                                       model.input_shape if len(model.input_shape) == 3
                                       else (1, 1, model.inputs),
                                       events=max(1, int(density * cells)), seed=2026 + index)
        float_reference(model, streams, reset=reset, ranges=ranges,
                        spikes_per_step=spikes_per_step)
    return ranges


def import_structured(source, *, bits: int = 8, weight_bits: int | None = None,
                      dt: float = 1e-4, representation: str = "signed",
                      overflow: str = "saturate", reset: str | None = None,
                      read_notes: tuple = ()):
    """``snngen import`` of a convolutional graph: state width `bits`, one scale q = 2^(B−2)
    (signed) or 2^(B−1) (unsigned), weights of min(B, 16) bits unless `weight_bits`."""
    from .nir_import import ImportReport

    model = structured_from_nir(source, dt=dt, read_notes=read_notes)
    signed = representation == "signed"
    q = float(1 << (bits - 2)) if signed else float(1 << (bits - 1))
    width = min(bits, 16) if weight_bits is None else weight_bits
    network = quantize_structured(model, width, state_bits=bits, representation=representation,
                                  overflow=overflow, reset=reset or "zero", scale=q)
    clipped = network.extra["quantization"]["clipped"]
    notes = list(model.notes)
    if clipped:
        notes.append(f"{clipped} weights and biases clipped to the {width}-bit weight range: "
                     f"widen --weight-bits (now {width})")
    first = 0
    layers = []
    for layer in model.layers:
        layers.append({"name": layer.name, "kind": layer.kind, "first": first,
                       "last": first + layer.size - 1, "threshold": layer.threshold,
                       "shape": list(layer.shape)})
        first += layer.size
    extra = dict(network.extra)
    extra["import"] = {"format": "nir", "dt": dt, "scale": q, "layers": layers,
                       "clipped": clipped}
    extra.pop("quantization")
    network = network.replace(extra=extra)
    report = ImportReport(layers=layers, leak_shift=model.leak_shift, scale=q, clipped=clipped,
                          max_error=0.5 / q, notes=tuple(notes))
    return network, report


def float_reference(model: StructuredFloat, inputs: np.ndarray, *, reset: str = "subtract",
                    delayed: bool = True, ranges: dict | None = None,
                    spikes_per_step: int = 1) -> dict[str, np.ndarray]:
    """The graph in floats (PyTorch's conv2d and pooling), spikes per layer.

    Parameters
    ----------
    inputs : ndarray, shape (samples, T, K)
        Spike counts per input position (flattened C×H×W).
    reset : {"subtract", "zero"}
        To ``v − 1`` or to v_reset/v_threshold after a spike (a neuron fires when v ≥ 1).
    delayed : bool
        True: a spike crosses one layer per step, as in the integer semantics; False: every
        feed-forward hop within the step (the graph's own discrete time, Sinabs'), recurrent
        edges from the step before.
    ranges : dict, optional
        Filled with each layer's largest |v| before its reset, in thresholds (raised in place
        over calls): what the state lattice must hold.
    spikes_per_step : int
        M: a neuron with v ≥ 1 sends min(⌊v⌋, M) spikes (Sinabs' MultiSpike for a large M) and,
        with a subtractive reset, loses that many thresholds.

    Returns
    -------
    dict of layer name → ndarray of uint8, shape (samples, T, *layer shape)
    """
    import torch
    import torch.nn.functional as F

    samples, steps, _ = inputs.shape
    x = torch.as_tensor(inputs, dtype=torch.float64).reshape(samples, steps,
                                                              *model.input_shape)
    order = sorted(model.layers, key=lambda layer: model.depth[layer.name])
    v = {layer.name: torch.zeros(samples, *layer.shape, dtype=torch.float64)
         for layer in model.layers}
    last = {layer.name: torch.zeros_like(v[layer.name]) for layer in model.layers}
    out = {layer.name: np.zeros((samples, steps, *layer.shape), dtype=np.uint8)
           for layer in model.layers}

    def apply(ops, value):
        for op in ops:
            if op[0] == "flatten":
                value = value.reshape(samples, -1)
            elif op[0] == "pool":
                _, kernel, stride, padding, _ = op
                area = kernel[0] * kernel[1]
                value = F.avg_pool2d(value, kernel, stride, padding, count_include_pad=True) * area
            elif op[0] == "conv2d":
                _, weight, bias, stride, padding, dilation, groups = op
                value = F.conv2d(value, torch.as_tensor(weight), torch.as_tensor(bias), stride,
                                 padding, dilation, groups)
            else:
                value = value @ torch.as_tensor(op[1]).T + torch.as_tensor(op[2])
        return value

    with torch.no_grad():
        for t in range(steps):
            now = {}
            for layer in order:
                drive = torch.zeros_like(v[layer.name])
                for projection in model.projections:
                    if projection.target != layer.name:
                        continue
                    if projection.source == "input":
                        source = x[:, t]
                    elif not delayed and projection.source in now:
                        source = now[projection.source]
                    else:
                        source = last[projection.source]
                    drive = drive + apply(projection.ops, source).reshape(drive.shape)
                leak = model.leak_shift
                potential = v[layer.name] + drive if leak is None else \
                    v[layer.name] * (1 - 2.0 ** -leak) + drive
                if ranges is not None:
                    ranges[layer.name] = max(ranges.get(layer.name, 0.0),
                                             float(potential.abs().max()))
                fired = potential >= 1.0
                # Several spikes a step (Sinabs' MultiSpike): as many whole thresholds as v holds.
                count = torch.clamp(torch.floor(potential), 0, spikes_per_step) \
                    if spikes_per_step > 1 else fired.double()
                if reset == "subtract":
                    potential = potential - count
                else:
                    potential = torch.where(fired, torch.full_like(potential, model.reset_to),
                                            potential)
                v[layer.name] = potential
                now[layer.name] = count
                out[layer.name][:, t] = count.numpy()
            last = now
    return out
