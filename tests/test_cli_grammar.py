"""One command-line grammar (docs/command-line.md): one test per rule, over every command."""

import argparse
import json

import pytest

from snngen.cli import build_parser, main
from snngen.model.generate import random_network
from snngen.model.network import save_network
from snngen.synth.flow import TARGETS


def subparsers(parser=None, prefix="snngen"):
    """(command path, parser) for every command and subcommand."""
    parser = parser or build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from subparsers(sub, f"{prefix} {name}")


def options():
    """(command, action) for every option of every command, but --help and switches."""
    for command, parser in subparsers():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            yield command, action


def error_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.fixture
def net(tmp_path):
    path = tmp_path / "net.json"
    save_network(random_network(neurons=6, inputs=2, seed=1), path)
    return str(path)


# Rule 1: every command that needs a network takes NET.json or the network flags, one of them.
NETWORK_COMMANDS = [["sim", "--steps", "2"], ["build"], ["verify", "--steps", "2"],
                    ["synth", "--target", "ice40-up5k"],
                    ["board", "build", "--board", "icebreaker"],
                    ["run", "--port", "sim", "--steps", "2", "--out", "t.npz"]]


@pytest.mark.parametrize("argv", NETWORK_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_network_is_given_once_as_a_file_or_as_flags(tmp_path, capsys, net, argv):
    parsed = build_parser().parse_args([*argv, "--neurons", "5"])
    assert parsed.network is None and parsed.neurons == 5   # the flags alone are a network
    words = 2 if argv[0] == "board" else 1
    command = " ".join(argv[:words])
    status = main([*argv[:words], net, *argv[words:], "--neurons", "5"])
    assert status == 2
    assert error_line(capsys) == (f"snngen {command}: error: --neurons does not apply with "
                                  f"{net}: a network is given as NET.json or as the network "
                                  "flags, not both")


def test_run_on_a_simulated_board_names_the_network_once(tmp_path, capsys, net):
    assert main(["run", "--port", f"sim:{net}", "--steps", "2", "--out",
                 str(tmp_path / "t.npz")]) == 2
    assert "the network is given once, as NET.json or the network flags (snngen run NET.json " \
           "--port sim)" in error_line(capsys)
    assert main(["run", net, "--port", "sim", "--steps", "2", "--out", str(tmp_path / "t.npz"),
                 "--quiet"]) == 0
    assert "bit-exact: 2 steps x 6 neurons" in capsys.readouterr().out


# Rule 2: one syntax for every multi-valued flag: a comma list or an inclusive range A:B[:S].
@pytest.mark.parametrize(("argv", "field", "expected"), [
    (["sweep", "--neurons", "3:9:3", "--out", "d"], "neurons", [3, 6, 9]),
    (["sweep", "--density", "0.1,0.3", "--out", "d"], "density", [0.1, 0.3]),
    (["sweep", "--bits", "4:6", "--out", "d"], "bits", [4, 5, 6]),
    (["explore", "--neurons", "3:9:3", "--out", "d"], "neurons", [3, 6, 9]),
    (["explore", "--bits", "4,8", "--out", "d"], "bits", [4, 8]),
    (["sweep", "--targets", "all", "--out", "d"], "targets", list(TARGETS)),
])
def test_lists_and_ranges_are_one_syntax(argv, field, expected):
    assert getattr(build_parser().parse_args(argv), field) == expected


# Rule 3: --jobs, --seed, --steps and --target(s) are validated once, the same everywhere.
@pytest.mark.parametrize("argv", [["sweep", "--out", "d"], ["explore", "--out", "d"]])
@pytest.mark.parametrize("jobs", ["0", "-5", "257"])
def test_jobs_is_one_rule(capsys, argv, jobs):
    assert main([*argv, "--jobs", jobs]) == 2
    assert error_line(capsys).endswith(f"argument --jobs: must be in 1..256, not {jobs}")


@pytest.mark.parametrize("argv", [["network", "--out", "n.json"], ["sweep", "--out", "d"],
                                  ["quantize", "m.nir", "--out", "n.json"],
                                  ["demo", "digits", "--out", "d"]])
def test_seed_is_one_rule(capsys, argv):
    assert main([*argv, "--seed", "-1"]) == 2
    assert error_line(capsys).endswith("argument --seed: must be in 0..4294967295, not -1")


@pytest.mark.parametrize(("argv", "maximum"), [
    (["sim", "{net}"], 10**12), (["verify", "{net}"], 10**9),
    (["run", "{net}", "--port", "sim", "--out", "t.npz"], 10**9),
    (["explore", "--out", "d"], 10**6)])
def test_steps_is_one_rule(capsys, net, argv, maximum):
    argv = [a.format(net=net) for a in argv]
    assert main([*argv, "--steps", "0"]) == 2
    assert error_line(capsys).endswith(f"error: --steps must be in 1..{maximum}, not 0")


@pytest.mark.parametrize("argv", [["synth", "--target", "virtex"],
                                  ["sweep", "--targets", "ice40-up5k,virtex", "--out", "d"],
                                  ["demo", "digits", "--out", "d", "--target", "virtex"]])
def test_targets_are_one_list(capsys, argv):
    assert main(argv) == 2
    message = error_line(capsys)
    assert "virtex" in message and all(name in message for name in TARGETS)


# Rule 4: --help gives every option's default (and ranges where they apply); ASCII metavars.
def test_every_option_states_its_default_in_help():
    missing = [f"{command} {action.option_strings[0]}" for command, action in options()
               if action.option_strings and not action.required
               and not isinstance(action, argparse._StoreTrueAction | argparse._VersionAction)
               and "default" not in (action.help or "").lower()]
    assert not missing, missing


def test_metavars_and_flags_are_ascii():
    odd = [f"{command} {action.metavar or action.dest}" for command, action in options()
           if not "".join([*(action.option_strings or []),
                           action.metavar if isinstance(action.metavar, str) else ""]).isascii()]
    assert not odd, odd


@pytest.mark.parametrize("flag", ["--neurons", "--inputs", "--bits", "--density", "--seed",
                                  "--steps", "--jobs"])
def test_numeric_flags_state_their_range(flag):
    helps = [(command, action.help) for command, action in options()
             if flag in action.option_strings and command != "snngen demo"]
    assert helps
    for command, text in helps:
        assert ".." in text, (command, flag, text)


# Rule 5: an option of the other simulator is refused, not ignored.
@pytest.mark.parametrize(("argv", "message"), [
    (["--sim", "icarus", "--vcd", "w.vcd"], "--vcd needs --sim amaranth, not --sim icarus"),
    (["--sim", "verilator", "--read-states", "port"],
     "--read-states needs --sim amaranth, not --sim verilator"),
    (["--waves"], "--waves needs --sim icarus or verilator, not --sim amaranth"),
    (["--build-dir", "b"], "--build-dir needs --sim icarus or verilator, not --sim amaranth"),
])
def test_options_of_the_other_simulator_are_refused(capsys, net, argv, message):
    assert main(["verify", net, "--steps", "2", *argv]) == 2
    assert error_line(capsys) == f"snngen verify: error: {message}"


# Rule 6: errors and mismatches go to stderr as `snngen COMMAND: error: …`, subcommands in full.
def test_a_subcommand_names_itself_in_full(capsys):
    assert main(["board", "build", "--board", "icebreaker", "--neurons", "0"]) == 2
    assert error_line(capsys).startswith("snngen board build: error: --neurons must be")


def test_a_mismatch_is_an_error_line(capsys):
    from snngen.cli.common import report_mismatch

    status = report_mismatch("run", {"step": 4, "neuron": 2, "what": "state", "expected": 3,
                                     "got": 5})
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert captured.err == ("snngen run: error: mismatch at step 4, neuron 2: state expected 3, "
                            "got 5\n")


# Rule 7: the default reset follows the source of the network.
def test_reset_defaults_follow_one_rule():
    parse = build_parser().parse_args
    assert parse(["import", "m.nir", "--out", "n.json"]).reset == "zero"      # NIR's own
    assert parse(["quantize", "m.nir", "--out", "n.json"]).reset == "zero"    # NIR's own
    assert parse(["network", "--out", "n.json"]).reset == "subtract"          # snngen's own
    assert parse(["sim", "--steps", "1"]).reset == "subtract"


def test_the_summary_of_a_command_is_json_on_request(capsys, net):
    assert main(["sim", net, "--steps", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 3
