#!/usr/bin/python3
"""zkcached killed with SIGKILL: lookups keep answering from the last
snapshot; adds, changes and deletes made while it is down (including a
delete + re-create) are all caught up by the restarted daemon's full sync
and sweep."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, require, run_tests, ZKCACHED, MODULE  # noqa: E402

zk = env = kz = None


def setup():
    global zk, env, kz
    require(ZKCACHED, MODULE)
    zk = ZooKeeper().__enter__()
    env = Env(zk).__enter__()
    kz = zk.kazoo()
    env.daemon()
    for i in range(5):
        kz.create(env.host_path("r%d" % i), ("10.3.0.%d" % (i + 1)).encode(), makepath=True)
    for i in range(5):
        env.wait_resolves("r%d" % i, {"10.3.0.%d" % (i + 1)})


def test_kill9_keeps_answering():
    d = env.daemons[-1]
    d.kill()
    for i in range(5):
        assert env.resolve("r%d" % i) == {"10.3.0.%d" % (i + 1)}, i
    assert env.status()["pid"] == str(d.pid), "status left as the dead daemon wrote it"


def test_catch_up_after_restart():
    kz.create(env.host_path("added"), b"10.3.1.1")     # add
    kz.set(env.host_path("r0"), b"10.3.1.2")          # change
    kz.delete(env.host_path("r1"))                     # delete
    kz.delete(env.host_path("r2"))                     # delete + re-create
    kz.create(env.host_path("r2"), b"10.3.0.3")
    assert env.resolve("r1") == {"10.3.0.2"}, "still the old snapshot while down"
    env.daemon()
    env.wait_resolves("added", {"10.3.1.1"})
    env.wait_resolves("r0", {"10.3.1.2"})
    env.wait_gone("r1")
    env.wait_resolves("r2", {"10.3.0.3"})
    env.wait_resolves("r3", {"10.3.0.4"})
    s = env.wait_status(lambda s: s.get("state") == "connected" and s, "synced")
    assert s["records"] == "5", s
    # and watches work again
    kz.set(env.host_path("r4"), b"10.3.1.5")
    env.wait_resolves("r4", {"10.3.1.5"})


def test_restart_with_zookeeper_down_serves_at_once():
    d = env.daemons[-1]
    assert d.stop() == 0
    zk.stop_all()
    d2 = env.daemon()  # waits for its status only, not for ZooKeeper
    assert env.resolve("added") == {"10.3.1.1"}
    assert env.status()["state"] in ("connecting", "starting"), env.status()
    zk.start_all()
    env.wait_status(lambda s: s.get("state") == "connected", "connected once ZooKeeper is back")
    kz2 = zk.kazoo()
    kz2.create(env.host_path("later"), b"10.3.2.1")
    env.wait_resolves("later", {"10.3.2.1"})
    assert d2.stop() == 0


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_kill9_keeps_answering, test_catch_up_after_restart,
           test_restart_with_zookeeper_down_serves_at_once, teardown])
