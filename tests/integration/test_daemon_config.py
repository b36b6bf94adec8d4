#!/usr/bin/python3
"""zkcached's command line and config: --help/--version, a bad config
(unknown key, bad value, missing zookeeper, missing file, bad auth_file
mode, stray argument) exits 2 naming file, line and key; auth_file with a
digest credential connects to a ZooKeeper whose root is protected by a
digest ACL; metrics_file is written; a ZooKeeper host name that does not
resolve leaves the daemon up, serving, with the error in its status."""
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

zk = env = None


def run(*args, conf=None):
    e = dict(os.environ)
    e.pop("LD_PRELOAD", None)
    if conf:
        e["ZKHOSTS_CONF"] = conf
    return subprocess.run([ZKCACHED] + list(args), capture_output=True, text=True,
                          timeout=30, env=e, stdin=subprocess.DEVNULL)


def setup():
    global zk, env
    require(ZKCACHED, MODULE)
    zk = ZooKeeper().__enter__()
    env = Env(zk).__enter__()


def test_help_version():
    r = run("--help")
    assert r.returncode == 0 and "-c" in r.stdout, r
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("zkcached "), r
    r = run("--bogus")
    assert r.returncode == 2, r
    r = run("-c", env.conf, "extra")
    assert r.returncode == 2 and "extra" in r.stderr, r


def bad(text, must, via_env=False):
    path = os.path.join(env.dir, "bad.conf")
    with open(path, "w") as f:
        f.write(text)
    r = run(conf=path) if via_env else run("-c", path)
    assert r.returncode == 2, (text, r.returncode, r.stderr)
    for m in must:
        assert m in r.stderr, "%r not in %r" % (m, r.stderr)


def test_bad_configs():
    good = "zookeeper = %s\ncache = %s\n" % (zk.connect_string, env.cache)
    bad(good + "colour = blue\n", ["bad.conf:3", "colour"])
    bad(good + "\nsession_timeout = soon\n", ["bad.conf:4", "session_timeout"])
    bad("# no zookeeper\ncache = %s\n" % env.cache, ["bad.conf", "zookeeper"], via_env=True)
    r = run("-c", os.path.join(env.dir, "missing.conf"))
    assert r.returncode == 2 and "missing.conf" in r.stderr, r
    auth = os.path.join(env.dir, "auth")
    with open(auth, "w") as f:
        f.write("digest:u:secret-word\n")
    os.chmod(auth, 0o644)
    bad(good + "auth_file = %s\n" % auth, ["auth"])
    r = run("-c", os.path.join(env.dir, "bad.conf"))
    assert "secret-word" not in r.stderr + r.stdout, "secret leaked"


def test_auth_digest_and_metrics():
    from kazoo.security import make_digest_acl
    kz = zk.kazoo(auth_data=[("digest", "zkh:pw")])
    acl = [make_digest_acl("zkh", "pw", all=True)]
    kz.create("/secure", b"", acl=acl)
    kz.create("/secure/hosts", b"", acl=acl)
    kz.create("/secure/hosts/locked", b"10.7.0.1", acl=acl)
    auth = os.path.join(env.dir, "auth")
    with open(auth, "w") as f:
        f.write("digest:zkh:pw\n")
    os.chmod(auth, 0o600)
    metrics = os.path.join(env.dir, "zkhosts.prom")
    env.write_conf(root="/secure", auth_file=auth, metrics_file=metrics)
    d = env.daemon()
    env.wait_resolves("locked", {"10.7.0.1"})
    wait_for(lambda: os.path.exists(metrics), "metrics file")
    with open(metrics) as f:
        text = f.read()
    assert "zkhosts_" in text, text
    assert "pw" not in d.log().replace("pwd", ""), "credential in the log"
    assert d.stop() == 0


def test_unresolvable_zookeeper_stays_up():
    env.write_conf(zookeeper="no-such-host.invalid:2181")
    d = env.daemon()
    env.wait_status(lambda s: "no-such-host.invalid" in s.get("last_error", ""),
                    "resolution error in the status file")
    # still serving the snapshot of the previous test
    assert env.resolve("locked") == {"10.7.0.1"}
    assert d.alive()
    assert d.stop() == 0


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_help_version, test_bad_configs, test_auth_digest_and_metrics,
           test_unresolvable_zookeeper_stays_up, teardown])
