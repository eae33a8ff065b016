"""``snngen explore``: the batched orbit search against the golden model run by run.

``ref_*`` come from :func:`snngen.model.golden.simulate` and :func:`find_orbit` on one network at a
time; ``analyse`` runs the whole batch with early stopping, orbit reconstruction and Brent's
search past T. Every figure of a row must match exactly.
"""

import json

import numpy as np
import pytest
from figures import has_data_marks, has_raster_marks
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from snngen.cli import main
from snngen.hw.plan import plan_hardware
from snngen.model.golden import find_orbit, overflow_events, simulate
from snngen.model.network import StateFormat, load_network
from snngen.study.explore import (
    ExplorePoint,
    analyse,
    effective_leak_shift,
    explore_network,
    plan_tasks,
)
from snngen.study.plots import activity_threshold
from snngen.verify.amaranth import run_amaranth


def ref_row(point: ExplorePoint, steps: int, horizon: int) -> dict:
    network = point.network()
    long = simulate(network, max(steps, horizon))
    orbit = find_orbit(network.initial_state, long.state, long.spikes)
    head = simulate(network, steps)
    row = {
        "rate": round(float(head.spikes.mean()), 6),
        "active_fraction": round(float(head.spikes.any(axis=0).mean()), 6),
        "overflow_events": int(overflow_events(network, head).sum()),
        "transient": None if orbit is None else orbit.transient,
        "period": None if orbit is None else orbit.period,
    }
    if orbit is None:
        row["regime"] = "not yet recurrent"
    else:
        window = long.spikes[orbit.transient - 1:orbit.transient - 1 + orbit.period] \
            if orbit.transient else np.vstack([np.zeros((1, network.neurons), np.uint8),
                                               long.spikes[:orbit.period - 1]])
        if not window.any():
            row["regime"] = "quiescent"
        elif window.all():
            row["regime"] = "saturated"
        else:
            row["regime"] = "fixed point" if orbit.period == 1 else "periodic"
    return row


FIELDS = ("rate", "active_fraction", "overflow_events", "transient", "period", "regime")


@st.composite
def explore_points(draw):
    return ExplorePoint(
        neurons=draw(st.integers(1, 14)),
        density=draw(st.sampled_from((0.1, 0.3, 0.6, 1.0))),
        bits=draw(st.integers(2, 12)),
        seed=draw(st.integers(0, 3)),
        representation=draw(st.sampled_from(("signed", "unsigned"))),
        overflow=draw(st.sampled_from(("saturate", "wrap"))),
        reset=draw(st.sampled_from(("zero", "subtract", "none"))),
        leak_shift=draw(st.sampled_from((None, 1, 2, 4, 9))),
    )


@settings(max_examples=40)
@given(st.lists(explore_points(), min_size=1, max_size=6), st.integers(1, 40),
       st.sampled_from((0, 30, 400)))
def test_batched_rows_equal_the_golden_model_run_by_run(points, steps, extra):
    horizon = steps + extra
    rows = analyse(points, steps, horizon)
    for point, row in zip(points, rows, strict=True):
        expected = ref_row(point, steps, horizon)
        assert {k: row[k] for k in FIELDS} == expected, point


def test_paper_grid_sample_and_orbits_past_t():
    """A slice of the default grid, T = 60 so that many runs close their orbit after T."""
    points = [ExplorePoint(n, d, b, 0) for b in (4, 8, 16) for n in (30, 70, 130)
              for d in (0.1, 0.5, 0.9)]
    rows = analyse(points, 60, 3000)
    past_t = 0
    for point, row in zip(points, rows, strict=True):
        assert {k: row[k] for k in FIELDS} == ref_row(point, 60, 3000), point
        if row["period"] is not None and row["transient"] + row["period"] > 60:
            past_t += 1
    assert past_t >= 3  # the Brent path really ran


def test_every_regime_is_reachable():
    """Each class must be producible, or the classifier could never be wrong."""
    cases = {
        "quiescent": ExplorePoint(20, 0.3, 8, 0, reset="zero", leak_shift=1),
        "saturated": ExplorePoint(20, 0.1, 2, 0, leak_shift=None),
    }
    regimes = {row["regime"] for row in analyse(list(cases.values()), 200)}
    grid = analyse([ExplorePoint(n, d, 8, s) for n in (20, 60) for d in (0.2, 0.8)
                    for s in range(2)], 200)
    regimes |= {row["regime"] for row in grid}
    assert {"quiescent", "periodic", "fixed point"} <= regimes
    short = analyse([ExplorePoint(130, 0.5, 16, 0)], 3)
    assert short[0]["regime"] == "not yet recurrent"


def test_network_recipe_is_quantized_from_one_continuous_network():
    low, high = explore_network(40, 0.5, 6, 3), explore_network(40, 0.5, 14, 3)
    both = (low.weights != 0) & (high.weights != 0)
    assert both.any()
    assert ((low.weights != 0) <= (high.weights != 0)).all()   # coarser rounds more to zero
    assert_array_equal(np.sign(low.weights[both]), np.sign(high.weights[both]))
    # Same continuous value at two scales 2^8 apart: the coarse weight is the fine one / 2^8.
    assert (np.abs(low.weights[both] - high.weights[both] / 256) <= 0.51).all()
    assert high.neuron.threshold == 1 << 13 and low.neuron.threshold == 1 << 5
    assert high.inputs == 0 and not high.bias.any()
    assert effective_leak_shift(4, StateFormat(4, "unsigned")) is None
    assert effective_leak_shift(4, StateFormat(4, "signed")) == 3
    assert effective_leak_shift(3, StateFormat(8, "unsigned")) == 3


def test_tasks_cover_every_point_once():
    points = [ExplorePoint(n, d, b, 0) for b in (4, 8) for n in (10, 50, 90) for d in (0.2, 0.4)]
    tasks = plan_tasks(points, 3)
    flat = [p for task in tasks for p in task]
    assert sorted(p.key for p in flat) == sorted(p.key for p in points)
    assert len(tasks) >= 3


def test_activity_threshold():
    rows = [{"bits": b, "regime": r} for b, r in
            [(2, "quiescent"), (2, "fixed point"), (3, "periodic"), (3, "quiescent"),
             (4, "periodic"), (4, "not yet recurrent"), (5, "periodic"), (5, "fixed point")]]
    assert activity_threshold(rows) == 3
    assert activity_threshold([{"bits": 2, "regime": "fixed point"}]) is None


def _explore(tmp_path, name, *extra):
    out = tmp_path / name
    status = main(["explore", "--neurons", "10:30:10", "--density", "0.2,0.6", "--bits", "3,6",
                   "--steps", "80", "--quiet", "--out", str(out), *extra])
    assert status == 0
    return out


def test_command_outputs_resume_and_determinism(tmp_path, capsys, monkeypatch):
    out = _explore(tmp_path, "a", "--save-networks", "--jobs", "2")
    for name in ("results.csv", "summary.md", "rate_vs_bits.png", "period_vs_bits.png",
                 "raster.png", "membrane.png",
                 "regime_map_unsigned_saturate_reset_none_k_4.png"):
        assert (out / name).stat().st_size > 0, name
    for name in ("rate_vs_bits.png", "period_vs_bits.png", "membrane.png",
                 "regime_map_unsigned_saturate_reset_none_k_4.png"):
        assert has_data_marks(out / name), f"{name} shows no data"
    assert has_raster_marks(out / "raster.png"), "raster.png shows no spikes"
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    for column in ("neurons", "density", "bits", "seed", "representation", "overflow", "reset",
                   "rate", "transient", "period", "regime"):
        assert column in header
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 12
    first = (out / "results.csv").read_bytes()
    # Resumed: nothing is recomputed, the outputs are the same bytes.
    import snngen.study.explore as explore_module

    monkeypatch.setattr(explore_module, "analyse", lambda *a, **k: pytest.fail("recomputed"))
    _explore(tmp_path, "a", "--save-networks")
    assert (out / "results.csv").read_bytes() == first
    monkeypatch.undo()
    assert (_explore(tmp_path, "b", "--jobs", "1") / "results.csv").read_bytes() == first
    assert "Activity" in (out / "summary.md").read_text()
    capsys.readouterr()


def test_saved_network_builds_and_runs_bit_exact_in_rtl(tmp_path, capsys):
    out = _explore(tmp_path, "a", "--save-networks")
    row = json.loads(next((out / "points").glob("*.json")).read_text())
    network = load_network(out / "networks" / f"{row['key']}.json")
    inputs = np.zeros((12, 0), dtype=np.uint8)
    expected = simulate(network, 12)
    got = run_amaranth(plan_hardware(network, 2), 12, inputs)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)
    capsys.readouterr()


def test_dask_scheduler_gives_identical_results(tmp_path, capsys):
    distributed = pytest.importorskip("dask.distributed", reason="pip install 'snngen[dask]'")
    local = _explore(tmp_path, "local", "--jobs", "1")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = _explore(tmp_path, "dask", "--scheduler", cluster.scheduler_address)
    assert (remote / "results.csv").read_bytes() == (local / "results.csv").read_bytes()
    capsys.readouterr()


@pytest.mark.parametrize(("argv", "message"), [
    (["--neurons", "50:30"], "--neurons: must be a comma list or an increasing range"),
    (["--neurons", "0,5"], "--neurons values must be in 1..4096, not 0"),
    (["--density", "0"], "--density values must be in 0..1 (above 0), not 0.0"),
    (["--bits", "1"], "--bits values must be in 2..32, not 1"),
    (["--steps", "10", "--horizon", "5"], "--horizon must be in 10..100000000"),
    (["--representation", "both"], "--representation: must be 'all' or a comma list"),
    (["--show", "10:x:4"], "--show must be N:DENSITY:BITS[:SEED], not '10:x:4'"),
    (["--seeds", "0"], "--seeds must be in 1..10000, not 0"),
])
def test_bad_explore_input(tmp_path, capsys, argv, message):
    status = main(["explore", "--out", str(tmp_path / "x"), "--quiet", *argv])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def _explore_command(out):
    import sys

    return [sys.executable, "-m", "snngen", "explore", "--neurons", "64:192:16", "--density",
            "0.2,0.5", "--seeds", "8", "--steps", "3000", "--jobs", "2", "--quiet",
            "--out", str(out)]


def _wait_for_points(folder, process, limit=120):
    import time

    start = time.monotonic()
    while time.monotonic() - start < limit and process.poll() is None:
        if list((folder / "points").glob("*.json")):
            return
        time.sleep(0.05)
    pytest.fail("the study wrote no point in time")


@pytest.mark.full
def test_ctrl_c_keeps_finished_runs_and_the_same_command_resumes(tmp_path):
    import subprocess

    from interrupts import interrupt_when

    out = tmp_path / "study"
    status, stopped, err = interrupt_when(
        _explore_command(out), lambda: bool(list((out / "points").glob("*.json"))), limit=120)
    if status == 0:
        pytest.skip("the study finished before the interrupt reached it")
    kept = len(list((out / "points").glob("*.json")))
    assert status == 130 and stopped < 2, (status, stopped, err)
    assert err.count("\n") == 1 and "Traceback" not in err and "Warning" not in err, err
    total = 9 * 2 * 8 * 3   # neurons x densities x seeds x the default bit widths
    import re

    reported = re.search(rf"interrupted: (\d+) of {total} runs are kept; the same command "
                         r"resumes", err)
    assert reported is not None, err
    # Ctrl-C may land between a file's rename and its count: one more file, never fewer.
    assert kept - int(reported.group(1)) in (0, 1)
    assert 0 < kept < total
    (out / "points" / ".stale.partial").write_text("{")   # as a SIGKILL mid-write leaves
    resumed = subprocess.run(_explore_command(out), capture_output=True, text=True,
                             timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list((out / "points").glob("*.json"))) == total
    assert not list((out / "points").glob(".*.partial"))
    assert len((out / "results.csv").read_text().splitlines()) == total + 1


def test_no_worker_outlives_a_killed_study(tmp_path):
    import subprocess
    import time

    out = tmp_path / "study"
    process = subprocess.Popen(_explore_command(out), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_for_points(out, process)
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True,
                              text=True, check=False).stdout.split()
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().split()[2] != "Z"
        except OSError:
            return False

    while time.monotonic() < deadline and any(alive(pid) for pid in children):
        time.sleep(0.1)
    assert children and not [pid for pid in children if alive(pid)]
