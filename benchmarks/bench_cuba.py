"""What semantics v2 costs in hardware: CUBA and Loihi-preset cores beside today's LIF core.

    python benchmarks/bench_cuba.py [--targets ice40-up5k,ecp5-85f] [--variants lif,xylo]
                                    [--out cuba.json]

Synthesizes, places and routes (yosys + nextpnr from YoWASP, placer seed 1) in one run:

* ``lif``: the default ``snngen network`` (128 neurons, 8 inputs, 8-bit signed saturating state,
  leak shift 4, density 0.2), semantics v1;
* ``cuba``: the same network and weights with a synaptic current (8-bit signed saturating,
  ``shift`` decay k = 2, decay then add, exact sums) and the same membrane decay;
* ``cuba-per-neuron``: ``cuba`` with a decay k per neuron (stored beside the bias) and a
  refractory period of 0..2 steps per neuron;
* ``loihi``: a Loihi-preset network of the same size and density (24-bit states, multiplicative
  decays with Lava's du, dv: the multipliers go to SB_MAC16 / MULT18X18D);
* ``xylo``: a Xylo-preset network, 124 hidden + 4 readout neurons, same inputs and density
  (16-bit states, per-event saturation of the current kept in order, up to 31 spikes a step);
  two groups, one per layer.

Prints a table (LUT, FF, BRAM, DSP, Fmax, and the LUT ratio to ``lif`` on the same target) and
writes JSON with every figure. G = 1 except for ``xylo``.
"""

import argparse
import json
import sys

import numpy as np

from snngen.model.compat import random_compat_network
from snngen.model.generate import random_network
from snngen.model.network import Current, Dynamics, StateFormat
from snngen.synth.flow import synthesize


def variants() -> dict:
    lif = random_network()
    leak = lif.neuron.leak_shift
    rng = np.random.default_rng(2026)
    current = Current(StateFormat(8, "signed", "saturate"), "shift", 2, "decay_then_add", 0)
    neuron = lif.neuron.__class__(threshold=lif.neuron.threshold, leak_shift=None,
                                  reset=lif.neuron.reset, reset_value=lif.neuron.reset_value)
    cuba = lif.replace(neuron=neuron, dynamics=Dynamics(
        current=current, membrane_decay="shift", membrane_decay_parameter=leak))
    varied = lif.replace(neuron=neuron, dynamics=Dynamics(
        current=Current(current.state, "shift", rng.integers(1, 5, size=lif.neurons),
                        "decay_then_add", 0),
        membrane_decay="shift", membrane_decay_parameter=rng.integers(2, 6, size=lif.neurons),
        refractory=rng.integers(0, 3, size=lif.neurons)))
    loihi = random_compat_network("loihi", neurons=lif.neurons, inputs=lif.inputs, density=0.2,
                                  seed=0)
    xylo = random_compat_network("xylo", neurons=lif.neurons - 4, inputs=lif.inputs,
                                 density=0.2, seed=0)
    return {"lif": lif, "cuba": cuba, "cuba-per-neuron": varied, "loihi": loihi, "xylo": xylo}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="ice40-up5k,ecp5-85f",
                        help="comma-separated targets (default: ice40-up5k,ecp5-85f)")
    parser.add_argument("--out", help="write every figure as JSON here")
    parser.add_argument("--variants", default="lif,cuba,cuba-per-neuron,loihi,xylo",
                        help="comma-separated variants to build (default: all; lif first, the "
                        "ratios' base)")
    args = parser.parse_args()
    rows = []
    for target in args.targets.split(","):
        base = None
        chosen = args.variants.split(",")
        for name, network in variants().items():
            if name not in chosen:
                continue
            # One group, except Xylo's two layers (hidden, readout), which need one each.
            report = synthesize(network, target, groups=max(1, len(network.layers)))
            luts = report["lut"]
            base = luts if name == "lif" else base
            base = luts if base is None else base
            row = {"target": target, "variant": name, "lut": report["lut"], "ff": report["ff"],
                   "carry": report["carry"], "bram": report["bram"], "dsp": report["dsp"],
                   "logic_cells": report["logic_cells"], "fmax_mhz": report["fmax_mhz"],
                   "lut_ratio": round(luts / base, 3)}
            rows.append(row)
            print(f"{target:11} {name:16} LUT {row['lut']:6} FF {row['ff']:6} "
                  f"BRAM {row['bram']:3} DSP {row['dsp']:2} LC {row['logic_cells']!s:>6} "
                  f"Fmax {row['fmax_mhz']:.1f} MHz  LUT×{row['lut_ratio']:.2f}", flush=True)
    if args.out:
        with open(args.out, "w") as file:
            json.dump(rows, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
