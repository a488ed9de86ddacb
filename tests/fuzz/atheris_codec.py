"""Coverage-guided fuzzing (atheris/libFuzzer) of what reads hostile bytes and text; run by hand, never by pytest.

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/atheris_codec.py -atheris_runs=200000           # all targets in turn
    .venv/bin/python tests/fuzz/atheris_codec.py -max_total_time=600 corpus/    # keep a corpus directory

Targets (chosen by the first input byte): contracts.codec.decode may raise ContractError only and what it accepts
survives a round trip; capture's Scrubber.text and bugbot's redact.text never raise and stay bounded;
the fingerprint normalizers never raise. A crash prints the input and writes crash-<sha1> in the working directory.
"""

from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

with atheris.instrument_imports():
    import msgpack  # noqa: F401  (instrumented too: the codec's parser)

    from bugbot import redact
    from capture.conf import SCRUB_KEYS
    from capture.scrub import Scrubber
    from contracts import codec, fingerprint

SCRUB = Scrubber(SCRUB_KEYS, 1024, 5, 50)


def decode(data: bytes) -> None:
    try:
        event = codec.decode(data)
    except codec.ContractError:
        return
    again = codec.encode(event)  # msgpack may spell a value longer than needed: compare after one round
    assert codec.encode(codec.decode(again)) == again, "a decoded event does not survive a round trip"


def scrub(text: str) -> None:
    out = SCRUB.text(text, 2048)
    assert len(out) <= 2048
    assert len(redact.text(text, 4000)) <= 4001


def normalize(text: str) -> None:
    fingerprint.normalize_message(text)
    fingerprint.normalize_path(text)


TARGETS = (decode, scrub, normalize)


def one_input(data: bytes) -> None:
    if not data:
        return
    target = TARGETS[data[0] % len(TARGETS)]
    if target is decode:
        target(data[1:])
    else:
        target(atheris.FuzzedDataProvider(data[1:]).ConsumeUnicodeNoSurrogates(8192))


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
