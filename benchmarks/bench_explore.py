"""``snngen explore`` speed: the whole default grid against one run of the scalar reference.

    python benchmarks/bench_explore.py [--json out.json] [--jobs J]

The target: the seed paper's whole grid (297 runs × 1000 steps, N 30..130, density 0.1..0.9,
4/8/16 bits, exact orbit detection) in less time than the scalar Python reference model
(tests/reference.py) needs for ONE run of N = 130, density 0.5, T = 1000, both measured here, in
this run. Reported: the study's computation (every row of results.csv) and the whole command
(also writing the CSV, the summary and the plots), each the best of a few repetitions.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import reference
from bench_golden import best

from snngen.model.network import network_to_json
from snngen.study.explore import ExplorePoint, analyse, plan_tasks, run_explore


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures as JSON here")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    points = [ExplorePoint(n, round(0.1 * d, 6), b, 0) for b in (4, 8, 16)
              for n in range(30, 131, 10) for d in range(1, 10)]
    one = ExplorePoint(130, 0.5, 8, 0)
    doc = json.loads(network_to_json(one.network()))
    reference_time = best(lambda: reference.run(doc, 1000), 2)

    def compute_in_process():
        for task in plan_tasks(points, 1):
            analyse(task, 1000)

    def whole_command():
        folder = tempfile.mkdtemp(prefix="snngen-bench-explore-")
        try:
            run_explore(folder, points, steps=1000, jobs=args.jobs)
        finally:
            shutil.rmtree(folder)

    compute = best(compute_in_process, args.repeat)
    command = best(whole_command, args.repeat)
    figures = {
        "reference_one_run_s": round(reference_time, 3),
        "grid_compute_one_process_s": round(compute, 3),
        "grid_command_s": round(command, 3),
        "jobs": args.jobs,
        "compute_vs_reference": round(reference_time / compute, 2),
        "command_vs_reference": round(reference_time / command, 2),
    }
    print(f"scalar reference, one run (N=130, density 0.5, 8 bits, T=1000): "
          f"{reference_time:.3f} s")
    print(f"whole grid (297 runs x 1000 steps, exact orbits), computation in one process: "
          f"{compute:.3f} s = {reference_time / compute:.2f}x faster than the one reference run")
    print(f"whole grid, the full command with --jobs {args.jobs} (CSV, summary, plots): "
          f"{command:.3f} s = {reference_time / command:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
