"""scenario - a Hadoop-style cluster on one machine, checked end to end.

A 3-server ZooKeeper ensemble listens on the lab bridge; five hosts
(namenode, resourcemanager, datanode-1..3, see lab.py) each run their own
zkcached with `register = <name>` and no address, so each registers the
address of its default-route interface. The phases, each of which prints
what it saw and raises AssertionError when an outcome is wrong:

  boot()        stand-in services wait on their hosts with zkbarrier; the
                bootstrap job (examples/hadoop-bootstrap.sh, on namenode)
                waits until all five names resolve there, then releases
                the services in order; only then are the daemons started,
                host by host. Returns the merged release timeline.
  matrix()      every host resolves every host, forward and reverse.
  java()        on namenode, HadoopChecks.java: getAllByName and
                getCanonicalHostName of every datanode, and getLocalHost.
  membership()  SIGKILL one datanode's zkcached: its session expires and
                its name disappears on every other host; start it again:
                back everywhere. Returns how long each took (informational).

Deadlines are generous (ZKH_WAIT, default 60 s): outcomes are asserted,
timings only reported.
"""

import os
import signal
import subprocess
import threading
import time

import lab as labmod
from lab import Lab, wait_for
from zkharness import ZooKeeper

HOSTS = [("namenode", "10.213.0.11"), ("resourcemanager", "10.213.0.12"),
         ("datanode-1", "10.213.0.21"), ("datanode-2", "10.213.0.22"),
         ("datanode-3", "10.213.0.23")]
DATANODES = [n for n, _ in HOSTS if n.startswith("datanode-")]
# which stand-in services run on which host; the bootstrap job runs on namenode
SERVICES = {"namenode": ["namenode"], "resourcemanager": ["resourcemanager", "historyserver"]}
SERVICES.update({d: ["datanode", "nodemanager"] for d in DATANODES})
BOOTSTRAP_HOST = "namenode"
SESSION_TIMEOUT_MS = 4000
WAIT = float(os.environ.get("ZKH_WAIT", "60"))
JAVA_OPTS = ["-Xmx128m", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Xshare:auto"]


def read_boot_log(path, host):
    """[(realtime, host, who, what)] from a stand-in/bootstrap log file."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                ts, who, what = line.rstrip("\n").split(" ", 2)
                out.append((float(ts), host, who, what))
    except FileNotFoundError:
        pass
    return out


def boot_order_problems(events):
    """Check a merged boot timeline (sorted by time); return a list of
    what is out of order (empty when the order is right)."""
    problems = []

    def first(who, what, host=None):
        for i, (_, h, w, x) in enumerate(events):
            if w == who and x == what and (host is None or h == host):
                return i
        problems.append("no '%s %s'%s in the timeline" % (who, what, " on " + host if host else ""))
        return None

    resolved = first("bootstrap", "hosts-resolved")
    nn_up = first("bootstrap", "namenode-up")
    hdfs = first("bootstrap", "hdfs-dirs-created")
    started = [first("zkcached", "started", h) for h, _ in HOSTS]
    if None in started + [resolved, nn_up, hdfs]:
        return problems

    def before(a, b, what):
        if not a < b:
            problems.append(what)
    before(max(started), resolved, "hosts resolved before every zkcached had started")
    for host, svcs in SERVICES.items():
        for s in svcs:
            rel, up = first(s, "released", host), first(s, "up", host)
            if rel is None or up is None:
                continue
            before(resolved, rel, "%s on %s released before all names resolved" % (s, host))
            before(rel, up, "%s on %s up before it was released" % (s, host))
            if s in ("resourcemanager", "nodemanager", "historyserver"):
                before(hdfs, rel, "%s on %s released before the HDFS directories" % (s, host))
    before(first("namenode", "released"), nn_up, "namenode-up seen before namenode was released")
    before(nn_up, hdfs, "HDFS directories created before the namenode was up")
    return problems


class Cluster:
    def __init__(self, src, build, say=print):
        self.src, self.build, self.say = src, build, say
        self.lab = None
        self.zk = None
        self.daemons = {}
        self.javac = None

    # ---- set-up and teardown -------------------------------------------
    def start(self):
        """Lab dir, javac in the background, the ensemble, the five hosts.
        Call labmod.isolate() first."""
        self.lab = Lab(self.build)
        self.classes = os.path.join(self.lab.dir, "java")
        os.makedirs(self.classes)
        self.javac_log = os.path.join(self.lab.dir, "javac.log")
        with open(self.javac_log, "wb") as log:
            self.javac = subprocess.Popen(
                ["javac", "-J-Xmx128m", "-J-XX:TieredStopAtLevel=1", "-d", self.classes,
                 os.path.join(self.src, "examples", "cluster", "HadoopChecks.java")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        t0 = time.monotonic()
        self.zk = ZooKeeper(servers=3, client_address=labmod.BRIDGE_ADDR, jvm_heap="128m",
                            start_timeout=max(WAIT, 90))
        self.zk.start_all()
        self.say("ZooKeeper ensemble up in %.1fs: %s (leader: server %d)"
                 % (time.monotonic() - t0, self.zk.connect_string, self.zk.leader_index() + 1))
        for name, addr in HOSTS:
            h = self.lab.add_host(name, addr)
            with open(h.conf, "w") as f:
                f.write("# host %s of the zkhosts cluster lab\n"
                        "zookeeper = %s\ncache = %s\nsession_timeout = %d\nregister = %s\n"
                        % (name, self.zk.connect_string, h.cache, SESSION_TIMEOUT_MS, name))
        self.say("hosts: " + ", ".join("%s %s" % na for na in HOSTS))
        self.say("  each: own netns (eth0 on bridge %s, default route through it), own mount"
                 " ns (nsswitch.conf: hosts: files zk), own hostname, own zkcached"
                 % labmod.BRIDGE)

    def close(self):
        if self.javac and self.javac.poll() is None:
            self.javac.kill()
            self.javac.wait()
        if self.lab:
            self.lab.close()
        if self.zk:
            self.zk.close()

    def dump_logs(self, tail=30):
        """Tails of every log of the processes started on the hosts."""
        if not self.lab:
            return
        seen = set()
        for p in self.lab.procs:
            if p.log and p.log not in seen:
                seen.add(p.log)
                self.say("---- %s: %s ----\n%s" % (p.host.name, p.log, p.tail(tail)))

    # ---- daemons --------------------------------------------------------
    def start_daemon(self, name):
        """Start zkcached on host `name`; wait until it wrote its status."""
        h = self.lab.hosts[name]
        d = h.popen([os.path.join(self.build, "zkcached"), "-c", h.conf],
                    log=os.path.join(h.dir, "zkcached.log"), env=h.env())
        self.daemons[name] = d

        def ready():
            if not d.alive():
                raise AssertionError("zkcached on %s exited (%s):\n%s"
                                     % (name, d.p.returncode, d.tail()))
            try:
                with open(os.path.join(h.cache, "status")) as f:
                    return ("pid %d\n" % d.pid) in f.read()
            except FileNotFoundError:
                return False
        wait_for(ready, "zkcached on %s to write its status" % name, WAIT)
        return d

    def registrations(self):
        """Each config says `register = <name>` with no address: show (and
        check) that each zkcached took its default-route interface's."""
        self.say("registered (register = <name>, no address in the config):")
        expect = dict(HOSTS)
        for name, _ in HOSTS:
            log = os.path.join(self.lab.hosts[name].dir, "zkcached.log")

            def line():
                with open(log, errors="replace") as f:
                    return next((ln.strip() for ln in f if "registering " in ln), None)
            ln = wait_for(line, "zkcached on %s to register" % name, WAIT)
            msg = ln.split("registering ", 1)[1]
            if not msg.startswith("%s as %s (addresses of eth0" % (name, expect[name])):
                raise AssertionError("zkcached on %s: %r, want %s from eth0"
                                     % (name, ln, expect[name]))
            self.say("  " + msg.rstrip(")") + ")")

    # ---- phase: boot ------------------------------------------------------
    def boot(self):
        self.say("\n== Boot order: services wait with zkbarrier, the bootstrap job releases them ==")
        # The scripts run zkbarrier as their child; this wrapper makes it die
        # with its script, so even a SIGKILLed driver leaves no waiter behind
        # (the scripts themselves die with the driver: PR_SET_PDEATHSIG).
        wrapper = os.path.join(self.lab.dir, "zkbarrier")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec setpriv --pdeathsig KILL %s \"$@\"\n"
                    % os.path.join(self.build, "zkbarrier"))
        os.chmod(wrapper, 0o755)
        tools = {"ZKBARRIER": wrapper, "BOOT_TIMEOUT": str(int(WAIT * 2))}
        ex = os.path.join(self.src, "examples")
        services = []
        for host, svcs in SERVICES.items():
            h = self.lab.hosts[host]
            env = h.env(dict(tools, BOOTSTRAP_LOG=os.path.join(h.dir, "boot.log")))
            for s in svcs:
                services.append(h.popen(["sh", os.path.join(ex, "standin-service.sh"), s],
                                        log=os.path.join(h.dir, "standin-%s.log" % s), env=env))
        logs = {h: os.path.join(self.lab.hosts[h].dir, "boot.log") for h in SERVICES}

        def events():
            ev = []
            for h, p in logs.items():
                ev += read_boot_log(p, h)
            return sorted(ev)
        wait_for(lambda: sum(1 for e in events() if e[3] == "waiting") == len(services),
                 "every stand-in service to wait for its release", WAIT)
        bh = self.lab.hosts[BOOTSTRAP_HOST]
        job = bh.popen(["sh", os.path.join(ex, "hadoop-bootstrap.sh")],
                       log=os.path.join(bh.dir, "bootstrap.log"),
                       env=bh.env(dict(tools, BOOTSTRAP_LOG=logs[BOOTSTRAP_HOST],
                                       CLUSTER_HOSTS=" ".join(n for n, _ in HOSTS))))
        wait_for(lambda: any(e[3].startswith("waiting for hosts") for e in events()),
                 "the bootstrap job to wait for the host names", WAIT)
        if any(e[3] == "released" for e in events()):
            raise AssertionError("a service was released before any host registered")
        started = []
        for name, _ in HOSTS:  # the hosts boot one after the other
            started.append((time.time(), name, "zkcached", "started"))
            self.start_daemon(name)
        self.registrations()
        rc = job.wait(timeout=WAIT * 2)
        if rc != 0:
            raise AssertionError("bootstrap job exited %d:\n%s" % (rc, job.tail()))
        for p in services:
            rc = p.wait(timeout=WAIT)
            if rc != 0:
                raise AssertionError("stand-in %s on %s exited %d:\n%s"
                                     % (p.argv[-1], p.host.name, rc, p.tail()))
        timeline = sorted(events() + started)
        t0 = timeline[0][0]
        self.say("%8s  %-16s %-16s %s" % ("t (s)", "host", "who", "what"))
        for ts, host, who, what in timeline:
            self.say("%8.3f  %-16s %-16s %s" % (ts - t0, host, who, what))
        problems = boot_order_problems(timeline)
        if problems:
            raise AssertionError("boot order wrong:\n  " + "\n  ".join(problems))
        self.say("release order: " + " -> ".join(
            "%s@%s" % (who, host) for _, host, who, what in timeline if what == "released"))
        return timeline

    # ---- phase: every host resolves every host ------------------------------
    def probe(self, host, *args, **kw):
        h = self.lab.hosts[host]
        return h.popen(["/usr/bin/python3", os.path.join(self.src, "examples", "cluster", "probe.py")]
                       + list(args), env=h.env(foreign=True), **kw)

    def matrix(self):
        import json
        self.say("\n== Every host resolves every host (getaddrinfo + gethostbyaddr, hosts: files zk) ==")
        names = [n for n, _ in HOSTS]
        expect = dict(HOSTS)
        procs = {h: self.probe(h, "check", *names, stdout=subprocess.PIPE) for h in names}
        bad = []
        self.say("%-16s %-16s %s" % ("on host", "hostname()", "forward+reverse of " + ", ".join(names)))
        for h, p in procs.items():
            out, _ = p.p.communicate(timeout=WAIT)
            try:
                res = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise AssertionError("probe on %s printed %r (exit %s)" % (h, out, p.p.returncode))
            cells = []
            for n in names:
                r = res["names"][n]
                ok = r["addrs"] == [expect[n]] and r["reverse"].get(expect[n]) == n
                cells.append("ok" if ok else "WRONG")
                if not ok:
                    bad.append("on %s: %s -> %s, reverse %s" % (h, n, r["addrs"], r["reverse"]))
            if res["hostname"] != h:
                bad.append("on %s: hostname is %r" % (h, res["hostname"]))
            self.say("%-16s %-16s %s" % (h, res["hostname"], " ".join(cells)))
        if bad:
            raise AssertionError("resolution wrong:\n  " + "\n  ".join(bad))

    # ---- phase: Hadoop's checks in Java ---------------------------------------
    def java(self):
        self.say("\n== Hadoop's checks from namenode, in Java (InetAddress) ==")
        if self.javac.wait(timeout=WAIT * 3) != 0:
            with open(self.javac_log) as f:
                raise AssertionError("javac failed:\n" + f.read())
        h = self.lab.hosts["namenode"]
        r = h.run(["java"] + JAVA_OPTS + ["-cp", self.classes, "HadoopChecks"] + DATANODES,
                  env=h.env(foreign=True), timeout=WAIT * 3)
        expect = dict(HOSTS)
        rows, bad = [], []
        for line in r.stdout.splitlines():
            kind, name, addr, canon = line.split("\t")
            rows.append((kind, name, addr, canon))
        seen = {name for kind, name, _, _ in rows if kind == "name"}
        for d in DATANODES:
            if d not in seen:
                bad.append("no answer for %s" % d)
        self.say("%-28s %-14s %-28s %s" % ("lookup", "address", "getCanonicalHostName", "right?"))
        for kind, name, addr, canon in rows:
            label = ("getLocalHost() = " + name) if kind == "local" else "getAllByName(%s)" % name
            want = "namenode" if kind == "local" else name
            ok = addr == expect.get(want) and canon == want and (kind != "local" or name == want)
            self.say("%-28s %-14s %-28s %s" % (label, addr, canon, "yes" if ok else "NO"))
            if not ok:
                bad.append("%s: %s %s (want %s %s)" % (label, addr, canon, expect.get(want), want))
        if r.returncode != 0 or bad:
            raise AssertionError("Java checks failed (exit %d):\n  %s\n%s"
                                 % (r.returncode, "\n  ".join(bad), r.stderr))
        return rows

    # ---- phase: membership ----------------------------------------------------
    def membership(self, victim="datanode-2"):
        self.say("\n== Membership: kill -9 %s's zkcached, then start it again ==" % victim)
        addr = dict(HOSTS)[victim]
        observers = [n for n, _ in HOSTS if n != victim]
        seen = {o: [] for o in observers}  # [(monotonic, value)]
        lock = threading.Lock()
        watchers = {}
        for o in observers:
            p = self.probe(o, "watch", victim, stdout=subprocess.PIPE)
            watchers[o] = p

            def reader(o=o, p=p):
                for line in p.p.stdout:
                    t, v = line.split()
                    with lock:
                        seen[o].append((float(t), v))
            threading.Thread(target=reader, daemon=True).start()

        def all_at(value, since):
            """{observer: first time >= since it saw value} once all have."""
            with lock:
                out = {}
                for o in observers:
                    hits = [t for t, v in seen[o] if v == value and t >= since]
                    if not hits or seen[o][-1][1] != value:
                        return None
                    out[o] = hits[0]
                return out
        try:
            wait_for(lambda: all_at(addr, 0), "every other host to resolve %s" % victim, WAIT)
            t_kill = time.monotonic()
            self.daemons[victim].kill(signal.SIGKILL)
            self.daemons[victim].wait(timeout=WAIT)
            gone = wait_for(lambda: all_at("-", t_kill),
                            "%s to disappear on every other host" % victim,
                            SESSION_TIMEOUT_MS / 1000.0 + WAIT)
            t_start = time.monotonic()
            self.start_daemon(victim)
            back = wait_for(lambda: all_at(addr, t_start),
                            "%s to come back on every other host" % victim, WAIT)
        finally:
            for p in watchers.values():
                p.kill()
        timings = {o: (gone[o] - t_kill, back[o] - t_start) for o in observers}
        self.say("session_timeout = %d ms; times from the SIGKILL / from the restart:"
                 % SESSION_TIMEOUT_MS)
        self.say("%-16s %10s %10s" % ("seen on", "gone (s)", "back (s)"))
        for o in observers:
            self.say("%-16s %10.3f %10.3f" % (o, timings[o][0], timings[o][1]))
        return timings
