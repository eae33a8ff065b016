"""Running the generated hardware against the golden model: Amaranth's simulator, the Verilog under
cocotb (Icarus, Verilator), and the synthesized gate-level netlist."""
