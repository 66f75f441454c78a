"""Which cores an in-process vLLM engine gets: the judge's settings, the operator's, or every core."""

from __future__ import annotations

import os

import pytest

from service.config import PLACEMENT_ENGINE_KEYS
from workers.backends.cpu_binding import (
    BIND_ENV,
    ENGINE_KEYS,
    RESERVED_ENV,
    binding_env,
    engine_binding,
    split_engine_settings,
)


@pytest.mark.parametrize(
    ("engine", "environ", "expected"),
    [
        # nothing set anywhere: the model gets every core (no core reserved for a front end)
        ({}, {}, {RESERVED_ENV: "0"}),
        ({"dtype": "float32"}, {"PATH": "/bin"}, {RESERVED_ENV: "0"}),
        # the operator chose: the service changes neither variable
        ({}, {BIND_ENV: "0"}, {}),
        ({}, {RESERVED_ENV: "1"}, {}),
        ({}, {BIND_ENV: "auto", RESERVED_ENV: "1"}, {}),
        # the judge chose: its settings win over the operator's and the default
        ({"cpu_threads_bind": "0"}, {}, {BIND_ENV: "0"}),
        ({"cpu_threads_bind": " 2-3 "}, {BIND_ENV: "0-1"}, {BIND_ENV: "2-3"}),
        ({"cpu_reserved_cpus": 1}, {RESERVED_ENV: "0"}, {RESERVED_ENV: "1"}),
        ({"cpu_threads_bind": "nobind", "cpu_reserved_cpus": 0}, {}, {BIND_ENV: "nobind", RESERVED_ENV: "0"}),
    ],
)
def test_binding_precedence(engine, environ, expected):
    _, judge_binding = split_engine_settings(engine)
    assert binding_env(judge_binding, environ) == expected


def test_binding_keys_are_not_passed_to_the_engine():
    kwargs, binding = split_engine_settings({"dtype": "float32", "cpu_threads_bind": "0-1", "cpu_reserved_cpus": 0})
    assert kwargs == {"dtype": "float32"}
    assert binding == {BIND_ENV: "0-1", RESERVED_ENV: "0"}


def test_the_keys_left_out_of_the_fingerprint_are_exactly_the_binding_keys():
    assert set(ENGINE_KEYS) == PLACEMENT_ENGINE_KEYS


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        ({"cpu_reserved_cpus": -1}, "engine.cpu_reserved_cpus must be a whole number >= 0, got -1"),
        ({"cpu_reserved_cpus": "1"}, "engine.cpu_reserved_cpus must be a whole number >= 0, got '1'"),
        ({"cpu_reserved_cpus": True}, "engine.cpu_reserved_cpus must be a whole number >= 0, got True"),
        ({"cpu_threads_bind": ""}, "engine.cpu_threads_bind must be 'auto', 'nobind' or a core list"),
        ({"cpu_threads_bind": 3}, "engine.cpu_threads_bind must be 'auto', 'nobind' or a core list"),
    ],
)
def test_bad_binding_settings_name_the_key(engine, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        split_engine_settings(engine)


def test_variables_are_set_while_the_engine_starts_and_restored_after(monkeypatch):
    monkeypatch.setenv(BIND_ENV, "0")
    monkeypatch.delenv(RESERVED_ENV, raising=False)
    with engine_binding({BIND_ENV: "0-1", RESERVED_ENV: "0"}):
        assert (os.environ[BIND_ENV], os.environ[RESERVED_ENV]) == ("0-1", "0")
    assert os.environ[BIND_ENV] == "0" and RESERVED_ENV not in os.environ
