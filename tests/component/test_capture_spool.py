"""The local spool on disk: bounded writes, rotation, orphans of dead processes, exactly-once flushing."""

from __future__ import annotations

import os
import subprocess

import fakeredis
import msgpack
import pytest

from capture import spool as spool_module
from capture.spool import Spool, read_file
from contracts.names import Names

STREAM = "errortrail:errors"
NAMES = Names()


@pytest.fixture
def redis():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
def directory(tmp_path):
    return str(tmp_path / "spool")


def dead_pid():
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def flush(spool, redis):
    return spool.flush(redis, NAMES.spool_done, 1000)


def stream(redis, name=STREAM):
    return [fields[b"e"] for _, fields in redis.xrange(name)]


def test_events_are_flushed_in_order_to_their_streams(directory, redis):
    spool = Spool(directory, 10**6)
    for i in range(5):
        assert spool.write(STREAM, b"event-%d" % i) is None
    assert spool.write("errortrail:{1}:errors", b"sharded") is None
    assert spool.has_files()
    assert flush(spool, redis) == 6
    assert stream(redis) == [b"event-%d" % i for i in range(5)]
    assert stream(redis, "errortrail:{1}:errors") == [b"sharded"]
    assert not spool.has_files() and spool.used_bytes() == 0
    assert flush(spool, redis) == 0


def test_files_rotate_and_every_file_is_flushed(directory, redis):
    spool = Spool(directory, 10**6, rotate_bytes=100)
    for i in range(20):
        spool.write(STREAM, b"x" * 20 + b"%d" % i)
    assert sum(name.startswith("ready-") for name in os.listdir(directory)) > 3
    assert flush(spool, redis) == 20
    assert len(stream(redis)) == 20


def test_the_spool_is_bounded(directory):
    spool = Spool(directory, 200)
    results = [spool.write(STREAM, b"y" * 40) for _ in range(10)]
    assert results.count(None) >= 1 and results[-1] == "spool_full"
    assert spool.used_bytes() <= 200
    # a fresh process measures what is already on disk
    assert Spool(directory, 200).used_bytes() == spool.used_bytes()


def test_the_done_marker_stops_a_second_xadd_after_a_crash(directory, redis, monkeypatch):
    spool = Spool(directory, 10**6)
    for i in range(3):
        spool.write(STREAM, b"e%d" % i)

    def die(path):
        raise KeyboardInterrupt  # the process is killed between EXEC and unlink

    monkeypatch.setattr(spool_module.os, "unlink", die)
    with pytest.raises(KeyboardInterrupt):
        flush(spool, redis)
    monkeypatch.undo()
    (claimed,) = os.listdir(directory)
    assert claimed.startswith("flushing-")
    # the dead flusher's file is adopted by the next flusher on this host
    os.rename(os.path.join(directory, claimed), os.path.join(directory, claimed.rsplit("-", 1)[0] + f"-{dead_pid()}.spool"))
    assert flush(Spool(directory, 10**6), redis) == 0
    assert stream(redis) == [b"e0", b"e1", b"e2"]
    assert os.listdir(directory) == []


def test_a_failed_flush_leaves_the_file_for_the_next_one(directory, redis):
    spool = Spool(directory, 10**6)
    spool.write(STREAM, b"kept")

    class Down:
        def exists(self, key):
            raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        spool.flush(Down(), NAMES.spool_done, 1000)
    assert [n.startswith("ready-") for n in os.listdir(directory)] == [True]
    assert flush(spool, redis) == 1


def test_files_of_dead_processes_are_adopted(directory, redis):
    writer = Spool(directory, 10**6)
    writer.write(STREAM, b"orphan")
    (active,) = os.listdir(directory)
    writer._files.clear()  # the writer died without sealing its file
    pid = dead_pid()
    os.rename(os.path.join(directory, active), os.path.join(directory, active.replace(f"-{os.getpid()}-", f"-{pid}-")))
    assert flush(Spool(directory, 10**6), redis) == 1
    assert stream(redis) == [b"orphan"]


def test_files_of_live_processes_and_other_hosts_are_left_alone(directory, redis):
    os.makedirs(directory)
    header = msgpack.packb({"stream": STREAM}) + msgpack.packb(b"theirs", use_bin_type=True)
    live = f"active-{spool_module._HOST}-1-abc.spool"  # pid 1 is always alive
    other_host = f"active-otherhost-{dead_pid()}-abc.spool"
    for name in (live, other_host, "unrelated.txt"):
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(header)
    assert flush(Spool(directory, 10**6), redis) == 0
    assert sorted(os.listdir(directory)) == sorted([live, other_host, "unrelated.txt"])


def test_a_damaged_tail_keeps_the_complete_events(directory, redis, caplog):
    spool = Spool(directory, 10**6)
    spool.write(STREAM, b"whole")
    spool.seal_all()
    (name,) = os.listdir(directory)
    with open(os.path.join(directory, name), "ab") as handle:
        handle.write(msgpack.packb(b"cut short" * 10, use_bin_type=True)[:5])
    assert read_file(os.path.join(directory, name))[1:] == ([b"whole"], True)
    assert flush(spool, redis) == 1
    assert "damaged tail" in caplog.text


@pytest.mark.parametrize("content", [b"", b"\xc1garbage", msgpack.packb({"stream": 7}), msgpack.packb([1, 2])])
def test_unreadable_files_are_removed(directory, redis, content):
    os.makedirs(directory)
    path = os.path.join(directory, "ready-deadbeef.spool")
    with open(path, "wb") as handle:
        handle.write(content)
    assert flush(Spool(directory, 10**6), redis) == 0
    assert not os.path.exists(path)


def test_non_event_records_are_skipped(directory):
    os.makedirs(directory)
    path = os.path.join(directory, "ready-x.spool")
    with open(path, "wb") as handle:
        handle.write(msgpack.packb({"stream": STREAM}) + msgpack.packb(5) + msgpack.packb(b"ok", use_bin_type=True))
    assert read_file(path) == (STREAM, [b"ok"], True)


def test_another_flusher_taking_a_file_first_is_fine(directory, redis, monkeypatch):
    spool = Spool(directory, 10**6)
    spool.write(STREAM, b"one")
    spool.seal_all()
    real_rename = os.rename

    def race(src, dst):
        if os.path.basename(dst).startswith("flushing-"):
            raise FileNotFoundError(src)
        return real_rename(src, dst)

    monkeypatch.setattr(spool_module.os, "rename", race)
    assert flush(spool, redis) == 0


def test_a_missing_directory_is_empty(tmp_path, redis):
    spool = Spool(str(tmp_path / "never-made"), 10**6)
    assert not spool.has_files() and spool.used_bytes() == 0
    assert flush(spool, redis) == 0


def test_a_process_we_may_not_signal_is_alive(monkeypatch):
    def denied(pid, signal):
        raise PermissionError

    monkeypatch.setattr(spool_module.os, "kill", denied)
    assert spool_module._alive(12345)


def test_a_failed_rotation_keeps_writing(directory, redis, monkeypatch, caplog):
    spool = Spool(directory, 10**6, rotate_bytes=10)

    def no_rename(src, dst):
        raise OSError("read-only")

    monkeypatch.setattr(spool_module.os, "rename", no_rename)
    assert spool.write(STREAM, b"z" * 20) is None
    assert "spool rotate failed" in caplog.text
    monkeypatch.undo()
    assert spool.write(STREAM, b"again") is None


def test_sealing_after_a_fork_leaves_the_parent_s_files(directory, monkeypatch):
    spool = Spool(directory, 10**6)
    spool.write(STREAM, b"parent")
    real_pid = os.getpid()
    monkeypatch.setattr(spool_module.os, "getpid", lambda: real_pid + 100_000)
    spool.seal_all()
    assert [name.startswith("active-") for name in os.listdir(directory)] == [True]
