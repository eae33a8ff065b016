"""Synthetic event-camera streams: what a DVS network is measured on when its data set is not at hand.

Three kinds, each binned into T steps of a C×H×W spike-count grid (C = 2: ON and OFF polarity):

- ``random``: events at uniformly random positions and times (sensor noise at a rate);
- ``bar``: a bar at a random orientation sweeping across the field at a random speed; ON events at
  its leading edge, OFF events at its trailing edge (what a moving edge makes a DVS emit);
- ``dots``: a few dots, each moving at its own velocity, emitting ON events ahead of their motion
  and OFF events behind, plus a little noise.

Every stream holds exactly `events` events, at most one per position and step (semantics v1 takes
0/1 inputs), so latency figures compare like with like. Seeded: the same arguments give the same
streams.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["STREAM_KINDS", "synthetic_streams"]

STREAM_KINDS = ("random", "bar", "dots")


def _pick(rng, free: np.ndarray, candidates: np.ndarray, events: int) -> np.ndarray:
    """Up to `events` distinct flat positions from `candidates` that are still free."""
    candidates = np.unique(candidates)
    candidates = candidates[free[candidates]]
    chosen = rng.choice(candidates, size=min(events, candidates.size), replace=False)
    free[chosen] = False
    return chosen


def _bar(rng, steps: int, shape: tuple[int, int, int]) -> list[tuple[int, int, int, int]]:
    _, height, width = shape
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    speed = rng.uniform(0.5, 2.0) * max(height, width) / steps
    thickness = rng.uniform(1.5, 4.0)
    yy, xx = np.mgrid[0:height, 0:width]
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    along = (yy - centre[0]) * direction[1] + (xx - centre[1]) * direction[0]
    start = -0.5 * max(height, width)
    candidates = []
    for t in range(steps):
        front = start + speed * (t + 1)
        lead = np.argwhere(np.abs(along - front) < 0.75)
        trail = np.argwhere(np.abs(along - (front - thickness)) < 0.75)
        candidates += [(t, 0, int(y), int(x)) for y, x in lead]
        if shape[0] > 1:
            candidates += [(t, 1, int(y), int(x)) for y, x in trail]
    return candidates


def _dots(rng, steps: int, shape: tuple[int, int, int]) -> list[tuple[int, int, int, int]]:
    channels, height, width = shape
    count = int(rng.integers(2, 7))
    position = rng.uniform([0, 0], [height, width], size=(count, 2))
    velocity = rng.normal(0, 0.6, size=(count, 2))
    radius = rng.uniform(1.0, 2.5, size=count)
    yy, xx = np.mgrid[0:height, 0:width]
    candidates = []
    for t in range(steps):
        position = position + velocity
        for dot in range(count):
            for sign, channel in ((1, 0), (-1, min(1, channels - 1))):
                y, x = (position[dot] + sign * velocity[dot]) % (height, width)
                inside = np.argwhere((yy - y) ** 2 + (xx - x) ** 2 <= radius[dot] ** 2)
                candidates += [(t, channel, int(a), int(b)) for a, b in inside]
    return candidates


def synthetic_streams(count: int, steps: int, shape: tuple[int, int, int], *,
                      events: int = 2000, kinds=STREAM_KINDS, seed: int = 0
                      ) -> tuple[np.ndarray, list[str]]:
    """`count` streams cycling through `kinds`: 0/1 spikes of shape (count, steps, C·H·W),
    uint8, and each stream's kind. Each holds `events` events."""
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"shape must be C×H×W, not {shape!r}")
    for kind in kinds:
        if kind not in STREAM_KINDS:
            raise InputError(f"stream kind must be one of {', '.join(STREAM_KINDS)}, not "
                             f"{kind!r}")
    rng = np.random.default_rng(seed)
    cells = steps * int(np.prod(shape))
    if events > cells:
        raise InputError(f"events must be at most {cells} (one per position and step), not "
                         f"{events}")
    out = np.zeros((count, cells), dtype=np.uint8)
    names = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        names.append(kind)
        free = np.ones(cells, dtype=bool)
        chosen = np.zeros(0, dtype=np.int64)
        if kind != "random":
            pattern = _bar(rng, steps, shape) if kind == "bar" else _dots(rng, steps, shape)
            flat = np.ravel_multi_index(tuple(np.asarray(pattern, dtype=np.int64).T),
                                        (steps, *shape)) if pattern else np.zeros(0, np.int64)
            chosen = _pick(rng, free, flat, events - events // 20)
        # The rest is sensor noise: distinct free positions, uniformly at random.
        noise = rng.choice(np.flatnonzero(free), size=events - chosen.size, replace=False)
        out[index, chosen] = 1
        out[index, noise] = 1
    return out.reshape(count, steps, -1), names
