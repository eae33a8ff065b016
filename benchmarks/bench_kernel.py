"""Kernel groups (docs/architecture.md, "Networks with convolution layers"): memory and update rate.

    python benchmarks/bench_kernel.py [--steps T] [--json out.json]

For each convolution below (a 2×16×16 input under full load: every input channel spikes every
step), one group holds the layer by its kernel. The update rate is the kernel group's synaptic
updates (zero kernel taps included: the address generator visits every tap of a window) over
the cycles of the run, measured in Amaranth's simulator and bit-exact against the golden model
(or the benchmark stops); the sweeps that update the layer's neurons are in the cycles too. The
memory columns compare the kernel group's tables (kernel + position table) with the same layer
listed synapse by synapse (``plan_hardware(..., share_kernels=False)``, one group).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from networks import bit_exact_run

from snngen.hw.plan import plan_hardware
from snngen.model.network import Layer, Network, NeuronModel, StateFormat
from snngen.model.structure import Conv2d, Projection

INPUT_SHAPE = (2, 16, 16)

#: name → Conv2d keyword arguments (out channels, kernel side and geometry)
CASES = {
    "8×3×3, stride 1, padding 1": {"channels": 8, "kernel": 3, "padding": 1},
    "8×3×3, stride 2, padding 1": {"channels": 8, "kernel": 3, "stride": 2, "padding": 1},
    "16×5×5, stride 1, padding 2": {"channels": 16, "kernel": 5, "padding": 2},
    "8×3×3, dilation 2, padding 2": {"channels": 8, "kernel": 3, "dilation": 2, "padding": 2},
}


def conv_network(channels: int, kernel: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    conv = Conv2d(rng.integers(-8, 8, size=(channels, INPUT_SHAPE[0], kernel, kernel)),
                  stride, padding, dilation)
    shape = conv.output_shape(INPUT_SHAPE)
    return Network(
        state=StateFormat(12, "signed", "saturate"),
        neuron=NeuronModel(threshold=200, reset="subtract"), weight_bits=5,
        weights=None, input_weights=None,
        layers=(Layer("conv", int(np.prod(shape)), 5, 200, shape),),
        projections=(Projection("input", "conv", (conv,)),), input_shape=INPUT_SHAPE)


def measure(name: str, options: dict, steps: int) -> dict:
    network = conv_network(**options)
    inputs = np.ones((steps, network.inputs), dtype=np.uint8)
    plan = plan_hardware(network, 1)
    listed = plan_hardware(network, 1, share_kernels=False)
    run, per_group = bit_exact_run(plan, steps, inputs, name)
    updates = int(per_group[0])
    cycles = int(run.cycles.sum())
    kernel_bits = plan.synapse_table_bits(0) + plan.pointer_table_bits(0)
    listed_bits = listed.synapse_table_bits(0) + listed.pointer_table_bits(0)
    return {"case": name, "neurons": network.neurons, "steps": steps, "updates": int(updates),
            "cycles": cycles, "updates_per_cycle": round(updates / cycles, 3),
            "kernel_table_bits": kernel_bits, "listed_table_bits": listed_bits,
            "memory_ratio": round(listed_bits / kernel_bits, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4, metavar="T",
                        help="full-load steps simulated per case (default: 4)")
    parser.add_argument("--json", metavar="OUT.json", help="write the results here")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, not {args.steps}")
    rows = [measure(name, options, args.steps) for name, options in CASES.items()]
    print(f"{'convolution':<30} {'neurons':>7} {'updates':>8} {'cycles':>8} {'upd/cyc':>8} "
          f"{'kernel bits':>11} {'listed bits':>11} {'ratio':>6}")
    for r in rows:
        print(f"{r['case']:<30} {r['neurons']:>7} {r['updates']:>8} {r['cycles']:>8} "
              f"{r['updates_per_cycle']:>8} {r['kernel_table_bits']:>11} "
              f"{r['listed_table_bits']:>11} {r['memory_ratio']:>6}")
    if args.json:
        from snngen._files import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
