"""The NIR paper's N-MNIST CNN in hardware: memory, cycles and latency of one input sample.

    python benchmarks/bench_nmnist_hw.py [--steps 25] [--events 2000] [--samples 1]
                                         [--stimulus bar|saccade] [--fmax MHZ] [--json OUT.json]

`cnn_sinabs.nir` (../shared/nir) quantized as `snngen quantize --bits 8 --reset subtract` does it
(8-bit weights, a threshold per layer, the state width from calibration), planned with one group
per layer: the three convolution layers as kernel groups, the two dense layers listed. Each
sample is a moving-bar stream of `--events` events in `--steps` steps, or with `--stimulus
saccade` an MNIST digit moved along N-MNIST's saccades (snngen.quant.streams: about 4,000 events,
as its sensor makes them);
the core runs in Amaranth's simulator and must match the golden model spike for spike and
state for state, or the benchmark stops. Reported: the plan's memory against an ECP5-85F's block
RAM, cycles per sample, the synaptic updates each group makes, and with `--fmax` (the clock
`snngen synth` reached) the latency per sample.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from networks import bit_exact_run

from snngen.hw.plan import plan_hardware
from snngen.quant.nir_conv import quantize_structured, structured_from_nir
from snngen.quant.streams import mnist_saccade_streams, synthetic_streams

GRAPH = Path(__file__).resolve().parent.parent.parent / "shared" / "nir" / "cnn_sinabs.nir"
#: An ECP5-85F: 208 DP16KD of 18 kbit.
ECP5_85F_BLOCK_RAM_BITS = 208 * 18 * 1024


def nmnist_network(bits: int = 8):
    """`snngen quantize cnn_sinabs.nir --bits B --reset subtract` as a Network."""
    model = structured_from_nir(str(GRAPH))
    return quantize_structured(model, bits, reset="subtract")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=25, help="steps per sample (default: 25)")
    parser.add_argument("--events", type=int, default=2000,
                        help="input events per sample (default: 2000)")
    parser.add_argument("--samples", type=int, default=1, help="samples (default: 1)")
    parser.add_argument("--stimulus", choices=["bar", "saccade"], default="bar",
                        help="a moving bar of --events events, or a saccaded MNIST digit "
                             "(its events are the sensor model's; default: bar)")
    parser.add_argument("--fmax", type=float, metavar="MHZ",
                        help="the clock synthesis reached, for the latency")
    parser.add_argument("--json", metavar="OUT.json", help="write the results here")
    args = parser.parse_args(argv)
    for name in ("steps", "events", "samples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, not {getattr(args, name)}")
    if not GRAPH.exists():
        raise SystemExit(f"{GRAPH} not found: the benchmark needs ../shared/nir beside the "
                         "repository")
    network = nmnist_network()
    plan = plan_hardware(network, len(network.layers))
    memory = plan.memory_bits()
    if args.stimulus == "bar":
        streams, _ = synthetic_streams(args.samples, args.steps, network.input_shape,
                                       events=args.events, kinds=("bar",), seed=7)
    else:
        streams, _ = mnist_saccade_streams(args.samples, args.steps, seed=7)
    rows = []
    for index, inputs in enumerate(streams):
        started = time.time()
        run, per_group = bit_exact_run(plan, args.steps, inputs, f"sample {index}")
        cycles = int(run.cycles.sum())
        row = {"sample": index, "input_events": int(inputs.sum()),
               "spikes": int(run.spikes.sum()), "cycles": cycles,
               "updates_per_group": [int(u) for u in per_group],
               "busiest_group_updates_per_cycle": round(int(per_group.max()) / cycles, 3),
               "simulation_seconds": round(time.time() - started, 1)}
        if args.fmax:
            row["latency_us"] = round(cycles / args.fmax, 1)
        rows.append(row)
    result = {
        "neurons": network.neurons, "inputs": network.inputs, "state_bits": plan.state_width,
        "groups": plan.groups, "kernel_groups": plan.describe()["kernel_groups"],
        "memory_bits": memory, "memory_total_bits": sum(memory.values()),
        "ecp5_85f_block_ram_share": round(sum(memory.values()) / ECP5_85F_BLOCK_RAM_BITS, 3),
        "samples": rows,
    }
    print(f"N-MNIST CNN: {network.neurons} neurons, {plan.groups} groups (kernel groups "
          f"{result['kernel_groups']}), {plan.state_width}-bit state")
    print(f"memory: {sum(memory.values()):,} bits = "
          f"{100 * result['ecp5_85f_block_ram_share']:.1f} % of an ECP5-85F's block RAM bits")
    for name, bits in memory.items():
        print(f"  {name:<14} {bits:>10,}")
    print(f"{'sample':>6} {'events':>7} {'spikes':>7} {'cycles':>9} {'busiest upd/cyc':>16} "
          f"{'µs':>8}")
    for r in rows:
        print(f"{r['sample']:>6} {r['input_events']:>7} {r['spikes']:>7} {r['cycles']:>9} "
              f"{r['busiest_group_updates_per_cycle']:>16} {r.get('latency_us', '-'):>8}")
    if args.json:
        from snngen._files import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
