"""Run Sinabs' own simulator of a NIR graph on event streams (the judge of snngen's float
reference of convolutional graphs). Runs in its own virtual environment: Sinabs 3.1 pins
nir <= 1.0.4, older than snngen's (tests/peers.py, .ci/run).

    python sinabs_run.py GRAPH.nir IN.npz OUT.npz

IN.npz holds ``streams`` (samples, T, K) and ``shape`` (C, H, W), and the options ``single``
(SingleSpike instead of Sinabs' MultiSpike), ``floor`` (keep the membrane floor from_nir sets),
``reset`` ("subtract" or "zero"). OUT.npz holds ``spikes`` (samples, T, outputs).
"""

import sys

import nir
import numpy as np
import sinabs
import torch
from sinabs.activation import MembraneReset, MembraneSubtract, SingleSpike


def main(graph_path, in_path, out_path):
    request = np.load(in_path)
    streams, shape = request["streams"], tuple(int(d) for d in request["shape"])
    single, floor = bool(request["single"]), bool(request["floor"])
    reset = str(request["reset"])
    model = sinabs.from_nir(nir.read(graph_path), batch_size=1)
    for module in model.modules():
        if isinstance(module, sinabs.layers.IAF):
            if single:
                module.spike_fn = SingleSpike
            if not floor:
                module.min_v_mem = None
            module.reset_fn = MembraneSubtract() if reset == "subtract" else MembraneReset()
    outputs = []
    with torch.no_grad():
        for stream in streams:
            for module in model.modules():
                if hasattr(module, "reset_states"):
                    module.reset_states()
            out = model(torch.as_tensor(stream, dtype=torch.float32).reshape(-1, *shape))
            outputs.append((out[0] if isinstance(out, tuple) else out).numpy())
    np.savez(out_path, spikes=np.stack(outputs))


if __name__ == "__main__":
    main(*sys.argv[1:4])
