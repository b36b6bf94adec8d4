#!/usr/bin/python3
"""The container sidecar layout (packaging/docker/README.md), with
namespaces standing in for containers: zkcached runs in a "sidecar" (its own
user, PID and mount namespaces) where a private tmpfs over /var/cache holds
/var/cache/zkcached, a bind mount of a shared "volume" directory it writes;
each "application" runs in other namespaces of the same kind where the same
volume is bind-mounted read-only at /var/cache/zkcached and resolves
through `hosts: files zk dns` (the nss_select.so shim and a private copy of
the module, as an application image has its own), and `zkhostctl status
--live` there, in another PID namespace than the daemon's, reads it alive.
Checked: names resolve in the application, records added later reach it,
the application cannot write the cache, the health check passes across
namespaces, and after the sidecar is killed the application still resolves
from the last snapshot while the health check reads down (exit 3). Needs
`unshare --user --map-root-user --pid --mount` and mounts inside it
(skipped with the reason where the kernel or a sandbox refuses them)."""
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import (BUILD, Env, Skip, require, run_tests, wait_for, read_status,  # noqa: E402
                       select_env, private_module_dir, ZKCACHED, MODULE, NSS_SELECT)

ZKHOSTCTL = os.path.join(BUILD, "zkhostctl")
CACHE = "/var/cache/zkcached"
UNSHARE = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child",
           "--mount", "--propagation", "private"]
# The "container" view: a private tmpfs over /var/cache (so nothing of the
# machine's own /var/cache is touched) holding the volume at CACHE, read-only
# for an application ($ZKH_RO=1). Then exec the command.
CONTAINER_SH = r'''set -e
mount -t tmpfs -o mode=0755,size=1m zkh-container /var/cache
mkdir /var/cache/zkcached
mount --bind "$ZKH_VOLUME" /var/cache/zkcached
if [ "$ZKH_RO" = 1 ]; then mount -o remount,bind,ro /var/cache/zkcached; fi
exec "$@"
'''
zk = env = kz = sidecar = moddir = None
volume = app_conf = None


def container(cmd, ro, extra_env=None, **kw):
    e = dict(extra_env if extra_env is not None else os.environ)
    e["ZKH_VOLUME"] = volume
    e["ZKH_RO"] = "1" if ro else "0"
    return UNSHARE + ["sh", "-c", CONTAINER_SH, "container"] + list(cmd), e


def app(*cmd, nss=False):
    """Run cmd in a fresh application "container"; (exit code, output)."""
    base = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if nss:
        e = select_env(conf=app_conf, hosts="files zk dns", base=base)
        e["LD_LIBRARY_PATH"] = moddir   # the application image's own module
    else:
        e = dict(base, ZKHOSTS_CONF=app_conf)
    # the shim and the module apply to the program, not to unshare and sh
    pre = {k: e.pop(k) for k in ("LD_PRELOAD", "LD_LIBRARY_PATH") if k in e}
    argv, e = container(["env"] + ["%s=%s" % kv for kv in pre.items()] + list(cmd), True, e)
    r = subprocess.run(argv, env=e, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def app_resolves(name):
    rc, out = app("getent", "hosts", name, nss=True)
    return out.split()[0] if rc == 0 and out.strip() else None


def setup():
    global zk, env, kz, sidecar, moddir, volume, app_conf
    require(ZKCACHED, MODULE, ZKHOSTCTL, NSS_SELECT)
    probe = subprocess.run(UNSHARE + ["sh", "-c", "mount -t tmpfs zkh-probe /var/cache && "
                                      "mkdir /var/cache/a /var/cache/b && "
                                      "mount --bind /var/cache/a /var/cache/b && "
                                      "mount -o remount,bind,ro /var/cache/b"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise Skip("cannot make user, PID and mount namespaces with bind mounts here "
                   "(unshare --user --pid --mount: %s)"
                   % (probe.stderr.strip().splitlines() or ["exit %d" % probe.returncode])[-1])
    zk = ZooKeeper().__enter__()
    env = Env(zk, session_timeout=2000).__enter__()
    volume = os.path.join(env.dir, "volume")
    os.mkdir(volume, 0o755)
    os.chmod(volume, 0o755)
    # one config for both, as an operator mounts the same file into the
    # sidecar and the applications; the cache at its packaged path
    env.write_conf(cache=CACHE)
    app_conf = env.conf
    moddir = private_module_dir()
    log = open(os.path.join(env.dir, "zkcached.sidecar.log"), "ab")
    argv, e = container([ZKCACHED, "-c", env.conf], False,
                        {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    sidecar = subprocess.Popen(argv, env=e, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT)
    log.close()
    kz = zk.kazoo()
    kz.create(env.host_path("web1"), b"10.8.0.1", makepath=True)

    def synced():
        assert sidecar.poll() is None, "the sidecar exited %s:\n%s" % (
            sidecar.returncode, open(os.path.join(env.dir, "zkcached.sidecar.log")).read())
        return read_status(volume).get("state") == "connected"
    wait_for(synced, "the sidecar's zkcached to connect and write the volume")


def test_volume_written_by_sidecar_only():
    assert os.path.exists(os.path.join(volume, "status")), os.listdir(volume)
    # the cache is not where the machine keeps its own: only the volume has it
    assert not os.path.exists(os.path.join(CACHE, "status")) or \
        os.stat(os.path.join(CACHE, "status")).st_ino != os.stat(os.path.join(volume, "status")).st_ino
    rc, out = app("sh", "-c", "touch /var/cache/zkcached/x")
    assert rc != 0 and "Read-only" in out, (rc, out)
    assert not os.path.exists(os.path.join(volume, "x"))


def test_app_resolves_through_zk():
    assert wait_for(lambda: app_resolves("web1") == "10.8.0.1", "web1 in the application")
    # the answer comes from zk: with `files dns` only the name is unknown
    e = select_env(conf=app_conf, hosts="files",
                   base={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    e.pop("LD_LIBRARY_PATH", None)
    rc, out = app("env", "ZKH_NSS_HOSTS=files", "LD_PRELOAD=" + e["LD_PRELOAD"],
                  "getent", "hosts", "web1")
    assert rc == 2 and not out.strip(), (rc, out)
    # a record added later reaches the running application's cache view
    kz.create(env.host_path("web2"), b"10.8.0.2")
    wait_for(lambda: app_resolves("web2") == "10.8.0.2", "web2 (added later) in the application")


def test_health_across_pid_namespaces():
    s = read_status(volume)
    assert s.get("pid") == "1", "zkcached is not pid 1 of its own namespace: %s" % s
    rc, out = app(ZKHOSTCTL, "status", "--live")
    assert rc == 0, (rc, out)
    assert "another PID namespace" in out, out
    rc, out = app(ZKHOSTCTL, "status")
    assert rc == 0, (rc, out)


def test_sidecar_killed():
    sidecar.send_signal(signal.SIGKILL)   # unshare --kill-child takes zkcached with it
    sidecar.wait()
    # the last snapshot keeps answering in the application
    assert app_resolves("web1") == "10.8.0.1"
    # the health check reads down once the heartbeat is older than --max-age
    rc, out = wait_for(lambda: (lambda r: r if r[0] == 3 else None)(
        app(ZKHOSTCTL, "status", "--live", "--max-age", "1")), "the killed sidecar to read as down")
    assert "no heartbeat" in out, out


def teardown():
    if sidecar and sidecar.poll() is None:
        sidecar.kill()
        sidecar.wait()
    if moddir:
        shutil.rmtree(moddir, ignore_errors=True)
    if env:
        env.close()
    if zk:
        zk.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests([setup, test_volume_written_by_sidecar_only, test_app_resolves_through_zk,
               test_health_across_pid_namespaces, test_sidecar_killed, teardown])
