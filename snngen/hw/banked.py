"""A table split into block-RAM-sized banks behind a registered multiplexer tree."""

from __future__ import annotations

from amaranth import Array, Module, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from .plan import mux_levels

__all__ = ["BankedTable"]


class BankedTable(wiring.Component):
    """`depth` words of `width` bits in banks of `bank_depth` words, read at one word per cycle.

    A table larger than one block RAM makes yosys join the block RAMs' outputs with one wide
    multiplexer, which then sets the clock: 98 block RAMs of one synapse table gave a 17.4 ns
    path on an ECP5. Here each bank is its own memory whose output is registered (the block RAM's
    slow clock-to-output ends in a flip-flop), and the banks are joined by 4-to-1 multiplexers
    with a register after each level, so the longest path is one block RAM read or one 4-to-1
    multiplexer whatever the table's size.

    **Latency**: ``latency`` cycles from ``read_addr`` (with ``read_en``) to ``read_data``: 1 for
    one bank (a plain memory, no extra register); ``3 + ⌈log4 banks⌉`` otherwise: the address
    is registered first (it fans out to every bank, far from the logic that computes it), then
    the bank's read, its output register and the multiplexer levels. A write is registered the
    same way, so reads and writes keep their order.
    **Throughput**: one read per cycle, and one write per cycle to the bank its address selects.

    Parameters
    ----------
    width : int
        Bits of a word.
    depth : int
        Words (≥ 1).
    bank_depth : int
        Words per bank, a power of two.
    init : list of int, optional
        The contents (ROM or initialised RAM); None leaves them undefined (a RAM loaded at run
        time, which iCE40 SPRAM requires).
    writable : bool
        Add the write port.
    name : str
        The banks' memory names: ``name`` for one bank, ``name_bank0``, ``name_bank1``… for
        several (what synthesis scripts select with ``m:name*``).

    Members
    -------
    read_addr : In(address width)
    read_en : In(1)
        A bank keeps its last output while low.
    read_data : Out(width)
        The word read ``latency`` cycles earlier.
    write_addr, write_data, write_en : In
        The write port (``writable`` only); the write reaches the bank ``write_addr`` selects.
    """

    def __init__(self, width: int, depth: int, bank_depth: int, *, init=None,
                 writable: bool = False, name: str = "table"):
        for label, value in (("width", width), ("depth", depth), ("bank_depth", bank_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be a positive integer, not {value!r}")
        if bank_depth & (bank_depth - 1):
            raise ValueError(f"bank_depth must be a power of two, not {bank_depth!r}")
        if init is not None and len(init) > depth:
            raise ValueError(f"init must hold at most depth ({depth}) words, not {len(init)}")
        self.width = width
        self.depth = depth
        self.banks = -(-depth // bank_depth)
        self.bank_depth = bank_depth if self.banks > 1 else depth
        self.latency = 1 if self.banks == 1 else 3 + mux_levels(self.banks)
        self.writable = bool(writable)
        address_width = max(1, (depth - 1).bit_length())
        ports = {"read_addr": In(address_width), "read_en": In(1), "read_data": Out(width)}
        if self.writable:
            ports.update(write_addr=In(address_width), write_data=In(width), write_en=In(1))
        super().__init__(ports)
        words = [] if init is None else [int(v) for v in init]
        self.memory_names = ([name] if self.banks == 1
                             else [f"{name}_bank{b}" for b in range(self.banks)])
        self.memories = []
        for b in range(self.banks):
            chunk = words[b * self.bank_depth:(b + 1) * self.bank_depth]
            self.memories.append(memory.Memory(
                shape=unsigned(width), depth=min(self.bank_depth, depth - b * self.bank_depth),
                init=chunk))

    def elaborate(self, platform):
        m = Module()
        low = (self.bank_depth - 1).bit_length() if self.banks > 1 else len(self.read_addr)
        read_addr, read_en = self.read_addr, self.read_en
        if self.writable:
            write_addr, write_data, write_en = self.write_addr, self.write_data, self.write_en
        if self.banks > 1:
            read_addr, read_en = Signal.like(self.read_addr), Signal()
            m.d.sync += [read_addr.eq(self.read_addr), read_en.eq(self.read_en)]
            if self.writable:
                write_addr, write_data = Signal.like(self.write_addr), Signal.like(self.write_data)
                write_en = Signal()
                m.d.sync += [write_addr.eq(self.write_addr), write_data.eq(self.write_data),
                             write_en.eq(self.write_en)]
        outputs = []
        for b, (name, bank) in enumerate(zip(self.memory_names, self.memories, strict=True)):
            m.submodules[name] = bank
            read = bank.read_port()
            m.d.comb += [read.addr.eq(read_addr[:low]), read.en.eq(read_en)]
            if self.writable:
                write = bank.write_port()
                selected = 1 if self.banks == 1 else write_addr[low:] == b
                m.d.comb += [write.addr.eq(write_addr[:low]), write.data.eq(write_data),
                             write.en.eq(write_en & selected)]
            outputs.append(read.data)
        if self.banks == 1:
            m.d.comb += self.read_data.eq(outputs[0])
            return m

        # The bank number travels beside the data: registered with the read (aligned with the
        # banks' outputs), then once per register stage.
        select = Signal(len(self.read_addr) - low)
        m.d.sync += select.eq(read_addr[low:])
        registered = []
        for b, data in enumerate(outputs):
            output_register = Signal(self.width, name=f"bank{b}_output")
            m.d.sync += output_register.eq(data)
            registered.append(output_register)
        level_select = Signal.like(select)
        m.d.sync += level_select.eq(select)
        level = 0
        while len(registered) > 1:
            chosen = level_select[2 * level:2 * level + 2]
            joined = []
            for first in range(0, len(registered), 4):
                out = Signal(self.width, name=f"level{level}_{first // 4}")
                m.d.sync += out.eq(Array(registered[first:first + 4])[chosen])
                joined.append(out)
            next_select = Signal.like(select, name=f"level{level + 1}_select")
            m.d.sync += next_select.eq(level_select)
            registered, level_select, level = joined, next_select, level + 1
        m.d.comb += self.read_data.eq(registered[0])
        return m
