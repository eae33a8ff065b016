"""A table split into block-RAM-sized banks behind a registered multiplexer tree."""

from __future__ import annotations

from amaranth import Array, C, Cat, ClockSignal, Instance, Module, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from .plan import check_block_ram, mux_levels

__all__ = ["DP16KD_MODES", "BankedTable", "dp16kd_initvals", "dp16kd_mode",
           "dp16kd_read_registered", "dp16kd_rom_columns", "dp16kd_rom_registered"]

#: The data widths of an ECP5 DP16KD port and the words it then holds.
DP16KD_MODES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024))


def dp16kd_mode(width: int, depth: int) -> int | None:
    """The narrowest DP16KD data width that holds `depth` words of `width` bits, or None
    when one DP16KD cannot (wider than 18 bits, or deeper than the mode allows)."""
    return next((bits for bits, words in DP16KD_MODES if width <= bits and depth <= words),
                None)


def dp16kd_initvals(words, mode: int) -> dict[str, int]:
    """The 64 ``INITVAL_xx`` parameters of a DP16KD in data width `mode` holding `words`.

    The array is 1,024 rows of 18 bits; each parameter holds 16 rows at a 20-bit stride.
    Words of 9 and 18 bits fill the rows in order; words of 1, 2 and 4 bits use 16 bits of a
    row, bits 0–7 and 9–16 (the same layout yosys writes for the block RAMs it infers, which
    ``tests/test_dp16kd.py`` checks).
    """
    if mode not in dict(DP16KD_MODES):
        raise ValueError(f"mode must be one of 1, 2, 4, 9, 18, not {mode!r}")
    rows = [0] * 1024
    per_row = 18 // mode if mode >= 9 else 16 // mode
    for address, word in enumerate(words):
        word &= (1 << mode) - 1
        row, offset = divmod(address, per_row)
        if mode >= 9:
            rows[row] |= word << (offset * mode)
        else:
            for bit in range(mode):
                if word >> bit & 1:
                    position = offset * mode + bit
                    rows[row] |= 1 << (position if position < 8 else position + 1)
    return {f"INITVAL_{index:02X}": sum(rows[index * 16 + i] << (20 * i) for i in range(16))
            for index in range(64)}


def dp16kd_read_registered(m, name: str, mode: int, width: int, words, *, read_addr,
                           read_en, output_en, write_addr=None, write_data=None, write_en=None):
    """Add one ECP5 DP16KD to `m` as submodule `name`: port A reads through the output
    register (``REGMODE_A = "OUTREG"``), port B writes (when `write_addr` is given).

    The word read at ``read_addr`` with ``read_en`` is in the block RAM's latch a cycle later
    and, with ``output_en``, at the returned value two cycles later, as an Amaranth memory
    read port (enable ``read_en``) followed by a register (enable ``output_en``) would give.
    """
    # The word address sits in the top address pins; the low pins of an 18-bit port are its
    # byte enables (both on for the write port).
    shift = {1: 0, 2: 1, 4: 2, 9: 3, 18: 4}[mode]
    data_out = Signal(18, name=f"{name}_dout")
    ports = {"i_CLKA": ClockSignal("sync"), "i_CLKB": ClockSignal("sync"),
             "i_CEA": read_en, "i_OCEA": output_en, "i_WEA": C(0), "i_RSTA": C(0),
             "i_OCEB": C(1), "i_RSTB": C(0)}
    read_pins = Cat(C(0, shift), read_addr, C(0, 14 - shift - len(read_addr)))
    if write_addr is not None:
        write_pins = Cat(C((1 << shift) - 1 if mode == 18 else 0, shift), write_addr,
                         C(0, 14 - shift - len(write_addr)))
        write_word = Cat(write_data, C(0, 18 - width))
    else:
        write_pins, write_word, write_en = C(0, 14), C(0, 18), C(0)
    # The write port is enabled only to write (it has nothing to read).
    ports["i_WEB"] = ports["i_CEB"] = write_en
    for pin in range(14):
        ports[f"i_ADA{pin}"] = read_pins[pin]
        ports[f"i_ADB{pin}"] = write_pins[pin]
    for pin in range(3):
        ports[f"i_CSA{pin}"] = ports[f"i_CSB{pin}"] = C(0)
    for pin in range(18):
        ports[f"i_DIA{pin}"] = C(0)
        ports[f"i_DIB{pin}"] = write_word[pin]
        ports[f"o_DOA{pin}"] = data_out[pin]
    parameters = {f"p_{key}": C(value, 320)
                  for key, value in dp16kd_initvals(words, mode).items()}
    m.submodules[name] = Instance(
        "DP16KD", p_DATA_WIDTH_A=mode, p_DATA_WIDTH_B=mode, p_REGMODE_A="OUTREG",
        p_REGMODE_B="NOREG", p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
        p_CSDECODE_A="0b000", p_CSDECODE_B="0b000", p_WRITEMODE_A="NORMAL",
        p_WRITEMODE_B="NORMAL", p_GSR="AUTO", **parameters, **ports)
    return data_out[:width]


def dp16kd_rom_columns(width: int, depth: int) -> tuple[int, int] | None:
    """(data width mode, DP16KDs side by side) of a ROM of `depth` words of `width` bits
    read through the output register: the widest mode deep enough, for the fewest columns; or
    None when it is deeper than one DP16KD holds."""
    mode = next((bits for bits, words in reversed(DP16KD_MODES) if depth <= words), None)
    if mode is None:
        return None
    return mode, -(-width // mode)


def dp16kd_rom_registered(m, name: str, width: int, words, *, read_addr, read_en, output_en):
    """A ROM of `words` as DP16KDs side by side (each holds a slice of the word's bits in the
    narrowest mode deep enough), read through their output registers; the timing is that of
    :func:`dp16kd_read_registered`: the word at ``read_addr`` (with ``read_en``) arrives two
    cycles later, the second cycle with ``output_en``."""
    words = [int(w) for w in words]
    layout = dp16kd_rom_columns(width, max(1, len(words)))
    if layout is None:
        raise ValueError(f"a DP16KD ROM holds at most 16384 words, not {len(words)}")
    mode, columns = layout
    # Source ids beyond the table never arrive; the pins take the mode's address bits.
    read_addr = read_addr[:(dict(DP16KD_MODES)[mode] - 1).bit_length()]
    slices = []
    for column in range(columns):
        low = column * mode
        bits = min(mode, width - low)
        slices.append(dp16kd_read_registered(
            m, f"{name}_column{column}", mode, bits,
            [(w >> low) & ((1 << bits) - 1) for w in words],
            read_addr=read_addr, read_en=read_en, output_en=output_en))
    return Cat(*slices)


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
    same way, so reads and writes keep their order; its bank is decoded before the register, so
    each bank has a registered write enable of its own.
    **Throughput**: one read per cycle, and one write per cycle to the bank its address selects;
    a read of the bank being written in the same cycle is dropped (the bank keeps its output),
    as a single-port RAM such as the iCE40 SPRAM requires.

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
    block_ram : {"inferred", "dp16kd"}
        ``inferred``: every bank is an Amaranth memory and synthesis picks its cells.
        ``dp16kd``: the banks of a table of several banks are ECP5 ``DP16KD`` instances with
        their output register on (``REGMODE_A = "OUTREG"``), which replaces the fabric output
        register: yosys never turns that register on, and without it the block RAM's 5.6 ns
        clock-to-output plus the route to a flip-flop set the clock. The latency is the same
        either way. Such a table simulates in Verilog with the model in ``sim/ecp5_dp16kd.v``,
        not in Amaranth's simulator. Words wider than 18 bits keep inferred banks.

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
                 writable: bool = False, name: str = "table", block_ram: str = "inferred"):
        for label, value in (("width", width), ("depth", depth), ("bank_depth", bank_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be a positive integer, not {value!r}")
        if bank_depth & (bank_depth - 1):
            raise ValueError(f"bank_depth must be a power of two, not {bank_depth!r}")
        check_block_ram(block_ram)
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
        # A one-bank table has no output register for the primitive's to replace.
        self.dp16kd_mode = (dp16kd_mode(width, self.bank_depth)
                            if block_ram == "dp16kd" and self.banks > 1 else None)
        self.memories = []
        self._bank_words = []
        for b in range(self.banks):
            chunk = words[b * self.bank_depth:(b + 1) * self.bank_depth]
            self._bank_words.append(chunk)
            if self.dp16kd_mode is None:
                self.memories.append(memory.Memory(
                    shape=unsigned(width), depth=min(self.bank_depth, depth - b * self.bank_depth),
                    init=chunk))

    @property
    def simulable(self) -> bool:
        """Whether Amaranth's simulator can run the table (no vendor primitives in it)."""
        return self.dp16kd_mode is None

    def _dp16kd_bank(self, m, b: int, read_addr, read_en, write):
        """Bank `b` as one DP16KD: port A reads through the output register, port B writes."""
        low = (self.bank_depth - 1).bit_length()
        write_addr = write_data = write_enable = None
        if write is not None:
            write_addr, write_data, write_enable = write
        return dp16kd_read_registered(
            m, self.memory_names[b], self.dp16kd_mode, self.width, self._bank_words[b],
            read_addr=read_addr[:low], read_en=read_en, output_en=C(1),
            write_addr=None if write is None else write_addr[:low], write_data=write_data,
            write_en=write_enable)

    def elaborate(self, platform):
        m = Module()
        low = (self.bank_depth - 1).bit_length() if self.banks > 1 else len(self.read_addr)
        read_addr, read_en = self.read_addr, self.read_en
        if self.writable:
            write_addr, write_data = self.write_addr, self.write_data
            bank_writes = [self.write_en]
        if self.banks > 1:
            read_addr, read_en = Signal.like(self.read_addr), Signal()
            m.d.sync += [read_addr.eq(self.read_addr), read_en.eq(self.read_en)]
            if self.writable:
                write_addr, write_data = Signal.like(self.write_addr), Signal.like(self.write_data)
                m.d.sync += [write_addr.eq(self.write_addr), write_data.eq(self.write_data)]
                # The bank is decoded before the register, and each bank has its own: the
                # placer can put it beside its block RAM, where a shared enable and a decoding
                # LUT after it crossed the chip (the 1,024-neuron network's critical path).
                bank_writes = [Signal(name=f"bank{b}_write") for b in range(self.banks)]
                m.d.sync += [bank_write.eq(self.write_en & (self.write_addr[low:] == b))
                             for b, bank_write in enumerate(bank_writes)]
        if self.dp16kd_mode is not None:
            outputs = [self._dp16kd_bank(m, b, read_addr, read_en,
                                         (write_addr, write_data, bank_writes[b])
                                         if self.writable else None)
                       for b in range(self.banks)]
            return self._join(m, read_addr, outputs, registered_outputs=True)
        outputs = []
        for b, (name, bank) in enumerate(zip(self.memory_names, self.memories, strict=True)):
            m.submodules[name] = bank
            read = bank.read_port()
            m.d.comb += [read.addr.eq(read_addr[:low]), read.en.eq(read_en)]
            if self.writable:
                write = bank.write_port()
                bank_write = bank_writes[b]
                m.d.comb += [write.addr.eq(write_addr[:low]), write.data.eq(write_data),
                             write.en.eq(bank_write),
                             # yosys maps a bank to a single-port iCE40 SPRAM only when it can
                             # see that the bank never reads and writes in one cycle.
                             read.en.eq(read_en & ~bank_write)]
            outputs.append(read.data)
        if self.banks == 1:
            m.d.comb += self.read_data.eq(outputs[0])
            return m
        return self._join(m, read_addr, outputs, registered_outputs=False)

    def _join(self, m, read_addr, outputs, *, registered_outputs: bool):
        """The banks' output registers (unless the banks have their own) and the registered
        4-to-1 multiplexer tree after them."""
        low = (self.bank_depth - 1).bit_length()
        # The bank number travels beside the data: registered with the read (aligned with the
        # banks' outputs), then once per register stage.
        select = Signal(len(self.read_addr) - low)
        m.d.sync += select.eq(read_addr[low:])
        registered = outputs
        if not registered_outputs:
            # Without a reset: the data is qualified downstream, and a reset would put a LUT
            # between the block RAM and its register.
            registered = []
            for b, data in enumerate(outputs):
                output_register = Signal(self.width, name=f"bank{b}_output", reset_less=True)
                m.d.sync += output_register.eq(data)
                registered.append(output_register)
        level_select = Signal.like(select)
        m.d.sync += level_select.eq(select)
        level = 0
        while len(registered) > 1:
            chosen = level_select[2 * level:2 * level + 2]
            joined = []
            for first in range(0, len(registered), 4):
                out = Signal(self.width, name=f"level{level}_{first // 4}", reset_less=True)
                m.d.sync += out.eq(Array(registered[first:first + 4])[chosen])
                joined.append(out)
            next_select = Signal.like(select, name=f"level{level + 1}_select")
            m.d.sync += next_select.eq(level_select)
            registered, level_select, level = joined, next_select, level + 1
        m.d.comb += self.read_data.eq(registered[0])
        return m
