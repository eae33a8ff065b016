"""A first-in, first-out queue in block RAM whose control flags are all registers."""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .banked import dp16kd_mode, dp16kd_read_registered
from .plan import check_block_ram

__all__ = ["SMALL_QUEUE_DEPTH", "EventQueue", "queue_dp16kd_mode"]

#: A queue this shallow stays an inferred memory even with ``block_ram="dp16kd"``, marked for
#: LUT RAM: a few dozen LUTs instead of a whole DP16KD (18 kbit) for a few hundred ids.
SMALL_QUEUE_DEPTH = 256


def queue_dp16kd_mode(width: int, depth: int, *, registered_output: bool,
                      block_ram: str) -> int | None:
    """The DP16KD data width of an :class:`EventQueue` built as a hand-instantiated DP16KD, or
    None when its storage is an inferred memory."""
    if registered_output and block_ram == "dp16kd" and depth > SMALL_QUEUE_DEPTH:
        return dp16kd_mode(width, depth)
    return None


class EventQueue(wiring.Component):
    """A FIFO for event ids: block RAM storage, a registered output, registered flags.

    ``amaranth.lib.fifo.SyncFIFOBuffered`` compares an occupancy counter against empty and full
    in the same cycle as the handshakes that change it; on an iCE40 that chain was the slowest
    path of the core. Here ``w.ready``, ``r.valid`` and ``busy`` are flip-flops, and the next
    flags are chosen by the handshakes from values the counter already had.

    Throughput: one write and one read per cycle. Latency: 2 cycles from a write into an empty
    queue to ``r.valid``. Capacity: `depth` + 1 entries (the memory and the output register).

    With `registered_output`, the block RAM's output passes a register before ``r.payload``
    (on an ECP5 with `block_ram` ``dp16kd``, the DP16KD's own output register): a block RAM's
    clock-to-output (5.6 ns on an ECP5) no longer starts a path into the logic that takes the
    event. The memory's read and that register advance together, as one stallable two-stage
    pipeline. Latency 3 cycles, capacity `depth` + 2, still one read per cycle while
    ``r.ready`` is high.

    Parameters
    ----------
    width : int
        Bits per entry.
    depth : int
        Entries in the memory, ≥ 2.
    registered_output : bool
        Register the memory's output (see above).
    block_ram : {"inferred", "dp16kd"}
        With `registered_output`: an Amaranth memory and a fabric register, or an ECP5 DP16KD
        with its output register (when the queue is deeper than :data:`SMALL_QUEUE_DEPTH` and
        fits one DP16KD). With ``dp16kd`` an inferred memory is marked for LUT RAM.

    Members
    -------
    w : In(stream.Signature(width))
    r : Out(stream.Signature(width))
    busy : Out(1)
        The queue holds at least one entry.
    """

    def __init__(self, width: int, depth: int, *, registered_output: bool = False,
                 block_ram: str = "inferred"):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer, not {width!r}")
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, not {depth!r}")
        check_block_ram(block_ram)
        self._width = width
        self._depth = depth
        self._registered = bool(registered_output)
        self.dp16kd_mode = queue_dp16kd_mode(width, depth, registered_output=registered_output,
                                             block_ram=block_ram)
        super().__init__({
            "w": In(stream.Signature(unsigned(width))),
            "r": Out(stream.Signature(unsigned(width))),
            "busy": Out(1),
        })
        # On an ECP5 yosys would spend a DP16KD on a queue of a hundred-odd entries; a deeper
        # one is left to block RAM (as LUT RAM, a 9,000-entry spike queue took 2,244 of them).
        lut_ram = ({"ram_style": "distributed"}
                   if block_ram == "dp16kd" and depth <= SMALL_QUEUE_DEPTH else None)
        self.storage = (memory.Memory(shape=unsigned(width), depth=depth, init=[], attrs=lut_ram)
                        if self.dp16kd_mode is None else None)

    def elaborate(self, platform):
        depth = self._depth
        m = Module()
        write_port = read_port = None
        if self.dp16kd_mode is None:
            m.submodules.storage = self.storage
            write_port = self.storage.write_port()
            read_port = self.storage.read_port()

        write_pointer = Signal(range(depth))
        read_pointer = Signal(range(depth))
        stored = Signal(range(depth + 1))
        empty = Signal(init=1)
        one = Signal()
        full = Signal()
        almost_full = Signal(init=depth == 1)

        do_write = Signal()
        fetch = Signal()
        # The output stage moves when it is empty or taken; with a registered output the
        # memory's read (stage 1) moves with it.
        advance = Signal()
        fetched = Signal()          # stage 1 holds a read (registered output only)
        m.d.comb += [
            self.w.ready.eq(~full),
            do_write.eq(self.w.valid & ~full),
            advance.eq(~self.r.valid | self.r.ready),
            fetch.eq(~empty & advance),
        ]
        if self.dp16kd_mode is not None:
            m.d.comb += self.r.payload.eq(dp16kd_read_registered(
                m, "storage", self.dp16kd_mode, self._width, [], read_addr=read_pointer,
                read_en=advance, output_en=advance, write_addr=write_pointer,
                write_data=self.w.payload, write_en=do_write))
        else:
            m.d.comb += [
                write_port.addr.eq(write_pointer),
                write_port.data.eq(self.w.payload),
                write_port.en.eq(do_write),
                read_port.addr.eq(read_pointer),
            ]
            if self._registered:
                output = Signal(self._width, reset_less=True)
                with m.If(advance):
                    m.d.sync += output.eq(read_port.data)
                m.d.comb += [read_port.en.eq(advance), self.r.payload.eq(output)]
            else:
                m.d.comb += [read_port.en.eq(fetch), self.r.payload.eq(read_port.data)]
        m.d.comb += self.busy.eq(~empty | fetched | self.r.valid)

        def next_pointer(pointer):
            return Mux(pointer == depth - 1, 0, pointer + 1)

        with m.If(do_write):
            m.d.sync += write_pointer.eq(next_pointer(write_pointer))
        if self._registered:
            with m.If(fetch):
                m.d.sync += read_pointer.eq(next_pointer(read_pointer))
            with m.If(advance):
                m.d.sync += [fetched.eq(fetch), self.r.valid.eq(fetched)]
        else:
            with m.If(fetch):
                m.d.sync += [read_pointer.eq(next_pointer(read_pointer)), self.r.valid.eq(1)]
            with m.Elif(self.r.ready):
                m.d.sync += self.r.valid.eq(0)

        grow = do_write & ~fetch
        shrink = fetch & ~do_write
        with m.If(grow):
            m.d.sync += [
                stored.eq(stored + 1),
                empty.eq(0),
                one.eq(empty),
                full.eq(almost_full),
                almost_full.eq(stored == depth - 2),
            ]
        with m.Elif(shrink):
            m.d.sync += [
                stored.eq(stored - 1),
                empty.eq(one),
                one.eq(stored == 2),
                full.eq(0),
                almost_full.eq(full),
            ]
        return m
