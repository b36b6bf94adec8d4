#!/usr/bin/python3
"""ZooKeeper outages: every server of a standalone ZooKeeper stopped for
longer than the session timeout - lookups keep answering from the cache,
zkcached stays up and says it is disconnected, with the outage as its
connection error; servers back - it
reconnects (or opens a new session) on its own and changes flow again,
including one made while it was away."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, require, run_tests, ZKCACHED, MODULE  # noqa: E402

zk = env = kz = d = None
TIMEOUT_MS = 1500


def setup():
    global zk, env, kz, d
    require(ZKCACHED, MODULE)
    zk = ZooKeeper().__enter__()
    env = Env(zk, session_timeout=TIMEOUT_MS, register="outage-self 10.8.0.9").__enter__()
    d = env.daemon()
    kz = zk.kazoo()
    # makepath: under load the daemon may not have created <root>/hosts yet
    kz.create(env.host_path("o1"), b"10.8.0.1", makepath=True)
    kz.create(env.host_path("o2"), b"10.8.0.2", makepath=True)
    env.wait_resolves("o1", {"10.8.0.1"})
    env.wait_resolves("o2", {"10.8.0.2"})
    env.wait_resolves("outage-self", {"10.8.0.9"})


def test_all_servers_down():
    zk.release(kz)
    zk.stop_all()
    env.wait_status(lambda s: s.get("state") == "disconnected", "daemon to notice")
    time.sleep(3 * TIMEOUT_MS / 1000.0)  # well past the session timeout
    assert d.alive()
    assert env.resolve("o1") == {"10.8.0.1"}
    assert env.resolve("outage-self") == {"10.8.0.9"}
    s = env.status()
    assert s["connected"] == "0" and s["state"] in ("disconnected", "expired", "connecting"), s
    # the outage is the connection error (status schema 2, docs/status.md)
    assert s.get("error_connection"), s
    assert s.get("last_error"), s


def test_servers_back():
    global kz
    zk.start_all()
    kz = zk.kazoo()
    kz.set(env.host_path("o1"), b"10.8.1.1")
    kz.delete(env.host_path("o2"))
    kz.create(env.host_path("o3"), b"10.8.1.3")
    env.wait_status(lambda s: s.get("state") == "connected", "reconnected")
    env.wait_status(lambda s: "error_connection" not in s, "the connection error cleared")
    env.wait_resolves("o1", {"10.8.1.1"})
    env.wait_gone("o2")
    env.wait_resolves("o3", {"10.8.1.3"})
    env.wait_resolves("outage-self", {"10.8.0.9"})
    kz.set(env.host_path("o3"), b"10.8.2.3")
    env.wait_resolves("o3", {"10.8.2.3"})
    assert d.alive()


def test_unreachable_for_long():
    # many reconnect attempts must not hurt: down again, several timeouts
    zk.release(kz)
    zk.stop_all()
    time.sleep(4 * TIMEOUT_MS / 1000.0)
    assert d.alive() and env.resolve("o3") == {"10.8.2.3"}
    zk.start_all()
    kz2 = zk.kazoo()
    kz2.create(env.host_path("o4"), b"10.8.3.4")
    env.wait_resolves("o4", {"10.8.3.4"})
    assert d.stop() == 0


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_all_servers_down, test_servers_back, test_unreachable_for_long, teardown])
