"""Every figure of ``snngen sweep`` is drawn and shows data, in the one shared style."""

import itertools

import matplotlib
from figures import has_data_marks

from snngen.synth.sweep import SWEEP_PLOTS, _write_outputs


def _grid_rows():
    # The shape of a measured sweep: every dimension varies, so every plot has an axis.
    rows = []
    for target, neurons, bits, groups, density in itertools.product(
            ("ice40-up5k", "ecp5-85f"), (16, 64), (4, 8), (1, 2), (0.1, 0.5)):
        synapses = round(density * neurons * neurons)
        rows.append({
            "target": target, "neurons": neurons, "bits": bits, "groups": groups,
            "density": density, "seed": 0, "runtime_weights": False, "synapses": synapses,
            "status": "ok", "lut": 300 + 9 * neurons + 40 * bits, "ff": 200 + 4 * neurons,
            "carry": 10, "bram": 1 + synapses // 256, "spram": 0, "dsp": 0, "logic_cells": None,
            "fmax_mhz": 80.0 - 2.5 * bits - neurons / 16, "timing_met": True,
            "memory_bits": synapses * (bits + 7), "cycles_per_step_upper": synapses / groups + 9,
            "cycles_per_step_lower": synapses / groups / 2, "firing_rate": 0.1, "error": None})
    return rows


def test_every_sweep_figure_shows_data(tmp_path):
    skipped = _write_outputs(tmp_path, _grid_rows())
    assert skipped == {}
    for name, *_ in SWEEP_PLOTS:
        assert has_data_marks(tmp_path / name), f"{name} shows no data"
    assert "Plots not written" not in (tmp_path / "summary.md").read_text()


def test_drawing_leaves_the_users_matplotlib_settings_alone(tmp_path):
    with matplotlib.rc_context({"axes.grid": False, "font.size": 14.0}):
        _write_outputs(tmp_path, _grid_rows())
        assert matplotlib.rcParams["axes.grid"] is False
        assert matplotlib.rcParams["font.size"] == 14.0


def test_the_same_rows_give_the_same_figure_bytes(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    _write_outputs(first, _grid_rows())
    _write_outputs(second, _grid_rows())
    for name, *_ in SWEEP_PLOTS:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
