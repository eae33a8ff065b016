"""The peers' own simulators, run on snngen networks: the judges of the compatibility presets.

- Xylo: Rockpool's ``XyloSim`` (``rockpool.devices.xylo.syns61201.xylo_sim``, Rockpool 3.1) over
  the C++ ``xylosim`` package (built from PyPI). Rockpool's ``devices.xylo`` package imports
  ``samna`` (SynSense's closed hardware driver) in its ``__init__``; we register the packages on
  the way to ``xylo_sim`` as empty namespace modules with their real ``__path__``, so Python loads
  the real simulator modules without running those ``__init__`` files. Nothing of the simulator
  is replaced.
- Loihi: Lava's bit-accurate LIF + Dense (lava-nc 0.10, Python < 3.11) in a Python 3.10 virtual
  environment when one is there (``SNNGEN_LAVA_PYTHON``, or ``~/.cache/snngen/lava-venv``), run as
  a subprocess on a script that builds the processes with Lava's own API; and always a
  transcription of Lava's published source (tests/lava_transcription.py).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

LAVA_SCRIPT = Path(__file__).with_name("lava_run.py")


def load_xylosim():
    """Rockpool's XyloSim class for Xylo core v2, or None when rockpool/xylosim are missing."""
    try:
        import rockpool
        import xylosim.v2  # noqa: F401 - the C++ simulator itself
    except ImportError:
        return None
    base = Path(rockpool.__file__).parent / "devices"
    for name, folder in (("rockpool.devices", base), ("rockpool.devices.xylo", base / "xylo"),
                         ("rockpool.devices.xylo.syns61300", base / "xylo" / "syns61300"),
                         ("rockpool.devices.xylo.syns61201", base / "xylo" / "syns61201")):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
    return importlib.import_module("rockpool.devices.xylo.syns61201.xylo_sim").XyloSim


def xylo_specification(network) -> dict:
    """The arguments of ``XyloSim.from_specification`` for a compat-xylo network."""
    d = network.dynamics
    hidden = int(np.count_nonzero(d.max_spikes > 1))
    w, w_in = network.weights, network.input_weights
    theta = np.broadcast_to(network.thresholds, (network.neurons,))
    ws, ws_in = d.weight_shift, d.input_weight_shift
    return {
        "weights_in": w_in[:hidden].T[:, :, None],
        "weights_rec": w[:hidden, :hidden].T[:, :, None],
        "weights_out": w[hidden:, :hidden].T,
        "dash_mem": d.membrane_decay_parameter[:hidden],
        "dash_mem_out": d.membrane_decay_parameter[hidden:],
        "dash_syn": d.current.decay_parameter[:hidden],
        "dash_syn_out": d.current.decay_parameter[hidden:],
        "threshold": theta[:hidden], "threshold_out": theta[hidden:],
        "bias": network.bias[:hidden], "bias_out": network.bias[hidden:],
        "weight_shift_in": int(ws_in[0]) if hidden else 0,
        "weight_shift_rec": int(ws[0]) if hidden else 0,
        "weight_shift_out": int(ws[hidden]) if hidden < network.neurons else 0,
    }


def run_xylosim(network, inputs: np.ndarray) -> dict:
    """Spikes, membrane and current of every neuron at every step, from XyloSim."""
    xylo_sim = load_xylosim()
    spec = xylo_specification(network)
    hidden = spec["weights_rec"].shape[0]
    sim = xylo_sim.from_specification(**spec)
    out, _, rec = sim(np.asarray(inputs, dtype=np.int64), record=True)
    steps = inputs.shape[0]

    def columns(values, width):
        return np.asarray(values, dtype=np.int64).reshape(steps, width)

    readout = network.neurons - hidden
    return {
        "spikes": np.concatenate([columns(rec["Spikes"], hidden), columns(out, readout)], axis=1),
        "state": np.concatenate([columns(rec["Vmem"], hidden), columns(rec["Vmem_out"], readout)],
                                axis=1),
        "current": np.concatenate([columns(rec["Isyn"], hidden),
                                   columns(rec["Isyn_out"], readout)], axis=1),
    }


def lava_python() -> str | None:
    """A Python that imports lava (3.10), or None."""
    candidates = [os.environ.get("SNNGEN_LAVA_PYTHON"),
                  str(Path.home() / ".cache" / "snngen" / "lava-venv" / "bin" / "python")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _one_or_all(values):
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def loihi_parameters(network) -> dict:
    """Lava's parameters of a compat-loihi network (the inverse of loihi_network)."""
    d, c = network.dynamics, network.dynamics.current
    return {
        "weights": network.weights.tolist(), "input_weights": network.input_weights.tolist(),
        # One value when every neuron shares it; per neuron otherwise (lava_run.py).
        "du": _one_or_all(c.decay_parameter - 1), "dv": _one_or_all(d.membrane_decay_parameter),
        "vth": network.neuron.threshold >> 6, "bias": network.bias.tolist(),
        "weight_exp": int(d.weight_shift[0]) - 6, "input_weight_exp": int(d.input_weight_shift[0]) - 6,
    }


def run_lava(python: str, network, inputs: np.ndarray, workdir: Path) -> dict:
    """Run Lava's own processes in `python`; inputs are this network's x(t), t = 1..T."""
    request = workdir / "lava_request.json"
    request.write_text(json.dumps({**loihi_parameters(network), "inputs": inputs.tolist()}))
    result = subprocess.run([python, str(LAVA_SCRIPT), str(request)], capture_output=True,
                            text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"lava run failed: {result.stderr[-2000:]}")
    data = json.loads((workdir / "lava_request.json.out").read_text())
    return {key: np.asarray(value, dtype=np.int64) for key, value in data.items()}


SINABS_SCRIPT = Path(__file__).with_name("sinabs_run.py")


def sinabs_python() -> str | None:
    """The Python of the Sinabs environment (``SNNGEN_SINABS_PYTHON``, or
    ``~/.cache/snngen/sinabs-venv``, which .ci/run creates), or None."""
    candidate = os.environ.get("SNNGEN_SINABS_PYTHON") or str(
        Path.home() / ".cache" / "snngen" / "sinabs-venv" / "bin" / "python")
    return candidate if Path(candidate).is_file() else None


def run_sinabs(graph, streams: np.ndarray, shape, *, single: bool, floor: bool, reset: str,
               work: Path) -> np.ndarray:
    """Sinabs' simulation (sinabs.from_nir) of the NIR file `graph`: output spikes, shape
    (samples, T, outputs)."""
    python = sinabs_python()
    if python is None:
        raise RuntimeError("no Sinabs environment (.ci/run creates ~/.cache/snngen/sinabs-venv)")
    request, answer = work / "sinabs_in.npz", work / "sinabs_out.npz"
    np.savez(request, streams=streams, shape=np.asarray(shape), single=single, floor=floor,
             reset=reset)
    subprocess.run([python, str(SINABS_SCRIPT), str(graph), str(request), str(answer)],
                   check=True, capture_output=True, text=True, env={
                       **os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"})
    return np.load(answer)["spikes"]
