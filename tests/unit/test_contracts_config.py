"""Settings resolution: ERRORTRAIL dict > first set environment variable > default, with typed parsing."""

from __future__ import annotations

import math

import pytest

from contracts.config import ConfigError, Setting, parse_bool, parse_float, parse_int, parse_list, parse_str, resolve

SPECS = (
    Setting("ENABLED", True, "on/off", env=("ERROR_MONITORING_ENABLED",)),
    Setting("REDIS_URL", "redis://127.0.0.1:6379/0", "url", env=("ERRORTRAIL_REDIS_URL", "REDIS_URL")),
    Setting("THRESHOLD", 3, "count", env=("ERROR_AUTO_BUG_THRESHOLD",), minimum=1),
    Setting("TIMEOUT_S", 0.1, "seconds", env=("ERRORTRAIL_TIMEOUT_S",), minimum=0.001),
    Setting("API_PREFIXES", ("/api/",), "list", env=("ERRORTRAIL_API_PREFIXES",)),
    Setting("REPO", None, "optional", env=("GITHUB_REPO",)),
    Setting("NO_ENV", 7, "only from the dict"),
)


def test_defaults_when_nothing_is_set():
    assert resolve(SPECS, {}, {}) == {
        "ENABLED": True,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "THRESHOLD": 3,
        "TIMEOUT_S": 0.1,
        "API_PREFIXES": ("/api/",),
        "REPO": None,
        "NO_ENV": 7,
    }


def test_the_settings_dict_beats_the_environment():
    out = resolve(SPECS, {"THRESHOLD": 5, "REDIS_URL": "redis://dict/1"}, {"ERROR_AUTO_BUG_THRESHOLD": "9", "REDIS_URL": "redis://env/2"})
    assert (out["THRESHOLD"], out["REDIS_URL"]) == (5, "redis://dict/1")


def test_the_environment_beats_the_default_and_the_first_set_variable_wins():
    environ = {"ERRORTRAIL_REDIS_URL": "redis://first/1", "REDIS_URL": "redis://second/2", "ERROR_AUTO_BUG_THRESHOLD": " 4 "}
    out = resolve(SPECS, {}, environ)
    assert (out["REDIS_URL"], out["THRESHOLD"]) == ("redis://first/1", 4)
    assert resolve(SPECS, {}, {"REDIS_URL": "redis://second/2"})["REDIS_URL"] == "redis://second/2"


def test_an_empty_environment_variable_counts_as_unset():
    out = resolve(SPECS, {}, {"ERRORTRAIL_REDIS_URL": "", "REDIS_URL": "redis://second/2", "ERROR_MONITORING_ENABLED": ""})
    assert (out["REDIS_URL"], out["ENABLED"]) == ("redis://second/2", True)


def test_environment_values_are_parsed_to_the_defaults_type():
    environ = {
        "ERROR_MONITORING_ENABLED": "off",
        "ERRORTRAIL_TIMEOUT_S": "0.25",
        "ERRORTRAIL_API_PREFIXES": " /api/ , /v2/,,",
        "GITHUB_REPO": "acme/clinic",
    }
    out = resolve(SPECS, {}, environ)
    assert (out["ENABLED"], out["TIMEOUT_S"], out["API_PREFIXES"], out["REPO"]) == (False, 0.25, ("/api/", "/v2/"), "acme/clinic")


def test_a_setting_with_a_none_default_may_stay_none():
    assert resolve(SPECS, {"REPO": None}, {"GITHUB_REPO": "acme/clinic"})["REPO"] is None


@pytest.mark.parametrize(
    "user, environ, message",
    [
        ({"THRESHOLD": "three"}, {}, "ERRORTRAIL['THRESHOLD']: expected an integer, got 'three'"),
        ({}, {"ERROR_AUTO_BUG_THRESHOLD": "three"}, "environment variable ERROR_AUTO_BUG_THRESHOLD: expected an integer"),
        ({}, {"ERROR_AUTO_BUG_THRESHOLD": "0"}, "environment variable ERROR_AUTO_BUG_THRESHOLD: must be at least 1"),
        ({"THRESHOLD": 0}, {}, "ERRORTRAIL['THRESHOLD']: must be at least 1"),
        ({}, {"ERRORTRAIL_TIMEOUT_S": "0"}, "environment variable ERRORTRAIL_TIMEOUT_S: must be at least 0.001"),
        ({}, {"ERROR_MONITORING_ENABLED": "maybe"}, "environment variable ERROR_MONITORING_ENABLED: expected true or false"),
        ({"ENABLED": None}, {}, "ERRORTRAIL['ENABLED']: expected true or false"),
        ({"API_PREFIXES": 5}, {}, "ERRORTRAIL['API_PREFIXES']: expected a list"),
        ({}, {"ERRORTRAIL_REDIS_URL": "", "REDIS_URL": "x", "ERRORTRAIL_TIMEOUT_S": "nan"}, "environment variable ERRORTRAIL_TIMEOUT_S: expected a number, got NaN"),
    ],
)
def test_config_errors_name_their_source(user, environ, message):
    with pytest.raises(ConfigError) as caught:
        resolve(SPECS, user, environ)
    assert str(caught.value).startswith(message)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_minimum_is_inclusive():
    assert resolve(SPECS, {"THRESHOLD": 1, "TIMEOUT_S": 0.001}, {})["THRESHOLD"] == 1


@pytest.mark.parametrize(
    "raw, value",
    [(True, True), (False, False), ("1", True), ("true", True), ("Yes", True), (" ON ", True), ("0", False),
     ("false", False), ("No", False), ("off", False), ("", False), (1, True), (0, False)],
)
def test_parse_bool(raw, value):
    assert parse_bool(raw) is value


@pytest.mark.parametrize("raw", ["maybe", "2", None, 2, "tru"])
def test_parse_bool_refuses(raw):
    with pytest.raises(ConfigError, match="expected true or false"):
        parse_bool(raw)


@pytest.mark.parametrize("raw, value", [(3, 3), ("3", 3), (" -7 ", -7), ("0", 0), (10**20, 10**20)])
def test_parse_int(raw, value):
    assert parse_int(raw) == value


@pytest.mark.parametrize("raw", [True, "3.5", 3.5, "", None, "x", "1" * 5000])
def test_parse_int_refuses(raw):
    with pytest.raises(ConfigError, match="expected an integer"):
        parse_int(raw)


@pytest.mark.parametrize("raw, value", [(1, 1.0), ("0.25", 0.25), (" 2 ", 2.0), ("1e-3", 0.001), ("inf", math.inf)])
def test_parse_float(raw, value):
    assert parse_float(raw) == value


@pytest.mark.parametrize("raw", [True, "x", None, "", [1], "nan", float("nan")])
def test_parse_float_refuses(raw):
    with pytest.raises(ConfigError, match="expected a number"):
        parse_float(raw)


@pytest.mark.parametrize(
    "raw, value",
    [("a,b", ("a", "b")), (" a , ,b ,", ("a", "b")), ("", ()), (["x", 1], ("x", "1")), (("a",), ("a",)),
     ({"b", "a", "c"}, ("a", "b", "c")), (frozenset({"z", "y"}), ("y", "z"))],
)
def test_parse_list(raw, value):
    assert parse_list(raw) == value


@pytest.mark.parametrize("raw", [None, 5, {"a": 1}])
def test_parse_list_refuses(raw):
    with pytest.raises(ConfigError, match="expected a list"):
        parse_list(raw)


@pytest.mark.parametrize("raw, value", [(None, ""), ("x", "x"), (5, "5")])
def test_parse_str(raw, value):
    assert parse_str(raw) == value


def test_a_default_of_another_type_is_passed_through():
    spec = Setting("SCAN_STEPS", ["a.b"], "dotted paths")
    assert resolve([spec], {"SCAN_STEPS": ["x.y", "z.w"]}, {})["SCAN_STEPS"] == ["x.y", "z.w"]
