"""benchlib - shared pieces of the zkhosts benchmark driver: data sets,
private mount namespaces, dnsmasq on a loopback address, and statistics.

Data set of N records: names node0000000.zkbench.test .. (7 digits),
address 10.(i>>16).(i>>8 & 255).(i & 255), one address each, in a hosts
file ("127.0.0.1 localhost" first, for the files backend), an LMDB cache
built from it by build/bench/bench-mkcache (the real publisher), a hit list
(up to 4096 names sampled at random, fixed seed) and a miss list (names
that sort between existing ones: node0001234m.zkbench.test, so a miss walks
the B-tree like a hit does rather than falling off one end).

Standard library only; run under /usr/bin/python3.
"""

import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

DOMAIN = "zkbench.test"
SAMPLE = 4096


def name_of(i):
    return "node%07d.%s" % (i, DOMAIN)


def addr_of(i):
    return "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


class Workdir:
    """A root-owned 0755 temp dir (the module refuses caches under a
    parent others can write), removed on close."""

    def __init__(self, prefix="zkbench."):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o755)

    def sub(self, *parts):
        return os.path.join(self.path, *parts)

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Dataset:
    """Files for N records under dir (see module docstring)."""

    def __init__(self, build, wd, n, seed=1):
        self.n = n
        self.dir = wd.sub("n%d" % n)
        os.makedirs(self.dir, mode=0o755)
        self.hosts = os.path.join(self.dir, "hosts")
        self.hits = os.path.join(self.dir, "hits")
        self.misses = os.path.join(self.dir, "misses")
        self.cache = os.path.join(self.dir, "cache")
        self.conf = os.path.join(self.dir, "zkhosts.conf")
        t0 = time.monotonic()
        with open(self.hosts, "w") as f:
            f.write("127.0.0.1 localhost\n")
            f.writelines("%s %s\n" % (addr_of(i), name_of(i)) for i in range(n))
        self.hosts_bytes = os.path.getsize(self.hosts)
        rnd = random.Random(seed)
        idx = rnd.sample(range(n), min(n, SAMPLE))
        with open(self.hits, "w") as f:
            f.writelines("%s %s\n" % (name_of(i), addr_of(i)) for i in idx)
        midx = [rnd.randrange(n) for _ in range(SAMPLE)]
        with open(self.misses, "w") as f:
            f.writelines("node%07dm.%s\n" % (i, DOMAIN) for i in midx)
        with open(self.conf, "w") as f:
            f.write("cache = %s\n" % self.cache)
        self.gen_s = time.monotonic() - t0
        out = subprocess.run([os.path.join(build, "bench", "bench-mkcache"),
                              self.cache, self.hosts], check=True,
                             capture_output=True, text=True).stdout.split()
        kv = dict(zip(out[0::2], out[1::2]))
        self.publish_ms = float(kv["publish_ms"])
        self.apply_ms = float(kv["apply_ms"])
        self.snapshot_bytes = int(kv["snapshot_bytes"])
        assert int(kv["records"]) == n, kv


def in_namespace(binds, argv):
    """argv prefixed so it runs in a private mount namespace where each
    (source, target) in binds is bind-mounted; the namespace dies with the
    process, so nothing is left behind."""
    script = " && ".join('mount --bind "$%d" "$%d"' % (2 * i + 1, 2 * i + 2)
                         for i in range(len(binds)))
    script += ' && shift %d && exec "$@"' % (2 * len(binds))
    flat = [x for pair in binds for x in pair]
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script,
            "sh"] + flat + list(argv)


def _pdeathsig():
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass
    os.setpgrp()


def free_loopback_53():
    """A 127.x.y.z address whose UDP and TCP port 53 are free."""
    rnd = random.Random()
    for _ in range(50):
        a = "127.%d.%d.%d" % (rnd.randrange(100, 200), rnd.randrange(256),
                              rnd.randrange(1, 255))
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                try:
                    s.bind((a, 53))
                finally:
                    s.close()
            return a
        except OSError:
            continue
    raise RuntimeError("no free loopback address with port 53")


def dns_query(addr, name, timeout=1.0):
    """Send one A query for name to addr:53; return the rcode or None."""
    qid = random.randrange(65536)
    q = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00\x00\x01\x00\x01"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (addr, 53))
        r = s.recv(512)
        return r[3] & 15 if r[:2] == q[:2] else None
    except OSError:
        return None
    finally:
        s.close()


_live = set()  # processes to kill whatever happens (see cleanup_all)


def cleanup_all():
    """Kill every process still registered in _live."""
    for obj in list(_live):
        try:
            obj.close()
        except Exception:
            pass


def install_handlers():
    """SIGTERM/SIGINT/SIGHUP end the driver through its finally blocks
    (which kill dnsmasq and remove temp dirs), not abruptly."""
    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)


class LoadTimeout(RuntimeError):
    pass


class Dnsmasq:
    """dnsmasq serving a hosts file on a free loopback address, port 53,
    authoritative for zkbench.test (misses get NXDOMAIN, nothing is
    forwarded). Killed on close; dies with us (PDEATHSIG: --user and
    --group root, so dnsmasq's own credential change does not clear it).
    Raises LoadTimeout if it does not answer within `timeout` seconds
    (dnsmasq's hosts loading is superlinear: 1M records take minutes)."""

    def __init__(self, hosts, wd, probe_name, timeout=600):
        self.addr = free_loopback_53()
        self.log = os.path.join(wd, "dnsmasq.log")
        self.resolv = os.path.join(wd, "resolv.conf")
        with open(self.resolv, "w") as f:
            f.write("nameserver %s\noptions timeout:1 attempts:2\n" % self.addr)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            ["/usr/sbin/dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv",
             "--no-hosts", "--addn-hosts=" + hosts,
             "--listen-address=" + self.addr, "--bind-interfaces",
             "--port=53", "--local=/%s/" % DOMAIN, "--pid-file",
             "--user=root", "--group=root", "--log-facility=" + self.log],
            preexec_fn=_pdeathsig, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        _live.add(self)
        while dns_query(self.addr, probe_name, timeout=0.2) != 0:
            if self.proc.poll() is not None:
                self.close()
                raise RuntimeError("dnsmasq exited (see %s)" % self.log)
            if time.monotonic() - t0 > timeout:
                self.close()
                raise LoadTimeout("dnsmasq did not answer within %d s" % timeout)
            time.sleep(0.05)
        self.load_s = time.monotonic() - t0
        self.rss_kb = rss_kb(self.proc.pid)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        _live.discard(self)


def rss_kb(pid, key="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# ---- statistics ---------------------------------------------------------

def quantile(xs, q):
    """Linear-interpolated quantile of a non-empty list."""
    s = sorted(xs)
    if len(s) == 1:
        return s[0]
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(xs):
    """median, p25, p75, min, max of per-round values."""
    return {"median": statistics.median(xs), "p25": quantile(xs, 0.25),
            "p75": quantile(xs, 0.75), "min": min(xs), "max": max(xs),
            "n": len(xs)}


def parse_batches(text):
    """Lines 'batch ROUND API BACKEND KIND CALLS NS FAILS' -> {(api,
    backend, kind): {round: ns_per_call}}, plus verify lines and fail
    counts."""
    cells, verify, fails = {}, [], {}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "batch" and len(f) == 8:
            key = (f[2], f[3], f[4])
            cells.setdefault(key, {})[int(f[1])] = int(f[6]) / int(f[5])
            fails[key] = fails.get(key, 0) + int(f[7])
        elif f[0] == "verify":
            verify.append(f[1:])
    return cells, verify, fails


def ratio(cells, a, b):
    """Per-round ratio a/b (same round: adjacent in time), summarised."""
    ra, rb = cells.get(a), cells.get(b)
    if not ra or not rb:
        return None
    rs = [ra[r] / rb[r] for r in ra if r in rb and rb[r] > 0]
    return summary(rs) if rs else None


def diff(cells, a, b):
    """Per-round difference a - b in ns, summarised."""
    ra, rb = cells.get(a), cells.get(b)
    if not ra or not rb:
        return None
    ds = [ra[r] - rb[r] for r in ra if r in rb]
    return summary(ds) if ds else None
