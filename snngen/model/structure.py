"""Structured projections: convolution, sum pooling, flatten and dense layers (format version 4).

A network with ``projections`` describes its synapses by the layers that make them instead of
listing every synapse: a convolution keeps only its kernels. A :class:`Projection` carries the
spikes of a source (the input or a neuron layer) to a target layer through a chain of ops, zero or
more :class:`SumPool2d` and :class:`Flatten`, then exactly one weighted op, :class:`Conv2d` or
:class:`Dense`. Every op is linear in the source's spike counts, so a projection is a sparse
matrix; :func:`projection_fanout` builds it event by event (where a spike at one source position
lands) and the golden model runs on it. docs/semantics.md ("Structured layers") is the contract.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError

__all__ = ["Conv2d", "Dense", "Flatten", "Projection", "SumPool2d", "conv_output_size",
           "projection_fanout"]

#: The largest kernel side and stride/padding/dilation a format-4 file may give.
MAX_KERNEL = 64
MAX_GEOMETRY = 1 << 12


def _pair(field: str, value: Any, lo: int, hi: int) -> tuple[int, int]:
    """An int or a pair of ints (NIR and PyTorch give both), each in lo..hi."""
    from .network import _integer

    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        if len(value) == 1:
            value = (value[0], value[0])
        if len(value) != 2:
            raise InputError(f"{field} must be one integer or a pair (height, width), "
                             f"not {len(value)} values")
        return (_integer(f"{field}[0]", value[0], lo, hi), _integer(f"{field}[1]", value[1], lo, hi))
    single = _integer(field, value, lo, hi)
    return single, single


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output positions along one axis, as PyTorch and NIR count them (may be ≤ 0)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclasses.dataclass(frozen=True)
class SumPool2d:
    """The sum of each window of a C×H×W map (NIR ``SumPool2d``; an ``avgpool2d`` too).

    Parameters
    ----------
    kernel, stride, padding : int or (int, int)
        As NIR and PyTorch define them; padding adds zeros.
    average : bool
        Recorded for an ``avgpool2d``: the integer network still sums the window (a spike count
        has no fraction to keep); the importer divides the weights of the op that follows by
        kh·kw before rounding, so the product is the average's. Written back as ``avgpool2d``.
    """

    kernel: Any
    stride: Any = None
    padding: Any = 0
    average: bool = False

    def __post_init__(self) -> None:
        kind = "avgpool2d" if self.average else "sumpool2d"
        kernel = _pair(f"{kind} kernel", self.kernel, 1, MAX_KERNEL)
        object.__setattr__(self, "kernel", kernel)
        stride = kernel if self.stride is None else self.stride
        object.__setattr__(self, "stride", _pair(f"{kind} stride", stride, 1, MAX_GEOMETRY))
        object.__setattr__(self, "padding", _pair(f"{kind} padding", self.padding, 0,
                                                  MAX_GEOMETRY))
        if not isinstance(self.average, bool):
            raise InputTypeError(f"{kind} average must be true or false, not {self.average!r}")

    @property
    def kind(self) -> str:
        return "avgpool2d" if self.average else "sumpool2d"

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 3:
            raise InputError(f"{self.kind} needs a C×H×W input, not shape {_text(shape)}")
        out = tuple(conv_output_size(shape[1 + a], self.kernel[a], self.stride[a],
                                     self.padding[a], 1) for a in (0, 1))
        if min(out) < 1:
            raise InputError(f"{self.kind} kernel {self.kernel} does not fit the "
                             f"{_text(shape)} input with padding {self.padding}")
        return (shape[0], *out)


@dataclasses.dataclass(frozen=True)
class Flatten:
    """A C×H×W map read as C·H·W positions, channel-major (NIR's and PyTorch's order)."""

    kind = "flatten"

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(shape)),)


@dataclasses.dataclass(frozen=True, eq=False)
class Conv2d:
    """A 2-D convolution (cross-correlation, as PyTorch and NIR compute it).

    Parameters
    ----------
    weight : array-like of int, shape (C_out, C_in / groups, kh, kw)
        Kernels; ``weight[o, i, ky, kx]`` takes input channel ``g·C_in/groups + i`` at
        (oy·sy − py + ky·dy, ox·sx − px + kx·dx) to output (o, oy, ox), g = o // (C_out/groups).
    stride, padding, dilation : int or (int, int)
    groups : int
        Divides C_in and C_out.
    bias : array-like of int, shape (C_out,), optional
        Added every step to every position of the channel (the network's bias, per channel).

    The ranges of the weights depend on the target layer, so :class:`~snngen.model.network.Network`
    checks them.
    """

    weight: Any
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    groups: int = 1
    bias: Any = None
    kind = "conv2d"

    def __post_init__(self) -> None:
        from .network import _integer

        weight = self.weight
        if not isinstance(weight, np.ndarray):
            try:
                weight = np.asarray(weight)
            except ValueError:
                raise InputError("conv2d weight must be a C_out×C_in×kh×kw array of integers, "
                                 "ragged here") from None
        if weight.ndim != 4 or (weight.dtype.kind not in "iu" and weight.size):
            raise InputError("conv2d weight must be a C_out×C_in×kh×kw array of integers, not "
                             f"{weight.ndim}-D {weight.dtype} values")
        if min(weight.shape) < 1 or max(weight.shape[2:]) > MAX_KERNEL:
            raise InputError(f"conv2d weight shape must have every side ≥ 1 and kernels of at "
                             f"most {MAX_KERNEL}, not {_text(weight.shape)}")
        weight = weight.astype(np.int64)
        weight.setflags(write=False)
        object.__setattr__(self, "weight", weight)
        for field, lo in (("stride", 1), ("padding", 0), ("dilation", 1)):
            object.__setattr__(self, field, _pair(f"conv2d {field}", getattr(self, field), lo,
                                                  MAX_GEOMETRY))
        groups = _integer("conv2d groups", self.groups, 1, weight.shape[0])
        if weight.shape[0] % groups:
            raise InputError(f"conv2d groups must divide the {weight.shape[0]} output channels, "
                             f"not {groups}")
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "bias", _bias("conv2d", self.bias, weight.shape[0],
                                               "output channel"))

    @property
    def kernel(self) -> tuple[int, int]:
        return self.weight.shape[2], self.weight.shape[3]

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 3:
            raise InputError(f"conv2d needs a C×H×W input, not shape {_text(shape)}")
        c_in = self.weight.shape[1] * self.groups
        if shape[0] != c_in:
            raise InputError(f"conv2d weight takes {c_in} input channels "
                             f"({self.weight.shape[1]} × {self.groups} groups), its input has "
                             f"{shape[0]}")
        out = tuple(conv_output_size(shape[1 + a], self.kernel[a], self.stride[a],
                                     self.padding[a], self.dilation[a]) for a in (0, 1))
        if min(out) < 1:
            raise InputError(f"conv2d kernel {self.kernel} (dilation {self.dilation}) does not "
                             f"fit the {_text(shape)} input with padding {self.padding}")
        return (self.weight.shape[0], *out)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Conv2d):
            return NotImplemented
        return (np.array_equal(self.weight, other.weight) and self.stride == other.stride
                and self.padding == other.padding and self.dilation == other.dilation
                and self.groups == other.groups and _same(self.bias, other.bias))

    __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True, eq=False)
class Dense:
    """A full (affine) connection: ``weight[o, i]`` from flat position i to target neuron o.

    Parameters
    ----------
    weight : array-like of int, shape (outputs, inputs)
    bias : array-like of int, shape (outputs,), optional
    """

    weight: Any
    bias: Any = None
    kind = "dense"

    def __post_init__(self) -> None:
        weight = np.asarray(self.weight) if not isinstance(self.weight, np.ndarray) \
            else self.weight
        if weight.ndim != 2 or min(weight.shape) < 1 or weight.dtype.kind not in "iu":
            raise InputError("dense weight must be an outputs×inputs matrix of integers, not "
                             f"shape {_text(weight.shape)} of {weight.dtype}")
        weight = weight.astype(np.int64)
        weight.setflags(write=False)
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "bias", _bias("dense", self.bias, weight.shape[0], "output"))

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 1:
            raise InputError(f"dense needs a flat input (put a flatten before it), not shape "
                             f"{_text(shape)}")
        if shape[0] != self.weight.shape[1]:
            raise InputError(f"dense weight takes {self.weight.shape[1]} inputs, its input has "
                             f"{shape[0]}")
        return (self.weight.shape[0],)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dense):
            return NotImplemented
        return np.array_equal(self.weight, other.weight) and _same(self.bias, other.bias)

    __hash__ = None  # type: ignore[assignment]


Op = SumPool2d | Flatten | Conv2d | Dense


@dataclasses.dataclass(frozen=True)
class Projection:
    """The synapses from `source` to `target` as a chain of ops.

    Parameters
    ----------
    source : str
        ``"input"`` or the name of a neuron layer (a layer may project to itself: recurrence).
    target : str
        The name of the neuron layer the chain's output positions are, in order.
    ops : sequence of ops
        Zero or more :class:`SumPool2d` and :class:`Flatten`, then one :class:`Conv2d` or
        :class:`Dense`, last.
    """

    source: str
    target: str
    ops: tuple

    def __post_init__(self) -> None:
        for field in ("source", "target"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise InputTypeError(f"projection {field} must be a layer name, not {value!r}")
        ops = tuple(self.ops) if isinstance(self.ops, list | tuple) else None
        where = f"projection {self.source} → {self.target}"
        if not ops or not all(isinstance(op, Op) for op in ops):
            raise InputTypeError(f"{where}: ops must be a non-empty list of conv2d, dense, "
                                 f"sumpool2d, avgpool2d and flatten, not {self.ops!r}"[:200])
        if not isinstance(ops[-1], Conv2d | Dense) or any(
                isinstance(op, Conv2d | Dense) for op in ops[:-1]):
            raise InputError(f"{where}: ops must end with exactly one weighted op (conv2d or "
                             f"dense), not {' → '.join(op.kind for op in ops)}")
        object.__setattr__(self, "ops", ops)

    @property
    def weighted(self) -> Conv2d | Dense:
        return self.ops[-1]

    def shapes(self, source_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The shape before every op and after the last; errors name the op at fault."""
        shapes = [tuple(source_shape)]
        for index, op in enumerate(self.ops):
            try:
                shapes.append(op.output_shape(shapes[-1]))
            except InputError as error:
                raise InputError(f"projection {self.source} → {self.target}, op {index} "
                                 f"({op.kind}): {error}") from None
        return shapes


def _bias(kind: str, value, count: int, per: str) -> np.ndarray | None:
    """A weighted op's optional bias: `count` integers, one per `per`, read-only int64."""
    if value is None:
        return None
    bias = np.asarray(value)
    if bias.shape != (count,) or (bias.size and bias.dtype.kind not in "iu"):
        raise InputError(f"{kind} bias must be {count} integers (one per {per}), not shape "
                         f"{_text(bias.shape)} of {bias.dtype}")
    bias = bias.astype(np.int64)
    bias.setflags(write=False)
    return bias


def _text(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) if shape else "scalar"


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None) == (b is None) and (a is None or np.array_equal(a, b))


def _window_moves(size: int, out: int, kernel: int, stride: int, padding: int, dilation: int,
                  positions: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """For each kernel tap k along one axis: (k, which `positions` reach an output, that output).

    An input at p reaches output o through tap k when o·stride − padding + k·dilation = p."""
    moves = []
    for k in range(kernel):
        shifted = positions + padding - k * dilation
        hit = (shifted >= 0) & (shifted % stride == 0) & (shifted // stride < out)
        moves.append((k, hit, shifted // stride))
    return moves


def projection_fanout(projection: Projection, source_shape: tuple[int, ...]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every synapse of `projection` as (source position, target position, weight), int64.

    Built event by event: where a spike at each source position lands after every op, with the
    weights of paths that meet at the same target summed and zero weights left out. Sorted by
    source, then target: the fan-out lists an event-driven engine walks.
    """
    shapes = projection.shapes(source_shape)
    count = int(np.prod(shapes[0]))
    # One row per path: the source position it started from, where it is now, its weight so far.
    origin = np.arange(count, dtype=np.int64)
    where = origin.copy()
    weight = np.ones(count, dtype=np.int64)
    for op, shape, out_shape in zip(projection.ops, shapes[:-1], shapes[1:], strict=True):
        if isinstance(op, Flatten):
            continue
        if isinstance(op, Dense):
            columns = op.weight.T  # columns[i]: the weights of input i into every output
            nonzero = columns[where] != 0
            path, target = np.nonzero(nonzero)
            origin, weight = origin[path], weight[path] * columns[where[path], target]
            where = target.astype(np.int64)
            continue
        c, y, x = np.unravel_index(where, shape)
        dilation = op.dilation if isinstance(op, Conv2d) else (1, 1)
        rows = _window_moves(shape[1], out_shape[1], op.kernel[0], op.stride[0], op.padding[0],
                             dilation[0], y)
        cols = _window_moves(shape[2], out_shape[2], op.kernel[1], op.stride[1], op.padding[1],
                             dilation[1], x)
        parts = []
        for ky, hit_y, oy in rows:
            for kx, hit_x, ox in cols:
                hit = np.flatnonzero(hit_y & hit_x)
                if not hit.size:
                    continue
                if isinstance(op, SumPool2d):
                    parts.append((hit, c[hit], oy[hit], ox[hit], weight[hit]))
                    continue
                per_group_in = op.weight.shape[1]
                per_group_out = op.weight.shape[0] // op.groups
                group, local = np.divmod(c[hit], per_group_in)
                for o in range(per_group_out):
                    channel = group * per_group_out + o
                    w = op.weight[channel, local, ky, kx]
                    keep = w != 0
                    parts.append((hit[keep], channel[keep], oy[hit][keep], ox[hit][keep],
                                  weight[hit][keep] * w[keep]))
        if not parts:
            origin = where = weight = np.zeros(0, dtype=np.int64)
            continue
        path = np.concatenate([p[0] for p in parts])
        where = np.ravel_multi_index((np.concatenate([p[1] for p in parts]),
                                      np.concatenate([p[2] for p in parts]),
                                      np.concatenate([p[3] for p in parts])), out_shape)
        weight = np.concatenate([p[4] for p in parts])
        origin = origin[path]
    targets = int(np.prod(shapes[-1]))
    key = origin * targets + where
    unique, inverse = np.unique(key, return_inverse=True)
    summed = np.zeros(unique.size, dtype=np.int64)
    np.add.at(summed, inverse, weight)
    keep = summed != 0
    unique, summed = unique[keep], summed[keep]
    return unique // targets, unique % targets, summed
