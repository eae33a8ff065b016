"""An 8N1 UART: a receiver and a transmitter with byte streams."""


from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTReceiver", "UARTTransmitter"]


def _check_divisor(divisor: object) -> int:
    if isinstance(divisor, bool) or not isinstance(divisor, int):
        raise TypeError(f"divisor must be an integer, not {divisor!r}")
    if divisor < 4:
        raise ValueError(f"divisor must be at least 4 clock cycles per bit, not {divisor!r}")
    return divisor


class UARTReceiver(wiring.Component):
    """8N1 receiver: one byte per frame on ``bytes``, sampled in the middle of each bit.

    Latency: the byte is offered about half a bit after its stop bit's middle. Throughput: one
    byte per 10 bit times. A byte arriving while the previous one still waits on ``bytes`` is
    dropped and counted in ``overruns`` (the host link never lets that happen: it reads every
    byte within a byte time). A frame whose stop bit is 0 is dropped and counted in
    ``framing_errors``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock frequency / baud rate), at least 4.

    Members
    -------
    rx : In(1)
        The serial line (idle high); synchronized inside.
    bytes : Out(stream.Signature(8))
    overruns, framing_errors : Out(8)
        Wrapping event counters.
    """

    rx: In(1, init=1)
    bytes: Out(stream.Signature(8))
    overruns: Out(8)
    framing_errors: Out(8)

    def __init__(self, divisor: int):
        self._divisor = _check_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self._divisor * 3 // 2 + 1))
        bit = Signal(range(10))
        shift = Signal(8)
        with m.If(self.bytes.ready):
            m.d.sync += self.bytes.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    # First sample in the middle of data bit 0: one and a half bits from here.
                    m.d.sync += [timer.eq(self._divisor * 3 // 2 - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self._divisor - 1), bit.eq(bit + 1)]
                    with m.If(bit == 8):
                        with m.If(~line):
                            m.d.sync += self.framing_errors.eq(self.framing_errors + 1)
                        with m.Elif(self.bytes.valid & ~self.bytes.ready):
                            m.d.sync += self.overruns.eq(self.overruns + 1)
                        with m.Else():
                            m.d.sync += [self.bytes.payload.eq(shift), self.bytes.valid.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += shift.eq((shift >> 1) | (line << 7))
        return m


class UARTTransmitter(wiring.Component):
    """8N1 transmitter: sends each byte of ``bytes``, LSB first.

    Throughput: one byte per 10 bit times; ``bytes.ready`` is high while idle.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4.

    Members
    -------
    bytes : In(stream.Signature(8))
    tx : Out(1)
        The serial line (idle high).
    """

    bytes: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        self._divisor = _check_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self._divisor))
        frame = Signal(10, init=0x3FF)
        left = Signal(range(11))
        m.d.comb += self.tx.eq(frame[0])
        with m.If(left == 0):
            m.d.comb += self.bytes.ready.eq(1)
            with m.If(self.bytes.valid):
                m.d.sync += [frame.eq((1 << 9) | (self.bytes.payload << 1)), left.eq(10),
                             timer.eq(self._divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                m.d.sync += [frame.eq((frame >> 1) | (1 << 9)), left.eq(left - 1),
                             timer.eq(self._divisor - 1)]
        return m
