#!/usr/bin/python3
"""test_cluster - the flow of `make cluster-demo` as a test: five hosts,
each its own network namespace (ip netns) on a private bridge with its own
address, its own mount namespace saying `hosts: files zk` and its own
zkcached registering its name; a 3-server ZooKeeper ensemble on the
bridge (examples/cluster/). Asserts that:

  - boot order: the stand-in services (examples/standin-service.sh) on
    their hosts are released by the bootstrap job
    (examples/hadoop-bootstrap.sh) only after every name resolves on its
    host, which is only after every zkcached started; namenode first,
    resourcemanager/nodemanager/historyserver only after the HDFS step;
  - every host resolves every host, forward and reverse, and its own name;
  - Java on namenode (InetAddress.getAllByName, getCanonicalHostName,
    getLocalHost) gives every datanode's right address and name back;
  - a datanode whose zkcached is SIGKILLed vanishes on every other host
    once its session expires, and comes back everywhere when restarted
    (deadlines generous; the times are printed, never asserted);
  - the teardown leaves no process, namespace or temp dir behind.

The whole test runs in a network and mount namespace of its own, so the
machine's network and /etc are never touched. It skips (exit 77) only
when namespaces, bridges or veths cannot be made here; anything else
missing is a failure.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("ZKH_SRC") or os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("ZKH_BUILD") or os.path.join(SRC, "build")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "examples", "cluster"))

import lab  # noqa: E402
import scenario  # noqa: E402
import zkharness  # noqa: E402


def say(s):
    print(s, flush=True)


def check_boot(timeline):
    """The order, checked here in the test's own words as well."""
    order = [(h, who, what) for _, h, who, what in timeline]

    def at(host, who, what):
        hits = [i for i, e in enumerate(order) if e[1] == who and e[2] == what
                and (host is None or e[0] == host)]
        assert hits, "no %s %s on %s in %s" % (who, what, host, order)
        return hits[0]
    resolved = at(None, "bootstrap", "hosts-resolved")
    hdfs = at(None, "bootstrap", "hdfs-dirs-created")
    for name, _ in scenario.HOSTS:
        assert at(name, "zkcached", "started") < resolved, order
    for host, svcs in scenario.SERVICES.items():
        for s in svcs:
            assert resolved < at(host, s, "released") < at(host, s, "up"), (host, s, order)
            if s != "namenode" and s != "datanode":
                assert hdfs < at(host, s, "released"), (host, s, order)
    assert at("namenode", "namenode", "released") < at(None, "bootstrap", "namenode-up") < hdfs
    assert scenario.boot_order_problems(timeline) == []
    # and the broken order is caught: swap the HDFS step to the very start
    step = ("bootstrap", "hdfs-dirs-created")
    moved = [(timeline[0][0] - 1,) + e[1:] for e in timeline if e[2:] == step]
    bad = moved + [e for e in timeline if e[2:] != step]
    assert scenario.boot_order_problems(bad), "a wrong order went unnoticed"


def main():
    for prog in ("zkcached", "zkbarrier", "libnss_zk.so.2"):
        if not os.path.exists(os.path.join(BUILD, prog)):
            say("FAIL: %s not built" % os.path.join(BUILD, prog))
            return 1
    if not zkharness.available():
        say("FAIL: ZooKeeper (Debian zookeeper) or java not installed (make deps)")
        return 1
    try:
        lab.isolate()
    except lab.Unsupported as e:
        say("SKIP: cannot make network namespaces here (needs root with CAP_SYS_ADMIN and CAP_NET_ADMIN): %s" % e)
        return 77
    c = scenario.Cluster(SRC, BUILD, say)
    failed = False
    t0 = time.monotonic()
    try:
        c.start()
        check_boot(c.boot())
        say("PASS boot order")
        c.matrix()
        say("PASS every host resolves every host")
        rows = c.java()
        assert {r[1] for r in rows if r[0] == "name"} == set(scenario.DATANODES), rows
        say("PASS Java getAllByName / getCanonicalHostName / getLocalHost")
        timings = c.membership()
        assert set(timings) == {n for n, _ in scenario.HOSTS} - {"datanode-2"}, timings
        say("PASS membership (gone %.2f..%.2fs after SIGKILL, back %.2f..%.2fs after restart)"
            % (min(t[0] for t in timings.values()), max(t[0] for t in timings.values()),
               min(t[1] for t in timings.values()), max(t[1] for t in timings.values())))
    except Exception:
        failed = True
        import traceback
        say("FAIL")
        traceback.print_exc(file=sys.stdout)
        c.dump_logs()
    finally:
        pids = [p.pid for p in (c.lab.procs if c.lab else [])]
        labdir = c.lab.dir if c.lab else None
        c.close()
    # teardown: nothing left
    left = [pid for pid in pids if os.path.exists("/proc/%d" % pid)
            and open("/proc/%d/stat" % pid).read().split()[2] != "Z"]
    if left:
        say("FAIL teardown: processes still running: %s" % left)
        failed = True
    if labdir and os.path.exists(labdir) and os.environ.get("ZKH_KEEP") is None:
        say("FAIL teardown: %s still exists" % labdir)
        failed = True
    netns = [n for n in os.listdir(lab.NETNS_DIR)] if os.path.isdir(lab.NETNS_DIR) else []
    if any(n in dict(scenario.HOSTS) for n in netns):
        say("FAIL teardown: namespaces left in %s: %s" % (lab.NETNS_DIR, netns))
        failed = True
    say("%s in %.1fs" % ("FAILED" if failed else "all passed", time.monotonic() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
