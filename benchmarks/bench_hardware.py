"""Cycles per step against the lower bound, and build time: the figures of docs/architecture.md.

    python benchmarks/bench_hardware.py [--json out.json]

Cycles are counted in Amaranth's simulator (they do not depend on the simulator); the build time is
the wall time of `python -m snngen build --neurons 128 --bits 8`, warm (best of 3 after one run).
"""

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from rtl_cases import full_load_network

from snngen.hw.plan import plan_hardware
from snngen.model.compat import random_compat_network
from snngen.model.generate import random_network
from snngen.model.golden import simulate
from snngen.model.network import Current, Dynamics, NeuronModel, StateFormat
from snngen.verify.amaranth import run_amaranth


def measure(network, groups, steps, inputs):
    plan = plan_hardware(network, groups)
    run = run_amaranth(plan, steps, inputs)
    expected = simulate(network, steps, inputs)
    if not (np.array_equal(run.state, expected.state)
            and np.array_equal(run.spikes, expected.spikes)
            and (expected.current is None or np.array_equal(run.current, expected.current))):
        raise SystemExit("RTL is not bit-exact: benchmark refused")
    previous = np.vstack([np.zeros((1, network.neurons), np.uint8), expected.spikes[:-1]])
    bound = np.array([plan.lower_bound_cycles(previous[t], inputs[t]) for t in range(steps)])
    events = np.array([sum(plan.step_events(previous[t], inputs[t])[1]) for t in range(steps)])
    # The bound spreads the work over all G groups; layer-pure groups cannot share it, so the
    # busiest group's synapses (or its Ng slots) is the tighter measure for layered networks.
    busiest = np.array([max(*plan.step_events(previous[t], inputs[t])[1], plan.slots)
                        for t in range(steps)])
    # Skip step 1 (its s(0) = 0 leaves it nearly empty); steady state from step 2.
    cycles = run.cycles[1:].astype(float)
    return {
        "groups": groups,
        "cycles_per_step": float(cycles.mean()),
        "lower_bound": float(bound[1:].mean()),
        "efficiency": float((bound[1:] / cycles).mean()),
        "synaptic_events_per_step": float(events[1:].mean()),
        "events_per_cycle_per_group": float((events[1:] / cycles / groups).mean()),
        "spikes_per_step": float(expected.spikes[1:].sum(axis=1).mean()),
        "busiest_group": float((busiest[1:] / cycles).mean()),
    }


def build_time():
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "snngen", "build", "--neurons", "128", "--bits", "8",
                   "--out", folder + "/design"]
        subprocess.run(command, check=True, capture_output=True)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures as JSON here")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--only", default="", help="run only the loads whose label holds this")
    args = parser.parse_args()
    heavy = full_load_network(neurons=128, density=0.5)
    loads = {
        "heavy (N=128, density 0.5, every neuron fires every step)": heavy,
        "default random network (N=128, 8 bits, density 0.2)": random_network(),
        # Semantics v2: the same heavy load through a synaptic current with multiplicative
        # decays (the v2 update pipeline is 5 stages deeper than v1's).
        "heavy CUBA (the heavy load with a 16-bit current, multiply decays)": heavy.replace(
            neuron=NeuronModel(threshold=heavy.neuron.threshold, leak_shift=None, reset="zero"),
            dynamics=Dynamics(current=Current(StateFormat(16, "signed", "saturate"), "multiply",
                                              1024, "decay_then_add", 0),
                              membrane_decay="multiply", membrane_decay_parameter=512)),
    }
    # Xylo's preset: per-event saturation keeps the events' order (sorted merging) and hidden
    # neurons spike up to 31 times a step; beside it the same network with exact sums.
    xylo = random_compat_network("xylo", neurons=124, inputs=8, density=0.5, seed=1)
    loads["heavy Xylo (124 hidden + 4 readout, density 0.5, per-event, up to 31 spikes)"] = xylo
    loads["the same Xylo network with exact sums (no ordering)"] = xylo.replace(
        dynamics=dataclasses.replace(xylo.dynamics, accumulate="exact", compat=None))
    loads = {label: network for label, network in loads.items() if args.only in label}
    figures = {"load": {}}
    print("| load | G | cycles/step | lower bound | bound/cycles | synaptic events/cycle/group "
          "| busiest group's work / cycles |")
    print("|---|---|---|---|---|---|---|")
    for label, network in loads.items():
        inputs = np.ones((args.steps, network.inputs), np.uint8)
        rows = []
        # A layered network needs a group per layer (the Xylo loads: hidden and readout).
        for groups in (1, 2, 4, 8) if not network.layers else (2, 3, 5, 9):
            row = measure(network, groups, args.steps, inputs)
            rows.append(row)
            print(f"| {label} | {groups} | {row['cycles_per_step']:.0f} | "
                  f"{row['lower_bound']:.0f} | {row['efficiency']:.3f} | "
                  f"{row['events_per_cycle_per_group']:.3f} | {row['busiest_group']:.3f} |")
        figures["load"][label] = rows
    if not args.only:
        figures["build_128_8bit_warm_s"] = build_time()
        print(f"\n`python -m snngen build --neurons 128 --bits 8`, warm: "
              f"{figures['build_128_8bit_warm_s']:.2f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
