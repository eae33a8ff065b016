"""A first-in, first-out queue in block RAM whose control flags are all registers."""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["EventQueue"]


class EventQueue(wiring.Component):
    """A FIFO for event ids: block RAM storage, a registered output, registered flags.

    ``amaranth.lib.fifo.SyncFIFOBuffered`` compares an occupancy counter against empty and full
    in the same cycle as the handshakes that change it; on an iCE40 that chain was the slowest
    path of the core. Here ``w.ready``, ``r.valid`` and ``busy`` are flip-flops, and the next
    flags are chosen by the handshakes from values the counter already had.

    Throughput: one write and one read per cycle. Latency: 2 cycles from a write into an empty
    queue to ``r.valid``. Capacity: `depth` + 1 entries (the memory and the output register).

    Parameters
    ----------
    width : int
        Bits per entry.
    depth : int
        Entries in the memory, ≥ 2.

    Members
    -------
    w : In(stream.Signature(width))
    r : Out(stream.Signature(width))
    busy : Out(1)
        The queue holds at least one entry.
    """

    def __init__(self, width: int, depth: int):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer, not {width!r}")
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, not {depth!r}")
        self._width = width
        self._depth = depth
        super().__init__({
            "w": In(stream.Signature(unsigned(width))),
            "r": Out(stream.Signature(unsigned(width))),
            "busy": Out(1),
        })
        self.storage = memory.Memory(shape=unsigned(width), depth=depth, init=[])

    def elaborate(self, platform):
        depth = self._depth
        m = Module()
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
        m.d.comb += [
            self.w.ready.eq(~full),
            do_write.eq(self.w.valid & ~full),
            fetch.eq(~empty & (~self.r.valid | self.r.ready)),
            write_port.addr.eq(write_pointer),
            write_port.data.eq(self.w.payload),
            write_port.en.eq(do_write),
            read_port.addr.eq(read_pointer),
            read_port.en.eq(fetch),
            self.r.payload.eq(read_port.data),
            self.busy.eq(~empty | self.r.valid),
        ]

        def advance(pointer):
            return Mux(pointer == depth - 1, 0, pointer + 1)

        with m.If(do_write):
            m.d.sync += write_pointer.eq(advance(write_pointer))
        with m.If(fetch):
            m.d.sync += [read_pointer.eq(advance(read_pointer)), self.r.valid.eq(1)]
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
