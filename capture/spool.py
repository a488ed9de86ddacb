"""The local spool: events kept on disk while Redis is unreachable, flushed to the stream exactly once."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from typing import Any, Callable, BinaryIO

import msgpack

log = logging.getLogger(__name__)

ROTATE_BYTES = 1024 * 1024
DONE_TTL_S = 7 * 24 * 3600
_HOST = socket.gethostname().replace("-", "_")[:40] or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """Append-only files per process and stream; a flusher claims whole files by rename."""

    def __init__(self, directory: str, max_bytes: int, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.rotate_bytes = rotate_bytes
        self._lock = threading.Lock()
        self._files: dict[str, tuple[str, BinaryIO, int]] = {}
        self._used: int | None = None
        self._pid = os.getpid()

    # -- writing (the request path, only while Redis is unreachable) --

    def used_bytes(self) -> int:
        """Bytes the spool directory holds (measured once, then tracked)."""
        if self._used is None:
            self._used = self._measure()
        return self._used

    def _measure(self) -> int:
        try:
            return sum(e.stat().st_size for e in os.scandir(self.directory) if e.name.endswith(".spool"))
        except OSError:
            return 0

    def write(self, stream: str, data: bytes) -> str | None:
        """Append one encoded event; None when stored, else the drop reason."""
        with self._lock:
            if os.getpid() != self._pid:
                self._after_fork()
            record = msgpack.packb(data, use_bin_type=True)
            if self.used_bytes() + len(record) > self.max_bytes:
                return "spool_full"
            try:
                handle = self._handle(stream)
                handle.write(record)
                handle.flush()
            except OSError as exc:
                log.warning("errortrail spool write failed: %s", exc)
                self._abandon(stream)
                return "spool_error"
            path, handle, size = self._files[stream]
            size += len(record)
            self._used = self.used_bytes() + len(record)
            self._files[stream] = (path, handle, size)
            if size >= self.rotate_bytes:
                self._seal(stream)
            return None

    def _handle(self, stream: str) -> BinaryIO:
        if stream in self._files:
            return self._files[stream][1]
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        key = hashlib.sha1(stream.encode()).hexdigest()[:10]
        path = os.path.join(self.directory, f"active-{_HOST}-{self._pid}-{key}.spool")
        handle = open(path, "ab")
        self._files[stream] = (path, handle, handle.tell())
        if self._files[stream][2] == 0:  # new, or left empty by a failed write: the header first
            header = msgpack.packb({"stream": stream}, use_bin_type=True)
            handle.write(header)
            self._files[stream] = (path, handle, len(header))
            self._used = self.used_bytes() + len(header)
        return handle

    def _close(self, stream: str) -> None:
        entry = self._files.pop(stream, None)
        if entry:
            try:
                entry[1].close()
            except OSError:
                pass

    def _abandon(self, stream: str) -> None:
        """After a failed write (disk full): cut the partial record off and seal what the file holds, for the flush."""
        entry = self._files.get(stream)
        self._close(stream)
        self._used = None  # measured again on the next write
        if entry is None:
            return
        path, _, good = entry
        try:
            if good == 0 or os.path.getsize(path) < good:  # not even the header reached the disk
                os.unlink(path)
                return
            os.truncate(path, good)
            os.rename(path, os.path.join(self.directory, f"ready-{uuid.uuid4().hex}.spool"))
        except OSError as exc:
            log.warning("errortrail spool could not keep %s: %s", os.path.basename(path), exc)

    def _seal(self, stream: str) -> None:
        path = self._files[stream][0]
        self._close(stream)
        try:
            os.rename(path, os.path.join(self.directory, f"ready-{uuid.uuid4().hex}.spool"))
        except OSError as exc:
            log.warning("errortrail spool rotate failed: %s", exc)

    def _after_fork(self) -> None:
        # A forked child must not append to its parent's files.
        self._files = {}
        self._pid = os.getpid()

    def seal_all(self) -> None:
        """Close this process's open files so they can be flushed."""
        with self._lock:
            if os.getpid() != self._pid:
                self._after_fork()
            for stream in list(self._files):
                self._seal(stream)

    # -- flushing (background thread or the flush_error_spool command) --

    def has_files(self) -> bool:
        """Whether anything waits on disk."""
        try:
            return any(e.name.endswith(".spool") for e in os.scandir(self.directory))
        except OSError:
            return False

    def _adopt_orphans(self) -> None:
        """Files of dead processes on this host become ready; half-flushed ones are retried."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        for name in names:
            parts = name[:-6].split("-") if name.endswith(".spool") else []
            if len(parts) < 3 or parts[0] not in ("active", "flushing"):
                continue
            if parts[0] == "active":
                host, pid = parts[1], int(parts[2]) if parts[2].isdigit() else 0
                target = f"ready-{uuid.uuid4().hex}.spool"
            else:
                host, pid = parts[2], int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0
                target = f"ready-{parts[1]}.spool"
            if host != _HOST or (pid == os.getpid() and parts[0] == "active") or _alive(pid):
                continue
            try:
                os.rename(os.path.join(self.directory, name), os.path.join(self.directory, target))
            except OSError:
                pass

    def flush(self, client: Any, done_key: Callable[[str, str], str], maxlen: int) -> int:
        """Move every ready file to its stream, each file in one MULTI with a done marker; returns events sent."""
        self.seal_all()
        self._adopt_orphans()
        sent = 0
        try:
            names = sorted(n for n in os.listdir(self.directory) if n.startswith("ready-") and n.endswith(".spool"))
        except FileNotFoundError:
            return 0
        for name in names:
            batch = name[len("ready-") : -len(".spool")]
            claimed = os.path.join(self.directory, f"flushing-{batch}-{_HOST}-{os.getpid()}.spool")
            try:
                os.rename(os.path.join(self.directory, name), claimed)
            except FileNotFoundError:
                continue  # another flusher took it
            try:
                sent += self._flush_file(client, claimed, batch, done_key, maxlen)
            except Exception:
                # Leave it claimed-by-us; the next flush (ours, or anyone's after we die) retries it.
                os.rename(claimed, os.path.join(self.directory, name))
                raise
        self._used = self._measure()
        return sent

    def _flush_file(self, client: Any, path: str, batch: str, done_key: Callable[[str, str], str], maxlen: int) -> int:
        stream, entries, damaged = read_file(path)
        if damaged:
            name = os.path.basename(path)
            log.warning("errortrail spool file %s had a damaged tail; kept %d events", name, len(entries))
        if stream is None or not entries:
            os.unlink(path)
            return 0
        marker = done_key(stream, batch)
        if client.exists(marker):
            os.unlink(path)
            return 0
        pipe = client.pipeline(transaction=True)
        for data in entries:
            pipe.xadd(stream, {"e": data}, maxlen=maxlen, approximate=True)
        pipe.set(marker, 1, ex=DONE_TTL_S)
        pipe.execute()
        os.unlink(path)
        return len(entries)


def read_file(path: str) -> tuple[str | None, list[bytes], bool]:
    """(stream, events, whether the tail was damaged) of one spool file."""
    with open(path, "rb") as handle:
        raw = handle.read()
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=max(len(raw), 1))
    unpacker.feed(raw)
    stream: str | None = None
    entries: list[bytes] = []
    damaged = False
    try:
        for index, item in enumerate(unpacker):
            if index == 0:
                stream = item.get("stream") if isinstance(item, dict) else None
                if not isinstance(stream, str):
                    return None, [], True
            elif isinstance(item, bytes):
                entries.append(item)
            else:
                damaged = True
    except Exception:
        damaged = True
    if unpacker.tell() < len(raw):
        damaged = True
    return stream, entries, damaged
