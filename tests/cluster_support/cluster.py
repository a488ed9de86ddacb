"""A throwaway three-node Redis Cluster on loopback ports, made by the tests (no persistence, no replicas)."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

NODES = 3
NODE_TIMEOUT_MS = 2000
READY_TIMEOUT_S = 60.0


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """Ports P whose cluster bus port P+10000 is free too."""
    ports: list[int] = []
    rng = random.Random()
    while len(ports) < count:
        port = rng.randrange(20000, 30000)
        if port not in ports and _free(port) and _free(port + 10000):
            ports.append(port)
    return ports


def wait_for(predicate: Any, timeout: float = READY_TIMEOUT_S, what: str = "condition") -> Any:
    """Poll until predicate() is truthy (returned) or fail after a generous timeout."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(0.05)


class NodeExited(AssertionError):
    """A redis-server quit while starting (most likely its port was taken meanwhile)."""


class RedisClusterRig:
    """redis-server processes in cluster mode, joined by `redis-cli --cluster create`."""

    def __init__(self, directory: Path, nodes: int = NODES) -> None:
        self.directory = directory
        self.ports = free_ports(nodes)
        self.procs: dict[int, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        """A URL of one node (RedisCluster discovers the others)."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node(self, port: int) -> Any:
        """A plain client of one node."""
        import redis

        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, socket_connect_timeout=2)

    def client(self) -> Any:
        """A RedisCluster client of the whole cluster."""
        from redis.cluster import RedisCluster

        return RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=5, socket_connect_timeout=2)

    def start_node(self, port: int) -> None:
        """Start (or restart, reusing its nodes.conf) one node."""
        log = open(self.directory / f"node-{port}.log", "ab")
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(self.directory)],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: self._pings(port), what=f"redis-server on port {port}")

    def _pings(self, port: int) -> bool:
        if self.procs[port].poll() is not None:
            raise NodeExited(f"redis-server on port {port} exited: see {self.directory}/node-{port}.log")
        try:
            return bool(self.node(port).ping())
        except Exception:
            return False

    def start(self) -> "RedisClusterRig":
        """Start the nodes, create the cluster, wait until every node says cluster_state:ok."""
        for port in self.ports:
            self.start_node(port)
        create = subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        if create.returncode != 0:
            raise AssertionError(f"redis-cli --cluster create failed: {create.stdout}{create.stderr}")
        wait_for(self.ready, what="cluster_state:ok on every node")
        return self

    def ready(self) -> bool:
        """Every node answers, knows every other and covers every slot."""
        for port in self.ports:
            try:
                info = self.node(port).cluster("info")
            except Exception:
                return False
            if info.get("cluster_state") != "ok" or int(info.get("cluster_known_nodes", 0)) != len(self.ports):
                return False
        return True

    def port_of(self, key: str) -> int:
        """The port of the node serving a key's slot."""
        slot = self.node(self.ports[0]).cluster("keyslot", key)
        for low, high, primary, *_ in self.node(self.ports[0]).cluster("slots"):
            if low <= slot <= high:
                return int(primary[1])
        raise AssertionError(f"slot {slot} is not served")

    def stop(self) -> None:
        """Kill every node (no persistence: nothing to save)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a node that ignores SIGKILL
                pass


def missing_binaries() -> str | None:
    """Why no cluster can be made here, if so."""
    absent = [name for name in ("redis-server", "redis-cli") if shutil.which(name) is None]
    return f"{', '.join(absent)} not installed" if absent else None
