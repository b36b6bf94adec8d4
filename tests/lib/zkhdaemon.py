"""zkhdaemon - helpers for tests that run zkcached and resolve through the
zk NSS module: a private cache directory (under a 0755 mkdtemp parent, as
the module refuses caches whose parent others can write), a zkhosts.conf,
zkcached started as a subprocess with its stderr captured to a file,
lookups through real glibc (`getent -s hosts:zk ...` with
LD_LIBRARY_PATH=$ZKH_BUILD, and $ZKH_PRELOAD preloaded when the tree is
built with sanitizers), an environment (select_env) that makes any other
unmodified program (python3, java, a test binary) resolve through
`hosts: files zk` in-process with the preload shim tests/tools/nss_select.c
instead of a mount namespace over /etc/nsswitch.conf (no privilege needed),
a copy of the module into a private 0755 directory for programs that run
as another user (private_module_dir), polling helpers that wait for an outcome with a
generous deadline (tests assert outcomes, never timings), the status file
reader, and a tiny test runner (exit 0 pass, 1 fail, 77 skip).

    from zkharness import ZooKeeper
    from zkhdaemon import Env, run_tests
    with ZooKeeper() as zk, Env(zk) as env:
        d = env.daemon()                      # starts build/zkcached -c conf
        zk.kazoo().create(env.host_path("a"), b"10.0.0.1", makepath=True)
        env.wait_resolves("a", {"10.0.0.1"})
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import zkharness

SRC = os.environ.get("ZKH_SRC") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("ZKH_BUILD") or os.path.join(SRC, "build")
ZKCACHED = os.path.join(BUILD, "zkcached")
MODULE = os.path.join(BUILD, "libnss_zk.so.2")
NSS_SELECT = os.path.join(BUILD, "tests", "tools", "nss_select.so")
DEFAULT_WAIT = float(os.environ.get("ZKH_WAIT", "30"))


class Skip(Exception):
    """Raise to skip the whole test file (exit 77)."""


def require(*paths):
    """Skip unless ZooKeeper, java and every given build product exist."""
    if not zkharness.available():
        raise Skip("ZooKeeper server or java not installed")
    for p in paths:
        if not os.path.exists(p):
            raise Skip("%s not built" % os.path.relpath(p, SRC))


def lookup_env(conf=None, base=None):
    """Environment for a foreign program that loads our NSS module (from
    os.environ, or from base when given)."""
    env = dict(os.environ if base is None else base)
    env["LD_LIBRARY_PATH"] = BUILD + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    if conf:
        env["ZKHOSTS_CONF"] = conf
    pre = os.environ.get("ZKH_PRELOAD")
    if pre:
        env["LD_PRELOAD"] = pre + (":" + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    else:
        env.pop("LD_PRELOAD", None)
    return env


def select_env(conf=None, hosts="files zk", base=None, sanitizer_preload=True):
    """Environment in which any dynamically linked program resolves host
    names through the NSS service line `hosts` (e.g. "files zk", "zk"):
    lookup_env() plus the nss_select.so shim preloaded (after any sanitizer
    runtime, which must come first) and ZKH_NSS_HOSTS=hosts. Raises Skip
    when the shim is not built. base, if given, replaces os.environ as the
    starting environment. sanitizer_preload=False leaves the sanitizer
    runtime out (for a script whose helpers, sh or date, would report their
    own leaks): then only the shim is preloaded, and sanitized programs of
    ours, which load their runtime themselves, are told to accept that
    (ASAN_OPTIONS verify_asan_link_order=0)."""
    if not os.path.exists(NSS_SELECT):
        raise Skip("%s not built" % os.path.relpath(NSS_SELECT, SRC))
    env = lookup_env(conf, base)
    if sanitizer_preload:
        pre = env.get("LD_PRELOAD")   # the sanitizer runtime, if any, stays first
        env["LD_PRELOAD"] = pre + ":" + NSS_SELECT if pre else NSS_SELECT
    else:
        env["LD_PRELOAD"] = NSS_SELECT
        if os.environ.get("ZKH_PRELOAD"):
            opts = env.get("ASAN_OPTIONS", "")
            env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "verify_asan_link_order=0"
    env["ZKH_NSS_HOSTS"] = hosts
    return env


def private_module_dir(files=(), build=None):
    """Copy the NSS module (and each extra path in files) into a fresh
    root-owned 0755 directory, files 0755, and return its path. A program
    that runs as another user (nobody) loads from there, so it never
    depends on the modes of the checkout's directories (a clone under
    /root is 0700). The caller removes it (shutil.rmtree)."""
    build = build or BUILD
    d = tempfile.mkdtemp(prefix="zkh-module-")
    os.chmod(d, 0o755)
    for f in (os.path.join(build, "libnss_zk.so.2"),) + tuple(files):
        dst = os.path.join(d, os.path.basename(f))
        shutil.copyfile(f, dst)
        os.chmod(dst, 0o755)
    return d


def getent(conf, *args):
    """Run `getent -s hosts:zk ARGS`; return (exit code, stdout)."""
    r = subprocess.run(["getent", "-s", "hosts:zk"] + list(args), env=lookup_env(conf),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout


def resolve(conf, name):
    """Addresses `getent ahosts NAME` returns through the zk module, as a
    set of strings (empty set when not found)."""
    rc, out = getent(conf, "ahosts", name)
    if rc != 0:
        return set()
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def reverse(conf, addr):
    """Names (canonical first) `getent hosts ADDR` returns, or []."""
    rc, out = getent(conf, "hosts", addr)
    if rc != 0 or not out.strip():
        return []
    return out.split()[1:]


def wait_for(pred, what, timeout=DEFAULT_WAIT, interval=0.05):
    """Poll pred() until it returns a true value (returned); raise
    AssertionError naming `what` when the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out (%ss) waiting for %s" % (timeout, what))
        time.sleep(interval)


def read_status(cache):
    """The daemon's status file as a dict of strings ({} if absent)."""
    out = {}
    try:
        with open(os.path.join(cache, "status")) as f:
            for line in f:
                line = line.rstrip("\n")
                if " " in line:
                    k, v = line.split(" ", 1)
                    out[k] = v
                elif line:
                    out[line] = ""
    except FileNotFoundError:
        pass
    return out


class GenerationWatch:
    """Resolve NAME at every snapshot generation the cache publishes while
    the watch runs (a thread reading the generation counter every
    millisecond), to show that no published snapshot lacked it. Use with a
    publish_delay well above a lookup's time, so that generations cannot
    pass unseen. `accept` lists the acceptable answers (sets of address
    strings). stop() returns [(generation, answer)] for every generation
    whose answer was none of them."""

    def __init__(self, env, name, accept):
        import threading
        self.env, self.name = env, name
        self.accept = [set(a) for a in accept]
        self.path = os.path.join(env.cache, "generation")
        self.seen, self.bad = [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _gen(self):
        try:
            with open(self.path, "rb") as f:
                head = f.read(16)
        except OSError:
            return None
        return int.from_bytes(head[8:16], sys.byteorder) if len(head) == 16 else None

    def _run(self):
        last = self._gen()
        while not self._stop.is_set():
            g = self._gen()
            if g is not None and g != last:
                last = g
                got = self.env.resolve(self.name)
                self.seen.append(g)
                if got not in self.accept:
                    self.bad.append((g, got))
            time.sleep(0.001)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.bad


class Daemon:
    """One build/zkcached process; stderr goes to `log_path`."""

    def __init__(self, conf, log_path, args=(), env=None):
        self.conf = conf
        self.log_path = log_path
        e = dict(os.environ)
        e.pop("LD_PRELOAD", None)  # the daemon carries its own sanitizer runtime
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        e["ZKHOSTS_CONF"] = conf
        if env:
            e.update(env)
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen([ZKCACHED, "-c", conf] + list(args), env=e,
                                     stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=zkharness._pdeathsig)
        zkharness._live.add(self)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def send(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Send sig and wait for exit; return the exit status."""
        self.send(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("zkcached did not exit within %ss of signal %d" % (timeout, sig))
        self._done()
        return rc

    def kill(self):
        """SIGKILL, like a crash."""
        return self.stop(signal.SIGKILL)

    def wait(self, timeout=30):
        rc = self.proc.wait(timeout=timeout)
        self._done()
        return rc

    def _done(self):
        if not self.log_file.closed:
            self.log_file.close()
        zkharness._live.discard(self)

    def close(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self._done()


class Env:
    """A private test environment: cache dir, config file, daemons."""

    def __init__(self, zk=None, root="/zkhosts", **conf):
        self.zk = zk
        self.root = root
        # a chroot suffix of the connect string prefixes every path
        zks = conf.get("zookeeper") or ""
        self.chroot = zks[zks.index("/"):].rstrip("/") if "/" in zks else ""
        self.conf_keys = conf
        self.daemons = []

    def __enter__(self):
        zkharness._install_handlers()
        self.dir = tempfile.mkdtemp(prefix="zkh-test-")
        os.chmod(self.dir, 0o755)
        self.cache = os.path.join(self.dir, "cache")
        self.conf = os.path.join(self.dir, "zkhosts.conf")
        self.write_conf(**self.conf_keys)
        zkharness._live.add(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.dump_logs()
        self.close()
        return False

    def write_conf(self, path=None, **keys):
        """(Re)write the config: zookeeper (from the harness), root, cache,
        session_timeout=2000, publish_delay=5 unless overridden; a key set
        to None is left out."""
        k = {"zookeeper": self.zk.connect_string if self.zk else None,
             "root": self.root, "cache": self.cache, "session_timeout": 2000}
        k.update(keys)
        path = path or self.conf
        with open(path, "w") as f:
            f.write("# written by tests/lib/zkhdaemon.py\n")
            for key, val in k.items():
                if val is not None:
                    f.write("%s = %s\n" % (key, val))
        return path

    def host_path(self, name):
        """Absolute path of a record (chroot included) for a plain client."""
        return "%s%s/hosts/%s" % (self.chroot, self.root, name)

    def daemon(self, args=(), env=None, wait_ready=True):
        """Start zkcached on this env's config; by default wait until its
        status file exists (the cache is open)."""
        log = os.path.join(self.dir, "zkcached.%d.log" % len(self.daemons))
        d = Daemon(self.conf, log, args, env)
        self.daemons.append(d)
        if wait_ready:
            wait_for(lambda: (not d.alive()) or read_status(self.cache).get("pid") == str(d.pid),
                     "zkcached to write its status")
            if not d.alive():
                raise AssertionError("zkcached exited (%s):\n%s" % (d.proc.returncode, d.log()))
        return d

    def status(self):
        return read_status(self.cache)

    def resolve(self, name):
        return resolve(self.conf, name)

    def reverse(self, addr):
        return reverse(self.conf, addr)

    def wait_resolves(self, name, addrs, timeout=DEFAULT_WAIT):
        """Wait until NAME resolves to exactly the set `addrs`."""
        addrs = set(addrs)
        last = [None]

        def ok():
            last[0] = self.resolve(name)
            return last[0] == addrs
        try:
            wait_for(ok, "%s to resolve to %s" % (name, sorted(addrs)), timeout)
        except AssertionError as e:
            raise AssertionError("%s (last seen %s)" % (e, sorted(last[0] or [])))

    def barrier(self, kz, timeout=DEFAULT_WAIT):
        """Wait until the daemon has published everything ZooKeeper told it
        before now: create a marker record through kz and wait for it to
        resolve (ZooKeeper delivers events in order and the daemon applies
        them in order), then delete it (without waiting)."""
        self._barriers = getattr(self, "_barriers", 0) + 1
        name = "barrier-%d-%d" % (os.getpid(), self._barriers)
        kz.create(self.host_path(name), b"192.0.2.254", makepath=True)
        self.wait_resolves(name, {"192.0.2.254"}, timeout)
        kz.delete(self.host_path(name))

    def wait_gone(self, name, timeout=DEFAULT_WAIT):
        wait_for(lambda: not self.resolve(name), "%s to stop resolving" % name, timeout)

    def wait_status(self, pred, what, timeout=DEFAULT_WAIT):
        return wait_for(lambda: pred(self.status()), what, timeout)

    def dump_logs(self, tail=80):
        for d in self.daemons:
            try:
                lines = d.log().splitlines()
            except OSError:
                continue
            sys.stdout.write("---- %s (last %d lines) ----\n" % (d.log_path, tail))
            sys.stdout.write("\n".join(lines[-tail:]) + "\n")

    def close(self):
        for d in self.daemons:
            d.close()
        zkharness._live.discard(self)
        if os.environ.get("ZKH_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)


def run_tests(tests):
    """Run test functions in order; print PASS/FAIL per test; exit 0 if all
    passed, 77 if Skip was raised, 1 otherwise. A failing function named
    setup* stops the run. On failure the logs of live daemons are shown."""
    failed = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
        except Skip as e:
            print("SKIP %s: %s" % (t.__name__, e))
            zkharness.cleanup_all()
            sys.exit(77)
        except Exception:
            failed += 1
            print("FAIL %s (%.1fs)" % (t.__name__, time.monotonic() - t0))
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
            for obj in list(zkharness._live):
                if isinstance(obj, Env):
                    obj.dump_logs()
            if t.__name__.startswith("setup"):
                break
        else:
            print("PASS %s (%.1fs)" % (t.__name__, time.monotonic() - t0))
        sys.stdout.flush()
    zkharness.cleanup_all()
    sys.exit(1 if failed else 0)
