"""The one figure style of every plot snngen writes (explore, sweep, demo).

Figures are drawn with matplotlib's Agg backend inside :func:`figure_style`, so a plot looks the
same whichever command wrote it and whatever the user's matplotlibrc says, and the PNG bytes are
reproducible (see :func:`snngen._files.atomic_save_figure`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["REGIME_COLORS", "SERIES_COLORS", "figure_style"]

# One colour per dynamical regime, the same in every figure and table that shows regimes: grey for
# silence, blue for a frozen state, green for lasting activity, red for a railed lattice, orange
# for runs still searching.
REGIME_COLORS = {
    "quiescent": "#bdbdbd",
    "fixed point": "#4f8fc0",
    "periodic": "#2ca25f",
    "saturated": "#d7301f",
    "not yet recurrent": "#fe9929",
}

# Series (semantics, precisions, neuron counts): Okabe and Ito's colour-blind-safe palette.
SERIES_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
                 "#000000")

_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 9,
    "axes.titlesize": "medium",
    "axes.labelsize": "medium",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.fontsize": "small",
    "legend.frameon": False,
    "lines.linewidth": 1.3,
    "lines.markersize": 5,
    "image.cmap": "viridis",
}


@contextmanager
def figure_style() -> Iterator:
    """Draw inside this block: yields ``matplotlib.pyplot`` with the shared style applied."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    with matplotlib.rc_context({**_STYLE, "axes.prop_cycle": cycler(color=SERIES_COLORS)}):
        yield plt
