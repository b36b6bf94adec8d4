#!/usr/bin/python3
"""Liveness across PID namespaces: zkcached runs in its own PID namespace
(as in a sidecar container sharing the cache volume with an application
container) and `zkhostctl status` runs outside it, where the daemon's pid
means nothing. A healthy daemon must read as alive (by its heartbeat, the
status file's pidns telling the reader not to trust the pid), `--live`
stays 0 through a ZooKeeper outage while plain `status` reports the
staleness (exit 1), and a daemon killed with SIGKILL reads as down once
its heartbeat is older than --max-age. Needs `unshare --user --pid`
(skipped with the reason where the kernel or a sandbox refuses it)."""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import BUILD, Env, Skip, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

ZKHOSTCTL = os.path.join(BUILD, "zkhostctl")
UNSHARE = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child"]
zk = env = kz = d = None


def ctl_status(*args):
    r = subprocess.run([ZKHOSTCTL, "-c", env.conf, "status"] + list(args),
                       capture_output=True, text=True, timeout=30,
                       env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    return r.returncode, r.stdout + r.stderr


def setup():
    global zk, env, kz, d
    require(ZKCACHED, MODULE, ZKHOSTCTL)
    r = subprocess.run(UNSHARE + ["true"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip("cannot make a PID namespace here (unshare --user --pid: %s)"
                   % (r.stderr.strip() or "exit %d" % r.returncode))
    zk = ZooKeeper().__enter__()
    env = Env(zk, session_timeout=2000).__enter__()
    # the daemon in its own PID namespace (pid 1 there), this test outside
    log = open(os.path.join(env.dir, "zkcached.ns.log"), "ab")
    d = subprocess.Popen(UNSHARE + [ZKCACHED, "-c", env.conf], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT)
    kz = zk.kazoo()
    kz.create(env.host_path("ns1"), b"10.7.0.1", makepath=True)
    env.wait_resolves("ns1", {"10.7.0.1"})
    env.wait_status(lambda s: s.get("state") == "connected", "connected")


def test_other_namespace_reads_alive():
    s = env.status()
    assert s["pid"] != str(d.pid), "the daemon is not in another PID namespace: %s" % s
    assert s["pidns"] != str(os.stat("/proc/self/ns/pid").st_ino), s
    rc, out = ctl_status()
    assert rc == 0, (rc, out)
    assert "another PID namespace" in out, out
    rc, out = ctl_status("--live", "--json")
    assert rc == 0 and '"liveness_by": "heartbeat"' in out, (rc, out)


def test_outage_live_but_stale():
    global kz
    zk.release(kz)
    zk.stop_all()
    env.wait_status(lambda s: s.get("state") == "disconnected", "disconnected")
    rc, out = ctl_status("--live")
    assert rc == 0, (rc, out)
    rc, out = ctl_status()
    assert rc == 1, (rc, out)
    zk.start_all()
    kz = zk.kazoo()
    env.wait_status(lambda s: s.get("state") == "connected", "reconnected")
    assert ctl_status()[0] == 0


def test_killed_reads_down():
    d.send_signal(signal.SIGKILL)
    d.wait()
    # no pid to check from here: down once the heartbeat is older than
    # --max-age (6 heartbeat intervals by default; 1 s here)
    rc, out = wait_for(lambda: (lambda r: r if r[0] == 3 else None)(ctl_status("--live", "--max-age", "1")),
                       "the dead daemon to read as down")
    assert re.search(r"no heartbeat .* dead or hung", out), out


def teardown():
    if d and d.poll() is None:
        d.kill()
        d.wait()
    if env:
        env.close()
    if zk:
        zk.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests([setup, test_other_namespace_reads_alive, test_outage_live_but_stale,
               test_killed_reads_down, teardown])
