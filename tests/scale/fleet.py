#!/usr/bin/python3
"""fleet.py - the fleet simulator behind `make scale` (docs/scale.md).

A 3-server ZooKeeper ensemble on loopback (session timeout 20 s so a
loaded 2-core machine does not expire sessions by accident), N records
under two roots, and fleets of real zkcached processes, one cache each:

  old design  /old: every daemon mirrors <root>/hosts (indexer = no and
              no index under /old, index_fallback_max above N: the
              mirror path every zkcached took before the index);
  new design  /new: two daemons with indexer = yes, the others consumers
              (indexer = no).

cost      With no daemon at all (what the writes alone cost ZooKeeper),
          then for each design and each fleet size (--daemons A,B): C creates,
          C data changes, C deletes at --rate per second; per change: the
          bytes every daemon read (sum of /proc/<pid>/io rchar deltas:
          what ZooKeeper sent them), the ZooKeeper servers' CPU (utime +
          stime of the three JVMs) and bytes they wrote (wchar: network
          and transaction log). The marginal cost of one more daemon is
          (cost at B - cost at A) / (B - A).
propagate On a few real daemons of the new design (--prop-daemons: two
          indexers, the rest consumers) plus --sessions simulated
          consumers (build/tests/scale/fleetsim, libzookeeper_st): for P
          probe creates, ack -> visible: through getaddrinfo in each
          consumer daemon's cache and in an indexer's (the single-daemon
          path: it reads the directory itself, as every zkcached did
          before the index), and in every simulated session (head ring or
          bucket read). The fleet's p99 is compared with the single
          daemon's p99 of the same probes.
faults    On that fleet grown to the largest size: an indexer killed with SIGKILL, then one stopped
          with SIGSTOP (the other keeps writing): creates and deletes
          made meanwhile, the longest ack -> visible at a consumer, and
          the index compared with the directory (nothing lost or
          resurrected). A rolling restart of the three servers (each once
          the others serve): sessions lost (daemons and simulated) and
          bucket reads it caused. Expiry of every daemon at once (all
          stopped past the session timeout): reads and time to converge.
reconnect With --reconnect R (e.g. 100000): R records under /big, one
          indexer and one consumer; the server the consumer is connected
          to is killed: does it keep its session, and what does it read?
          The old design (one mirroring daemon) beside it.

Prints a report and writes it as JSON to build/scale/report.json.
Standard library + kazoo; ZooKeeper from tests/lib/zkharness.py.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import zkharness  # noqa: E402
from zkharness import ZooKeeper, four_letter  # noqa: E402
from zkhdaemon import Env, lookup_env, wait_for  # noqa: E402

BUILD = os.environ.get("ZKH_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SESSION_MS = 20000


def log(*a):
    print(*a, flush=True)


def name_of(i):
    return "n%06d" % i


def addr_of(i, net=1):
    return "10.%d.%d.%d" % (net, (i >> 8) & 255, i & 255 or 1)


def rchar(pid):
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def io_of(pid, key):
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])
    except (OSError, IndexError):
        return 0


HZ = os.sysconf("SC_CLK_TCK")


def populate(kz, root, n, net=1):
    kz.ensure_path(root + "/hosts")
    pending = []
    for i in range(n):
        pending.append(kz.create_async("%s/hosts/%s" % (root, name_of(i)), addr_of(i, net).encode()))
        if len(pending) >= 2000:
            for r in pending:
                r.get()
            pending = []
    for r in pending:
        r.get()


class Fleet:
    """M real zkcached processes on `root`; `indexers` of them with
    indexer = yes, the rest with `rest_mode`."""

    def __init__(self, zk, root, m, indexers, rest_mode, extra=None):
        self.envs, self.daemons = [], []
        self.zk, self.root, self.indexers = zk, root, indexers
        self.rest_mode, self.extra = rest_mode, extra
        self.grow(m)

    def grow(self, m):
        """Start daemons until the fleet has m."""
        for k in range(len(self.envs), m):
            conf = dict(root=self.root, session_timeout=SESSION_MS,
                        indexer="yes" if k < self.indexers else self.rest_mode,
                        publish_delay=5)
            conf.update(self.extra or {})
            e = Env(self.zk, **conf).__enter__()
            self.envs.append(e)
            self.daemons.append(e.daemon())

    def wait_records(self, n, timeout=600):
        for e in self.envs:
            wait_for(lambda: e.status().get("state") == "connected" and
                     int(e.status().get("records", -1)) == n,
                     "%s: %d records" % (e.dir, n), timeout=timeout)

    def pids(self):
        return [d.pid for d in self.daemons if d.alive()]

    def wait_indexers(self, timeout=120):
        """Until the daemons standing as indexers hold their slots."""
        for e in self.envs[:self.indexers]:
            wait_for(lambda: e.status().get("index_role") == "indexer",
                     "%s: an indexer" % e.dir, timeout=timeout)

    def close(self):
        """Stop every daemon with SIGTERM, so that it closes its sessions:
        a daemon killed outright keeps its indexer slot until its session
        expires (SESSION_MS), and the next fleet's indexers would take
        over, loading the whole directory, in the middle of a measured
        phase."""
        for d in self.daemons:
            d.send(signal.SIGTERM)
        for d in self.daemons:
            try:
                d.stop(timeout=60)
            except AssertionError:
                pass
        for e in self.envs:
            e.close()


def sock_bytes(pids, ports):
    """Bytes received from ZooKeeper (TCP bytes_received of the sockets
    of `pids` connected to one of `ports`), from `ss -tinp`: the client
    reads with recv(), which /proc/<pid>/io does not count."""
    pids = set(pids)
    out = subprocess.run(["ss", "-tinpH", "state", "established"], capture_output=True,
                         text=True).stdout.splitlines()
    total, take = 0, False
    for line in out:
        if not line.startswith("\t") and not line.startswith(" "):
            f = line.split()
            take = False
            if len(f) >= 4 and "pid=" in line:
                peer_port = int(f[3].rsplit(":", 1)[1])
                pid = int(line.split("pid=", 1)[1].split(",", 1)[0])
                take = peer_port in ports and pid in pids
        elif take and "bytes_received:" in line:
            total += int(line.split("bytes_received:", 1)[1].split()[0])
            take = False
    return total


def zk_pids(zk):
    return [p.pid for p in zk.procs if p is not None and p.poll() is None]


def zk_cpu(zk):
    """CPU seconds the servers used so far."""
    return sum(cpu_ticks(p) for p in zk_pids(zk)) / HZ


MNTR_SENT = [0]     # mntr commands counters() sent: each is a packet the servers count


def counters(zk, fleet, extra_pids=()):
    pids = fleet.pids() + list(extra_pids)
    ports = {p[0] for p in zk.ports}
    ix = [d.pid for d in fleet.daemons[:fleet.indexers] if d.alive()]
    return {"daemon_rx": sock_bytes(pids, ports),
            "indexer_rx": sock_bytes(ix, ports) if ix else 0,
            "zk_cpu": zk_cpu(zk),
            "zk_requests": zk_requests(zk),
            "zk_zxid": zk_zxid(zk),
            "zk_wchar": sum(io_of(p, "wchar") for p in zk_pids(zk)),
            "t": time.monotonic()}


def zk_zxid(zk):
    """The ensemble's last zxid (transactions applied, failed creates
    included), counting the srvr polls like mntr's."""
    MNTR_SENT[0] += zk.n
    return zk.last_zxid()


def zk_requests(zk):
    """Packets the servers received from clients, less the mntr commands
    this harness sent them (each counts as one)."""
    total = 0
    for i in range(3):
        MNTR_SENT[0] += 1
        total += int(zk.mntr(i).get("zk_packets_received", 0))
    return total - MNTR_SENT[0]


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


def paced(ops, rate):
    t0 = time.monotonic()
    for j, op in enumerate(ops):
        op()
        due = t0 + (j + 1) / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)


def fresh_servers(zk):
    """Restart the three servers (their data stays), so that each fleet's
    phases run on heaps free of the previous fleet's garbage (the old
    design's hundred daemons leave a million dropped watches behind),
    not on whenever a full collection of it happens to land."""
    for i in range(3):
        zk.stop(i)
    for i in range(3):
        zk.start(i, wait=False)
    for i in range(3):
        zk.wait_serving(i)


def changes_of(kz, root, prefix, base, count):
    """count creates, data changes and deletes of <prefix><base + i>, as
    calls to pace."""
    def path(i):
        return "%s/hosts/%s%08d" % (root, prefix, base + i)
    return {"create": [lambda i=i: kz.create(path(i), addr_of(i, 3).encode()) for i in range(count)],
            "change": [lambda i=i: kz.set(path(i), addr_of(i, 4).encode()) for i in range(count)],
            "delete": [lambda i=i: kz.delete(path(i)) for i in range(count)]}


def cost_run(zk, kz, root, design, m, n, changes, rate):
    log("  %s design, %d daemons: starting" % (design, m))
    fresh_servers(zk)
    wait_for(lambda: kz.connected, "the driver's client to reconnect", timeout=60)
    if design == "new":
        fleet = Fleet(zk, root, m, 2, "no")
    elif design == "none":
        fleet = Fleet(zk, root, 0, 0, "no")
    else:
        # every daemon mirrors, all its watches on one session: the
        # design before the index (and before watch sessions)
        fleet = Fleet(zk, root, m, 0, "no", {"index_fallback_max": 1000000,
                                             "watches_per_session": 1000000})
    res = {}
    try:
        fleet.wait_records(n)
        fleet.wait_indexers()
        time.sleep(2)
        base = 10000000 + m * 1000
        kinds = changes_of(kz, root, "c", base, changes)
        expect = {"create": n + changes, "change": n + changes, "delete": n}
        # warm-up, not counted: the servers' JIT compiles the paths the
        # phases take (a fresh JVM pays that on its first writes)
        warm = changes_of(kz, root, "w", base, 5)
        paced(warm["create"] + warm["change"] + warm["delete"], rate)
        fleet.wait_records(n, timeout=300)
        time.sleep(3)
        def idle_window(secs):
            c0 = counters(zk, fleet)
            time.sleep(secs)
            c1 = counters(zk, fleet)
            dt = c1["t"] - c0["t"]
            return {k: (c1[k] - c0[k]) / dt for k in ("zk_cpu", "daemon_rx", "zk_requests")}

        # settle: after the restart and the warm-up the JVMs' compiler
        # and collector work dies down; wait until it stops falling
        prev = idle_window(5)
        for _ in range(12):
            cur = idle_window(5)
            if cur["zk_cpu"] <= prev["zk_cpu"] * 1.2 + 0.002:
                break
            prev = cur

        def reads():
            t = {"head": 0, "exists": 0, "bucket": 0}
            for e in fleet.envs:
                st = e.status()
                t["head"] += int(st.get("index_head_reads", 0))
                t["exists"] += int(st.get("index_exists_reads", 0))
                t["bucket"] += int(st.get("index_bucket_reads", 0))
            return t

        # ZooKeeper's CPU, requests and the daemons' bytes while the
        # fleet is idle (pings, housekeeping) are measured before each
        # phase and after the last; a phase has the mean of the two
        # around it subtracted
        idles = [idle_window(8)]
        for kind in ("create", "change", "delete"):
            r0 = reads()
            c0 = counters(zk, fleet)
            paced(kinds[kind], rate)
            if kind == "change":
                # every daemon serves the last change
                last = "c%08d" % (base + changes - 1)
                for e in fleet.envs:
                    wait_for(lambda: e.resolve(last) == {addr_of(changes - 1, 4)},
                             "change visible", timeout=300)
            else:
                fleet.wait_records(expect[kind], timeout=300)
            time.sleep(1.0)
            d = delta(c0, counters(zk, fleet))
            # the window also lets the status heartbeat carry the read
            # counters (every 5 s)
            idles.append(idle_window(8))
            idle = {k: (idles[-2][k] + idles[-1][k]) / 2 for k in idles[-1]}
            for k in idle:
                d[k] = max(0.0, d[k] - idle[k] * d["t"])
            nix = min(m, fleet.indexers)
            res[kind] = {"bytes_per_change": d["daemon_rx"] / changes,
                         "indexer_bytes_per_change_each": d["indexer_rx"] / changes / nix if nix else None,
                         "other_bytes_per_change_each": (d["daemon_rx"] - d["indexer_rx"]) / changes / (m - nix)
                         if m > nix else None,
                         "bytes_per_change_per_daemon": d["daemon_rx"] / changes / max(1, m),
                         "zk_cpu_ms_per_change": d["zk_cpu"] * 1000 / changes,
                         "zk_requests_per_change": d["zk_requests"] / changes,
                         "zk_txns_per_change": d["zk_zxid"] / changes,
                         "zk_wbytes_per_change": d["zk_wchar"] / changes,
                         "idle_zk_cpu_ms_per_s": idle["zk_cpu"] * 1000}
            r1 = reads()
            res[kind]["reads_per_change_per_daemon"] = {
                k: (r1[k] - r0[k]) / changes / max(1, m) for k in r0}
            log("    %-6s reads per change per daemon: %s" % (kind, json.dumps(
                {k: round(v, 2) for k, v in res[kind]["reads_per_change_per_daemon"].items()})))
            log("    %-6s %10.0f B/change (%7.0f B/daemon; indexer %s, other %s)  ZK CPU %6.2f ms/change (idle %.1f ms/s)  %6.1f requests/change  %4.1f txns/change  ZK wrote %9.0f B/change" % (
                kind, res[kind]["bytes_per_change"], res[kind]["bytes_per_change_per_daemon"],
                "%.0f" % res[kind]["indexer_bytes_per_change_each"] if nix else "-",
                "%.0f" % res[kind]["other_bytes_per_change_each"] if m > nix else "-",
                res[kind]["zk_cpu_ms_per_change"], idle["zk_cpu"] * 1000,
                res[kind]["zk_requests_per_change"], res[kind]["zk_txns_per_change"],
                res[kind]["zk_wbytes_per_change"]))
        res["watches"] = sum(int(zk.mntr(i).get("zk_watch_count", 0)) for i in range(3))
    finally:
        fleet.close()
    return res


class Poller:
    def __init__(self, env):
        argv = [os.path.join(BUILD, "bench", "bench-poller"), "-s", "zk", "-i", "200", "-T", "60"]
        self.proc = subprocess.Popen(argv, env=lookup_env(env.conf), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def watch(self, name, addr):
        self.proc.stdin.write("WATCH 1\n%s %s\n" % (name, addr))
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ready"

    def collect(self):
        t = None
        while True:
            f = self.proc.stdout.readline().split()
            if not f:
                raise RuntimeError("poller died")
            if f[0] == "seen":
                t = int(f[2])
            if f[0] in ("done", "timeout"):
                return t

    def close(self):
        self.proc.kill()
        self.proc.wait()


class Sim:
    def __init__(self, zk, root, sessions):
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "tests", "scale", "fleetsim"), "-z", zk.connect_string,
             "-r", root, "-n", str(sessions), "-t", str(SESSION_MS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ports = {p[0] for p in zk.ports}
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "up", line

    def cmd(self, text, reply=True):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().split() if reply else None

    def stats(self):
        f = self.cmd("stats")
        return {"connected": int(f[1]), "head_reads": int(f[2]), "bucket_reads": int(f[3]),
                "rx": sock_bytes([self.proc.pid], self.ports), "lost": int(f[5])}

    def close(self):
        try:
            self.cmd("quit", reply=False)
            self.proc.wait(5)
        except Exception:
            self.proc.kill()


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))] if xs else None


def probe(kz, root, name, addr, pollers, sim):
    for p in pollers.values():
        p.watch(name, addr)
    if sim:
        assert sim.cmd("probe " + name) == ["ready"]
    kz.create("%s/hosts/%s" % (root, name), addr.encode())
    t_ack = time.monotonic_ns()
    if sim:
        sim.cmd("ack %s %d" % (name, t_ack), reply=False)
    out = {}
    for k, p in pollers.items():
        t = p.collect()
        out[k] = (t - t_ack) / 1e6 if t else None
    if sim:
        f = sim.proc.stdout.readline().split()
        assert f[0] == "result", f
        out["sim_seen"] = int(f[2])
        out["sim_p50"], out["sim_p99"], out["sim_max"] = float(f[3]), float(f[4]), float(f[5])
    return out


def propagate_and_faults(zk, kz, n, m, prop_daemons, sessions, probes, rng):
    """Propagation on a small real fleet (2 indexers and prop_daemons - 2
    consumers) among `sessions` simulated consumers: on two cores a
    hundred daemons each republishing measure the scheduler, not the
    index. Then the fleet grows to m daemons for the faults."""
    root = "/new"
    fleet = Fleet(zk, root, max(3, prop_daemons), 2, "no")
    res = {}
    sim = None
    pollers = {}
    try:
        fleet.wait_records(n)
        fleet.wait_indexers()
        sim = Sim(zk, root, sessions) if sessions else None
        pollers = {"indexer": Poller(fleet.envs[0])}
        for k, e in enumerate(fleet.envs[2:]):
            pollers["consumer%d" % k] = Poller(e)
        consumers = [k for k in pollers if k.startswith("consumer")]
        lat = {"indexer": [], "consumer": [], "fleet_max": [], "sim_p99": [], "sim_max": []}
        res["probes"] = []
        s0 = sim.stats() if sim else None

        def cpu():
            return {"zk": zk_cpu(zk),
                    "sim": cpu_ticks(sim.proc.pid) / HZ if sim else 0.0,
                    "daemons": sum(cpu_ticks(p) for p in fleet.pids()) / HZ}
        u0 = cpu()
        for j in range(probes):
            o = probe(kz, root, "p%05d" % j, addr_of(j, 5), pollers, sim)
            res["probes"].append(o)
            if o["indexer"] is not None:
                lat["indexer"].append(o["indexer"])
            seen = [o[k] for k in consumers if o[k] is not None]
            lat["consumer"] += seen
            if sim:
                lat["sim_p99"].append(o["sim_p99"])
                lat["sim_max"].append(o["sim_max"])
            # the whole fleet: the last real consumer and the simulated
            # sessions' p99 of this probe
            if seen:
                lat["fleet_max"].append(max(seen + ([o["sim_p99"]] if sim else [])))
            time.sleep(rng.uniform(0.05, 0.2))
        u1 = cpu()
        # where a fan-out's CPU goes: per probe (idle rates left in;
        # against ~0.3 s of probing per probe they are small)
        res["cpu_ms_per_probe"] = {k: (u1[k] - u0[k]) * 1000 / probes for k in u0}
        log("  CPU per probe (ms): %s" % json.dumps(res["cpu_ms_per_probe"]))
        pr = {
            "real_daemons": len(fleet.envs), "sim_sessions": sessions, "probes": probes,
            "single_daemon_p50": pct(lat["indexer"], 0.5), "single_daemon_p99": pct(lat["indexer"], 0.99),
            "fleet_daemon_p50": pct(lat["consumer"], 0.5), "fleet_daemon_p99": pct(lat["consumer"], 0.99),
            "fleet_all_p99": pct(lat["fleet_max"], 0.99),
            "sim_p99_of_p99": pct(lat["sim_p99"], 0.99) if sim else None,
            "sim_max": max(lat["sim_max"]) if sim else None}
        if pr["single_daemon_p99"] is not None and pr["fleet_daemon_p99"] is not None:
            pr["fleet_minus_single_p99"] = pr["fleet_daemon_p99"] - pr["single_daemon_p99"]
        res["propagation_ms"] = pr
        if sim:
            s1 = sim.stats()
            res["sim_bytes_per_create_per_session"] = (s1["rx"] - s0["rx"]) / probes / sessions
            res["sim_head_reads_per_create_per_session"] = (s1["head_reads"] - s0["head_reads"]) / probes / sessions
        log("  propagation (ms): %s" % json.dumps(res["propagation_ms"]))
        for p in list(pollers):
            if p.startswith("consumer") and p != "consumer0":
                pollers.pop(p).close()
        pollers["consumer"] = pollers.pop("consumer0")
        fleet.grow(m)
        fleet.wait_records(n + probes)
        log("  fleet grown to %d daemons for the faults" % m)

        # ---- faults ----------------------------------------------------
        cons = fleet.envs[2]

        def visible_delay(tag, k):
            worst = 0.0
            for j in range(k):
                name = "%s%03d" % (tag, j)
                pollers["consumer"].watch(name, addr_of(j, 6))
                kz.create("%s/hosts/%s" % (root, name), addr_of(j, 6).encode())
                t_ack = time.monotonic_ns()
                t = pollers["consumer"].collect()
                worst = max(worst, (t - t_ack) / 1e6 if t else float("inf"))
            kz.delete("%s/hosts/%s000" % (root, tag))
            wait_for(lambda: not cons.resolve("%s000" % tag), "delete visible", timeout=120)
            return worst

        fleet.daemons[0].kill()
        res["kill9_indexer_worst_ms"] = visible_delay("k", 5)
        fleet.envs[0].daemons = []
        fleet.daemons[0] = fleet.envs[0].daemon()
        # the restarted indexer gets a slot once the killed one's session
        # expired (SESSION_MS); then stop the other
        t0 = time.monotonic()
        wait_for(lambda: fleet.envs[0].status().get("index_role") == "indexer",
                 "the restarted daemon to be an indexer again", timeout=120)
        res["kill9_slot_back_s"] = time.monotonic() - t0
        os.kill(fleet.daemons[1].pid, signal.SIGSTOP)
        try:
            res["sigstop_indexer_worst_ms"] = visible_delay("s", 5)
        finally:
            os.kill(fleet.daemons[1].pid, signal.SIGCONT)
        time.sleep(2)
        ok = index_matches(kz, root)
        res["index_matches_after_faults"] = ok
        log("  kill -9 indexer: worst %.1f ms; SIGSTOP indexer: worst %.1f ms; index == directory: %s" % (
            res["kill9_indexer_worst_ms"], res["sigstop_indexer_worst_ms"], ok))

        # rolling restart
        st0 = [e.status() for e in fleet.envs]
        sim0 = sim.stats() if sim else None
        for i in range(3):
            zk.stop(i)
            time.sleep(1)
            zk.start(i)
            zk.wait_serving(i)
            time.sleep(2)
        time.sleep(3)
        st1 = [e.status() for e in fleet.envs]
        lost = sum(1 for a, b in zip(st0, st1) if a.get("session") != b.get("session"))
        reads = sum(int(b.get("index_bucket_reads", 0)) - int(a.get("index_bucket_reads", 0))
                    for a, b in zip(st0, st1))
        res["rolling_restart"] = {"daemon_sessions_lost": lost, "daemons": m,
                                  "consumer_bucket_reads": reads}
        if sim:
            sim1 = sim.stats()
            res["rolling_restart"]["sim_sessions_lost"] = sim1["lost"] - sim0["lost"]
            res["rolling_restart"]["sim_bucket_reads"] = sim1["bucket_reads"] - sim0["bucket_reads"]
        log("  rolling restart: %s" % json.dumps(res["rolling_restart"]))

        # expiry of every daemon at once
        st0 = [e.status() for e in fleet.envs]
        pids = fleet.pids()
        for p in pids:
            os.kill(p, signal.SIGSTOP)
        time.sleep(SESSION_MS / 1000 + 5)
        kz.create(root + "/hosts/while-expired", b"10.7.7.7")
        z0 = zk_zxid(zk)
        t0 = time.monotonic()
        for p in pids:
            os.kill(p, signal.SIGCONT)
        for e in fleet.envs:
            wait_for(lambda: e.resolve("while-expired") == {"10.7.7.7"} and
                     e.status().get("state") == "connected", "converged after expiry", timeout=300)
        converged = time.monotonic() - t0
        txns = zk_zxid(zk) - z0
        time.sleep(6)   # the status files' heartbeat carries the counters
        st1 = [e.status() for e in fleet.envs]
        res["mass_expiry"] = {
            "converge_s": converged,
            "transactions_per_daemon": txns / max(1, m),
            "consumer_exists_per_daemon": sum(
                int(b.get("index_exists_reads", 0)) - int(a.get("index_exists_reads", 0))
                for a, b in zip(st0[2:], st1[2:])) / max(1, m - 2),
            "sessions_renewed": sum(1 for a, b in zip(st0, st1) if a.get("session") != b.get("session")),
            "consumer_bucket_reads_per_daemon": sum(
                int(b.get("index_bucket_reads", 0)) - int(a.get("index_bucket_reads", 0))
                for a, b in zip(st0[2:], st1[2:])) / max(1, m - 2),
            "buckets": int(st1[-1].get("index_buckets", 0))}
        log("  mass expiry: %s" % json.dumps(res["mass_expiry"]))
    finally:
        for p in pollers.values():
            p.close()
        if sim:
            sim.close()
        fleet.close()
    return res


def index_now(kz, root):
    head, _ = kz.get(root + "/index/v1/head")
    nb = int(head.decode().split("\n")[0].split()[3])
    out = {}
    for i in range(nb):
        data, _ = kz.get("%s/index/v1/b%d" % (root, i))
        for line in data.decode().split("\n")[1:]:
            if line:
                f = line.split(" ")
                out[f[0]] = set(f[3].split(","))
    return out


def index_matches(kz, root):
    want = {}
    for name in kz.get_children(root + "/hosts"):
        data, _ = kz.get("%s/hosts/%s" % (root, name))
        want[name] = set(data.decode().replace(",", " ").split())
    return index_now(kz, root) == want


def server_of(zk, session_hex):
    sid = int(session_hex, 16)
    for i in range(3):
        text = four_letter(zk.ports[i][0], "cons") or ""
        if ("sid=0x%x" % sid) in text:
            return i
    return None


def reconnect_run(zk, kz, r):
    root = "/big"
    log("  populating %d records under %s" % (r, root))
    populate(kz, root, r, net=8)
    res = {}
    for design in ("new", "old"):
        if design == "new":
            fleet = Fleet(zk, root, 2, 1, "no")
        else:
            # no index under root any more: this daemon mirrors, as every
            # zkcached did before the index
            kz.delete(root + "/index", recursive=True)
            fleet = Fleet(zk, root + "old", 0, 0, "no")
            e = Env(zk, root=root, session_timeout=SESSION_MS, indexer="no",
                    index_fallback_max=1000000, watches_per_session=1000000).__enter__()
            fleet.envs.append(e)
            fleet.daemons.append(e.daemon())
        try:
            target = fleet.envs[-1]
            wait_for(lambda: target.status().get("state") == "connected" and
                     int(target.status().get("records", -1)) >= r, "synced", timeout=900)
            s0 = target.status()
            i = server_of(zk, s0["session"])
            kz.create(root + "/hosts/zz-while-away-%s" % design, b"10.9.9.9")
            zk.stop(i)
            time.sleep(1)
            wait_for(lambda: target.resolve("zz-while-away-%s" % design) == {"10.9.9.9"},
                     "change made while away visible", timeout=300)
            s1 = target.status()
            zk.start(i)
            zk.wait_serving(i)
            res[design] = {"records": r, "killed_server": i,
                           "head_reads": int(s1.get("index_head_reads", 0)) - int(s0.get("index_head_reads", 0)),
                           "same_session": s0["session"] == s1["session"],
                           "bucket_reads": int(s1.get("index_bucket_reads", 0)) - int(s0.get("index_bucket_reads", 0)),
                           "role": s1.get("index_role")}
            log("  reconnect %s: %s" % (design, json.dumps(res[design])))
            if design == "new":
                # the indexer mirrors all r records: its data watches are
                # spread over watch sessions; kill the server its main
                # session is on (and with it some watch sessions)
                ix = fleet.envs[0]
                wait_for(lambda: ix.status().get("index_role") == "indexer", "indexer", timeout=300)
                x0 = ix.status()
                j = server_of(zk, x0["session"])
                kz.create(root + "/hosts/zz-indexer-away", b"10.9.9.8")
                kz.set(root + "/hosts/%s" % name_of(r // 2), b"10.9.9.7")
                zk.stop(j)
                time.sleep(1)
                try:
                    wait_for(lambda: target.resolve("zz-indexer-away") == {"10.9.9.8"} and
                             target.resolve(name_of(r // 2)) == {"10.9.9.7"},
                             "changes made while the indexer was away visible", timeout=300)
                except AssertionError:
                    log("  indexer status: %s" % json.dumps(ix.status()))
                    log("  consumer status: %s" % json.dumps(target.status()))
                    log("  consumer sees: %s %s" % (target.resolve("zz-indexer-away"),
                                                    target.resolve(name_of(r // 2))))
                    raise
                x1 = ix.status()
                zk.start(j)
                zk.wait_serving(j)
                res["new_indexer"] = {
                    "killed_server": j, "same_session": x0["session"] == x1["session"],
                    "watch_sessions": int(x1.get("watch_sessions", 0)),
                    "watch_max": int(x1.get("watch_max", 0)),
                    "watch_sessions_new": int(x1.get("watch_sessions_new", 0)) -
                    int(x0.get("watch_sessions_new", 0)),
                    "sessions": int(x1.get("sessions", 0)) - int(x0.get("sessions", 0))}
                log("  reconnect new indexer: %s" % json.dumps(res["new_indexer"]))
        finally:
            fleet.close()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--daemons", default="10,20")
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--prop-daemons", type=int, default=4,
                    help="real daemons during the propagation probes (2 indexers, the rest consumers)")
    ap.add_argument("--probes", type=int, default=30)
    ap.add_argument("--reconnect", type=int, default=0)
    ap.add_argument("--phases", default="cost,propagate,reconnect")
    ap.add_argument("--heap", default="512m")
    args = ap.parse_args()
    sizes = [int(x) for x in args.daemons.split(",")]
    phases = args.phases.split(",")
    rng = random.Random(13)
    report = {"args": vars(args)}
    zk = ZooKeeper(servers=3, max_session_ms=60000, jvm_heap=args.heap).__enter__()
    try:
        kz = zk.kazoo(timeout=30)
        log("ensemble up: %s" % zk.connect_string)
        for root in ("/old", "/new"):
            populate(kz, root, args.records)
        log("populated /old and /new with %d records each" % args.records)
        if "cost" in phases:
            cost = {}
            # the same changes with no daemon at all: what the writes
            # themselves cost the ensemble, so the fleets' own share of
            # ZooKeeper's CPU can be told apart from it
            cost["none/0"] = cost_run(zk, kz, "/old", "none", 0, args.records,
                                      args.changes, args.rate)
            for design in ("old", "new"):
                for m in sizes:
                    cost["%s/%d" % (design, m)] = cost_run(zk, kz, "/" + design, design, m,
                                                           args.records, args.changes, args.rate)
            report["cost"] = cost
            if len(sizes) >= 2:
                a, b = sizes[0], sizes[-1]
                summ = {}
                for kind in ("create", "change", "delete"):
                    for design in ("old", "new"):
                        ca, cb = cost["%s/%d" % (design, a)][kind], cost["%s/%d" % (design, b)][kind]
                        summ["%s_%s_marginal_bytes_per_daemon" % (design, kind)] = \
                            (cb["bytes_per_change"] - ca["bytes_per_change"]) / (b - a)
                        summ["%s_%s_fleet_bytes" % (design, kind)] = cb["bytes_per_change"]
                        summ["%s_%s_zk_cpu_ms" % (design, kind)] = cb["zk_cpu_ms_per_change"]
                        summ["%s_%s_fleet_zk_cpu_ms" % (design, kind)] = \
                            cb["zk_cpu_ms_per_change"] - cost["none/0"][kind]["zk_cpu_ms_per_change"]
                        summ["%s_%s_marginal_zk_cpu_ms_per_daemon" % (design, kind)] = \
                            (cb["zk_cpu_ms_per_change"] - ca["zk_cpu_ms_per_change"]) / (b - a)
                        summ["%s_%s_zk_requests" % (design, kind)] = cb["zk_requests_per_change"]
                for kind in ("create", "change", "delete"):
                    o, x = summ["old_%s_marginal_bytes_per_daemon" % kind], summ["new_%s_marginal_bytes_per_daemon" % kind]
                    summ["ratio_%s_marginal_bytes" % kind] = x / o if o > 0 else None
                    o, x = summ["old_%s_fleet_bytes" % kind], summ["new_%s_fleet_bytes" % kind]
                    summ["ratio_%s_fleet_bytes" % kind] = x / o if o > 0 else None
                    o, x = summ["old_%s_zk_cpu_ms" % kind], summ["new_%s_zk_cpu_ms" % kind]
                    summ["ratio_%s_zk_cpu" % kind] = x / o if o > 0 else None
                    o, x = summ["old_%s_zk_requests" % kind], summ["new_%s_zk_requests" % kind]
                    summ["ratio_%s_zk_requests" % kind] = x / o if o > 0 else None
                    o, x = summ["old_%s_fleet_zk_cpu_ms" % kind], summ["new_%s_fleet_zk_cpu_ms" % kind]
                    summ["ratio_%s_fleet_zk_cpu" % kind] = x / o if o > 0 else None
                report["cost_summary"] = summ
                log("cost summary: %s" % json.dumps(summ, indent=1))
        if "propagate" in phases:
            report["fleet"] = propagate_and_faults(zk, kz, args.records, sizes[-1], args.prop_daemons,
                                                   args.sessions, args.probes, rng)
        if "reconnect" in phases and args.reconnect:
            report["reconnect"] = reconnect_run(zk, kz, args.reconnect)
    finally:
        zk.close()
        zkharness.cleanup_all()
    os.makedirs(os.path.join(BUILD, "scale"), exist_ok=True)
    with open(os.path.join(BUILD, "scale", "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    log(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
