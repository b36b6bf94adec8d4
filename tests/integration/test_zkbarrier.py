#!/usr/bin/python3
"""test_zkbarrier - zkbarrier against a real ZooKeeper (tests/lib/zkharness).

Every command and every documented exit status: bad arguments and bad
config (2, with FILE:LINE: key), unreachable ZooKeeper (3), get of a
missing service (1), set/get, a wait already satisfied, waits released by
kazoo and by zkCli.sh (never by zkbarrier itself), a wait that other
states, deletes and session events do not release, a wait timing out (1),
a wait surviving a forced session expiry and a server restart, ACL errors
and auth_file, and `hosts` resolving through the real NSS chain (`hosts:
zk` chosen in-process by the nss_select.so preload shim, no privilege
needed) as a cache appears and fills.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkharness  # noqa: E402
from zkharness import ZooKeeper  # noqa: E402
from toolenv import BUILD, Env, Skip, require, run_tests, select_env, wait_for  # noqa: E402

ZKBARRIER = os.path.join(BUILD, "zkbarrier")
PUBLISH = os.path.join(BUILD, "tests", "tools", "zkh-publish")
HANG_GUARD = 60  # seconds: a hung process fails the test, it is no timing

state = {}


def run(conf, *args, env=None, timeout=HANG_GUARD):
    cmd = [ZKBARRIER] + (["-c", conf] if conf else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)


def start(conf, *args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.Popen([ZKBARRIER, "-c", conf] + list(args), env=e,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=zkharness._pdeathsig)
    state.setdefault("procs", []).append(p)
    return p


def still_running(p, secs=1.0):
    """True if p has not exited after `secs` (an outcome, not a timing)."""
    try:
        p.wait(timeout=secs)
    except subprocess.TimeoutExpired:
        return True
    return False


def finish(p, timeout=HANG_GUARD):
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def boot(name):
    return "/zkhosts/boot/" + name


def expect(r, code, *needles):
    assert r.returncode == code, "exit %d, wanted %d; stderr: %s" % (r.returncode, code, r.stderr)
    for n in needles:
        assert n in r.stderr, "%r not in stderr: %s" % (n, r.stderr)


# ---- no ZooKeeper needed ----------------------------------------------------

def test_usage_errors():
    conf = state["env"].conf
    expect(run(conf), 2, "missing command")
    expect(run(conf, "frobnicate"), 2, "unknown command 'frobnicate'")
    expect(run(conf, "set", "nn"), 2, "SERVICE STATE")
    expect(run(conf, "wait", "nn", "up", "extra"), 2, "SERVICE STATE")
    expect(run(conf, "get"), 2, "SERVICE")
    expect(run(conf, "hosts"), 2, "NAME")
    expect(run(conf, "set", "bad/name", "up"), 2, "bad service name 'bad/name'")
    expect(run(conf, "set", "-nn", "up"), 2, "unknown option '-nn'")
    expect(run(conf, "set", "nn", "two words"), 2, "bad state 'two words'")
    expect(run(conf, "set", "nn", "x" * 65), 2, "bad state")
    expect(run(conf, "wait", "nn", "up", "--timeout", "soon"), 2, "bad timeout 'soon'")
    expect(run(conf, "wait", "nn", "up", "--timeout"), 2, "needs a value")
    expect(run(conf, "hosts", "bad..name"), 2, "bad host name 'bad..name'")
    expect(run(conf, "--bogus", "get", "nn"), 2, "unknown or incomplete option")
    r = run(None, "--help")
    assert r.returncode == 0 and "wait SERVICE STATE" in r.stdout and "Exit status" in r.stdout
    r = run(None, "--version")
    assert r.returncode == 0 and r.stdout.startswith("zkbarrier ")


def test_bad_config():
    d = state["env"].dir
    bad = os.path.join(d, "bad.conf")
    with open(bad, "w") as f:
        f.write("zookeeper = 127.0.0.1:2\nbogus_key = 1\n")
    expect(run(bad, "get", "nn"), 2, "bad.conf:2", "bogus_key")
    with open(bad, "w") as f:
        f.write("# nothing\nroot = /zkhosts\n")
    expect(run(bad, "get", "nn"), 2, "bad.conf", "zookeeper")
    with open(bad, "w") as f:
        f.write("zookeeper = fd00::1:2181\n")
    expect(run(bad, "get", "nn"), 2, "key 'zookeeper'", "fd00::1:2181")
    expect(run(os.path.join(d, "missing.conf"), "get", "nn"), 2, "missing.conf")
    env = dict(os.environ, ZKHOSTS_CONF=bad)
    r = subprocess.run([ZKBARRIER, "get", "nn"], capture_output=True, text=True,
                       timeout=HANG_GUARD, env=env)
    expect(r, 2, "bad.conf")


def test_unreachable():
    d = state["env"].dir
    conf = os.path.join(d, "closed.conf")
    with open(conf, "w") as f:
        f.write("zookeeper = 127.0.0.1:%d\nsession_timeout = 2000\n" % zkharness.free_port())
    expect(run(conf, "get", "nn", "--timeout", "1"), 3, "unreachable")
    expect(run(conf, "set", "nn", "up", "--timeout", "1"), 3, "unreachable")
    expect(run(conf, "wait", "nn", "up", "--timeout", "1"), 3, "unreachable")
    # Every server refuses outright: set and get give up without waiting
    # for their 30 s default (the message says why, not "deadline").
    expect(run(conf, "get", "nn"), 3, "refused the connection")
    expect(run(conf, "set", "nn", "up"), 3, "refused the connection")


def test_silent_server_gets_the_timeout():
    """A server that takes the TCP connection but never answers (slow,
    partitioned) is not "refused": the command waits for its deadline."""
    import socket
    d = state["env"].dir
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)  # never accepted, never answered
        conf = os.path.join(d, "silent.conf")
        with open(conf, "w") as f:
            f.write("zookeeper = 127.0.0.1:%d\n" % ls.getsockname()[1])
        r = run(conf, "get", "nn", "--timeout", "3")
        expect(r, 3, "before the deadline")
        assert "refused" not in r.stderr, r.stderr


def start_logged(conf, *args):
    """Start zkbarrier with stderr going to a file (read while it runs)."""
    log = os.path.join(state["env"].dir, "log-%d" % len(state.setdefault("procs", [])))
    f = open(log, "w")
    p = subprocess.Popen([ZKBARRIER, "-c", conf] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=f,
                         preexec_fn=zkharness._pdeathsig)
    f.close()
    state["procs"].append(p)
    return p, log


def log_has(log, *needles):
    with open(log) as f:
        text = f.read()
    return all(n in text for n in needles) and text


def test_wait_is_never_silent():
    """wait and hosts say on stderr what they still wait for and why, also
    without -v: not connected (servers refuse), names of the ensemble not
    resolving, the state the node holds now, names not resolving."""
    env, kz = state["env"], state["kz"]
    d = env.dir
    port = zkharness.free_port()
    refused = os.path.join(d, "refused.conf")
    with open(refused, "w") as f:
        f.write("zookeeper = 127.0.0.1:%d\n" % port)
    noname = os.path.join(d, "noname.conf")
    with open(noname, "w") as f:
        f.write("zookeeper = zk-nosuch.invalid:2181\n")
    kz.ensure_path(boot("zkquiet"))
    kz.set(boot("zkquiet"), b"boot")
    cases = [
        (start_logged(refused, "wait", "zkquiet", "up"),
         ["zkbarrier: still waiting: not connected to ZooKeeper 127.0.0.1:%d" % port,
          "connection refused by every server"]),
        (start_logged(noname, "wait", "zkquiet", "up"),
         ["zkbarrier: still waiting: not connected to ZooKeeper zk-nosuch.invalid:2181",
          "names not yet resolving: zk-nosuch.invalid"]),
        (start_logged(env.conf, "wait", "zkquiet", "up"),
         ["zkbarrier: still waiting: waiting for state 'up' of zkquiet, now 'boot'"]),
        (start_logged(env.conf, "hosts", "nosuch-a.invalid", "nosuch-b.invalid"),
         ["zkbarrier: still waiting: names not yet resolving: nosuch-a.invalid, "
          "nosuch-b.invalid"]),
    ]
    for (p, log), needles in cases:
        wait_for(lambda: log_has(log, *needles) or p.poll() is not None,
                 "progress line %r" % needles, timeout=HANG_GUARD)
        assert p.poll() is None, "exited %s: %s" % (p.returncode, open(log).read())
        assert log_has(log, *needles), open(log).read()
    # A refused wait goes on: ZooKeeper may come up later in a booting cluster.
    for (p, log), _ in cases:
        p.kill()
        p.wait()


def test_hosts_plain_names():
    conf = state["env"].conf
    r = run(conf, "hosts", "localhost", "--timeout", "5")
    expect(r, 0)
    r = run(conf, "hosts", "localhost", "no-such-host.invalid", "--timeout", "0.5")
    expect(r, 1, "still not resolving: no-such-host.invalid")
    assert "localhost" not in r.stderr.split("resolving:")[1]


# ---- against ZooKeeper --------------------------------------------------------

def test_set_get():
    conf, kz = state["env"].conf, state["kz"]
    expect(run(conf, "get", "nn"), 1, "service 'nn' has no state", boot("nn"))
    expect(run(conf, "set", "nn", "boot"), 0)
    assert kz.get(boot("nn"))[0] == b"boot"
    r = run(conf, "get", "nn")
    expect(r, 0)
    assert r.stdout == "boot\n"
    expect(run(conf, "set", "nn", "up"), 0)
    assert kz.get(boot("nn"))[0] == b"up"
    kz.set(boot("nn"), b"up\n")  # another writer's trailing newline
    assert run(conf, "get", "nn").stdout == "up\n"


def test_wait_already_satisfied():
    conf, kz = state["env"].conf, state["kz"]
    kz.ensure_path(boot("dn"))
    kz.set(boot("dn"), b"boot")
    expect(run(conf, "wait", "dn", "boot", "--timeout", "5"), 0)


def test_wait_timeout():
    conf, kz = state["env"].conf, state["kz"]
    kz.ensure_path(boot("rm"))
    kz.set(boot("rm"), b"down")
    expect(run(conf, "wait", "rm", "up", "--timeout", "0.5"), 1,
           "timed out", "is 'down', not 'up'")
    expect(run(conf, "wait", "never-created", "up", "--timeout", "0.5"), 1,
           "does not exist")


def test_wait_released_by_kazoo():
    conf, kz = state["env"].conf, state["kz"]
    p = start(conf, "wait", "hs", "up")
    assert still_running(p), finish(p)
    kz.create(boot("hs"), b"booting", makepath=True)  # created: other state
    assert still_running(p), finish(p)
    kz.set(boot("hs"), b"upx")                         # near miss
    assert still_running(p), finish(p)
    kz.delete(boot("hs"))                              # gone again
    assert still_running(p), finish(p)
    kz.create(boot("hs"), b"up")
    rc, out, err = finish(p)
    assert rc == 0, err


def test_wait_released_by_zkcli():
    conf, kz, zk = state["env"].conf, state["kz"], state["zk"]
    kz.ensure_path(boot("nm"))
    kz.set(boot("nm"), b"boot")
    p = start(conf, "wait", "nm", "up")
    assert still_running(p, 0.5), finish(p)
    r = zk.zkcli("set", boot("nm"), "up")
    assert r.returncode == 0, r.stderr
    rc, out, err = finish(p)
    assert rc == 0, err
    assert kz.get(boot("nm"))[0] == b"up"


def read_session(path):
    try:
        with open(path) as f:
            sid, pw = f.read().split()
    except (FileNotFoundError, ValueError):
        return None
    return int(sid, 16), bytes.fromhex(pw)


def test_wait_survives_session_expiry():
    env, kz, zk = state["env"], state["kz"], state["zk"]
    sfile = os.path.join(env.dir, "session")
    kz.ensure_path(boot("jh"))
    kz.set(boot("jh"), b"boot")
    p = start(env.conf, "wait", "jh", "up", "-v",
              env={"ZKHOSTS_DEBUG_SESSION_FILE": sfile})
    first = wait_for(lambda: read_session(sfile), "zkbarrier's session")
    assert os.stat(sfile).st_mode & 0o077 == 0
    # Paused, it cannot take the session back while the second handle
    # (same client id) is opened and closed; resumed, it finds it expired.
    os.kill(p.pid, signal.SIGSTOP)
    try:
        zk.expire_session(*first)
    finally:
        os.kill(p.pid, signal.SIGCONT)
    second = wait_for(lambda: (read_session(sfile) or first)[0] != first[0] and read_session(sfile),
                      "a new session after expiry")
    assert second[0] != first[0]
    assert still_running(p, 0.5), finish(p)
    kz.set(boot("jh"), b"up")
    rc, out, err = finish(p)
    assert rc == 0, err
    assert "session expired" in err, err


def test_wait_survives_server_restart():
    env, zk = state["env"], state["zk"]
    sfile = os.path.join(env.dir, "session2")
    kz = state["kz"]
    kz.ensure_path(boot("zkfc"))
    kz.set(boot("zkfc"), b"boot")
    p = start(env.conf, "wait", "zkfc", "up", env={"ZKHOSTS_DEBUG_SESSION_FILE": sfile})
    wait_for(lambda: read_session(sfile), "zkbarrier's session")
    zk.release(kz)
    zk.stop(0)
    assert still_running(p, 1.5), finish(p)
    zk.start(0)
    assert still_running(p, 0.5), finish(p)
    kz = state["kz"] = zk.kazoo()
    assert kz.get(boot("zkfc"))[0] == b"boot"
    kz.set(boot("zkfc"), b"up")
    rc, out, err = finish(p)
    assert rc == 0, err


def test_acl_and_auth_file():
    env, kz = state["env"], state["kz"]
    from kazoo.security import make_digest_acl
    kz.create(boot("secret"), b"up", acl=[make_digest_acl("admin", "s3cret", all=True)],
              makepath=True)
    expect(run(env.conf, "get", "secret"), 3, "not authorised")
    auth = os.path.join(env.dir, "auth")
    with open(auth, "w") as f:
        f.write("digest:admin:s3cret\n")
    os.chmod(auth, 0o644)
    conf = env.write_conf(path=os.path.join(env.dir, "auth.conf"), auth_file=auth)
    r = run(conf, "get", "secret")
    expect(r, 2, "auth_file", "mode 0600")
    assert "s3cret" not in r.stderr
    os.chmod(auth, 0o600)
    r = run(conf, "get", "secret")
    expect(r, 0)
    assert r.stdout == "up\n"
    expect(run(conf, "set", "secret", "down"), 0)
    kz_admin = state["zk"].kazoo(auth_data=[("digest", "admin:s3cret")])
    assert kz_admin.get(boot("secret"))[0] == b"down"
    with open(auth, "w") as f:
        f.write("digest:admin:wrong\n")
    r = run(conf, "get", "secret")
    expect(r, 3, "not authorised")
    assert "wrong" not in r.stderr


def test_root_and_chroot():
    env, kz, zk = state["env"], state["kz"], state["zk"]
    conf = env.write_conf(path=os.path.join(env.dir, "chroot.conf"),
                          zookeeper=zk.connect_string + "/cluster-a", root="/x")
    kz.ensure_path("/cluster-a")
    expect(run(conf, "set", "svc", "boot"), 0)
    assert kz.get("/cluster-a/x/boot/svc")[0] == b"boot"


def ns_env():
    """zkbarrier's environment: its own config, `hosts: zk` selected
    in-process (nss_select.so), the module from the build tree."""
    return select_env(state["env"].conf, "zk")


def publish(hosts):
    env = state["env"]
    hf = os.path.join(env.dir, "hosts.in")
    with open(hf, "w") as f:
        for name, addr in hosts.items():
            f.write("%s %s\n" % (addr, name))
    subprocess.run([PUBLISH, env.cache, hf], check=True, timeout=HANG_GUARD,
                   capture_output=True)


def test_hosts_through_nss():
    require(os.path.join(BUILD, "libnss_zk.so.2"), PUBLISH)
    env = state["env"]
    assert not os.path.exists(env.cache)
    p = subprocess.Popen([ZKBARRIER, "hosts", "alpha", "beta", "-v"], env=ns_env(),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=zkharness._pdeathsig)
    state.setdefault("procs", []).append(p)
    assert still_running(p, 1.0), finish(p)       # no cache at all yet
    publish({"alpha": "10.9.0.1"})
    wait_for(lambda: os.path.exists(os.path.join(env.cache, "hosts.mdb")), "a snapshot")
    assert still_running(p, 1.5), finish(p)       # beta still missing
    publish({"alpha": "10.9.0.1", "beta": "10.9.0.2"})
    rc, out, err = finish(p)
    assert rc == 0, err
    assert "alpha resolves" in err and "beta resolves" in err
    # a name that never appears: timeout, named
    r = subprocess.run([ZKBARRIER, "hosts", "alpha", "gamma", "--timeout", "0.5"],
                       env=ns_env(), capture_output=True, text=True, timeout=HANG_GUARD)
    expect(r, 1, "still not resolving: gamma")


def main():
    tests = [test_usage_errors, test_bad_config, test_unreachable,
             test_silent_server_gets_the_timeout, test_hosts_plain_names,
             test_set_get, test_wait_already_satisfied, test_wait_timeout,
             test_wait_is_never_silent,
             test_wait_released_by_kazoo, test_wait_released_by_zkcli,
             test_wait_survives_session_expiry, test_wait_survives_server_restart,
             test_acl_and_auth_file, test_root_and_chroot, test_hosts_through_nss]
    try:
        require(ZKBARRIER)
    except Skip as e:
        print(e)
        sys.exit(77)
    with ZooKeeper() as zk, Env(zk) as env:
        state.update(zk=zk, env=env, kz=zk.kazoo())
        try:
            run_tests(tests)
        finally:
            for p in state.get("procs", []):
                if p.poll() is None:
                    p.kill()
                    p.wait()


if __name__ == "__main__":
    main()
