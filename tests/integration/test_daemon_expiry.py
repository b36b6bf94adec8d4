#!/usr/bin/python3
"""Forced session expiry of zkcached (a second handle with its session id
and password, closed - the way design.md says to provoke it): the daemon
opens a new session, puts its registration back, and does a full resync
that catches changes its dead watches could not report (made while the
daemon was frozen with SIGSTOP, so it could not reconnect in between)."""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

zk = env = kz = d = None


def setup():
    global zk, env, kz, d
    require(ZKCACHED, MODULE)
    zk = ZooKeeper().__enter__()
    env = Env(zk, session_timeout=4000, register="me 10.6.0.1").__enter__()
    kz = zk.kazoo()
    d = env.daemon()
    kz.ensure_path("/zkhosts/hosts")
    kz.create(env.host_path("keep"), b"10.6.1.1")
    kz.create(env.host_path("gone"), b"10.6.1.2")
    kz.create(env.host_path("changed"), b"10.6.1.3")
    env.wait_resolves("me", {"10.6.0.1"})
    env.wait_resolves("changed", {"10.6.1.3"})
    env.wait_resolves("gone", {"10.6.1.2"})


def saved_session():
    with open(os.path.join(env.cache, ".master", "zk-session")) as f:
        sid, pw = f.read().split()
    return int(sid, 16), bytes.fromhex(pw)


def test_expiry_new_session_and_resync():
    sid, pw = saved_session()
    st = env.status()
    assert int(st["session"], 16) == sid, (st, sid)
    syncs_before = d.log().count("full sync done")
    d.send(signal.SIGSTOP)
    try:
        zk.expire_session(sid, pw)
        # the dead session's watches cannot report these
        kz.delete(env.host_path("gone"))
        kz.set(env.host_path("changed"), b"10.6.2.3")
        kz.create(env.host_path("new"), b"10.6.2.4")
        assert kz.exists(env.host_path("me")) is None, "ephemeral went with the session"
    finally:
        d.send(signal.SIGCONT)
    env.wait_status(lambda s: s.get("state") == "connected" and int(s.get("session", "0"), 16) not in (0, sid),
                    "a new session")
    env.wait_resolves("new", {"10.6.2.4"})
    env.wait_resolves("changed", {"10.6.2.3"})
    env.wait_gone("gone")
    assert env.resolve("keep") == {"10.6.1.1"}
    new_sid = int(env.status()["session"], 16)
    wait_for(lambda: (kz.exists(env.host_path("me")) or None) and
             kz.exists(env.host_path("me")).ephemeralOwner == new_sid,
             "registration back under the new session")
    env.wait_resolves("me", {"10.6.0.1"})
    assert d.log().count("full sync done") == syncs_before + 1
    assert "expired" in d.log()
    assert saved_session()[0] == new_sid, "new session saved for a later takeover"


def test_watches_work_in_the_new_session():
    kz.set(env.host_path("keep"), b"10.6.3.1")
    env.wait_resolves("keep", {"10.6.3.1"})
    assert d.alive()
    assert d.stop() == 0


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_expiry_new_session_and_resync, test_watches_work_in_the_new_session,
           teardown])
