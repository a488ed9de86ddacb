"""Fingerprint algorithm v1: golden vectors, normalization, and CSRF kinds from every Django 5.2 reason."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.middleware import csrf as django_csrf

from contracts import fingerprint as fp

PETS_ROUTE_BASIS = "v1|http|4xx|404|route=pets/<int:pk>/"
PETS_ROUTE_FP = "00685b05b64f7f303d73f1b030822c7d6b9427a0e05c0696466f265387bc7649"
FRAMES = [("demo.pets.views", "pet_detail"), ("demo.pets.models", "age")]


def http_fp(path, route=None, status=404, error_type="404", kind=None):
    return fp.fingerprint(fp.http_basis(status, error_type, route, path, kind))


def exc_fp(exc_type="ZeroDivisionError", frames=FRAMES, message="division by zero", culprit="demo.pets.models:age"):
    return fp.fingerprint(fp.exception_basis(500, exc_type, frames, message, culprit=culprit))


# -- golden vectors --------------------------------------------------------------------------------------


def test_pets_17_and_42_under_one_route_are_one_pattern_with_a_pinned_fingerprint():
    a = fp.http_basis(404, "404", "pets/<int:pk>/", "/pets/17/")
    b = fp.http_basis(404, "404", "pets/<int:pk>/", "/pets/42/")
    assert a == b == PETS_ROUTE_BASIS
    assert fp.fingerprint(a) == fp.fingerprint(b) == PETS_ROUTE_FP
    assert hashlib.sha256(PETS_ROUTE_BASIS.encode()).hexdigest() == PETS_ROUTE_FP


@pytest.mark.parametrize(
    "basis, expected",
    [
        (
            fp.http_basis(404, "404", None, "/pets/17/"),
            ("v1|http|4xx|404|path=/pets/<int>/", "8b8dc0776ace36be253a001138dce861f39c431e0e5a6345bbc831a7cc7d91ca"),
        ),
        (
            fp.http_basis(403, "csrf", None, "/checkout/pay/", "bad_origin"),
            (
                "v1|http|4xx|csrf|csrf=bad_origin|path=/checkout/pay/",
                "1bd42d6b6347bad489dfd6d686dcbb6045a2e590fb82da72ab688778585650bd",
            ),
        ),
        (
            fp.exception_basis(500, "ZeroDivisionError", FRAMES, "division by zero", culprit="demo.pets.models:age"),
            (
                "v1|exc|5xx|ZeroDivisionError|culprit=demo.pets.models:age"
                "|frames=demo.pets.views:pet_detail>demo.pets.models:age|msg=division by zero",
                "e6bc2bcd339662dd1fb557cea20350c6a4298383a92415ab2496ea33520dcc89",
            ),
        ),
    ],
)
def test_golden_vectors(basis, expected):
    assert (basis, fp.fingerprint(basis)) == expected


def test_the_canonical_string_is_kept_and_starts_with_the_algorithm_version():
    assert fp.ALGORITHM == 1
    for basis in (
        fp.http_basis(500, "500", None, "/x/"),
        fp.http_basis(403, "csrf", "pay/", "/pay/", "no_cookie"),
        fp.exception_basis(500, "KeyError", [], None),
    ):
        assert basis.startswith("v1|")
        assert re.fullmatch(r"[0-9a-f]{64}", fp.fingerprint(basis))


def test_a_route_wins_over_the_path():
    assert http_fp("/pets/17/", route="pets/<int:pk>/") == http_fp("/totally/else/", route="pets/<int:pk>/")
    assert http_fp("/pets/17/", route="pets/<int:pk>/") != http_fp("/pets/17/", route="pets/<slug:name>/")


def test_status_class_and_error_type_separate_patterns():
    assert fp.status_class(404) == "4xx" and fp.status_class(503) == "5xx"
    assert http_fp("/a/") != http_fp("/a/", status=403, error_type="403")
    assert http_fp("/a/", status=500, error_type="500") != http_fp("/a/", status=502, error_type="502")


# -- paths without a route -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, second, normalized",
    [
        ("/pets/17/", "/pets/42/", "/pets/<int>/"),
        ("/pets/17/visits/3", "/pets/9/visits/12", "/pets/<int>/visits/<int>"),
        (
            "/o/3f2b8c4e-1a2b-4c3d-9e8f-0a1b2c3d4e5f/",
            "/o/AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE/",
            "/o/<uuid>/",
        ),
        ("/o/3f2b8c4e1a2b4c3d9e8f0a1b2c3d4e5f/", "/o/0123456789abcdef0123456789ABCDEF/", "/o/<uuid>/"),
        (
            "/commit/da39a3ee5e6b4b0d3255bfef95601890afd80709/",
            "/commit/0123456789abcdef0123456789abcdef01234567/",
            "/commit/<hash>/",
        ),
        ("/f/deadbeefcafebabe", "/f/0123456789abcdef", "/f/<hash>"),
        ("/reset/MQ-5x8k2j-a1b2c3d4e5f6g7h8/", "/reset/Ng-6y9l3k-z9y8x7w6v5u4t3s2/", "/reset/<token>/"),
        ("/u/ana@example.com/", "/u/bob.smith+x@mail.example.org/", "/u/<email>/"),
        ("/day/2024-01-05/", "/day/1999-12-31/", "/day/<date>/"),
        ("/at/2024-01-05T10:00:00Z/", "/at/2025-02-06T11:22:33+02:00/", "/at/<date>/"),
        ("/pets/17/?page=2&sort=name", "/pets/42/?q=rex", "/pets/<int>/"),
    ],
)
def test_ids_uuids_hashes_tokens_emails_and_dates_in_a_path_are_one_pattern(first, second, normalized):
    assert fp.normalize_path(first) == fp.normalize_path(second) == normalized
    assert http_fp(first) == http_fp(second)


@pytest.mark.parametrize(
    "path",
    ["/", "", "/pets/", "/pets/rex/", "/pets/rex-the-dog/", "/api/v2/pets/", "/a//b/", "/cafe/", "/p/17a/", "/p/-5/"],
)
def test_ordinary_segments_are_kept(path):
    assert fp.normalize_path(path) == path


def test_different_literal_paths_are_different_patterns():
    assert http_fp("/pets/17/") != http_fp("/owners/17/")
    assert http_fp("/pets/17/") != http_fp("/pets/17/edit/")


# -- CSRF: the reason's kind, never its variable text ---------------------------------------------------


def _token_messages(reason: str) -> list[str]:
    middleware = django_csrf.CsrfViewMiddleware(lambda request: None)
    return [middleware._bad_token_message(reason, source) for source in ("POST", "HTTP_X_CSRFTOKEN", "HTTP_X_MY_TOKEN")]


REASONS = {
    "REASON_BAD_ORIGIN": "bad_origin",
    "REASON_NO_REFERER": "no_referer",
    "REASON_BAD_REFERER": "bad_referer",
    "REASON_NO_CSRF_COOKIE": "no_cookie",
    "REASON_CSRF_TOKEN_MISSING": "token_missing",
    "REASON_MALFORMED_REFERER": "malformed_referer",
    "REASON_INSECURE_REFERER": "insecure_referer",
    # Fragments, used in "CSRF cookie <fragment>." and _bad_token_message below.
    "REASON_INCORRECT_LENGTH": None,
    "REASON_INVALID_CHARACTERS": None,
}
ORIGINS = ["https://evil.example", "http://localhost:8000", "null", "https://a.b.c.example:8443", "ünïcode://x%s"]


def test_every_django_reason_constant_is_covered():
    assert {name for name in dir(django_csrf) if name.startswith("REASON_")} == set(REASONS)


@pytest.mark.parametrize("constant", [name for name, kind in REASONS.items() if kind])
def test_each_django_reason_has_its_kind_whatever_the_variable_text(constant):
    template = getattr(django_csrf, constant)
    reasons = [template % origin for origin in ORIGINS] if "%s" in template else [template]
    assert {fp.csrf_kind(reason) for reason in reasons} == {REASONS[constant]}
    fingerprints = {http_fp("/checkout/", status=403, error_type="csrf", kind=fp.csrf_kind(r)) for r in reasons}
    assert len(fingerprints) == 1


@pytest.mark.parametrize(
    "fragment",
    [django_csrf.REASON_INCORRECT_LENGTH, django_csrf.REASON_INVALID_CHARACTERS],
)
def test_malformed_cookies_and_tokens(fragment):
    assert fp.csrf_kind(f"CSRF cookie {fragment}.") == "bad_cookie"
    assert {fp.csrf_kind(message) for message in _token_messages(fragment)} == {"token_malformed"}


def test_an_incorrect_token_from_any_source():
    messages = _token_messages("incorrect")
    assert messages[0] == "CSRF token from POST incorrect."
    assert {fp.csrf_kind(message) for message in messages} == {"token_incorrect"}


def test_every_kind_is_reachable_and_listed():
    reached = {kind for kind in REASONS.values() if kind} | {"bad_cookie", "token_malformed", "token_incorrect"}
    assert reached | {"other"} == set(fp.CSRF_KINDS)


@pytest.mark.parametrize("reason", [None, "", "Forbidden", "csrf token missing.", "Some future Django reason."])
def test_unknown_reasons_are_other(reason):
    assert fp.csrf_kind(reason) == "other"


def test_csrf_kinds_separate_patterns_and_appear_in_the_basis():
    assert http_fp("/pay/", status=403, error_type="csrf", kind="no_cookie") != http_fp(
        "/pay/", status=403, error_type="csrf", kind="token_missing"
    )
    assert "|csrf=bad_referer|" in fp.http_basis(403, "csrf", None, "/pay/", "bad_referer")


# -- exceptions ------------------------------------------------------------------------------------------


def test_a_different_exception_type_is_another_pattern():
    assert exc_fp() != exc_fp(exc_type="ValueError")
    assert exc_fp() != exc_fp(exc_type="demo.errors.ZeroDivisionError")


def test_a_different_culprit_or_frames_is_another_pattern():
    assert exc_fp() != exc_fp(culprit="demo.pets.views:pet_detail")
    assert exc_fp() != exc_fp(frames=FRAMES[:1])
    assert exc_fp() != exc_fp(frames=list(reversed(FRAMES)))
    assert exc_fp() != exc_fp(frames=[("demo.pets.views", "pet_detail"), ("demo.pets.models", "weight")])
    # Without in-app frames the culprit (the last frame overall) still tells two places apart.
    assert exc_fp(frames=[], culprit="django.db.models.query:get") != exc_fp(frames=[], culprit="json.decoder:decode")


def test_the_basis_has_no_culprit_part_when_none_is_given():
    assert "culprit=" not in fp.exception_basis(500, "KeyError", FRAMES, "x")
    assert fp.exception_basis(500, "KeyError", FRAMES, "x") == fp.exception_basis(500, "KeyError", FRAMES, "x", culprit="")


def test_line_numbers_never_reach_the_basis():
    # Capture passes (module, function) pairs; line numbers in a message are numbers like any other.
    basis = fp.exception_basis(500, "AssertionError", FRAMES, 'File "views.py", line 42, in pet_detail')
    assert "42" not in basis
    assert exc_fp(message="failed at line 42") == exc_fp(message="failed at line 1337")


def test_the_status_class_not_the_status_is_in_an_exception_basis():
    assert fp.exception_basis(500, "E", FRAMES, "m") == fp.exception_basis(503, "E", FRAMES, "m")


@pytest.mark.parametrize(
    "first, second",
    [
        ("Pet matching query does not exist (pk=17)", "Pet matching query does not exist (pk=42)"),
        ("invoice 1001 total -12.50 exceeds 3.5", "invoice 7 total +99.99 exceeds 10"),
        ("KeyError: 'user_17'", "KeyError: 'user_42'"),
        ("no pet12 in cart", "no pet9 in cart"),
        ("order 3f2b8c4e-1a2b-4c3d-9e8f-0a1b2c3d4e5f missing", "order 00000000-0000-0000-0000-000000000000 missing"),
        ("mail to ana@example.com bounced", "mail to bob@mail.example.org bounced"),
        ("no slot on 2024-01-05 10:00", "no slot on 2025-12-31 23:59"),
        ("<Pet object at 0x7f3a2b1c9d00>", "<Pet object at 0x10ab>"),
        ("token a1b2c3d4e5f6 expired", "token 9f8e7d6c5b4a expired"),
        ("value 'abcdefghijklmnopqrstuvwxyz0123' too long", 'value "the quick brown fox jumps over" too long'),
        ("spaces   and\ttabs\n", "spaces and tabs"),
    ],
)
def test_numbers_ids_emails_dates_and_long_values_in_messages_do_not_split_a_pattern(first, second):
    assert fp.normalize_message(first) == fp.normalize_message(second)
    assert exc_fp(message=first) == exc_fp(message=second)


def test_message_normalization_output():
    assert fp.normalize_message("Pet 17 not found for ana@example.com on 2024-01-05") == (
        "Pet <num> not found for <email> on <date>"
    )
    assert fp.normalize_message("user123 and user_17") == "user<num> and user_<num>"
    assert fp.normalize_message(None) == fp.normalize_message("") == ""


def test_words_in_messages_still_separate_patterns():
    assert exc_fp(message="division by zero") != exc_fp(message="float division by zero")


def test_long_messages_are_capped():
    assert len(fp.normalize_message("word " * 5000)) == 300
    assert exc_fp(message="x" * 400 + " tail one") == exc_fp(message="x" * 400 + " tail two")


def test_any_string_can_be_fingerprinted():
    assert len(fp.fingerprint("v1|http|4xx|404|path=/\udc80/")) == 64
