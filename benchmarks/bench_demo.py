"""The digits demo, timed: its targets in one run.

    python benchmarks/bench_demo.py [--out DIR] [--json out.json]

Runs ``snngen demo digits`` with its defaults (training, NIR round trip, Hessian traces,
quantization at 16/8/4/auto, integer accuracy, RTL bit-exactness with Icarus, synthesis for the
iCE40 UP5K) and prints the wall time of each stage and the target checks: float accuracy ≥ 95 %,
8-bit drop ≤ 0.5 points, auto at ≤ 42 % of the 8-bit weight memory with a drop ≤ 0.5 points, the
whole demo ≤ 5 minutes on this 2-core machine.
"""

import argparse
import json
import sys
import tempfile
import time

from snngen.quant.demo import DemoOptions, run_digits_demo


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="keep the demo's folder here (default: a temporary one)")
    parser.add_argument("--json", help="also write the figures as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="snngen-bench-demo-") as scratch:
        started = time.perf_counter()
        report = run_digits_demo(args.out or scratch, DemoOptions())
        wall = time.perf_counter() - started
    results = {r["precision"]: r for r in report["results"]}
    # The demo judges its own targets; the wall time here includes its imports and setup.
    checks = {**report["targets"], "demo <= 5 min (wall)": wall <= 300}
    print(f"float accuracy {100 * report['float_accuracy']:.2f}%  (imported, unrounded "
          f"{100 * report['imported_float_accuracy']:.2f}%)")
    for name, r in results.items():
        print(f"{name:>5}  bits {','.join(map(str, r['bits_per_layer'])):<6} {r['method']:<9} "
              f"accuracy {100 * r['accuracy']:.2f}%  change vs float {r['accuracy_change_points']:+.2f} pt  "
              f"memory {100 * r['weight_memory_vs_8bit']:.1f}% of 8-bit  LUT {r['lut']}  "
              f"BRAM {r['bram']}  Fmax {r['fmax_mhz'] and round(r['fmax_mhz'], 1)} MHz")
    print("stages (s):", ", ".join(f"{k} {v}" for k, v in report["seconds"].items()))
    print(f"wall time {wall:.1f} s")
    for name, ok in checks.items():
        print(f"  {'met   ' if ok else 'MISSED'} {name}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump({"wall_seconds": wall, "checks": checks, "report": report}, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
