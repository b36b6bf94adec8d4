#!/usr/bin/python3
"""test_daemon_acl_recover - zkcached catches up by itself once a read
ZooKeeper refused is allowed again (issue 16 item 1), against a real
ZooKeeper whose ACLs are changed with kazoo while zkcached (anonymous)
runs:

  * <root>/hosts made readable only by a digest identity: a record changed
    and one created meanwhile, SIGUSR1 for a full resync. zkcached keeps
    serving, its status says the listing is refused and why, and the sync
    stays open. The ACL is fixed and another record created: zkcached
    lists again on its own (backoff retry, no event, no signal), the full
    sync completes and every record resolves.
  * one record made unreadable, then changed, SIGUSR1: its last record
    stays, the full resync completes without it, other records keep
    syncing, the status names it; the ACL fixed, its new data arrives on
    its own. Made unreadable again and deleted: its record goes.

ZooKeeper servers with the fix of CVE-2024-23944 (Debian's
3.8.0-11+deb12u2 here, 3.8.4, 3.9.2) send no watch event about a node to a
client that cannot read it: zkcached hears neither the new child of an
unreadable <root>/hosts nor the change of an unreadable record, and finds
out at the next full sync (SIGUSR1 here) - as in the issue's report.

Recovery is asserted under a generous deadline (the backoff cap plus a
margin), never a duration; the measured times are printed.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

# cache-daemon/retry.h: ZKD_RETRY_CAP_MS. A retry is never further away.
RETRY_CAP_S = 60
RECOVERY_DEADLINE = RETRY_CAP_S + 30

zk = env = kz = d = None
OPEN = DIGEST_ONLY = None
times = []


def setup():
    global zk, env, kz, d, OPEN, DIGEST_ONLY
    require(ZKCACHED, MODULE)
    try:
        from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl
    except ImportError:
        from zkhdaemon import Skip
        raise Skip("python3-kazoo not installed")
    OPEN = OPEN_ACL_UNSAFE
    DIGEST_ONLY = [make_digest_acl("admin", "s3cret", all=True)]
    zk = ZooKeeper().__enter__()
    env = Env(zk).__enter__()
    kz = zk.kazoo()
    kz.add_auth("digest", "admin:s3cret")   # the operator keeps access
    for name, addr in (("a", "10.20.0.1"), ("b", "10.20.0.2"), ("x", "10.20.1.1"),
                       ("y", "10.20.1.2")):
        kz.create(env.host_path(name), addr.encode(), makepath=True)
    d = env.daemon(args=("-v",))
    for name, addr in (("a", "10.20.0.1"), ("b", "10.20.0.2"), ("x", "10.20.1.1"),
                       ("y", "10.20.1.2")):
        env.wait_resolves(name, {addr})
    env.wait_status(lambda s: s.get("state") == "connected", "the first full sync")


def hosts():
    return os.path.dirname(env.host_path("a"))


def test_listing_refused_then_allowed():
    kz.set_acls(hosts(), DIGEST_ONLY)
    kz.set(env.host_path("a"), b"10.20.0.11")   # a's own ACL is still open
    kz.create(env.host_path("c"), b"10.20.0.3")  # no child event reaches zkcached
    env.wait_resolves("a", {"10.20.0.11"})
    synced = env.status().get("last_sync_us")
    d.send(signal.SIGUSR1)
    env.wait_status(lambda s: s.get("state") == "syncing" and
                    s.get("pending_listing") == "1",
                    "the resync to wait for the refused listing")
    st = env.status()
    assert "not authenticated" in st["error_sync"], st
    assert st["last_error"] == st["error_sync"], st
    # serving meanwhile: the last snapshot, plus what could still be read
    env.wait_resolves("a", {"10.20.0.11"})
    env.wait_resolves("b", {"10.20.0.2"})
    # retried, with backoff: a few refusals, far from a loop
    env.wait_status(lambda s: int(s.get("retries", "0")) >= 4, "a few retries of the listing")
    time.sleep(2)
    st = env.status()
    assert st.get("state") == "syncing" and st.get("last_sync_us") == synced, st
    assert env.resolve("c") == set()
    assert int(st["retries"]) < 40, st   # a few seconds of 100 ms doubling: under 10

    # the operator fixes the ACL and makes one more change; nothing else
    kz.set_acls(hosts(), OPEN)
    t0 = time.monotonic()
    kz.create(env.host_path("d"), b"10.20.0.4")
    env.wait_status(lambda s: s.get("state") == "connected" and
                    s.get("pending_listing") == "0" and "error_sync" not in s and
                    s.get("last_sync_us") != synced,
                    "the full sync to complete on its own", timeout=RECOVERY_DEADLINE)
    for name, addr in (("c", "10.20.0.3"), ("d", "10.20.0.4"), ("a", "10.20.0.11")):
        env.wait_resolves(name, {addr}, timeout=RECOVERY_DEADLINE)
    t = time.monotonic() - t0
    times.append(("listing refused, then allowed", t))
    print("recovery after the hosts ACL was fixed: %.2f s (the sync complete, c and d "
          "resolve; %s retries)" % (t, env.status().get("retries")))
    assert d.alive(), d.log()
    assert "full sync done" in d.log()


def test_one_node_unreadable_then_allowed():
    x = env.host_path("x")
    kz.set_acls(x, DIGEST_ONLY)
    kz.set(x, b"10.20.1.11")          # no event reaches zkcached
    synced = env.status().get("last_sync_us")
    d.send(signal.SIGUSR1)
    # the full resync completes without it and does not sweep it
    env.wait_status(lambda s: s.get("state") == "connected" and
                    s.get("last_sync_us") != synced and s.get("pending_reads") == "1",
                    "the resync to complete with x pending")
    st = env.status()
    assert x + ": not authenticated" in st.get("error_sync", ""), st
    assert env.resolve("x") == {"10.20.1.1"}   # its record kept
    kz.set(env.host_path("y"), b"10.20.1.12")  # others still sync
    env.wait_resolves("y", {"10.20.1.12"})
    assert env.resolve("x") == {"10.20.1.1"}

    kz.set_acls(x, OPEN)
    t0 = time.monotonic()
    env.wait_resolves("x", {"10.20.1.11"}, timeout=RECOVERY_DEADLINE)
    t = time.monotonic() - t0
    env.wait_status(lambda s: s.get("pending_reads") == "0" and "error_sync" not in s,
                    "x no longer pending")
    times.append(("one node refused, then allowed", t))
    print("recovery after x's ACL was fixed: %.2f s" % t)


def test_deleted_while_unreadable():
    x = env.host_path("x")
    kz.set_acls(x, DIGEST_ONLY)
    kz.set(x, b"10.20.1.21")
    d.send(signal.SIGUSR1)
    env.wait_status(lambda s: s.get("pending_reads") == "1", "x pending again")
    kz.delete(x)
    env.wait_gone("x")
    env.wait_status(lambda s: s.get("pending_reads") == "0" and "error_sync" not in s,
                    "nothing pending once x is gone")
    env.wait_resolves("y", {"10.20.1.12"})
    assert d.alive(), d.log()
    assert d.stop() == 0, d.log()
    print("recovery times: " + "; ".join("%s: %.2f s" % t for t in times))


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_listing_refused_then_allowed, test_one_node_unreadable_then_allowed,
           test_deleted_while_unreadable, teardown])
