#!/usr/bin/python3
"""zkcached's initial load of 10,000 records (written with kazoo multi
transactions): every record resolves, the status file counts them all, a
change after the load flows, an idle daemon gives back the master's pages
it touched while publishing, and a restart over an existing cache serves
at once and resyncs. Prints the initial sync time and resident memory
(figures for the README, not assertions)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, require, run_tests, ZKCACHED, MODULE  # noqa: E402

N = int(os.environ.get("ZKH_LOAD_N", "10000"))
zk = env = kz = d = None


def name(i):
    return "load-%05d" % i


def addr(i):
    return "10.%d.%d.%d" % (100 + i // 65536, (i // 256) % 256, i % 256)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def master_rss_kb(pid):
    """Resident kB of the daemon's mapping of its master data file."""
    total, inside = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split(" ", 1)[0]
            if "-" in head and not head.endswith(":"):
                inside = line.rstrip().endswith("/.master/data.mdb")
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        w = f.read().rsplit(")", 1)[1].split()
    return (int(w[11]) + int(w[12])) / os.sysconf("SC_CLK_TCK")


def setup():
    global zk, env, kz
    require(ZKCACHED, MODULE)
    zk = ZooKeeper().__enter__()
    env = Env(zk).__enter__()
    kz = zk.kazoo()
    kz.ensure_path("/zkhosts/hosts")
    for start in range(0, N, 1000):
        tx = kz.transaction()
        for i in range(start, min(N, start + 1000)):
            tx.create(env.host_path(name(i)), addr(i).encode())
        res = tx.commit()
        assert all(r == env.host_path(name(i)) for i, r in zip(range(start, N), res)), res[:3]


def test_initial_load():
    global d
    t0 = time.monotonic()
    d = env.daemon()
    s = env.wait_status(lambda s: s.get("state") == "connected" and s.get("records") == str(N) and s,
                        "%d records synced" % N, timeout=120)
    secs = time.monotonic() - t0
    line = [ln for ln in d.log().splitlines() if "full sync done" in ln][-1]
    print("initial sync of %d records: %.2fs to status (daemon: %s)" % (N, secs, line.split("info: ")[-1]))
    print("zkcached RSS after load: %d kB, CPU used: %.2fs" % (rss_kb(d.pid), cpu_s(d.pid)))
    assert s["skipped"] == "0", s
    for i in (0, 1, N // 2, N - 1):
        assert env.resolve(name(i)) == {addr(i)}, name(i)
    assert env.reverse(addr(N - 1))[0].lower() == name(N - 1)


def test_change_after_load():
    kz.set(env.host_path(name(7)), b"10.250.0.7")
    env.wait_resolves(name(7), {"10.250.0.7"})
    kz.delete(env.host_path(name(8)))
    env.wait_gone(name(8))


def test_idle_daemon_gives_pages_back():
    # A publish reads the whole master; a few seconds idle, zkcached drops
    # those pages from its resident set (they stay in the page cache).
    kz.set(env.host_path(name(11)), b"10.250.0.11")
    env.wait_resolves(name(11), {"10.250.0.11"})
    busy = master_rss_kb(d.pid)
    rss_busy = rss_kb(d.pid)
    assert busy >= 256, "a publish of %d records touched only %d kB of the master" % (N, busy)
    deadline = time.monotonic() + 30
    while master_rss_kb(d.pid) > busy // 10:
        assert time.monotonic() < deadline, \
            "master pages still resident after 30 s idle: %d kB" % master_rss_kb(d.pid)
        time.sleep(0.5)
    print("zkcached RSS after a publish: %d kB (master map %d kB); idle: %d kB (master map %d kB)"
          % (rss_busy, busy, rss_kb(d.pid), master_rss_kb(d.pid)))
    # and the master still works: the next change flows
    kz.set(env.host_path(name(12)), b"10.250.0.12")
    env.wait_resolves(name(12), {"10.250.0.12"})


def test_restart_serves_at_once_and_resyncs():
    assert d.stop() == 0
    kz.delete(env.host_path(name(9)))
    d2 = env.daemon()
    assert env.resolve(name(10)) == {addr(10)}, "served before the resync"
    env.wait_gone(name(9))
    s = env.wait_status(lambda s: s.get("state") == "connected" and s, "resync")
    assert s["records"] == str(N - 2), s
    print("zkcached RSS after restart + resync: %d kB" % rss_kb(d2.pid))
    assert d2.stop() == 0


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_initial_load, test_change_after_load,
           test_idle_daemon_gives_pages_back,
           test_restart_serves_at_once_and_resyncs, teardown])
