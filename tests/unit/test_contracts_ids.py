"""Event ids: 20 Crockford base32 characters, sortable by time, unique, carrying their millisecond."""

from __future__ import annotations

import time

import pytest

from contracts import ids

NOW_MS = 1_733_300_000_123


def test_shape():
    event_id = ids.new_id(NOW_MS)
    assert len(event_id) == ids.ID_LENGTH == 20
    assert set(event_id) <= set(ids.ALPHABET)
    assert ids.is_id(event_id)


def test_the_alphabet_is_crockford_in_ascii_order():
    # String order equals numeric order only because the alphabet is itself sorted.
    assert ids.ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert list(ids.ALPHABET) == sorted(ids.ALPHABET)


def test_ids_sort_by_time():
    stamps = [0, 1, 999, NOW_MS, NOW_MS + 1, NOW_MS + 1000, 2**40, 2**48 - 2, 2**48 - 1]
    made = [ids.new_id(ts) for ts in reversed(stamps) for _ in range(20)]
    assert [ids.id_time_ms(event_id) for event_id in sorted(made)] == sorted(ts for ts in stamps for _ in range(20))


def test_ids_are_unique_over_many_calls_in_one_millisecond():
    made = [ids.new_id(NOW_MS) for _ in range(100_000)]
    assert len(set(made)) == len(made)


def test_ids_made_without_a_time_are_unique_and_stamped_now():
    before = time.time_ns() // 1_000_000
    made = [ids.new_id() for _ in range(10_000)]
    after = time.time_ns() // 1_000_000
    assert len(set(made)) == len(made)
    assert all(before <= ids.id_time_ms(event_id) <= after for event_id in made)


@pytest.mark.parametrize("ts", [0, 1, NOW_MS, 2**47, 2**48 - 1])
def test_id_time_ms_round_trips(ts):
    assert ids.id_time_ms(ids.new_id(ts)) == ts


def test_the_time_leads_and_random_bits_fill_the_rest():
    # 48 time bits fill the first 9 characters (45 bits) and 3 bits of the 10th.
    made = [ids.new_id(NOW_MS) for _ in range(200)]
    assert len({event_id[9:] for event_id in made}) == 200
    assert {event_id[:9] for event_id in made} == {made[0][:9]}
    assert {ids.ALPHABET.index(event_id[9]) >> 2 for event_id in made} == {ids.ALPHABET.index(made[0][9]) >> 2}


@pytest.mark.parametrize(
    "value",
    [None, 5, b"069S1ERNFC0000000001", "", "069S1ERNFC000000000", "069S1ERNFC00000000012", "069s1ernfc0000000001",
     "069S1ERNFC000000000I", "069S1ERNFC000000000L", "069S1ERNFC000000000O", "069S1ERNFC000000000U",
     "069S1ERNFC00000000-1", "069S1ERNFC0000000001\n", "\n069S1ERNFC0000000001", ["069S1ERNFC0000000001"]],
)
def test_is_id_refuses_anything_else(value):
    assert not ids.is_id(value)


@pytest.mark.parametrize("value", ["", "0" * 19, "I" * 20, 5, None])
def test_id_time_ms_of_a_non_id_raises_value_error(value):
    with pytest.raises(ValueError, match="not an event id"):
        ids.id_time_ms(value)


def test_a_forked_child_never_repeats_its_parents_sequence():
    import os

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write_end, "".join(ids.new_id(1) for _ in range(4)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read_end, 200).decode()
    os.close(read_end)
    os.close(write_end)
    parent = "".join(ids.new_id(1) for _ in range(4))
    assert len(child) == 80 and child != parent
