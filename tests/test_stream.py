"""Long runs in bounded memory: the resumable stepper, streamed trace folders, the streamed summary.

``ref_*`` is :func:`snngen.model.golden.simulate` (one run held in memory) and, for orbits, a
brute-force search over every whole state; ``stream_*`` is :mod:`snngen.model.stream`.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from strategies import network_documents, v3_documents

from snngen.cli import main
from snngen.model.generate import DEFAULTS, random_network
from snngen.model.golden import Stepper, Trace, check_inputs, find_orbit, simulate
from snngen.model.network import network_from_json
from snngen.model.stream import (
    OrbitSearch,
    RunSummary,
    TraceFolder,
    lattice_dtype,
    measure_transient,
    recorded_arrays,
    run_chunked,
)

SLOW_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


def ref_trace(network, steps, x):
    return simulate(network, steps, x)


def stream_trace(network, x, cuts, method="auto"):
    """The trace of `network` stepped in chunks ending at the sorted step numbers `cuts`."""
    stepper = Stepper(network, method)
    parts, start = [], 0
    for end in [*cuts, len(x)]:
        parts.append(stepper.advance(x[start:end]))
        start = end
    current = None if parts[0].current is None else np.concatenate([p.current for p in parts])
    return Trace(spikes=np.concatenate([p.spikes for p in parts]),
                 state=np.concatenate([p.state for p in parts]), current=current)


def stimulus(network, steps, seed, rate=0.3):
    count = 1 if network.dynamics is None else network.dynamics.input_max_count
    rng = np.random.default_rng(seed)
    return ((rng.random((steps, network.inputs)) < rate)
            * rng.integers(1, count + 1, size=(steps, network.inputs))).astype(np.uint8)


@settings(max_examples=120, deadline=None, suppress_health_check=SLOW_HEALTH)
@given(st.one_of(network_documents(), v3_documents()), st.integers(1, 40),
       st.lists(st.integers(0, 40), max_size=5), st.sampled_from(["dense", "event"]),
       st.integers(0, 2**32 - 1))
def test_a_run_in_chunks_equals_the_whole_run(doc, steps, cuts, method, seed):
    network = network_from_json(doc)
    x = check_inputs(network, steps, stimulus(network, steps, seed))
    whole = ref_trace(network, steps, x)
    chunked = stream_trace(network, x, sorted({c for c in cuts if c <= steps}), method)
    assert_array_equal(chunked.spikes, whole.spikes)
    assert_array_equal(chunked.state, whole.state)
    if whole.current is None:
        assert chunked.current is None
    else:
        assert_array_equal(chunked.current, whole.current)


def brute_force_orbit(network, steps):
    """The first revisit of the whole state (v, s, I, refractory counters, bias phase), found
    by stepping one step at a time and comparing with every earlier state."""
    stepper = Stepper(network, "dense")
    x = np.zeros((1, network.inputs), np.uint8)
    dynamics = network.dynamics
    current = None if dynamics is None or dynamics.current is None else dynamics.current.initial
    n = network.neurons
    hidden = None
    if dynamics is not None:
        width = (n if dynamics.refractory.any() else 0) + (1 if dynamics.bias_delay.any() else 0)
        hidden = [0] * width if width else None
    seen = [(tuple(network.initial_state), (0,) * n,
             None if current is None else tuple(current), None if hidden is None else
             tuple(hidden))]
    for t in range(1, steps + 1):
        trace = stepper.advance(x)
        extra = stepper.hidden_state()
        key = (tuple(trace.state[0]), tuple(trace.spikes[0]),
               None if trace.current is None else tuple(trace.current[0]),
               None if extra is None else tuple(extra[0]))
        if key in seen:
            first = seen.index(key)
            return first, t - first
        seen.append(key)
    return None


def stream_orbit(network, steps, exact_bytes):
    summary = run_chunked(network, steps, None, method="dense", exact_bytes=exact_bytes)
    orbit = summary["orbit"]
    return summary, None if orbit is None else (orbit["transient"], orbit["period"])


@settings(max_examples=80, deadline=None, suppress_health_check=SLOW_HEALTH)
@given(st.one_of(network_documents(max_neurons=3, bits=st.just(4)),
                 v3_documents(max_neurons=3, bits=st.just(4))),
       st.integers(1, 200))
def test_the_streamed_orbit_is_the_first_revisit_of_the_whole_state(doc, steps):
    network = network_from_json(doc)
    expected = brute_force_orbit(network, steps)
    summary, exact = stream_orbit(network, steps, exact_bytes=1 << 20)
    assert summary["orbit_search"] == "exact"
    assert exact == expected
    # The bounded search (a budget of one state) finds every orbit with μ + 2λ ≤ T, exactly.
    summary, bounded = stream_orbit(network, steps, exact_bytes=1)
    if summary["orbit_search"] == "exact":  # found at step 1, before the one state was held
        assert bounded == expected == (0, 1)
    elif expected is not None and expected[0] + 2 * expected[1] <= steps:
        assert bounded == expected
    else:
        assert bounded in (None, expected)


def test_the_streamed_orbit_agrees_with_find_orbit_on_the_published_shape():
    # The seed paper's lattice: 4-bit unsigned, no reset, N = 30, density 0.5, 1000 steps.
    network = random_network(neurons=30, inputs=0, bits=4, weight_bits=4, density=0.5,
                             representation="unsigned", reset="none", seed=5)
    trace = simulate(network, 1000)
    expected = find_orbit(network.initial_state, trace.state, trace.spikes)
    _, found = stream_orbit(network, 1000, exact_bytes=1 << 20)
    assert expected is not None and found == (expected.transient, expected.period)


def counter_document(threshold, **dynamics):
    """One neuron counting up by its bias of 1 to `threshold`, then reset to 0."""
    return {
        "format": "snngen-network", "version": 3, "neurons": 1, "inputs": 0,
        "state_bits": 8, "weight_bits": 8, "representation": "unsigned",
        "overflow": "saturate", "rail": "full", "leak_shift": None, "threshold": threshold,
        "reset": "zero", "reset_value": 0, "weights": [[0]], "input_weights": [[]],
        "bias": [1], "initial_state": [0],
        "dynamics": {"current": None, "membrane_decay": "none", "membrane_decay_parameter": 0,
                     "accumulate": "exact", "membrane_sum": "exact", "compare": ">=",
                     "max_spikes": 1, "refractory": 0, "weight_shift": 0,
                     "input_weight_shift": 0, "input_max_count": 1, "compat": None,
                     **dynamics},
    }


def test_measure_transient_is_exact_across_chunk_boundaries():
    # A counter: v runs 0 → 1 → … → 4 (spike, reset) and is periodic after one step, period 4;
    # the bias delay holds it for 7 steps first, so μ = 8 lies past the first chunk of 3 rows.
    doc = counter_document(threshold=4, bias_delay=7)
    network = network_from_json(doc)
    expected = brute_force_orbit(network, 100)
    assert expected == (8, 4)
    import snngen.model.stream as stream

    saved = stream.CHUNK_BYTES
    try:
        stream.CHUNK_BYTES = 3 * 25  # three steps a chunk
        assert measure_transient(network, 4, "dense") == 8
        _, bounded = stream_orbit(network, 100, exact_bytes=1)
    finally:
        stream.CHUNK_BYTES = saved
    assert bounded == expected


def test_the_bounded_search_holds_few_states():
    network = random_network(**{**DEFAULTS, "neurons": 64, "seed": 2})
    stepper = Stepper(network)
    summary = RunSummary(network, stepper, search_orbit=True, exact_bytes=1)
    for _ in range(50):
        summary.add(stepper.advance(np.zeros((200, network.inputs), np.uint8)), None)
    search: OrbitSearch = summary.search
    assert search.first_seen is None and search.found is None
    # The stack holds the suffix minima of 10,000 states: O(log t) of them, not thousands.
    assert len(search.stack) < 60


def test_a_trace_folder_holds_the_run_as_npy_files(tmp_path):
    network = random_network(**{**DEFAULTS, "neurons": 20, "seed": 4})
    steps = 5000
    x = stimulus(network, steps, 1)
    expected = simulate(network, steps, x)
    folder = tmp_path / "trace"
    with TraceFolder(str(folder), network.neurons, steps,
                     recorded_arrays(network, "state")) as writer:
        summary = run_chunked(network, steps, x, sinks=(writer,))
        writer.finish(summary)
    assert sorted(os.listdir(folder)) == ["spikes.npy", "state.npy", "summary.json"]
    state = np.load(folder / "state.npy", mmap_mode="r")
    assert isinstance(state, np.memmap) and state.dtype == lattice_dtype(network.state)
    assert_array_equal(state, expected.state)
    assert_array_equal(np.load(folder / "spikes.npy"), expected.spikes)
    written = json.loads((folder / "summary.json").read_text())
    assert written["spikes"] == int(expected.spikes.sum()) and written["driven"] is True


def test_an_interrupted_run_leaves_no_partial_folder_and_keeps_the_old_trace(tmp_path):
    network = random_network(**{**DEFAULTS, "neurons": 8, "seed": 1})
    folder = tmp_path / "trace"
    assert main(["sim", _save(network, tmp_path), "--steps", "100", "--out", str(folder),
                 "--quiet"]) == 0
    before = np.load(folder / "state.npy")

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), \
            TraceFolder(str(folder), 8, 10**6,
                        recorded_arrays(network, "state")) as writer:
        run_chunked(network, 10**6, None, sinks=(writer,), progress=interrupt)
    assert sorted(os.listdir(tmp_path)) == ["net.json", "trace"]
    assert_array_equal(np.load(folder / "state.npy"), before)


def _save(network, folder):
    from snngen.model.network import save_network

    path = os.path.join(folder, "net.json")
    save_network(network, path)
    return path


@pytest.mark.parametrize("record, files", [
    ("state", ["current.npy", "spikes.npy", "state.npy", "summary.json"]),
    ("spikes", ["spikes.npy", "summary.json"]),
    ("none", ["summary.json"]),
])
def test_sim_records_what_it_is_asked_for(tmp_path, capsys, record, files):
    from snngen.model.compat import random_compat_network

    network = random_compat_network("xylo", neurons=12, inputs=3, seed=3)
    net = _save(network, tmp_path)
    folder = tmp_path / "run"
    assert main(["sim", net, "--steps", "300", "--out", str(folder), "--record", record,
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(os.listdir(folder)) == files
    assert json.loads((folder / "summary.json").read_text()) == printed
    assert printed["record"] == record
    expected = simulate(network, 300)
    if record != "none":
        assert_array_equal(np.load(folder / "spikes.npy"), expected.spikes)
    if record == "state":
        assert_array_equal(np.load(folder / "current.npy"), expected.current)
    # The summary does not depend on what is recorded, nor on where the trace goes.
    assert main(["sim", net, "--steps", "300", "--out", str(tmp_path / "t.npz"), "--json"]) == 0
    in_memory = json.loads(capsys.readouterr().out)
    assert {**in_memory, "record": record} == printed


def test_sim_without_out_prints_the_summary_only(tmp_path, capsys):
    network = random_network(**{**DEFAULTS, "neurons": 16, "inputs": 0, "seed": 7})
    net = _save(network, tmp_path)
    assert main(["sim", net, "--steps", "2000", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    trace = simulate(network, 2000)
    orbit = find_orbit(network.initial_state, trace.state, trace.spikes)
    assert summary["spikes"] == int(trace.spikes.sum())
    assert summary["orbit"] == (None if orbit is None else
                                {"transient": orbit.transient, "period": orbit.period})
    assert sorted(os.listdir(tmp_path)) == ["net.json"]


def test_a_memory_mapped_npy_stimulus_equals_the_npz(tmp_path, capsys):
    network = random_network(**{**DEFAULTS, "neurons": 10, "seed": 8})
    net = _save(network, tmp_path)
    x = stimulus(network, 400, 2)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", inputs=x)
    for stim, out in (("x.npy", "a"), ("x.npz", "b")):
        assert main(["sim", net, "--steps", "400", "--input", str(tmp_path / stim),
                     "--out", str(tmp_path / out), "--quiet"]) == 0
    assert_array_equal(np.load(tmp_path / "a" / "state.npy"),
                       np.load(tmp_path / "b" / "state.npy"))
    assert_array_equal(np.load(tmp_path / "a" / "state.npy"), simulate(network, 400, x).state)


def run_cli(*argv):
    return subprocess.run([sys.executable, "-m", "snngen", *argv], check=False,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("case, message", [
    ("bad_value", "--input {stim}: inputs[70000][1] must be 0 or 1, not 7"),
    ("npz_none", "--record none writes no TRACE.npz"),
    ("not_a_trace", "--out {tmp}/keep is an existing folder that is not a trace folder"),
    ("disk", "GiB free on its disk"),
])
def test_bad_long_runs_get_one_line(tmp_path, case, message):
    network = random_network(**{**DEFAULTS, "neurons": 8, "seed": 1})
    net = _save(network, tmp_path)
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "thesis.tex").write_text("precious")
    stim = tmp_path / "x.npy"
    x = np.zeros((100_000, network.inputs), np.uint8)
    x[70_000, 1] = 7
    np.save(stim, x)
    argv = {"bad_value": ["--steps", "100000", "--input", str(stim), "--out", str(tmp_path / "o")],
            "npz_none": ["--steps", "10", "--out", str(tmp_path / "o.npz"), "--record", "none"],
            "not_a_trace": ["--steps", "10", "--out", str(tmp_path / "keep")],
            "disk": ["--steps", str(10**12), "--out", str(tmp_path / "o")]}[case]
    result = run_cli("sim", net, *argv, "--quiet")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert message.format(stim=stim, tmp=tmp_path) in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["keep", "net.json", "x.npy"]
    assert os.listdir(tmp_path / "keep") == ["thesis.tex"]


@pytest.mark.full
def test_a_long_run_takes_bounded_memory(tmp_path):
    """10⁶ steps of 128 neurons would hold 1.1 GiB of trace in memory; streamed, the process
    stays far below (the budget of the exact orbit search, 64 MiB, and one chunk)."""
    network = random_network(**{**DEFAULTS, "seed": 0})
    net = _save(network, tmp_path)
    # VmHWM: this process image's own peak (ru_maxrss would count the pytest pages the child
    # held between fork and exec).
    code = ("import sys; from snngen.cli import main; status = main(sys.argv[1:]); "
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]);"
            " sys.exit(status)")
    steps = 1_000_000
    result = subprocess.run([sys.executable, "-c", code, "sim", net, "--steps", str(steps),
                             "--out", str(tmp_path / "run"), "--record", "spikes", "--quiet",
                             "--json"], check=False, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr
    summary_line, rss_line = result.stdout.strip().splitlines()
    peak = int(rss_line) * 1024
    in_memory = steps * network.neurons * 9
    assert peak < 400 << 20 < in_memory / 2
    spikes = np.load(tmp_path / "run" / "spikes.npy", mmap_mode="r")
    assert spikes.shape == (steps, 128)
    assert json.loads(summary_line)["spikes"] == int(spikes.sum(dtype=np.int64))
    head = simulate(network, 20_000)
    assert_array_equal(spikes[:20_000], head.spikes)


def test_hidden_state_makes_a_refractory_orbit_exact():
    # One neuron driven by its bias, refractory for 3 steps after each spike: the membrane alone
    # repeats before the whole state does.
    doc = counter_document(threshold=2, refractory=3)
    network = network_from_json(doc)
    _, orbit = stream_orbit(network, 50, exact_bytes=1 << 20)
    assert orbit == brute_force_orbit(network, 50)
    assert orbit is not None and orbit[1] == 5
