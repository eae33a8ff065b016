"""Golden-model speed: the figures of docs/performance.md.

    python benchmarks/bench_golden.py [--json out.json]

Runs on one core (BLAS threads pinned to 1 before numpy loads). Every ratio is measured in this one
run, on the same machine state. Each figure is the best of several repetitions.
"""

import os

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import reference  # noqa: E402

from snngen.model.generate import random_network  # noqa: E402
from snngen.model.golden import simulate, simulate_batch  # noqa: E402
from snngen.model.network import network_to_json  # noqa: E402


def best(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def paper_grid():
    """The seed paper's grid: N 30..130 step 10 × density 0.1..0.9 × bits 4/8/16 = 297 networks."""
    networks = []
    for neurons in range(30, 131, 10):
        for tenth in range(1, 10):
            for bits in (4, 8, 16):
                networks.append(random_network(
                    neurons=neurons, inputs=0, bits=bits, density=tenth / 10,
                    seed=neurons * 100 + tenth * 10 + bits, representation="unsigned",
                    reset="none"))
    return networks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures as JSON here")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    figures = {}

    network = random_network(neurons=130, bits=8, density=0.5, seed=1)
    doc = json.loads(network_to_json(network))
    steps = 1000
    reference_time = best(lambda: reference.run(doc, steps), 2)
    dense_time = best(lambda: simulate(network, steps, method="dense"), args.repeat)
    event_time = best(lambda: simulate(network, steps, method="event"), args.repeat)
    batch_of_one = best(lambda: simulate_batch([network], steps), args.repeat)
    figures["single_n130_d0.5_t1000"] = {
        "scalar_reference_s": reference_time,
        "dense_s": dense_time,
        "event_s": event_time,
        "batch_of_one_s": batch_of_one,
        "dense_speedup": reference_time / dense_time,
        "event_speedup": reference_time / event_time,
        "firing_rate": simulate(network, steps).firing_rate,
    }

    grid = paper_grid()
    batch_time = best(lambda: simulate_batch(grid, steps), 3)
    spikes_only = best(lambda: simulate_batch(grid, steps, record_state=False), 3)
    loop_time = best(lambda: [simulate(net, steps) for net in grid], 2)
    figures["paper_grid_297x1000"] = {
        "batch_s": batch_time,
        "batch_spikes_only_s": spikes_only,
        "one_by_one_s": loop_time,
        "per_network_speedup_vs_reference": reference_time * len(grid) / batch_time,
    }

    sparse = random_network(neurons=4096, inputs=0, bits=16, density=0.005, seed=3)
    figures["sparse_n4096_d0.005_t1000"] = {
        "dense_s": best(lambda: simulate(sparse, 1000, method="dense"), 3),
        "event_s": best(lambda: simulate(sparse, 1000, method="event"), 3),
        "firing_rate": simulate(sparse, 1000, method="event").firing_rate,
    }

    print("| measurement | figure |\n|---|---|")
    single = figures["single_n130_d0.5_t1000"]
    print(f"| scalar Python reference, N=130 d=0.5 T=1000 | {reference_time:.3f} s |")
    print(f"| golden model, dense | {dense_time * 1e3:.1f} ms ({single['dense_speedup']:.0f}× the reference) |")
    print(f"| golden model, event-driven | {event_time * 1e3:.1f} ms ({single['event_speedup']:.0f}×) |")
    grid_figures = figures["paper_grid_297x1000"]
    print(f"| paper grid 297 networks × 1000 steps, batched | {batch_time:.2f} s "
          f"(spikes only {spikes_only:.2f} s) |")
    print(f"| same grid one network at a time | {loop_time:.2f} s |")
    print(f"| batched, per network vs the reference | {grid_figures['per_network_speedup_vs_reference']:.0f}× |")
    sparse_figures = figures["sparse_n4096_d0.005_t1000"]
    print(f"| N=4096 d=0.005 T=1000 (rate {sparse_figures['firing_rate']:.3f}), dense | "
          f"{sparse_figures['dense_s']:.2f} s |")
    print(f"| same, event-driven | {sparse_figures['event_s']:.2f} s "
          f"({sparse_figures['dense_s'] / sparse_figures['event_s']:.1f}× faster) |")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
