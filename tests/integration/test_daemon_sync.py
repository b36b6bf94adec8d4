#!/usr/bin/python3
"""zkcached against a real standalone ZooKeeper: records written by plain
kazoo and by zkCli.sh (not by our code) show up through getent via the zk
NSS module; a set is a change, a delete a removal, a delete + re-create is
seen (new czxid), IPv6 and several addresses work, reverse lookups answer,
an ephemeral record vanishes when its owner's session closes, znodes whose
names differ only in case share one record that outlives either of them,
a storm of changes costs fewer publishes than changes, publish_delay
spaces publishes without delaying a change that follows a quiet spell, and
a record replaced by delete + create in one transaction never goes
missing from a published snapshot."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, GenerationWatch, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

zk = env = kz = None


def setup():
    global zk, env, kz
    require(ZKCACHED, MODULE)
    zk = ZooKeeper().__enter__()
    env = Env(zk).__enter__()
    env.daemon()
    kz = zk.kazoo()
    env.wait_status(lambda s: s.get("state") == "connected", "first full sync")


def test_layout_created():
    for p in ("/zkhosts", "/zkhosts/hosts", "/zkhosts/boot"):
        assert kz.exists(p) is not None, p


def test_add_change_delete():
    p = env.host_path("web-1")
    kz.create(p, b"10.0.0.1")
    env.wait_resolves("web-1", {"10.0.0.1"})
    assert env.resolve("WEB-1.") == {"10.0.0.1"}, "case-insensitive, trailing dot"
    kz.set(p, b"10.0.0.2")
    env.wait_resolves("web-1", {"10.0.0.2"})
    kz.delete(p)
    env.wait_gone("web-1")


def test_delete_recreate():
    p = env.host_path("flip")
    kz.create(p, b"10.0.1.1")
    env.wait_resolves("flip", {"10.0.1.1"})
    # same data, new node: only a changed czxid tells (version is 0 again)
    tx = kz.transaction()
    tx.delete(p)
    tx.create(p, b"10.0.1.2")
    tx.commit()
    env.wait_resolves("flip", {"10.0.1.2"})
    kz.delete(p)
    kz.create(p, b"10.0.1.2")
    kz.set(p, b"10.0.1.3")
    env.wait_resolves("flip", {"10.0.1.3"})


def test_ipv6_and_several_addresses():
    kz.create(env.host_path("v6only"), b"fd00::10")
    kz.create(env.host_path("multi"), b"10.0.2.1, fd00::21\n10.0.2.2\tfd00::22,,10.0.2.1")
    env.wait_resolves("v6only", {"fd00::10"})
    env.wait_resolves("multi", {"10.0.2.1", "10.0.2.2", "fd00::21", "fd00::22"})
    names = env.reverse("10.0.2.2")
    assert names and names[0].lower() == "multi", names
    assert env.reverse("fd00::10")[0].lower() == "v6only"


def test_zkcli_writer():
    r = zk.zkcli("create", "/zkhosts/hosts/from-zkcli", "10.0.3.1")
    assert r.returncode == 0 and kz.exists("/zkhosts/hosts/from-zkcli"), r.stdout + r.stderr
    env.wait_resolves("from-zkcli", {"10.0.3.1"})
    r = zk.zkcli("set", "/zkhosts/hosts/from-zkcli", "10.0.3.2")
    assert r.returncode == 0, r.stderr
    env.wait_resolves("from-zkcli", {"10.0.3.2"})
    r = zk.zkcli("delete", "/zkhosts/hosts/from-zkcli")
    assert r.returncode == 0, r.stderr
    env.wait_gone("from-zkcli")


def test_ephemeral_vanishes_with_owner():
    other = zk.kazoo()
    other.create(env.host_path("eph"), b"10.0.4.1", ephemeral=True)
    env.wait_resolves("eph", {"10.0.4.1"})
    zk.release(other)
    env.wait_gone("eph")


def test_names_differing_only_in_case():
    # Names are case-insensitive, so "case-a" and "CASE-A" are one host name:
    # the last one written is served, and removing either (delete, or data
    # that is no longer valid) leaves the other one served, not nothing.
    lo, up = env.host_path("case-a"), env.host_path("CASE-A")
    kz.create(lo, b"10.0.5.1")
    env.wait_resolves("case-a", {"10.0.5.1"})
    kz.create(up, b"10.0.5.2")
    env.wait_resolves("case-a", {"10.0.5.2"})
    kz.delete(up)
    env.wait_resolves("case-a", {"10.0.5.1"})
    assert env.reverse("10.0.5.1") == ["case-a"], env.reverse("10.0.5.1")
    assert env.reverse("10.0.5.2") == [], "the deleted znode's address stays behind"
    kz.create(up, b"10.0.5.3")
    env.wait_resolves("CASE-A", {"10.0.5.3"})
    kz.set(up, b"not an address")
    env.wait_resolves("case-a", {"10.0.5.1"})
    kz.set(lo, b"10.0.5.4")
    env.wait_resolves("case-a", {"10.0.5.4"})
    kz.delete(lo)
    env.wait_gone("case-a")
    kz.delete(up)


def test_storm_is_batched():
    before = int(env.status()["publishes"])
    p = env.host_path("storm")
    kz.create(p, b"10.9.0.0")
    futures = [kz.set_async(p, ("10.9.%d.%d" % (i // 250, i % 250 + 1)).encode()) for i in range(400)]
    for f in futures:
        f.get(timeout=30)
    env.wait_resolves("storm", {"10.9.1.150"})
    # let the last publish land in the status file
    wait_for(lambda: env.status().get("records") is not None, "status")
    after = int(env.status()["publishes"])
    assert after - before < 400, "401 changes cost %d publishes" % (after - before)
    print("storm of 401 changes: %d publishes" % (after - before))


def test_publish_delay_spaces_publishes():
    # publish_delay = 3000: a change after 3 s without a publish goes out at
    # once (well inside the window), a change right after it waits for the
    # window to end. Long delays, so a slow machine can only make the first
    # check wait longer, never make the second one pass wrongly.
    with Env(zk, root="/spaced", publish_delay=3000) as e2:
        e2.daemon()
        e2.wait_status(lambda s: s.get("state") == "connected", "first full sync")
        time.sleep(3.5)
        p = e2.host_path("spaced")
        t0 = time.monotonic()
        kz.create(p, b"10.0.6.1", makepath=True)
        e2.wait_resolves("spaced", {"10.0.6.1"}, timeout=10)
        first = time.monotonic() - t0
        assert first < 2.5, "a change after a quiet spell waited %.1f s" % first
        kz.set(p, b"10.0.6.2")
        time.sleep(1.0)
        assert e2.resolve("spaced") == {"10.0.6.1"}, "published inside the window"
        e2.wait_resolves("spaced", {"10.0.6.2"}, timeout=10)
        print("publish_delay 3000 ms: first change visible after %.3f s" % first)


def test_replace_in_one_transaction_never_missing():
    # A client replaces a record by delete + create in one multi (as
    # zkcached does with its own registration after a restart). zkcached
    # sees NodeDeleted first; it must read the node again rather than
    # publish the name's removal. publish_delay 300 ms and 1 s of quiet:
    # a removal would go out at once and stay visible for 300 ms.
    with Env(zk, root="/replace", publish_delay=300) as e3:
        e3.daemon()
        e3.wait_status(lambda s: s.get("state") == "connected", "first full sync")
        p = e3.host_path("swapped")
        kz.create(p, b"10.0.7.1", makepath=True)
        e3.wait_resolves("swapped", {"10.0.7.1"})
        old = "10.0.7.1"
        for addr in ("10.0.7.1", "10.0.7.2", "10.0.7.3"):
            time.sleep(1.0)
            w = GenerationWatch(e3, "swapped", [{old}, {addr}])
            tx = kz.transaction()
            tx.delete(p)
            tx.create(p, addr.encode())
            tx.commit()
            e3.wait_resolves("swapped", {addr})
            time.sleep(0.5)
            bad = w.stop()
            old = addr
            assert w.seen, "no publish observed"
            assert not bad, "published without the name: %s" % bad


def test_status_and_alive():
    s = env.status()
    assert s["state"] == "connected" and s["connected"] == "1", s
    assert int(s["session"], 16) != 0 and int(s["last_sync_us"]) > 0, s
    assert env.daemons[0].alive()
    assert env.daemons[0].stop() == 0
    assert env.status()["state"] == "stopped"


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_layout_created, test_add_change_delete, test_delete_recreate,
           test_ipv6_and_several_addresses, test_zkcli_writer,
           test_ephemeral_vanishes_with_owner, test_names_differing_only_in_case,
           test_storm_is_batched, test_publish_delay_spaces_publishes,
           test_replace_in_one_transaction_never_missing,
           test_status_and_alive, teardown])
