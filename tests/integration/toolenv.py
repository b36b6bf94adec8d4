"""toolenv - small helpers shared by the zkbarrier/zkhostctl/bootstrap
integration tests: a private directory (0755, root-owned, as the NSS
module requires of a cache's parent) with a zkhosts.conf and a cache
path, an outcome poller (never a timing assertion), and a test runner
(exit 0 pass, 1 fail, 77 skip). Kept beside the tests so they depend only
on tests/lib/zkharness.py.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import zkharness

SRC = os.environ.get("ZKH_SRC") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("ZKH_BUILD") or os.path.join(SRC, "build")
DEFAULT_WAIT = float(os.environ.get("ZKH_WAIT", "30"))


class Skip(Exception):
    """Raise to skip the whole test file (exit 77)."""


def select_env(conf, hosts, base=None, sanitizer_preload=True):
    """Environment in which a program resolves through the NSS service
    line `hosts` (e.g. "zk"), in-process via the nss_select.so preload
    shim (tests/lib/zkhdaemon.select_env): no mount namespace, no
    privilege. Raises Skip when the shim is not built. See there for
    sanitizer_preload."""
    import zkhdaemon
    try:
        return zkhdaemon.select_env(conf, hosts, base, sanitizer_preload)
    except zkhdaemon.Skip as e:
        raise Skip(str(e))


def require(*paths):
    if not zkharness.available():
        raise Skip("ZooKeeper server or java not installed")
    for p in paths:
        if not os.path.exists(p):
            raise Skip("%s not built" % os.path.relpath(p, SRC))


def wait_for(pred, what, timeout=DEFAULT_WAIT, interval=0.05):
    """Poll pred() until it returns a true value (returned); raise
    AssertionError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out (%ss) waiting for %s" % (timeout, what))
        time.sleep(interval)


class Env:
    """A private directory with a config file and a cache path."""

    def __init__(self, zk=None, root="/zkhosts", **conf):
        self.zk = zk
        self.root = root
        self.conf_keys = conf

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="zkh-tools-")
        os.chmod(self.dir, 0o755)
        self.cache = os.path.join(self.dir, "cache")
        self.conf = os.path.join(self.dir, "zkhosts.conf")
        self.write_conf(**self.conf_keys)
        return self

    def __exit__(self, *exc):
        if os.environ.get("ZKH_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def write_conf(self, path=None, **keys):
        """(Re)write a config: zookeeper (harness), root, cache,
        session_timeout=2000 unless overridden; None leaves a key out."""
        k = {"zookeeper": self.zk.connect_string if self.zk else None,
             "root": self.root, "cache": self.cache, "session_timeout": 2000}
        k.update(keys)
        path = path or self.conf
        with open(path, "w") as f:
            for key, val in k.items():
                if val is not None:
                    f.write("%s = %s\n" % (key, val))
        return path


class Procs:
    """Child processes killed at the end whatever happens."""

    def __init__(self):
        self.procs = []

    def popen(self, cmd, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("preexec_fn", zkharness._pdeathsig)
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def run_tests(tests):
    """Run test functions in order; exit 0 if all passed, 77 on Skip,
    1 otherwise."""
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
        else:
            print("PASS %s (%.1fs)" % (t.__name__, time.monotonic() - t0))
        sys.stdout.flush()
    zkharness.cleanup_all()
    sys.exit(1 if failed else 0)
