#!/usr/bin/python3
"""run.py - `make bench`: the zkhosts benchmark driver.

Runs, in this order, and writes bench/results/<date>-<host>.{json,txt,md}
plus PNG charts (bench/report.py):

  lookup    getaddrinfo and gethostbyname_r through zk, the do-nothing
            module (null: NOTFOUND at once), the fixed-answer module (const),
            files (a private /etc/hosts) and dnsmasq (a private resolv.conf
            pointing at dnsmasq on a loopback address), hit and miss, all
            A/B-interleaved in ONE process per data-set size
            (build/bench/bench-lookup inside `unshare -m`);
  modcost   the module's entry points called directly vs a raw LMDB get of
            the same key on the same snapshot (build/bench/bench-modcost);
  zk        with a throwaway ZooKeeper and build/zkcached: initial sync time,
            daemon RSS, snapshot size, propagation (write acknowledged ->
            visible through getaddrinfo in another process) for single
            changes and bursts, the poll-and-rewrite baseline, and zkbarrier
            wake-up latency (bench/zkbench.py). Skipped, with the reason in
            the report, when the daemon or ZooKeeper is missing.

Quick by default (a few minutes on 2 cores); --full for the whole matrix.
Every process it starts is killed and every mount namespace dies with its
process. Needs root (mount namespaces, port 53 on loopback).
"""

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import benchlib  # noqa: E402
import report  # noqa: E402

# dns_load_s: how long dnsmasq may take to load a hosts file before that
# size is reported as "did not load" and benchmarked without it.
QUICK = {"sizes": [10, 1000, 10000, 100000], "rounds": 15, "batch_ms": 20,
         "modcost_sizes": [1000, 100000], "dns_max": 100000,
         "files_max": 100000, "dns_load_s": 60}
FULL = {"sizes": [10, 1000, 10000, 100000, 1000000], "rounds": 21,
        "batch_ms": 30, "modcost_sizes": [1000, 100000, 1000000],
        "dns_max": 1000000, "files_max": 1000000, "dns_load_s": 120}


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def machine():
    info = {"host": socket.gethostname(), "kernel": platform.release(),
            "cores": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["glibc"] = os.confstr("CS_GNU_LIBC_VERSION")
    try:
        info["lmdb"] = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", "liblmdb0"],
            capture_output=True, text=True).stdout.strip()
        info["dnsmasq"] = subprocess.run(
            ["/usr/sbin/dnsmasq", "--version"], capture_output=True,
            text=True).stdout.split("\n")[0]
        info["commit"] = subprocess.run(
            ["git", "-C", SRC, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    info["loadavg_start"] = os.getloadavg()
    return info


def lookup_bench(build, ds, cfg, with_dns, with_files):
    """All lookup cells for one data set, one process. Returns the raw
    output and side figures (dnsmasq load time and RSS)."""
    extra = {}
    dns = None
    backends = ["zk=zk", "null=null", "const=const"]
    binds = []
    if with_files:
        backends.append("files=files")
        binds.append((ds.hosts, "/etc/hosts"))
    try:
        if with_dns:
            log("  dnsmasq loading %d records" % ds.n)
            try:
                dns = benchlib.Dnsmasq(ds.hosts, ds.dir, benchlib.name_of(0),
                                       timeout=cfg["dns_load_s"])
            except benchlib.LoadTimeout:
                extra["dnsmasq_timeout_s"] = cfg["dns_load_s"]
                log("  dnsmasq did not load %d records in %d s: left out"
                    % (ds.n, cfg["dns_load_s"]))
        if dns:
            extra["dnsmasq_load_s"] = dns.load_s
            extra["dnsmasq_rss_kb"] = dns.rss_kb
            backends.append("dnsmasq=dns")
            binds.append((dns.resolv, "/etc/resolv.conf"))
        argv = [os.path.join(build, "bench", "bench-lookup"),
                "-r", str(cfg["rounds"]), "-t", str(cfg["batch_ms"]),
                "-v", "200" if ds.n <= 10000 else "20",
                ds.hits, ds.misses] + backends
        env = dict(os.environ, ZKHOSTS_CONF=ds.conf,
                   LD_LIBRARY_PATH=os.path.join(build, "bench") + ":" + build)
        env.pop("ZKHOSTS_NSS_BYPASS", None)
        t0 = time.monotonic()
        p = subprocess.run(benchlib.in_namespace(binds, argv), env=env,
                           capture_output=True, text=True, timeout=3600)
        extra["wall_s"] = time.monotonic() - t0
        if p.returncode != 0:
            raise RuntimeError("bench-lookup failed (%d): %s" %
                               (p.returncode, p.stderr.strip()))
        return p.stdout, extra
    finally:
        if dns:
            dns.close()


def modcost_bench(build, ds, cfg):
    argv = [os.path.join(build, "bench", "bench-modcost"),
            "-r", str(cfg["rounds"]), "-t", str(cfg["batch_ms"]),
            os.path.join(build, "libnss_zk.so.2"), ds.cache, ds.hits,
            ds.misses]
    env = dict(os.environ, ZKHOSTS_CONF=ds.conf)
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=3600)
    if p.returncode != 0:
        raise RuntimeError("bench-modcost failed (%d): %s" %
                           (p.returncode, p.stderr.strip()))
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--only", default="lookup,modcost,zk",
                    help="comma list of parts: lookup,modcost,zk")
    ap.add_argument("--sizes", help="comma list overriding the sizes")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--tag", default="", help="suffix for the result files")
    ap.add_argument("--report", metavar="JSON",
                    help="only redraw the reports from a saved JSON result")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            res = json.load(f)
        base = args.report[:-len(".json")]
        report.write(res, base)
        log("wrote %s.{txt,md} and charts" % base)
        return
    build = os.path.abspath(args.build)
    cfg = dict(FULL if args.full else QUICK)
    if args.sizes:
        cfg["sizes"] = [int(x) for x in args.sizes.split(",")]
        cfg["modcost_sizes"] = [s for s in cfg["sizes"] if s >= 1000]
    parts = set(args.only.split(","))
    if os.geteuid() != 0:
        sys.exit("bench: needs root (mount namespaces, port 53 on loopback)")
    for prog in ("bench-lookup", "bench-modcost", "bench-mkcache",
                 "libnss_null.so.2", "libnss_const.so.2"):
        if not os.path.exists(os.path.join(build, "bench", prog)):
            sys.exit("bench: %s/bench/%s missing: run make first" %
                     (build, prog))
    if not os.path.exists(os.path.join(build, "libnss_zk.so.2")):
        sys.exit("bench: %s/libnss_zk.so.2 missing: run make first" % build)

    res = {"mode": "full" if args.full else "quick", "config": cfg,
           "machine": machine(),
           "started": datetime.datetime.now().isoformat(timespec="seconds"),
           "sizes": {}, "zk": None}
    benchlib.install_handlers()
    wd = benchlib.Workdir()
    try:
        for n in cfg["sizes"]:
            if not parts & {"lookup", "modcost"}:
                break
            log("data set of %d records" % n)
            ds = benchlib.Dataset(build, wd, n)
            entry = {"n": n, "snapshot_bytes": ds.snapshot_bytes,
                     "publish_ms": ds.publish_ms, "apply_ms": ds.apply_ms,
                     "hosts_bytes": ds.hosts_bytes}
            if "lookup" in parts:
                log("  lookup: zk / null / const / files / dnsmasq")
                out, extra = lookup_bench(build, ds, cfg,
                                          n <= cfg["dns_max"],
                                          n <= cfg["files_max"])
                entry["lookup_raw"] = out
                entry.update(extra)
            if "modcost" in parts and n in cfg["modcost_sizes"]:
                log("  modcost: entry points vs raw LMDB get")
                entry["modcost_raw"] = modcost_bench(build, ds, cfg)
            res["sizes"][str(n)] = entry
            # Free the disk and page cache of big sets before the next.
            subprocess.run(["rm", "-rf", ds.dir])
        if "zk" in parts:
            import zkbench
            try:
                res["zk"] = zkbench.run(build, wd, full=args.full, log=log,
                                         sizes=cfg["sizes"] if args.sizes else None)
            except Exception as e:  # keep the lookup figures
                log("zk part failed: %s" % e)
                res["zk"] = {"skipped": "failed: %s" % e}
    finally:
        benchlib.cleanup_all()
        wd.close()
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    os.makedirs(args.out, exist_ok=True)
    stem = "%s-%s-%s%s" % (datetime.date.today().isoformat(),
                           res["machine"]["host"], res["mode"], args.tag)
    base = os.path.join(args.out, stem)
    with open(base + ".json", "w") as f:
        json.dump(res, f, indent=1)
    report.write(res, base)
    log("wrote %s.{json,txt,md} and charts" % base)
    with open(base + ".txt") as f:
        print(f.read())


if __name__ == "__main__":
    main()
