"""The demo's settings-from-environment parsers."""

from pathlib import Path

import pytest

from demo.petclinic.env import database, database_from_url, env_bool, env_list


def test_sqlite_absolute_and_relative_paths():
    assert database_from_url("sqlite:////tmp/clinic.sqlite3") == {
        "ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/clinic.sqlite3"}
    assert database_from_url("sqlite:///var/clinic.sqlite3")["NAME"] == "var/clinic.sqlite3"
    assert database_from_url("sqlite:///var/c.db", base_dir=Path("/srv"))["NAME"] == "/srv/var/c.db"
    assert database_from_url("sqlite:///:memory:")["NAME"] == ":memory:"


def test_postgres_url_with_and_without_password():
    db = database_from_url("postgres://postgres@127.0.0.1:5432/test")
    assert db == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "test", "USER": "postgres", "PASSWORD": "",
        "HOST": "127.0.0.1", "PORT": "5432", "OPTIONS": {}}
    db = database_from_url("postgresql://app:p%40ss%2Fword@db.internal/clinic?sslmode=require")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == ("app", "p@ss/word", "db.internal", "", "clinic")
    assert db["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgres://u@h:5432/", "sqlite://", "sqlite://host/x.db", "nonsense"])
def test_unusable_urls_are_refused(url):
    with pytest.raises(ValueError):
        database_from_url(url)


def test_database_falls_back_to_the_default_sqlite_file():
    assert database({}, Path("/d/clinic.sqlite3"))["NAME"] == "/d/clinic.sqlite3"
    assert database({"DATABASE_URL": "  "}, Path("/d/c.sqlite3"))["NAME"] == "/d/c.sqlite3"
    assert database({"DATABASE_URL": "postgres://u@h/db"}, Path("/d/c.sqlite3"))["NAME"] == "db"
    with pytest.raises(ValueError):
        database({})


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("True", True), (" on ", True), ("0", False), ("no", False), ("", False)])
def test_env_bool(raw, expected):
    assert env_bool({"X": raw}, "X", not expected) is expected


def test_env_bool_default_and_garbage():
    assert env_bool({}, "X", True) is True
    with pytest.raises(ValueError, match="X must be true or false"):
        env_bool({"X": "maybe"}, "X", False)


def test_env_list():
    assert env_list({}, "HOSTS", ["a"]) == ["a"]
    assert env_list({"HOSTS": "a.test, b.test,,"}, "HOSTS", []) == ["a.test", "b.test"]
    assert env_list({"HOSTS": ""}, "HOSTS", ["a"]) == []
