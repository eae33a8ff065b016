"""Checks on the figures the tool writes."""

from matplotlib.image import imread


def has_data_marks(path) -> bool:
    """A PNG with coloured marks (lines, points, cells), not only axes, text and grid in grey:
    an empty plot fails."""
    pixels = imread(path)[..., :3]
    return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 0.3).sum()) > 100


def has_raster_marks(path) -> bool:
    """A black-on-white raster with spikes: dark pixels cover at least 5 % of the image (axis
    text alone covers well under 1 %)."""
    pixels = imread(path)[..., :3]
    return bool((pixels.max(axis=2) < 0.2).mean() >= 0.05)
