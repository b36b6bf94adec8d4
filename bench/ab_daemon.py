#!/usr/bin/env python3
"""ab_daemon - two builds of zkcached and libnss_zk side by side, in
alternating rounds of one run against one ZooKeeper, for changes to the
daemon that must not cost propagation or sync time.

    bench/ab_daemon.py --a OLD_BUILD_DIR --b NEW_BUILD_DIR [-n 10000]
                       [--rounds 6] [--changes 100]

Each build directory needs zkcached, libnss_zk.so.2 and bench/bench-poller
(make all build/bench/bench-poller, in a worktree of the other commit).
One ZooKeeper (tests/lib/zkharness.py, loopback) holds N records. Every
round runs A then B, or B then A (the order alternates, so a drift of the
machine's load hits both): a fresh zkcached of that build on a fresh cache
syncs everything (time until sampled names resolve in another process),
then `--changes` single kazoo set()s, each timed from the write's
acknowledgement to the moment getaddrinfo in the poller process (linked
to the same build's module) returns the new address. Prints per-round
medians and the ratio B/A of each round; the figures to report are the
median of those ratios and its spread.
"""

import argparse
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "lib"))

import benchlib  # noqa: E402
import zkbench  # noqa: E402
import zkharness  # noqa: E402
import zkhdaemon  # noqa: E402


def one_round(zk, kz, build, base_root, n, changes, rnd, k0):
    """Sync time (s) and single-change latencies (ms) for one build."""
    zkhdaemon.ZKCACHED = os.path.join(build, "zkcached")
    with zkhdaemon.Env(zk, root=base_root) as env:
        lenv = zkhdaemon.lookup_env(env.conf)
        lenv.pop("ZKHOSTS_NSS_BYPASS", None)
        lenv["LD_LIBRARY_PATH"] = build
        poller = zkbench.Poller(build, "zk", lenv)
        try:
            sample = sorted(set([0, n - 1] + rnd.sample(range(n), min(30, n))))
            # Earlier rounds changed some addresses: wait for what
            # ZooKeeper holds now.
            poller.watch([(benchlib.name_of(i), kz.get("%s/hosts/%s" % (
                base_root, benchlib.name_of(i)))[0].decode())
                          for i in sample])
            t0 = time.monotonic_ns()
            env.daemon(wait_ready=False)
            seen = poller.collect(len(sample))
            if len(seen) != len(sample):
                raise RuntimeError("initial sync: names missing")
            sync_s = (max(seen.values()) - t0) / 1e9
            time.sleep(0.5)
            lat, _ = zkbench.single_changes(kz, base_root + "/hosts", n, poller,
                                            changes, rnd, k0)
        finally:
            poller.close()
    return sync_s, lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="build dir A (the old one)")
    ap.add_argument("--b", required=True, help="build dir B (the new one)")
    ap.add_argument("-n", type=int, default=10000, help="records")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--changes", type=int, default=100)
    o = ap.parse_args()
    for b in (o.a, o.b):
        for f in ("zkcached", "libnss_zk.so.2", "bench/bench-poller"):
            if not os.path.exists(os.path.join(b, f)):
                sys.exit("ab_daemon: %s/%s missing" % (b, f))
    rnd = random.Random(1)
    res = {"A": [], "B": []}
    with zkharness.ZooKeeper() as zk:
        kz = zk.kazoo(timeout=30)
        root = "/ab%d" % o.n
        zkbench.populate(kz, root + "/hosts", o.n, print)
        k = 0
        for r in range(o.rounds):
            order = ("A", "B") if r % 2 == 0 else ("B", "A")
            for which in order:
                build = o.a if which == "A" else o.b
                sync_s, lat = one_round(zk, kz, build, root, o.n, o.changes,
                                        rnd, k)
                k += o.changes
                res[which].append((sync_s, lat))
                print("round %d %s: sync %.2f s, change p50 %.2f p99 %.2f ms"
                      % (r, which, sync_s, benchlib.quantile(lat, 0.5),
                         benchlib.quantile(lat, 0.99)), flush=True)
        kz.stop()

    def ratios(f):
        return [f(b) / f(a) for a, b in zip(res["A"], res["B"])]
    all_a = [x for _, lat in res["A"] for x in lat]
    all_b = [x for _, lat in res["B"] for x in lat]
    print("\nN=%d, %d rounds x %d changes per build" % (o.n, o.rounds, o.changes))
    print("pooled A: p50 %.2f p99 %.2f ms; B: p50 %.2f p99 %.2f ms" % (
        benchlib.quantile(all_a, 0.5), benchlib.quantile(all_a, 0.99),
        benchlib.quantile(all_b, 0.5), benchlib.quantile(all_b, 0.99)))
    for label, f in (("initial sync", lambda x: x[0]),
                     ("change p50", lambda x: benchlib.quantile(x[1], 0.5)),
                     ("change p99", lambda x: benchlib.quantile(x[1], 0.99))):
        rs = sorted(ratios(f))
        print("B/A %-12s median %.3f  [min %.3f, max %.3f]" % (
            label, statistics.median(rs), rs[0], rs[-1]))


if __name__ == "__main__":
    main()
