#!/usr/bin/python3
"""test_daemon_fulldisk - zkcached on a full disk: its cache directory is a
1 MiB tmpfs (mounted in a private user+mount namespace, so the host is
untouched) and a filler file takes every free byte. Changes made in
ZooKeeper meanwhile cannot be published: lookups keep answering from the
last snapshot, zkcached stays up and says why in its log, nothing it leaves
behind is half-written. Once the filler is removed it publishes on its own
and the changes made during the fault resolve.

Lookups reach the namespace's cache through /proc/<pid>/root (a second
config naming that path), so they run outside the namespace like any
process on the host. Skips (77) where user namespaces are not available.
"""
import errno
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import zkharness  # noqa: E402
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import (Env, Skip, require, resolve, run_tests, wait_for,  # noqa: E402
                       ZKCACHED, MODULE)

zk = env = kz = proc = log = None
view = conf2 = None
MOUNT = 'mount -t tmpfs -o size=1m,mode=0755 zkh-fulldisk "$1" && exec "$2" -v -c "$3"'


def setup():
    global zk, env, kz, proc, log, view, conf2
    require(ZKCACHED, MODULE)
    r = subprocess.run(["unshare", "-Urm", "true"], capture_output=True)
    if r.returncode != 0:
        raise Skip("no user+mount namespace (unshare -Urm: %s)" % r.stderr.decode().strip())
    zk = ZooKeeper().__enter__()
    env = Env(zk).__enter__()
    kz = zk.kazoo()
    os.mkdir(env.cache, 0o755)
    log = open(os.path.join(env.dir, "zkcached.log"), "ab")
    e = dict(os.environ)
    e.pop("LD_PRELOAD", None)
    proc = subprocess.Popen(["unshare", "-Urm", "--propagation", "private", "sh", "-c", MOUNT,
                             "sh", env.cache, ZKCACHED, env.conf],
                            env=e, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=zkharness._pdeathsig)
    view = "/proc/%d/root%s" % (proc.pid, env.cache)
    conf2 = env.write_conf(path=os.path.join(env.dir, "lookup.conf"), cache=view)
    wait_for(lambda: proc.poll() is not None or os.path.exists(os.path.join(view, "status")),
             "zkcached to write its status in the namespace's cache")
    assert proc.poll() is None, daemon_log()
    kz.create(env.host_path("before"), b"10.17.0.1", makepath=True)
    wait_for(lambda: resolve(conf2, "before") == {"10.17.0.1"}, "before to resolve")
    # the host's own directory stays empty: the daemon writes the tmpfs
    assert os.listdir(env.cache) == [], os.listdir(env.cache)


def daemon_log():
    with open(os.path.join(env.dir, "zkcached.log"), errors="replace") as f:
        return f.read()


def fill():
    """Write a filler file until the tmpfs is full."""
    with open(os.path.join(view, "filler"), "wb", buffering=0) as f:
        chunk = b"\0" * 4096
        try:
            while True:
                f.write(chunk)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise


def test_full_disk_keeps_last_snapshot():
    fill()
    kz.create(env.host_path("during"), b"10.17.0.2")
    kz.set(env.host_path("before"), b"10.17.0.3")
    wait_for(lambda: "No space left on device" in daemon_log(),
             "zkcached to report the full disk")
    assert proc.poll() is None, daemon_log()
    assert resolve(conf2, "before") == {"10.17.0.1"}, "the last snapshot keeps answering"
    assert resolve(conf2, "during") == set()
    # nothing half-written is left where readers look
    names = set(os.listdir(view))
    assert {"hosts.mdb", "generation", "status"} <= names, names
    assert not [n for n in names if n.startswith(".hosts.mdb.")], names


def test_space_back_publishes():
    os.unlink(os.path.join(view, "filler"))
    wait_for(lambda: resolve(conf2, "during") == {"10.17.0.2"}, "during to resolve")
    wait_for(lambda: resolve(conf2, "before") == {"10.17.0.3"}, "before to change")
    kz.create(env.host_path("after"), b"10.17.0.4")
    wait_for(lambda: resolve(conf2, "after") == {"10.17.0.4"}, "after to resolve")
    assert proc.poll() is None, daemon_log()


def teardown():
    if proc and proc.poll() is None:
        proc.terminate()
        assert proc.wait(timeout=30) == 0, daemon_log()
    if log:
        log.close()
    env.close()
    zk.close()


run_tests([setup, test_full_disk_keeps_last_snapshot, test_space_back_publishes, teardown])
