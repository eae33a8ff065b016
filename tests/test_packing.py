"""Packed synapse tables (several entries per word, as iCE40 SPRAM's 16-bit words hold them):
the words decode to the table's entries, and the hardware reading them is bit-exact."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from rtl_cases import random_case, stimulus
from strategies import network_documents

from snngen.hw.plan import plan_hardware
from snngen.model.golden import simulate
from snngen.model.network import network_from_json
from snngen.verify.amaranth import run_amaranth


def ref_run(network, steps, inputs):
    return simulate(network, steps, inputs)


def rtl_run(network, steps, inputs, groups, **plan_options):
    return run_amaranth(plan_hardware(network, groups, **plan_options), steps, inputs,
                        stall_seed=5)


# (seed, bits, weight bits, storage, groups, bank depth, runtime weights)
CASES = [
    (1, 8, 4, "dense", 2, 0, False),
    (2, 8, 4, "dense", 3, 4, True),
    (3, 4, 2, "dense", 1, 2, True),
    (4, 16, 3, "sparse", 2, 0, True),
    (5, 8, 8, "dense", 2, 4, True),
    (6, 4, 4, "auto", 2, 8, False),
]


@pytest.mark.parametrize(("seed", "bits", "weight_bits", "storage", "groups", "bank_depth",
                          "runtime"), CASES)
def test_packed_tables_are_bit_exact(seed, bits, weight_bits, storage, groups, bank_depth,
                                     runtime):
    network = random_case(seed, bits, "signed", "saturate", "subtract", neurons=12, inputs=4,
                          density=0.9, weight_bits=weight_bits)
    plan = plan_hardware(network, groups, storage=storage, pack_bits=16, bank_depth=bank_depth,
                         runtime_weights=runtime)
    assert max(plan.group_pack(g) for g in range(groups)) >= 2
    inputs = stimulus(seed, 12, network.inputs, rate=0.5)
    expected = ref_run(network, 12, inputs)
    got = rtl_run(network, 12, inputs, groups, storage=storage, pack_bits=16,
                  bank_depth=bank_depth, runtime_weights=runtime)
    assert expected.spikes.any()
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


@pytest.mark.parametrize("pack_bits", [0, 8, 16, 18, 36])
def test_words_hold_every_entry(pack_bits):
    """Word w, lane l holds entry w·P + l; P is the most entries (a power of two) that fit."""
    network = random_case(7, 8, "signed", "saturate", "subtract", neurons=20, inputs=5,
                          density=0.7, weight_bits=5)
    packed = plan_hardware(network, 3, pack_bits=pack_bits)
    plain = plan_hardware(network, 3)
    for g in range(3):
        width, pack = packed.group_entry_width(g), packed.group_pack(g)
        assert pack & (pack - 1) == 0 and pack * width <= max(pack_bits, width)
        assert pack_bits < 2 * pack * width or pack_bits == 0
        entries = [(word >> (lane * width)) & ((1 << width) - 1)
                   for word in packed.synapse_words(g) for lane in range(pack)]
        expected = plain.synapse_words(g)
        assert entries[:len(expected)] == expected
        assert not any(entries[len(expected):])
        assert packed.synapse_table_words(g) == max(1, -(-len(expected) // pack))


def test_four_bit_weights_pack_four_to_an_spram_word():
    network = random_case(9, 8, "signed", "saturate", "subtract", neurons=16, inputs=8,
                          density=1.0, weight_bits=4)
    plan = plan_hardware(network, 1, storage="dense", pack_bits=16)
    assert plan.group_entry_width(0) == 4 and plan.group_pack(0) == 4
    assert plan.memory_bits()["synapses"] == 16 * -(-plan.group_plans[0].synapse_count // 4)
    assert plan.describe()["synapse_entries_per_word"] == [4]


def test_pack_bits_is_checked():
    network = random_case(9, 8, "signed", "saturate", "subtract")
    for bad in (-1, 65, 2.0, True):
        with pytest.raises(ValueError, match=r"pack_bits must be an integer in 0\.\.64"):
            plan_hardware(network, 1, pack_bits=bad)


def test_spram_targets_pack_and_others_do_not():
    from snngen.synth.flow import target_plan

    network = random_case(9, 8, "signed", "saturate", "subtract", neurons=16, inputs=8,
                          density=1.0, weight_bits=4)
    assert target_plan(network, "ice40-up5k", 1, True).pack_bits == 16
    assert target_plan(network, "ice40-up5k", 1, False).pack_bits == 0
    assert target_plan(network, "ecp5-85f", 1, True).pack_bits == 0
    assert np.all(np.asarray(target_plan(network, "ice40-up5k", 1, True)
                             .describe()["synapse_entries_per_word"]) >= 2)


@settings(max_examples=20, deadline=None)
@given(network_documents(max_neurons=8, max_inputs=3), st.integers(1, 4), st.integers(1, 8),
       st.sampled_from([4, 8, 16, 32]), st.sampled_from(["auto", "sparse", "dense"]),
       st.sampled_from([0, 1, 2, 4]), st.booleans(), st.integers(0, 2**16))
def test_random_networks_packed(doc, groups, steps, pack_bits, storage, bank_depth, runtime,
                                seed):
    """Any network, packing width, layout, bank depth and weight loading: bit-exact."""
    network = network_from_json(doc)
    groups = min(groups, network.neurons)
    inputs = stimulus(seed, steps, network.inputs)
    expected = ref_run(network, steps, inputs)
    got = run_amaranth(plan_hardware(network, groups, storage=storage, pack_bits=pack_bits,
                                     bank_depth=bank_depth, runtime_weights=runtime),
                       steps, inputs)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


def test_build_and_verify_take_pack_bits(tmp_path, capsys):
    """`snngen build --pack-bits 16` writes the packed words and says so in the manifest;
    `snngen verify --pack-bits 16` checks that design bit-exact; a width out of range is one
    line naming the flag."""
    import json

    from snngen.cli import main
    from snngen.model.network import save_network

    network = random_case(9, 8, "signed", "saturate", "subtract", neurons=12, inputs=6,
                          density=0.9, weight_bits=4)
    path = tmp_path / "net.json"
    save_network(network, path)
    out = tmp_path / "design"
    assert main(["build", str(path), "--runtime-weights", "--pack-bits", "16",
                 "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["pack_bits"] == 16
    assert min(manifest["parameters"]["synapse_entries_per_word"]) >= 2
    assert main(["verify", str(path), "--steps", "6", "--runtime-weights", "--pack-bits", "16",
                 "--groups", "2"]) == 0
    capsys.readouterr()
    assert main(["build", str(path), "--pack-bits", "65", "--out", str(tmp_path / "bad")]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--pack-bits" in error and "0..64" in error and "65" in error
    assert not (tmp_path / "bad").exists()
