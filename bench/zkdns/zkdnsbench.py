#!/usr/bin/python3
"""zkdnsbench.py - the zkdns part of `make bench`: zkdns against dnsmasq
serving the same hosts, measured by dnsperf, and the propagation of a
ZooKeeper write to a DNS answer.

For each size (10k and 100k hosts by default): the hosts file of
bench/benchlib.py (names nodeNNNNNNN.zkbench.test), published for zkdns
by bench-mkcache with domain zkbench.test and loaded by dnsmasq
(--addn-hosts, --local=/zkbench.test/: misses are NXDOMAIN, nothing is
forwarded). Both servers run at once on loopback, pinned to CPU 1;
dnsperf runs pinned to CPU 0 (on a 2-core machine it takes one of the
two). A query file of 90% hits and 10% misses (A). Rounds alternate
between the servers (ABBA order) in one run:
  * unthrottled: dnsperf -l SECONDS (100 outstanding): queries/second;
  * fixed rate: dnsperf -Q RATE -v: every answer's latency, p50/p99.
Then, with a throwaway ZooKeeper, zkcached and zkdns: N single writes
(creates of new names, with 10k records present), each timed from the
write's acknowledgement to the first UDP answer of zkdns that holds it.

Writes bench/results/<date>-<host>-zkdns.{json,md}. Needs root (dnsmasq
on port 53 of a loopback address), dnsperf, dnsmasq; ZooKeeper for the
propagation part (skipped with the reason otherwise).
"""
import argparse
import datetime
import json
import os
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
SRC = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import benchlib  # noqa: E402


def log(msg):
    print("[zkdns-bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def free_port(addr):
    for _ in range(100):
        s = socket.socket()
        s.bind((addr, 0))
        port = s.getsockname()[1]
        s.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise RuntimeError("no free port")


def query_wire(name, qid=0x1234):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00\x00\x01\x00\x01"


def answers(sock, addr, name, timeout=1.0):
    """(rcode, ancount) of one UDP A query, or (None, 0) on timeout."""
    sock.settimeout(timeout)
    sock.sendto(query_wire(name), addr)
    try:
        r = sock.recv(4096)
    except socket.timeout:
        return None, 0
    return r[3] & 15, struct.unpack(">H", r[6:8])[0]


def pin(cpu, argv):
    if len(os.sched_getaffinity(0)) >= 2:
        return ["taskset", "-c", str(cpu)] + argv
    return argv


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def dnsperf(addr, port, qfile, seconds, rate=None, pid=None):
    t0 = cpu_ticks(pid) if pid else None
    argv = ["dnsperf", "-s", addr, "-p", str(port), "-d", qfile,
            "-l", str(seconds), "-q", "100", "-t", "2"]
    if rate:
        argv += ["-Q", str(rate), "-v"]
    p = subprocess.run(pin(0, argv), capture_output=True, text=True,
                       timeout=seconds + 60)
    out = p.stdout
    res = {}
    if pid:
        res["cpu_s"] = (cpu_ticks(pid) - t0) / os.sysconf("SC_CLK_TCK")
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Queries per second:"):
            res["qps"] = float(line.split()[-1])
        elif line.startswith("Queries lost:"):
            res["lost"] = int(line.split()[2])
        elif line.startswith("Queries completed:"):
            res["completed"] = int(line.split()[2])
    if rate:
        lat = [float(l.split()[-1]) for l in out.splitlines()
               if l.startswith("> ") and not l.startswith("> T ")]
        res["p50_us"] = benchlib.quantile(lat, 0.50) * 1e6 if lat else None
        res["p99_us"] = benchlib.quantile(lat, 0.99) * 1e6 if lat else None
        res["answers"] = len(lat)
    return res


def size_bench(build, wd, n, args):
    ds = benchlib.Dataset(build, wd, n)
    cache = os.path.join(ds.dir, "zkdns-cache")
    t0 = time.monotonic()
    subprocess.run([os.path.join(build, "bench", "bench-mkcache"), cache,
                    ds.hosts, benchlib.DOMAIN], check=True, capture_output=True)
    publish_s = time.monotonic() - t0
    qfile = os.path.join(ds.dir, "dnsperf-queries")
    hits = [l.split()[0] for l in open(ds.hits)]
    misses = [l.split()[0] for l in open(ds.misses)]
    with open(qfile, "w") as f:
        for i in range(len(hits)):
            f.write("%s A\n" % (misses[i] if i % 10 == 9 else hits[i]))
    zaddr = "127.0.0.1"
    zport = free_port(zaddr)
    conf = os.path.join(ds.dir, "zkdns.conf")
    with open(conf, "w") as f:
        f.write("cache = %s\ndns_listen = %s:%d\ndns_reverse_zones = none\n" %
                (cache, zaddr, zport))
    zlog = open(os.path.join(ds.dir, "zkdns.log"), "ab")
    zk = subprocess.Popen(pin(1, [os.path.join(build, "zkdns"), "-c", conf]),
                          stdout=zlog, stderr=subprocess.STDOUT,
                          preexec_fn=benchlib._pdeathsig)
    dm = None
    try:
        probe = hits[0]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.monotonic() + 60
        while answers(s, (zaddr, zport), probe, 0.2) != (0, 1):
            if time.monotonic() > deadline or zk.poll() is not None:
                raise RuntimeError("zkdns does not answer")
            time.sleep(0.05)
        s.close()
        dm = benchlib.Dnsmasq(ds.hosts, ds.dir, probe, timeout=args.dns_load_s)
        subprocess.run(["taskset", "-pc", "1", str(dm.proc.pid)],
                       capture_output=True)
        servers = {"zkdns": (zaddr, zport, zk.pid),
                   "dnsmasq": (dm.addr, 53, dm.proc.pid)}
        res = {"n": n, "zkdns_publish_s": publish_s, "dnsmasq_load_s": dm.load_s,
               "rounds": []}
        order = ["zkdns", "dnsmasq"]
        for r in range(args.rounds):
            seq = order if r % 2 == 0 else order[::-1]
            for srv in seq:
                a, p, pid = servers[srv]
                u = dnsperf(a, p, qfile, args.seconds, pid=pid)
                f = dnsperf(a, p, qfile, args.seconds, rate=args.rate)
                res["rounds"].append({"round": r, "server": srv,
                                      "qps": u.get("qps"), "lost": u.get("lost"),
                                      "cpu_us_per_q": u["cpu_s"] * 1e6 /
                                      max(1, u.get("completed") or 1),
                                      "p50_us": f.get("p50_us"),
                                      "p99_us": f.get("p99_us"),
                                      "rate_lost": f.get("lost")})
                log("  n=%d round %d %-7s %8.0f q/s  %5.2f us CPU/q  p50 %6.1f us"
                    "  p99 %6.1f us" % (n, r, srv, u.get("qps") or 0,
                                        res["rounds"][-1]["cpu_us_per_q"],
                                        f.get("p50_us") or 0, f.get("p99_us") or 0))
        res["zkdns_rss_kb"] = benchlib.rss_kb(zk.pid)
        res["dnsmasq_rss_kb"] = benchlib.rss_kb(dm.proc.pid)
        return res
    finally:
        if dm:
            dm.close()
        zk.kill()
        zk.wait()


def propagation(build, wd, args):
    import zkharness
    from zkhdaemon import Env
    if not zkharness.available():
        return {"skipped": "ZooKeeper or java not installed"}
    res = {"samples_ms": []}
    with zkharness.ZooKeeper() as zkh:
        env = Env(zkh, domain=benchlib.DOMAIN)
        env.__enter__()
        try:
            port = free_port("127.0.0.1")
            env.write_conf(domain=benchlib.DOMAIN, publish_delay=5,
                           dns_listen="127.0.0.1:%d" % port, dns_ttl=1)
            kz = zkh.kazoo()
            base = env.host_path("").rstrip("/")
            kz.ensure_path(base)
            pending = []
            for i in range(args.prop_records):
                pending.append(kz.create_async("%s/pre%06d" % (base, i),
                                               benchlib.addr_of(i).encode()))
                if len(pending) >= 1000:
                    for p in pending:
                        p.get()
                    pending = []
            for p in pending:
                p.get()
            env.daemon()
            zlog = open(os.path.join(env.dir, "zkdns.log"), "ab")
            zk = subprocess.Popen([os.path.join(build, "zkdns"), "-c", env.conf],
                                  stdout=zlog, stderr=subprocess.STDOUT,
                                  preexec_fn=benchlib._pdeathsig)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            addr = ("127.0.0.1", port)
            last = "pre%06d.%s" % (args.prop_records - 1, benchlib.DOMAIN)
            deadline = time.monotonic() + 120
            while answers(s, addr, last, 0.2) != (0, 1):
                if time.monotonic() > deadline:
                    raise RuntimeError("zkdns never answered %s" % last)
                time.sleep(0.05)
            import mmap
            gf = open(os.path.join(env.cache, "generation"), "rb")
            gm = mmap.mmap(gf.fileno(), 4096, prot=mmap.PROT_READ)

            def counter():
                return struct.unpack_from("<Q", gm, 8)[0]
            res["publish_ms"] = []
            # one write first, not counted: the first publish after the
            # initial sync also pays for ZooKeeper's and the JVM's warm-up
            for i in range(-1, args.prop_samples):
                name = "prop%04d" % (i + 1)
                fq = "%s.%s" % (name, benchlib.DOMAIN)
                g0 = counter()
                kz.create("%s/%s" % (base, name), b"10.254.%d.%d" % ((i + 1) >> 8, (i + 1) & 255))
                t0 = time.monotonic()
                t_pub = None
                while True:
                    if t_pub is None and counter() != g0:
                        t_pub = time.monotonic()
                    rc, an = answers(s, addr, fq, 1.0)
                    if rc == 0 and an == 1:
                        break
                    if time.monotonic() - t0 > 30:
                        raise RuntimeError("%s never answered" % fq)
                t1 = time.monotonic()
                if t_pub is None:
                    t_pub = t1
                if i >= 0:
                    res["samples_ms"].append((t1 - t0) * 1000)
                    res["publish_ms"].append((t_pub - t0) * 1000)
                time.sleep(0.05)   # apart, so each is a single change
            gm.close()
            gf.close()
            zk.kill()
            zk.wait()
        finally:
            env.__exit__(None, None, None)
    xs = res["samples_ms"]
    gap = [a - b for a, b in zip(res["samples_ms"], res["publish_ms"])]
    res.update(p50_ms=benchlib.quantile(xs, 0.5), p99_ms=benchlib.quantile(xs, 0.99),
               max_ms=max(xs), n=len(xs), records=args.prop_records,
               pub_p50_ms=benchlib.quantile(res["publish_ms"], 0.5),
               pub_p99_ms=benchlib.quantile(res["publish_ms"], 0.99),
               gap_p50_ms=benchlib.quantile(gap, 0.5),
               gap_p99_ms=benchlib.quantile(gap, 0.99))
    return res


def median(xs):
    xs = [x for x in xs if x is not None]
    return benchlib.quantile(xs, 0.5) if xs else None


def write_report(res, base):
    with open(base + ".json", "w") as f:
        json.dump(res, f, indent=1)
    m = res["machine"]
    lines = ["# zkdns vs dnsmasq (%s)" % res["started"], "",
             "Machine: %s, %s cores, kernel %s, %s; %s; libknot %s." %
             (m.get("cpu"), m.get("cores"), m.get("kernel"), m.get("glibc"),
              m.get("dnsmasq"), m.get("libknot")),
             "dnsperf pinned to CPU 0 (it takes one of the two cores), both "
             "servers to CPU 1; %d alternating rounds of %d s each; fixed "
             "rate %d q/s; 90%% hits, 10%% NXDOMAIN." %
             (res["args"]["rounds"], res["args"]["seconds"], res["args"]["rate"]),
             "",
             "| hosts | server | q/s unthrottled (median) | server CPU per query (us) "
             "| p50 at fixed rate (us) | p99 at fixed rate (us) | RSS (KiB) |",
             "|---|---|---|---|---|---|---|"]
    for n, e in sorted(res["sizes"].items(), key=lambda kv: int(kv[0])):
        for srv in ("zkdns", "dnsmasq"):
            rr = [r for r in e["rounds"] if r["server"] == srv]
            lines.append("| %s | %s | %.0f | %.2f | %.1f | %.1f | %s |" % (
                n, srv, median([r["qps"] for r in rr]),
                median([r["cpu_us_per_q"] for r in rr]),
                median([r["p50_us"] for r in rr]),
                median([r["p99_us"] for r in rr]), e.get(srv + "_rss_kb")))
        zq = median([r["qps"] for r in e["rounds"] if r["server"] == "zkdns"])
        dq = median([r["qps"] for r in e["rounds"] if r["server"] == "dnsmasq"])
        zc = median([r["cpu_us_per_q"] for r in e["rounds"] if r["server"] == "zkdns"])
        dc = median([r["cpu_us_per_q"] for r in e["rounds"] if r["server"] == "dnsmasq"])
        lines.append("| %s | zkdns/dnsmasq | %.2fx | %.2fx | | | |" % (n, zq / dq, zc / dc))
    p = res.get("propagation") or {}
    lines.append("")
    if p.get("skipped"):
        lines.append("Propagation: skipped (%s)." % p["skipped"])
    elif p:
        lines.append("Propagation, ZooKeeper write acknowledged -> zkdns answers "
                     "(%d records, %d samples): p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
                     "of which write -> snapshot published (generation counter "
                     "moved): p50 %.1f ms, p99 %.1f ms; published -> zkdns "
                     "answers: p50 %.2f ms, p99 %.2f ms."
                     % (p["records"], p["n"], p["p50_ms"], p["p99_ms"], p["max_ms"],
                        p["pub_p50_ms"], p["pub_p99_ms"], p["gap_p50_ms"],
                        p["gap_p99_ms"]))
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--prop-records", type=int, default=10000)
    ap.add_argument("--prop-samples", type=int, default=40)
    ap.add_argument("--dns-load-s", type=int, default=120)
    ap.add_argument("--no-propagation", action="store_true")
    ap.add_argument("--out", default=os.path.join(BENCH, "results"))
    ap.add_argument("--tag", default="", help="suffix for the result files")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    if os.geteuid() != 0:
        sys.exit("zkdns bench: needs root (dnsmasq on port 53 of a loopback address)")
    for prog in ("dnsperf", "taskset"):
        if subprocess.run(["which", prog], capture_output=True).returncode:
            sys.exit("zkdns bench: %s not installed (Debian: dnsperf, util-linux)" % prog)
    res = {"started": datetime.datetime.now().isoformat(timespec="seconds"),
           "args": vars(args), "sizes": {}}
    import platform
    m = {"host": socket.gethostname(), "kernel": platform.release(),
         "cores": os.cpu_count(), "glibc": os.confstr("CS_GNU_LIBC_VERSION")}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                m["cpu"] = line.split(":", 1)[1].strip()
                break
    m["dnsmasq"] = subprocess.run(["/usr/sbin/dnsmasq", "--version"],
                                  capture_output=True, text=True).stdout.split("\n")[0]
    m["libknot"] = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libknot-dev"],
                                  capture_output=True, text=True).stdout.strip()
    m["commit"] = subprocess.run(["git", "-C", SRC, "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()
    res["machine"] = m
    benchlib.install_handlers()
    wd = benchlib.Workdir(prefix="zkdnsbench.")
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            log("%d hosts: zkdns vs dnsmasq" % n)
            res["sizes"][str(n)] = size_bench(build, wd, n, args)
        if not args.no_propagation:
            log("propagation: ZooKeeper write -> zkdns answer")
            res["propagation"] = propagation(build, wd, args)
    finally:
        benchlib.cleanup_all()
        wd.close()
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, "%s-%s-zkdns%s" % (
        datetime.date.today().isoformat(), socket.gethostname(),
        "-" + args.tag if args.tag else ""))
    write_report(res, base)


if __name__ == "__main__":
    main()
