#!/usr/bin/python3
"""test_daemon_cachelost - a cache directory zkcached cannot create again
(issue 16, the packaged unit's case: /var/cache is read-only to zkcached,
so a removed /var/cache/zkcached stays gone until systemd's
CacheDirectory= recreates it at a restart).

zkcached runs as nobody (setpriv, as test_setuid.py does) with its cache
directory owned by nobody under a parent owned by root. The directory is
removed: zkcached tries to rebuild it, fails, and after
ZKD_SELFHEAL_LOST_DIR_TRIES failures in a row logs why and exits with
status 75 (ZKD_EXIT_CACHE_LOST: restarted by Restart=on-failure, unlike
2). Then what systemd does at the restart: the directory is created again
for nobody and zkcached started again serves at once. Needs root and
setpriv (skips otherwise); nobody runs a copy of zkcached from a private
0755 directory, as test_setuid.py does. The time from the removal to the exit is
printed, not asserted (it is about ZKD_SELFHEAL_LOST_DIR_TRIES seconds).
"""
import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import zkharness  # noqa: E402
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import (Env, Skip, require, run_tests, wait_for, read_status,  # noqa: E402
                       private_module_dir, ZKCACHED, MODULE)

AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
EXIT_CACHE_LOST = 75   # cache-daemon/selfheal.h
zk = env = kz = None
ids = {}
daemons = []


class NobodyDaemon:
    """zkcached as nobody; stderr to a log file; killed at exit."""

    def __init__(self, conf, log):
        self.log_path = log
        self.log_file = open(log, "ab")
        e = dict(os.environ)
        e.pop("LD_PRELOAD", None)
        self.proc = subprocess.Popen(
            AS_NOBODY + ["--pdeathsig", "KILL", ids["zkcached"], "-c", conf, "-v"], env=e,
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
            preexec_fn=zkharness._pdeathsig)
        daemons.append(self)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def make_cache():
    """What CacheDirectory= does: the directory, owned by the service user."""
    os.mkdir(env.cache, 0o755)
    os.chown(env.cache, ids["uid"], ids["gid"])


def start():
    d = NobodyDaemon(env.conf, os.path.join(env.dir, "zkcached.%d.log" % len(daemons)))
    wait_for(lambda: d.proc.poll() is not None or
             read_status(env.cache).get("state") == "connected",
             "zkcached as nobody to sync")
    assert d.proc.poll() is None, "zkcached exited:\n" + d.log()
    return d


def setup():
    global zk, env, kz
    require(ZKCACHED, MODULE)
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        raise Skip("needs root and setpriv")
    ids["uid"] = pwd.getpwnam("nobody").pw_uid
    ids["gid"] = grp.getgrnam("nogroup").gr_gid
    # what nobody runs: a copy in a private 0755 dir (the checkout may be
    # closed to nobody, e.g. cloned under /root)
    ids["mods"] = private_module_dir(files=(ZKCACHED,))
    ids["zkcached"] = os.path.join(ids["mods"], "zkcached")
    zk = ZooKeeper().__enter__()
    env = Env(zk).__enter__()   # env.dir: root's, 0755: not writable to nobody
    kz = zk.kazoo()
    kz.create(env.host_path("a"), b"10.30.0.1", makepath=True)
    assert os.stat(env.dir).st_uid == 0


def test_removed_cache_ends_the_daemon_with_75():
    make_cache()
    d = start()
    env.wait_resolves("a", {"10.30.0.1"})
    t0 = time.monotonic()
    # rm -rf, in one step (zkcached writes into the directory as soon as
    # its files go): moved out of the way, then removed
    os.rename(env.cache, env.cache + ".removed")
    shutil.rmtree(env.cache + ".removed")
    wait_for(lambda: d.proc.poll() is not None, "zkcached to give up on the lost cache",
             timeout=120)
    took = time.monotonic() - t0
    rc = d.proc.returncode
    log = d.log()
    assert rc == EXIT_CACHE_LOST, "exit status %s, not %d:\n%s" % (rc, EXIT_CACHE_LOST, log)
    assert "cannot rebuild the cache" in log, log
    assert "is gone and 10 attempts in a row to create it again failed" in log, log
    assert "Permission denied" in log, log
    assert not os.path.exists(env.cache)
    print("zkcached exited %d, %.1f s after its cache directory was removed" % (rc, took))


def test_restart_serves_again():
    # systemd's restart: CacheDirectory= recreates the directory first
    make_cache()
    d = start()
    env.wait_resolves("a", {"10.30.0.1"})
    kz.set(env.host_path("a"), b"10.30.0.2")
    env.wait_resolves("a", {"10.30.0.2"})
    d.close()
    assert d.proc.returncode == 0, d.log()


def teardown():
    for d in daemons:
        d.close()
    env.close()
    zk.close()
    shutil.rmtree(ids["mods"], ignore_errors=True)


run_tests([setup, test_removed_cache_ends_the_daemon_with_75, test_restart_serves_again,
           teardown])
