#!/usr/bin/python3
"""zkcached's self-registration: `register = NAME ADDR` holds an ephemeral
<root>/hosts/NAME owned by the daemon's session, re-created when someone
deletes it; after kill -9 a restarted daemon takes its own leftover node
over at once (long session timeout, so waiting for expiry would not do)
and no snapshot it publishes while restarting lacks the name (the
takeover is one delete + create multi; that other hosts never see a gap
rests on ZooKeeper's multi and on the re-read test_daemon_sync.py checks);
a name held by another live session is refused with a clear error and
taken once that session ends; SIGTERM removes the registration at once;
without addresses the default-route interface's addresses are used."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, GenerationWatch, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

zk = env = kz = None
P = "/zkhosts/hosts/self"


def setup():
    global zk, env, kz
    require(ZKCACHED, MODULE)
    zk = ZooKeeper().__enter__()
    # 30 s session: a takeover that waited for expiry would time out below;
    # publishes at least 300 ms apart, so GenerationWatch sees each one
    env = Env(zk, session_timeout=30000, register="self 10.5.0.1 fd00::5",
              publish_delay=300).__enter__()
    kz = zk.kazoo()


def owner():
    st = kz.exists(P)
    return st.ephemeralOwner if st else None


def session_of(status):
    return int(status.get("session", "0"), 16)


def test_registers_and_resolves():
    env.daemon()
    env.wait_resolves("self", {"10.5.0.1", "fd00::5"})
    s = env.wait_status(lambda s: s.get("state") == "connected" and s, "connected")
    assert owner() == session_of(s), (owner(), s)
    data, _ = kz.get(P)
    assert b"10.5.0.1" in data and b"fd00::5" in data, data
    saved = os.path.join(env.cache, ".master", "zk-session")
    assert os.stat(saved).st_mode & 0o077 == 0, "session file readable by others"


def test_recreated_after_delete():
    kz.delete(P)
    wait_for(lambda: owner() == session_of(env.status()), "registration to come back")
    env.barrier(kz)
    assert env.resolve("self") == {"10.5.0.1", "fd00::5"}


def test_takeover_after_kill9():
    d = env.daemons[-1]
    old = owner()
    d.kill()
    assert owner() == old, "node kept by the dead daemon's session"
    assert env.resolve("self") == {"10.5.0.1", "fd00::5"}, "lookups answer while down"
    w = GenerationWatch(env, "self", [{"10.5.0.1", "fd00::5"}])
    d2 = env.daemon()
    wait_for(lambda: owner() not in (None, old) and owner() == session_of(env.status()),
             "restarted daemon to take its node over")
    assert "taking it over" in d2.log()
    env.barrier(kz)
    time.sleep(1.0)
    bad = w.stop()
    assert w.seen, "no publish observed during the takeover"
    assert not bad, "a snapshot published during the takeover lacked the name: %s" % bad


def test_sigterm_removes_registration():
    d = env.daemons[-1]
    assert owner() is not None
    assert d.stop() == 0
    assert kz.exists(P) is None, "registration must vanish when zkcached stops"


def test_refuses_node_of_another_session():
    other = zk.kazoo()
    other.create(P, b"10.5.9.9", ephemeral=True)
    theirs = other.client_id[0]
    d = env.daemon()
    env.wait_status(lambda s: "held by another live session" in s.get("last_error", "")
                    and s.get("error_registration") == s.get("last_error"),
                    "refusal in the status file, as the registration error")
    assert owner() == theirs
    assert "held by another live session" in d.log()
    env.wait_resolves("self", {"10.5.9.9"})
    zk.release(other)  # its session ends: the name is free
    wait_for(lambda: owner() == session_of(env.status()), "daemon to register once free")
    env.wait_resolves("self", {"10.5.0.1", "fd00::5"})
    env.wait_status(lambda s: s.get("last_error", "") == "" and "error_registration" not in s,
                    "error cleared")
    assert d.stop() == 0


def default_route_addrs():
    iface = None
    with open("/proc/net/route") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if p[1] == "00000000" and p[7] == "00000000":
                iface = p[0]
                break
    if not iface:
        return None, set()
    import subprocess
    out = subprocess.run(["ip", "-o", "addr", "show", "dev", iface], capture_output=True,
                         text=True).stdout
    addrs = set()
    for line in out.splitlines():
        w = line.split()
        if "inet" in w:
            addrs.add(w[w.index("inet") + 1].split("/")[0])
        elif "inet6" in w and "link" not in w:
            addrs.add(w[w.index("inet6") + 1].split("/")[0])
    return iface, addrs


def test_default_route_addresses():
    iface, addrs = default_route_addrs()
    if not iface:
        print("no default route here: skipping this case")
        return
    env.write_conf(session_timeout=30000, register="auto-self")
    d = env.daemon()
    env.wait_resolves("auto-self", addrs)
    assert d.stop() == 0


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_registers_and_resolves, test_recreated_after_delete,
           test_takeover_after_kill9, test_sigterm_removes_registration,
           test_refuses_node_of_another_session, test_default_route_addresses, teardown])
