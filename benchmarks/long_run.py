"""Long runs in bounded memory: a streamed `snngen sim` against the in-memory golden model.

    python benchmarks/long_run.py [--steps 100000000] [--compare-steps 1000000]
                                  [--neurons 128] [--record spikes] [--json out.json]

The network is the default one (`snngen network` defaults, seed 0: 128 neurons, 8 inputs, 8-bit
signed, density 0.3), run without input spikes, so the orbit search runs too. Measured in one
run, on one machine:

1. the in-memory speed: `simulate()` for COMPARE steps, the whole trace held in memory (what a
   run did before traces were streamed);
2. `snngen sim --out DIR --record RECORD` for the same COMPARE steps, in a child process: its
   speed relative to (1) and its peak resident memory (VmHWM, the child's own high-water mark);
3. the same command for STEPS steps: its speed relative to (1) and its peak resident memory.

The first COMPARE steps of (3)'s spikes.npy must equal (1)'s spikes, and its summary's spike
count must equal the sum of spikes.npy (read memory-mapped, a block at a time); exit status 1
otherwise. The trace folders are written to a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from snngen.model.generate import DEFAULTS, random_network
from snngen.model.golden import simulate
from snngen.model.network import save_network

#: Runs `snngen sim` and prints its own peak resident memory (VmHWM): the high-water mark of this
#: process image only. ru_maxrss of a child would also count the parent's pages it had between
#: fork and exec (the in-memory run's 1.1 GiB here).
CHILD = ("import sys; from snngen.cli import main; status = main(sys.argv[1:]); "
         "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); "
         "sys.exit(status)")


def streamed(net: str, steps: int, out: str, record: str) -> dict:
    """Run `snngen sim` in a child; its summary, wall time and peak RSS."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, "sim", net, "--steps", str(steps), "--out", out,
         "--record", record, "--json", "--quiet"], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"snngen sim failed with status {result.returncode}: {result.stderr}")
    summary, peak_kib = result.stdout.strip().splitlines()
    return {"summary": json.loads(summary), "seconds": seconds,
            "peak_rss_mib": int(peak_kib) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000_000,
                        help="steps of the long streamed run (default 10^8)")
    parser.add_argument("--compare-steps", type=int, default=1_000_000,
                        help="steps of the in-memory run and of the like-for-like streamed run")
    parser.add_argument("--neurons", type=int, default=DEFAULTS["neurons"])
    parser.add_argument("--record", choices=["spikes", "state", "none"], default="spikes")
    parser.add_argument("--json", help="also write the figures as JSON here")
    args = parser.parse_args()

    network = random_network(**{**DEFAULTS, "neurons": args.neurons, "seed": 0})
    folder = tempfile.mkdtemp(prefix="snngen-long-")
    try:
        net = os.path.join(folder, "net.json")
        save_network(network, net)
        started = time.perf_counter()
        in_memory = simulate(network, args.compare_steps)
        memory_seconds = time.perf_counter() - started
        memory_rate = args.compare_steps / memory_seconds
        trace_mib = (in_memory.spikes.nbytes + in_memory.state.nbytes) / 2**20

        short = streamed(net, args.compare_steps, os.path.join(folder, "short"), args.record)
        long_dir = os.path.join(folder, "long")
        long = streamed(net, args.steps, long_dir, args.record)

        ok = True
        if args.record != "none":
            spikes = np.load(os.path.join(long_dir, "spikes.npy"), mmap_mode="r")
            head = min(args.compare_steps, args.steps)
            ok &= bool(np.array_equal(spikes[:head], in_memory.spikes[:head]))
            block = 1 << 20
            total = sum(int(spikes[s:s + block].sum(dtype=np.int64))
                        for s in range(0, args.steps, block))
            ok &= total == long["summary"]["spikes"]
        figures = {
            "network": network.describe(),
            "record": args.record,
            "in_memory": {"steps": args.compare_steps, "seconds": memory_seconds,
                          "steps_per_second": memory_rate, "trace_mib": trace_mib},
            "streamed_same_steps": {
                "steps": args.compare_steps, "seconds": short["seconds"],
                "steps_per_second": args.compare_steps / short["seconds"],
                "speed_ratio": args.compare_steps / short["seconds"] / memory_rate,
                "peak_rss_mib": short["peak_rss_mib"]},
            "streamed_long": {
                "steps": args.steps, "seconds": long["seconds"],
                "steps_per_second": args.steps / long["seconds"],
                "speed_ratio": args.steps / long["seconds"] / memory_rate,
                "peak_rss_mib": long["peak_rss_mib"],
                "orbit_search": long["summary"]["orbit_search"],
                "orbit": long["summary"]["orbit"],
                "spikes": long["summary"]["spikes"]},
            "bit_exact_head_and_count": ok,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    rows = [("in memory (simulate)", figures["in_memory"], None),
            ("streamed, same steps", figures["streamed_same_steps"], None),
            ("streamed, long run", figures["streamed_long"], None)]
    print(f"{network.describe()}; --record {args.record}")
    print(f"{'run':<24}{'steps':>13}{'seconds':>10}{'steps/s':>11}{'× in-memory':>13}"
          f"{'peak RSS':>18}")
    for name, row, _ in rows:
        ratio = row.get("speed_ratio", 1.0)
        rss = row.get("peak_rss_mib")
        rss_text = f"{rss:.0f} MiB" if rss is not None else f"({row['trace_mib']:.0f} MiB trace)"
        print(f"{name:<24}{row['steps']:>13,}{row['seconds']:>10.1f}"
              f"{row['steps_per_second']:>11,.0f}{ratio:>13.2f}{rss_text:>18}")
    print(f"orbit search of the long run: {figures['streamed_long']['orbit_search']}, orbit "
          f"{figures['streamed_long']['orbit']}")
    print("spikes of the long run equal the in-memory run's and its summary: "
          f"{'yes' if ok else 'NO'}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(figures, file, indent=1, sort_keys=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
