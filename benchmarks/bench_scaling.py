"""Hardware scaling figures of docs/results.md: resources, post-route Fmax, cycles and latency.

    python benchmarks/bench_scaling.py [--only NAME ...] [--json out.json] [--no-cycles]
                                       [--no-pnr] [--work-dir DIR]

Every configuration is synthesized with `snngen synth`'s flow (yosys + nextpnr from YoWASP, placer
seed 1, ECP5 speed grade 6); cycles per step are measured in Amaranth's simulator on the same
design (the same cycles as the DP16KD build synthesis uses; bit-exact against the golden model,
or the benchmark stops), and the latency of a 25-step MNIST-size image (for `cnn-ecp5`, the small
convolutional network, a 25-step sample of 2,000 input events) is cycles × the achieved clock.
`nmnist-ecp5` is the NIR paper's N-MNIST CNN at 8 bits (benchmarks/bench_nmnist_hw.py, which
measures its cycles), with its kernels in ROM.
Synthesis runs two at a time; a configuration that does not fit is a row saying what ran
out. `--no-pnr` stops after yosys (resources and cycles, no Fmax), for configurations as large
as G = 48 whose place and route would take hours.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from functools import partial

from bench_nmnist_hw import nmnist_network
from networks import (
    bit_exact_run,
    cnn_input,
    mnist_input,
    mnist_network,
    odin_network,
    small_cnn_network,
    sparse_network,
)

from snngen.hw.plan import plan_hardware, spike_queue_depth_for
from snngen.model.generate import random_network
from snngen.synth.flow import TARGETS, SynthesisError, bank_depth_for, pack_bits_for, synthesize

STEPS = 25

#: name → (network factory, target, groups, runtime weights, input factory)
CONFIGS = {
    "default-ecp5": (random_network, "ecp5-85f", 1, False, None),
    "default-up5k": (random_network, "ice40-up5k", 1, False, None),
    "mnist-G2": (mnist_network, "ecp5-85f", 2, True, mnist_input),
    "mnist-G6": (mnist_network, "ecp5-85f", 6, True, mnist_input),
    "mnist-G8": (mnist_network, "ecp5-85f", 8, True, mnist_input),
    "mnist-G32": (mnist_network, "ecp5-85f", 32, True, mnist_input),
    "mnist-G33": (mnist_network, "ecp5-85f", 33, True, mnist_input),
    "mnist-G48": (mnist_network, "ecp5-85f", 48, True, mnist_input),
    "mnist4-up5k": (partial(mnist_network, 4), "ice40-up5k", 2, True, mnist_input),
    "n1024-G8": (partial(sparse_network, 1024), "ecp5-85f", 8, True, None),
    "n768-up5k": (partial(sparse_network, 768), "ice40-up5k", 1, True, None),
    "odin4-up5k": (odin_network, "ice40-up5k", 1, True, None),
    "odin8-up5k": (partial(odin_network, 8), "ice40-up5k", 1, True, None),
    "cnn-ecp5": (small_cnn_network, "ecp5-85f", 2, True, cnn_input),
    "cnn-up5k": (small_cnn_network, "ice40-up5k", 2, True, cnn_input),
    "cnn4-up5k": (partial(small_cnn_network, 4), "ice40-up5k", 2, True, cnn_input),
    "nmnist-ecp5": (nmnist_network, "ecp5-85f", 5, False, None),
}


def _synthesize(name: str, work_dir: str | None = None, pnr: bool = True) -> dict:
    factory, target, groups, runtime, _ = CONFIGS[name]
    network = factory()
    start = time.time()
    try:
        report = synthesize(network, target, groups=groups, runtime_weights=runtime, seed=1,
                            work_dir=None if work_dir is None else Path(work_dir) / name,
                            pnr=pnr)
    except SynthesisError as error:
        # Not fitting is a figure too (the row says what ran out).
        return {"name": name, "target": target, "groups": groups, "error": str(error),
                "seconds": round(time.time() - start, 1)}
    report.pop("raw", None)
    return {"name": name, "seconds": round(time.time() - start, 1), **report}


def _cycles(name: str) -> dict:

    factory, target, groups, runtime, inputs_of = CONFIGS[name]
    network = factory()
    inputs = (inputs_of(STEPS) if inputs_of is not None
              else np.zeros((STEPS, network.inputs), np.uint8))
    plan = plan_hardware(network, groups, runtime_weights=runtime,
                         bank_depth=bank_depth_for(target, runtime),
                         pack_bits=pack_bits_for(target, runtime),
                         spike_queue_depth=spike_queue_depth_for(TARGETS[target].family))
    run, updates = bit_exact_run(plan, STEPS, inputs, name)
    events = int(updates.sum())
    cycles = int(run.cycles.sum())
    return {"cycles_per_image": cycles, "synaptic_events": int(events),
            "events_per_cycle": round(events / cycles, 2),
            "input_spikes_per_step": round(float(inputs.sum(axis=1).mean()), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(CONFIGS), metavar="NAME",
                        help=f"configurations to run (default: all: {', '.join(CONFIGS)})")
    parser.add_argument("--json", metavar="OUT.json", help="write the results here")
    parser.add_argument("--no-cycles", action="store_true",
                        help="skip the cycle measurement in simulation")
    parser.add_argument("--no-pnr", action="store_true",
                        help="yosys only: resources without place and route (no Fmax, no "
                             "latency)")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="keep each configuration's tool files (logs, critical paths) in "
                             "DIR/NAME (default: temporary folders)")
    args = parser.parse_args(argv)
    names = args.only or list(CONFIGS)
    with ProcessPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(_synthesize, names, [args.work_dir] * len(names),
                             [not args.no_pnr] * len(names)))
    for row in rows:
        # Cycles come from simulation: measured even when synthesis failed.
        if not args.no_cycles and CONFIGS[row["name"]][4] is not None:
            row.update(_cycles(row["name"]))
            if row.get("fmax_mhz"):
                row["latency_us_per_image"] = round(row["cycles_per_image"] / row["fmax_mhz"], 1)
    print(f"{'name':<14} {'target':<11} {'G':>3} {'LUT':>6} {'FF':>6} {'BRAM':>5} "
          f"{'Fmax MHz':>9} {'cycles/img':>10} {'events/cyc':>10} {'µs/img':>7}")
    for r in rows:
        if "error" in r:
            cycles = (f" (simulation: {r['cycles_per_image']} cycles per image, "
                      f"{r['events_per_cycle']} events per cycle)" if "cycles_per_image" in r
                      else "")
            print(f"{r['name']:<14} {r['target']:<11} {r['groups']:>3} {r['error']}{cycles}")
            continue
        print(f"{r['name']:<14} {r['target']:<11} {r['groups']:>3} {r['lut']:>6} {r['ff']:>6} "
              f"{r['bram']:>5} {format(r['fmax_mhz'], '.1f') if r['fmax_mhz'] else '-':>9} {r.get('cycles_per_image', '-'):>10} "
              f"{r.get('events_per_cycle', '-'):>10} {r.get('latency_us_per_image', '-'):>7}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
