"""The compatibility presets against the peers' own simulators, at scale: agreement and speed.

    python benchmarks/bench_compat.py [--networks 20] [--steps 1000] [--lava-networks 5]

Runs random xylo-preset networks through XyloSim (Rockpool over xylosim) and random loihi-preset
networks through Lava's bit-accurate LIF + Dense (when a Lava environment exists, see
tests/peers.py), with the golden model beside them in the same run, and prints the share of
steps × neurons whose spikes, membrane and current agree, the rails and multi-spike reached, and
the wall-time ratio of the two simulators.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from peers import lava_python, load_xylosim, run_lava, run_xylosim

from snngen import simulate
from snngen.model.compat import random_compat_network


def agreement(ref, peer) -> dict:
    same = {key: int((getattr(ref, key) == peer[key]).sum()) for key in ("spikes", "state",
                                                                          "current")}
    return {**same, "cells": ref.state.size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", type=int, default=20, help="xylo networks (default 20)")
    parser.add_argument("--lava-networks", type=int, default=5, help="loihi networks (default 5)")
    parser.add_argument("--steps", type=int, default=1000, help="steps a network (default 1000)")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    rows = []
    if load_xylosim() is not None:
        for seed in range(args.networks):
            hidden = int(rng.integers(4, 100))
            k = int(rng.integers(1, 16))
            density, rate = float(rng.uniform(0.05, 0.9)), float(rng.uniform(0.02, 0.6))
            network = random_compat_network("xylo", neurons=hidden, inputs=k, density=density,
                                            seed=seed, readout=int(rng.integers(1, 9)))
            x = np.where(rng.random((args.steps, k)) < rate, rng.integers(1, 16, (args.steps, k)),
                         0)
            start = time.perf_counter()
            ref = simulate(network, args.steps, x)
            ours = time.perf_counter() - start
            start = time.perf_counter()
            peer = run_xylosim(network, x)
            theirs = time.perf_counter() - start
            rows.append(("xylo", network.neurons, agreement(ref, peer), ours, theirs,
                         bool((np.abs(ref.current) >= 32766).any()), int(ref.spikes.max())))
    python = lava_python()
    if python is not None:
        with tempfile.TemporaryDirectory() as folder:
            for seed in range(args.lava_networks):
                n, k = int(rng.integers(4, 64)), int(rng.integers(1, 12))
                network = random_compat_network("loihi", neurons=n, inputs=k, seed=seed,
                                                density=float(rng.uniform(0.05, 0.9)))
                x = (rng.random((args.steps, k)) < rng.uniform(0.02, 0.5)).astype(np.int64)
                x[0] = 0
                start = time.perf_counter()
                ref = simulate(network, args.steps, x)
                ours = time.perf_counter() - start
                start = time.perf_counter()
                peer = run_lava(python, network, x, Path(folder))
                theirs = time.perf_counter() - start
                rows.append(("loihi", n, agreement(ref, peer), ours, theirs,
                             bool((ref.current > (1 << 22)).any()), int(ref.spikes.max())))
    print("| preset | networks | steps × neurons | spikes equal | membrane equal | current equal "
          "| near a rail | max spikes/step | peer time ÷ golden-model time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for preset in ("xylo", "loihi"):
        chosen = [r for r in rows if r[0] == preset]
        if not chosen:
            print(f"| {preset} | 0 | peer not available | | | | | | |")
            continue
        cells = sum(r[2]["cells"] for r in chosen)
        share = {key: 100 * sum(r[2][key] for r in chosen) / cells
                 for key in ("spikes", "state", "current")}
        ratio = sum(r[4] for r in chosen) / sum(r[3] for r in chosen)
        print(f"| {preset} | {len(chosen)} | {cells:,} | {share['spikes']:.3f} % | "
              f"{share['state']:.3f} % | {share['current']:.3f} % | "
              f"{sum(r[5] for r in chosen)}/{len(chosen)} | {max(r[6] for r in chosen)} | "
              f"{ratio:.2f} |")
    exact = all(r[2][key] == r[2]["cells"] for r in rows for key in ("spikes", "state",
                                                                     "current"))
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
