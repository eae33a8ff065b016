"""Time to verify a 128-neuron network for 1000 steps, bit-exact every step, per simulator.

    python benchmarks/bench_verify.py [--steps 1000] [--json out.json]

Wall time of the whole `python -m snngen verify` command (generation, golden model, simulation,
comparison), measured in this one run. Verilator and Icarus: cold (fresh build folder) and warm
(build reused: same network and stimulus shape); Amaranth: its simulator, no build.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command):
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed, result.stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--json", help="also write the figures as JSON here")
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        net = Path(folder) / "net.json"
        subprocess.run([sys.executable, "-m", "snngen", "network", "--neurons", "128",
                        "--out", str(net)], check=True, capture_output=True)
        base = [sys.executable, "-m", "snngen", "verify", str(net), "--steps", str(args.steps),
                "--groups", str(args.groups)]
        for simulator in ("verilator", "icarus"):
            build = Path(folder) / f"build_{simulator}"
            cold, _ = timed([*base, "--sim", simulator, "--build-dir", str(build)])
            warm, line = timed([*base, "--sim", simulator, "--build-dir", str(build)])
            figures[simulator] = {"cold_s": cold, "warm_s": warm}
            print(f"{simulator:9s} cold {cold:6.1f} s   warm {warm:6.1f} s   {line}")
        amaranth, line = timed([*base, "--sim", "amaranth"])
        figures["amaranth"] = {"s": amaranth}
        print(f"amaranth  {amaranth:6.1f} s   {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
