"""network.json: round trips, defaults, extra keys, immutability, determinism."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_array_equal
from strategies import network_documents

from snngen.errors import InputError, InputTypeError
from snngen.model.generate import random_network
from snngen.model.network import (
    Network,
    NeuronModel,
    Overflow,
    Representation,
    Reset,
    StateFormat,
    load_network,
    network_from_json,
    network_to_json,
    save_network,
)


@given(network_documents())
def test_round_trip(doc):
    network = network_from_json(doc)
    text = network_to_json(network)
    again = network_from_json(json.loads(text))
    assert again == network
    assert network_to_json(again) == text
    parsed = json.loads(text)
    for key, value in doc.items():
        assert parsed[key] == value


def test_defaults_for_optional_fields():
    doc = {
        "format": "snngen-network", "version": 1, "neurons": 2, "inputs": 0, "state_bits": 4,
        "weight_bits": 4, "representation": "unsigned", "overflow": "wrap", "leak_shift": None,
        "threshold": 3, "reset": "zero", "weights": [[0, 1], [1, 0]], "input_weights": [[], []],
    }
    network = network_from_json(doc)
    assert network.neuron.reset_value == 0
    assert_array_equal(network.bias, [0, 0])
    assert_array_equal(network.initial_state, [0, 0])
    assert network.inputs == 0
    assert network.state.representation is Representation.UNSIGNED
    assert network.state.overflow is Overflow.WRAP
    assert network.neuron.reset is Reset.ZERO
    # An empty list is accepted for N×0 input weights too.
    assert network_from_json({**doc, "input_weights": []}) == network


def test_meta_and_provenance_are_kept(tmp_path):
    network = random_network(neurons=5, seed=3)
    assert network.extra["generator"]["seed"] == 3
    path = tmp_path / "net.json"
    save_network(network, path)
    doc = json.loads(path.read_text())
    doc["meta"] = {"by": "a user", "list": [1, 2]}
    path.write_text(json.dumps(doc))
    loaded = load_network(path)
    assert loaded.extra["meta"] == {"by": "a user", "list": [1, 2]}
    assert loaded.extra["generator"] == network.extra["generator"]
    save_network(loaded, tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text())["meta"]["by"] == "a user"


@pytest.mark.parametrize(("change", "message"), [
    ({"initial_states": [0] * 5}, "an unknown field 'initial_states' (did you mean "
                                  "'initial_state'?); free-form data belongs under 'meta'"),
    ({"comment": "mine"}, "an unknown field 'comment' (allowed: format, version"),
    ({"bias": None}, "bias must be left out for its default, not null"),
    ({"initial_state": None}, "initial_state must be left out for its default, not null"),
    ({"reset_value": None}, "reset_value must be left out for its default, not null"),
    ({"version": 1.0}, "version must be 1, 2, 3 or 4, not 1.0"),
    ({"neurons": 5.0}, "neurons must be an integer, not 5.0"),
])
def test_network_json_is_strict(tmp_path, change, message):
    network = random_network(neurons=5, seed=3)
    path = tmp_path / "net.json"
    save_network(network, path)
    doc = {**json.loads(path.read_text()), **change}
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as error:
        load_network(path)
    assert message in str(error.value)


def test_a_near_miss_inside_dynamics_gets_a_suggestion():
    network = random_network(neurons=3, seed=1)
    doc = json.loads(network_to_json(network))
    doc = {**doc, "version": 3, "dynamics": {"refractroy": 2}}
    with pytest.raises(InputError, match=r"dynamics has an unknown field 'refractroy' \(did you "
                                         r"mean 'refractory'\?\)"):
        network_from_json(doc)


def test_python_extras_outside_the_known_places_are_refused():
    network = random_network(neurons=3, seed=1)
    with pytest.raises(InputError, match="extra field 'notes' must be one of meta, generator"):
        network.replace(extra={"notes": 1})


def test_network_is_frozen_and_its_arrays_read_only():
    network = random_network(neurons=4, seed=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        network.weight_bits = 3
    with pytest.raises(ValueError, match="read-only"):
        network.weights[0, 0] = 1
    with pytest.raises(TypeError):
        hash(network)


def test_replace_validates_again():
    network = random_network(neurons=4, bits=8, seed=1)
    with pytest.raises(InputError, match=r"threshold must be in 1\.\.7 for 4-bit signed state"):
        network.replace(state=StateFormat(4))


def test_generator_is_deterministic_and_seeded():
    a = network_to_json(random_network(neurons=40, seed=11))
    b = network_to_json(random_network(neurons=40, seed=11))
    c = network_to_json(random_network(neurons=40, seed=12))
    assert a == b
    assert a != c


@pytest.mark.parametrize("density", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_generator_density_and_no_self_loops(density):
    network = random_network(neurons=120, density=density, seed=5)
    assert not np.diagonal(network.weights).any()
    fraction = np.count_nonzero(network.weights) / (120 * 119)
    assert abs(fraction - density) < 0.02


@pytest.mark.parametrize("bits", [2, 3, 4, 8, 16, 32])
@pytest.mark.parametrize("representation", ["signed", "unsigned"])
def test_generator_covers_every_width(bits, representation):
    network = random_network(neurons=16, bits=bits, representation=representation, seed=bits)
    assert network.state.bits == bits
    assert network.weight_bits == min(bits, 16)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bits", [4, 8, 16])
def test_default_network_is_active_but_not_saturated(bits, seed):
    """The defaults give irregular activity for 1000 steps: neither silent nor all firing."""
    from snngen.model.golden import simulate
    network = random_network(bits=bits, seed=seed)
    trace = simulate(network, 1000)
    late = trace.spikes[-200:]
    assert 0.05 < late.mean() < 0.8
    assert late.any(axis=0).sum() > network.neurons // 4
    assert not late.all(axis=0).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"state": "8"}, InputTypeError, "state must be a StateFormat"),
        ({"weight_bits": 0}, InputError, "weight_bits must be in 1..32, not 0"),
        ({"weight_bits": 2.0}, InputTypeError, "weight_bits must be an integer, not 2.0"),
        ({"weights": np.zeros((2, 2), float)}, InputTypeError, "weights must hold integers"),
        ({"weights": np.zeros((2, 3), int)}, InputError, "weights must be a 2×2 matrix"),
        ({"bias": [1, 2, 3]}, InputError, "bias must be a length 2 list"),
        ({"bias": np.array([True, False])}, InputTypeError, "bias must hold integers"),
        ({"initial_state": [0, 300]}, InputError,
         "initial_state[1] must be in -128..127 for 8-bit signed state, not 300"),
    ],
)
def test_constructor_rejects(kwargs, error, message):
    base = {
        "state": StateFormat(8), "neuron": NeuronModel(threshold=10), "weight_bits": 8,
        "weights": [[0, 1], [1, 0]], "input_weights": [[1], [1]],
    }
    with pytest.raises(error) as info:
        Network(**{**base, **kwargs})
    assert message in str(info.value)


def test_state_format_bounds():
    assert (StateFormat(8).min, StateFormat(8).max) == (-128, 127)
    assert (StateFormat(8, "unsigned").min, StateFormat(8, "unsigned").max) == (0, 255)
    assert (StateFormat(32).min, StateFormat(32).max) == (-(2**31), 2**31 - 1)
    assert StateFormat(4, "unsigned").describe() == "4-bit unsigned state"
    with pytest.raises(InputError, match=r"representation must be one of signed\|unsigned"):
        StateFormat(8, "twos")
