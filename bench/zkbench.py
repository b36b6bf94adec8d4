"""zkbench - the part of `make bench` that needs ZooKeeper and zkcached:

  initial sync   N records already in ZooKeeper, zkcached started: time
                 until every sampled name resolves through getaddrinfo in
                 another process (build/bench/bench-poller), and the
                 daemon's RSS (VmRSS, VmHWM) and snapshot size after it;
  single         one kazoo set() at a time: ack (set() returned) ->
                 visible to getaddrinfo in the poller process;
  burst          1,000 set_async() at once: per change ack -> visible, and
                 last ack -> all 1,000 visible;
  pollrewrite    the baseline (bench/pollrewrite.py reading everything every
                 second and rewriting a hosts file), seen through glibc's
                 files backend in a private mount namespace;
  barrier        `zkbarrier wait SVC up` started and waiting; kazoo set()
                 of the state acknowledged -> the command has exited.

Latencies use CLOCK_MONOTONIC in both processes (system-wide). A throwaway
ZooKeeper from tests/lib/zkharness.py (loopback, tickTime 200) is started
and always killed, as are zkcached, the pollers and the poll loop.
"""

import os
import random
import signal
import subprocess
import sys
import time

import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))


def pct(xs):
    if not xs:
        return None
    return {"p50": benchlib.quantile(xs, 0.5), "p99": benchlib.quantile(xs, 0.99),
            "max": max(xs), "min": min(xs), "n": len(xs)}


class Poller:
    """build/bench/bench-poller as a child; optional private /etc/hosts."""

    def __init__(self, build, service, env, hosts_bind=None, interval_us=100):
        argv = [os.path.join(build, "bench", "bench-poller"), "-s", service,
                "-i", str(interval_us), "-T", "300"]
        if hosts_bind:
            argv = benchlib.in_namespace([(hosts_bind, "/etc/hosts")], argv)
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     preexec_fn=benchlib._pdeathsig)

    def watch(self, pairs):
        """Send names to wait for; returns once the poller is ready."""
        self.proc.stdin.write("WATCH %d\n" % len(pairs))
        self.proc.stdin.write("".join("%s %s\n" % p for p in pairs))
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("poller: %r" % line)

    def collect(self, n):
        """{index: t_visible_ns}; stops at done/timeout."""
        seen = {}
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("poller died")
            f = line.split()
            if f[0] == "seen":
                seen[int(f[1])] = int(f[2])
            elif f[0] in ("done", "timeout"):
                return seen

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def populate(kz, base, n, log):
    kz.ensure_path(base)
    t0 = time.monotonic()
    pending = []
    for i in range(n):
        pending.append(kz.create_async("%s/%s" % (base, benchlib.name_of(i)),
                                       benchlib.addr_of(i).encode()))
        if len(pending) >= 2000:
            for r in pending:
                r.get()
            pending = []
    for r in pending:
        r.get()
    dt = time.monotonic() - t0
    log("  populated %d znodes in %.1f s" % (n, dt))
    return dt


def new_addr(k):
    return "10.200.%d.%d" % ((k >> 8) & 255, k & 255)


def single_changes(kz, base, n, poller, count, rnd, k0):
    lat, from_send = [], []
    for j in range(count):
        i = rnd.randrange(n)
        name, addr = benchlib.name_of(i), new_addr(k0 + j)
        poller.watch([(name, addr)])
        t_send = time.monotonic_ns()
        kz.set("%s/%s" % (base, name), addr.encode())
        t_ack = time.monotonic_ns()
        seen = poller.collect(1)
        if 0 not in seen:
            raise RuntimeError("change to %s never became visible" % name)
        lat.append((seen[0] - t_ack) / 1e6)
        from_send.append((seen[0] - t_send) / 1e6)
        time.sleep(rnd.uniform(0.002, 0.02))
    return lat, from_send


def burst(kz, base, n, poller, size, rnd, k0):
    idx = rnd.sample(range(n), min(size, n))
    pairs = [(benchlib.name_of(i), new_addr(k0 + j)) for j, i in enumerate(idx)]
    poller.watch(pairs)
    acks = [0] * len(pairs)

    def cb_for(j):
        def cb(_):
            acks[j] = time.monotonic_ns()
        return cb
    t_first = time.monotonic_ns()
    rs = []
    for j, (name, addr) in enumerate(pairs):
        r = kz.set_async("%s/%s" % (base, name), addr.encode())
        r.rawlink(cb_for(j))
        rs.append(r)
    for r in rs:
        r.get()
    while not all(acks):
        time.sleep(0.001)
    seen = poller.collect(len(pairs))
    if len(seen) != len(pairs):
        raise RuntimeError("burst: %d of %d changes never visible" %
                           (len(pairs) - len(seen), len(pairs)))
    per = [(seen[j] - acks[j]) / 1e6 for j in range(len(pairs))]
    return per, (max(seen.values()) - max(acks)) / 1e6, \
        (max(seen.values()) - t_first) / 1e6


def run_size(zkh, zk, kz, build, wd, n, plan, log):
    import zkhdaemon
    out = {"n": n}
    root = "/bench%d" % n
    base = root + "/hosts"
    out["populate_s"] = populate(kz, base, n, log)
    rnd = random.Random(n)
    with zkhdaemon.Env(zk, root=root) as env:
        lenv = zkhdaemon.lookup_env(env.conf)
        lenv.pop("ZKHOSTS_NSS_BYPASS", None)
        poller = Poller(build, "zk", lenv)
        try:
            sample = sorted(set([0, n - 1] + rnd.sample(range(n), min(30, n))))
            poller.watch([(benchlib.name_of(i), benchlib.addr_of(i))
                          for i in sample])
            t0 = time.monotonic_ns()
            d = env.daemon(wait_ready=False)
            seen = poller.collect(len(sample))
            if len(seen) != len(sample):
                raise RuntimeError("initial sync: names missing")
            out["initial_sync_s"] = (max(seen.values()) - t0) / 1e9
            log("  initial sync %.2f s" % out["initial_sync_s"])
            time.sleep(0.5)
            out["rss_kb"] = benchlib.rss_kb(d.pid)
            out["hwm_kb"] = benchlib.rss_kb(d.pid, "VmHWM")
            # anonymous (heap) vs file-backed (the master LMDB map) pages
            out["rss_anon_kb"] = benchlib.rss_kb(d.pid, "RssAnon")
            out["rss_file_kb"] = benchlib.rss_kb(d.pid, "RssFile")
            out["snapshot_bytes"] = os.path.getsize(
                os.path.join(env.cache, "hosts.mdb"))
            lat, from_send = single_changes(kz, base, n, poller,
                                            plan["single"], rnd, 0)
            out["single"] = {"ack_to_visible_ms": pct(lat),
                             "send_to_visible_ms": pct(from_send),
                             "samples_ms": lat}
            log("  single changes: p50 %.2f p99 %.2f max %.2f ms" % (
                out["single"]["ack_to_visible_ms"]["p50"],
                out["single"]["ack_to_visible_ms"]["p99"], max(lat)))
            per_all, last_all, first_all = [], [], []
            for b in range(plan["bursts"]):
                per, last, first = burst(kz, base, n, poller, plan["burst_size"],
                                         rnd, 10000 + b * plan["burst_size"])
                per_all += per
                last_all.append(last)
                first_all.append(first)
            if plan["bursts"]:
                out["burst"] = {"per_change_ms": pct(per_all),
                                "all_visible_ms": pct(last_all),
                                "first_write_to_all_ms": pct(first_all)}
                log("  bursts: last ack -> all visible p50 %.1f ms" %
                    out["burst"]["all_visible_ms"]["p50"])
            # Steady state: idle past zkcached's trim delay (3 s after the
            # last publish) it gives back the master pages its publishes
            # touched and the allocator's free pages. Then single changes
            # after such an idle spell, which fault the master back in.
            time.sleep(4.5)
            out["idle_rss_kb"] = benchlib.rss_kb(d.pid)
            out["idle_rss_anon_kb"] = benchlib.rss_kb(d.pid, "RssAnon")
            out["idle_rss_file_kb"] = benchlib.rss_kb(d.pid, "RssFile")
            log("  RSS after sync %.1f MB, idle %.1f MB" % (
                out["rss_kb"] / 1024, out["idle_rss_kb"] / 1024))
            cold = []
            for j in range(plan.get("cold", 3)):
                time.sleep(4.0)
                lat, _ = single_changes(kz, base, n, poller, 1, rnd, 20000 + j)
                cold += lat
            if cold:
                out["cold_single_ms"] = pct(cold)
                log("  single changes after idle: p50 %.2f max %.2f ms" % (
                    out["cold_single_ms"]["p50"], max(cold)))
            st = env.status()
            out["publishes"] = st.get("publishes")
        finally:
            poller.close()
    if plan.get("delay0"):
        out["single_delay0"] = delay0(zk, kz, build, base, root, n,
                                      plan["delay0"], rnd, log)
    if plan["pollrewrite"]:
        out["pollrewrite"] = pollrewrite(zk, kz, build, wd, n, base,
                                         plan["pollrewrite"], rnd, log)
    kz.delete(root, recursive=True)
    return out


def delay0(zk, kz, build, base, root, n, count, rnd, log):
    """Single changes again with publish_delay = 0 (publish as soon as a
    change arrives): how much of the latency is the batching window."""
    import zkhdaemon
    with zkhdaemon.Env(zk, root=root, publish_delay=0) as env:
        lenv = zkhdaemon.lookup_env(env.conf)
        lenv.pop("ZKHOSTS_NSS_BYPASS", None)
        poller = Poller(build, "zk", lenv)
        try:
            # a fresh probe record: earlier steps changed random names, so
            # no original address is known to still hold
            probe = "delay0-probe.%s" % benchlib.DOMAIN
            kz.create("%s/%s" % (base, probe), b"10.254.0.1")
            poller.watch([(probe, "10.254.0.1")])
            env.daemon(wait_ready=False)
            if not poller.collect(1):
                raise RuntimeError("publish_delay=0: initial sync failed")
            # earlier runs changed some names; current values are whatever
            # was set last, and new_addr keys never repeat (k0 = 70000)
            lat, _ = single_changes(kz, base, n, poller, count, rnd, 70000)
        finally:
            poller.close()
    log("  publish_delay=0: p50 %.2f p99 %.2f ms" % (
        benchlib.quantile(lat, 0.5), benchlib.quantile(lat, 0.99)))
    return {"ack_to_visible_ms": pct(lat), "samples_ms": lat}


def pollrewrite(zk, kz, build, wd, n, base, count, rnd, log):
    hosts = wd.sub("pollrewrite-%d.hosts" % n)
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n")
    loop = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(HERE, "pollrewrite.py"),
         zk.connect_string, base.rsplit("/", 1)[0], hosts, "1"],
        stdout=subprocess.PIPE, text=True, preexec_fn=benchlib._pdeathsig)
    poller = Poller(build, "files", dict(os.environ), hosts_bind=hosts,
                    interval_us=1000)
    try:
        line = loop.stdout.readline()      # first full rewrite done
        first = line.split()
        cycle_s = (int(first[2]) - int(first[1])) / 1e9
        log("  poll-and-rewrite: one full read+rewrite of %d takes %.2f s" %
            (n, cycle_s))
        lat = []
        for j in range(count):
            i = rnd.randrange(n)
            name, addr = benchlib.name_of(i), new_addr(50000 + j)
            poller.watch([(name, addr)])
            kz.set("%s/%s" % (base, name), addr.encode())
            t_ack = time.monotonic_ns()
            seen = poller.collect(1)
            if 0 not in seen:
                raise RuntimeError("poll-and-rewrite: change never visible")
            lat.append((seen[0] - t_ack) / 1e6)
            time.sleep(rnd.uniform(0.0, 0.3))
        log("  poll-and-rewrite: p50 %.0f ms max %.0f ms" %
            (benchlib.quantile(lat, 0.5), max(lat)))
        return {"ack_to_visible_ms": pct(lat), "samples_ms": lat,
                "cycle_s": cycle_s}
    finally:
        poller.close()
        loop.kill()
        loop.wait()


def barrier(zk, kz, build, wd, count, log):
    import zkhdaemon
    exe = os.path.join(build, "zkbarrier")
    if not os.path.exists(exe):
        return {"skipped": "build/zkbarrier not built"}
    with zkhdaemon.Env(zk, root="/benchbarrier") as env:
        kz.ensure_path("/benchbarrier/boot")
        lat = []
        for j in range(count):
            svc = "svc%d" % j
            kz.create("/benchbarrier/boot/" + svc, b"boot")
            p = subprocess.Popen([exe, "-c", env.conf, "wait", svc, "up",
                                  "--timeout", "60"],
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL,
                                 preexec_fn=benchlib._pdeathsig)
            # Let it connect and arm its watch: wait until the server
            # reports a watch on the node (4-letter word wchp), else 1 s.
            t_end = time.monotonic() + 5
            while time.monotonic() < t_end:
                w = zk_watches(zk)
                if w is None or ("/benchbarrier/boot/" + svc) in w:
                    break
                time.sleep(0.01)
            if w is None:
                time.sleep(1.0)
            kz.set("/benchbarrier/boot/" + svc, b"up")
            t_ack = time.monotonic_ns()
            rc = p.wait(timeout=60)
            t_exit = time.monotonic_ns()
            if rc != 0:
                raise RuntimeError("zkbarrier wait exited %d" % rc)
            lat.append((t_exit - t_ack) / 1e6)
        log("  zkbarrier wake-up p50 %.1f ms max %.1f ms" %
            (benchlib.quantile(lat, 0.5), max(lat)))
        kz.delete("/benchbarrier", recursive=True)
        return {"wake_ms": pct(lat), "samples_ms": lat}


def zk_watches(zk):
    """Paths with watches according to the server (wchp), or None."""
    import zkharness
    port = int(zk.connect_string.split(",")[0].rsplit(":", 1)[1])
    r = zkharness.four_letter(port, "wchp")
    if not r or "not executed" in r or "not in the whitelist" in r:
        return None
    return r


def run(build, wd, full=False, log=print, sizes=None):
    """The ZooKeeper part; `sizes` (a list) keeps only those record counts
    of the plan."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "lib"))
    try:
        import zkharness
        import zkhdaemon  # noqa: F401
        import kazoo  # noqa: F401
    except ImportError as e:
        return {"skipped": "cannot import the ZooKeeper harness or kazoo: %s" % e}
    if not zkharness.available():
        return {"skipped": "ZooKeeper server or java not installed"}
    if not os.path.exists(os.path.join(build, "zkcached")):
        return {"skipped": "build/zkcached not built"}
    os.environ["ZKH_BUILD"] = build
    if full:
        plans = {1000: {"single": 300, "bursts": 5, "burst_size": 1000, "pollrewrite": 30},
                 10000: {"single": 300, "bursts": 5, "burst_size": 1000, "pollrewrite": 20,
                         "delay0": 200},
                 100000: {"single": 200, "bursts": 3, "burst_size": 1000, "pollrewrite": 5,
                          "cold": 5}}
        nbar = 50
    else:
        plans = {1000: {"single": 200, "bursts": 3, "burst_size": 1000, "pollrewrite": 10},
                 10000: {"single": 200, "bursts": 2, "burst_size": 1000, "pollrewrite": 5,
                         "delay0": 200}}
        nbar = 20
    if sizes:
        plans = {n: p for n, p in plans.items() if n in sizes}
    res = {"sizes": {}, "burst_size": 1000,
           "notes": ["Poller: build/bench/bench-poller, a separate process "
                     "spinning getaddrinfo with 100 µs naps (poll-and-rewrite "
                     "poller: 1 ms naps, files backend in a private mount "
                     "namespace). ZooKeeper: one local server, tickTime 200, "
                     "on the same 2 cores as everything else."]}
    with zkharness.ZooKeeper() as zk:
        kz = zk.kazoo(timeout=30)
        for n, plan in sorted(plans.items()):
            log("zk: %d records" % n)
            res["sizes"][str(n)] = run_size(zkharness, zk, kz, build, wd, n,
                                            plan, log)
        log("zk: zkbarrier wake-up")
        try:
            res["barrier"] = barrier(zk, kz, build, wd, nbar, log)
        except Exception as e:  # report, do not lose the rest
            res["barrier"] = {"skipped": "failed: %s" % e}
    return res
