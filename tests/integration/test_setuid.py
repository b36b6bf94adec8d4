#!/usr/bin/python3
"""test_setuid - privileges: zkcached needs no privilege, its credentials
never leak, and set-id programs cannot be redirected through ZKHOSTS_CONF.

  * zkcached as nobody (setpriv --reuid=nobody --regid=nogroup
    --clear-groups): with a cache directory owned by nobody under a
    root-owned 0755 parent and ZooKeeper digest credentials in a 0600 file
    owned by nobody, it syncs and publishes; the process holds no
    capability and no supplementary group; the module (as root and as
    another user) accepts the cache, since its files belong to the
    directory's owner. The secret never appears in the log (at -v -v, with
    the ZooKeeper client's own debug lines), the status file, the metrics
    file, the command line or the environment; a credentials file that
    the group may read is refused without printing the secret.
  * The module ignores ZKHOSTS_CONF and ZKHOSTS_NSS_BYPASS in a set-uid
    program: a set-uid-root copy of a small client (tests/stress/
    suid_resolve.c), run as nobody with ZKHOSTS_CONF pointing at a cache
    nobody made (answering 6.6.6.6), answers from the default config
    (/etc/zkhosts.conf, replaced inside a private mount namespace by an
    overlay so the host's /etc is untouched) instead; the same binary
    without the set-uid bit, as a control, does follow ZKHOSTS_CONF.
    The binary is placed in a directory whose mount allows set-uid
    (findmnt), executable only by root and group nogroup. This part needs
    a mount namespace (CAP_SYS_ADMIN): without one it skips, saying so.
Whatever runs as nobody or daemon (zkcached, the module, the set-uid
client, which is compiled here with the module path of its private copy)
is loaded from private 0755 directories, never from the checkout, whose
directories another user may not be able to enter (a clone under /root).
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import pwd
import grp
import shutil
import signal
import subprocess
import tempfile

import zkharness
from zkharness import ZooKeeper
from zkhdaemon import (BUILD, MODULE, ZKCACHED, SRC, Skip, lookup_env, require,
                       run_tests, wait_for, read_status, private_module_dir)

SUID_SRC = os.path.join(SRC, "tests/stress/suid_resolve.c")
PUBLISH = os.path.join(BUILD, "tests/tools/zkh-publish")
SECRET = "Zkh-S3cret-%d" % os.getpid()
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
state = {}


def setup():
    require(ZKCACHED, MODULE, SUID_SRC, PUBLISH)
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        raise Skip("needs root and setpriv")
    state["nobody"] = pwd.getpwnam("nobody").pw_uid
    state["nogroup"] = grp.getgrnam("nogroup").gr_gid
    zkharness._install_handlers()
    state["zk"] = ZooKeeper().__enter__()
    state["dir"] = tempfile.mkdtemp(prefix="zkh-setuid-")
    os.chmod(state["dir"], 0o755)
    # what nobody and daemon run and load: copies in a private 0755 dir
    state["mods"] = private_module_dir(files=(ZKCACHED,))
    state["zkcached"] = os.path.join(state["mods"], "zkcached")


def other_user_env(conf):
    """lookup_env(conf), loading the module from the private copy."""
    return dict(lookup_env(conf), LD_LIBRARY_PATH=state["mods"])


def path(*p):
    return os.path.join(state["dir"], *p)


def write(p, text, mode=0o644, owner=None):
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, mode)
    if owner is not None:
        os.chown(p, owner, -1)


class NobodyDaemon:
    """zkcached under setpriv as nobody; killed at exit."""

    def __init__(self, conf, log, args=()):
        self.log_path = log
        self.log_file = open(log, "ab")
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        self.proc = subprocess.Popen(
            AS_NOBODY + ["--pdeathsig", "KILL", state["zkcached"], "-c", conf] + list(args),
            env=env, stdin=subprocess.DEVNULL, stdout=self.log_file,
            stderr=subprocess.STDOUT, preexec_fn=zkharness._pdeathsig)
        zkharness._live.add(self)

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
        zkharness._live.discard(self)


def proc_field(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].split()
    return None


def test_daemon_as_nobody():
    zk, nobody = state["zk"], state["nobody"]
    from kazoo.security import make_digest_acl
    kz = zk.kazoo(auth_data=[("digest", "zkh:" + SECRET)])
    acl = [make_digest_acl("zkh", SECRET, all=True)]
    kz.create("/priv", b"", acl=acl)
    kz.create("/priv/hosts", b"", acl=acl)
    kz.create("/priv/hosts/unpriv1", b"10.8.0.1", acl=acl)
    cache = path("cache")
    os.mkdir(cache, 0o755)
    os.chown(cache, nobody, state["nogroup"])
    auth = path("auth")
    write(auth, "digest:zkh:%s\n" % SECRET, 0o600, nobody)
    conf = path("zkhosts.conf")
    write(conf, "zookeeper = %s\nroot = /priv\ncache = %s\nauth_file = %s\n"
          "metrics_file = %s/metrics.prom\nsession_timeout = 2000\n"
          % (zk.connect_string, cache, auth, cache))
    d = NobodyDaemon(conf, path("zkcached.log"), ["-v", "-v"])
    state["daemon"] = d
    try:
        wait_for(lambda: read_status(cache).get("state") == "connected"
                 or d.proc.poll() is not None, "zkcached as nobody to sync")
        assert d.proc.poll() is None, "zkcached exited:\n" + d.log()
        pid = int(read_status(cache)["pid"])
        # no privilege at all
        assert proc_field(pid, "Uid") == [str(nobody)] * 4, proc_field(pid, "Uid")
        assert proc_field(pid, "Gid") == [str(state["nogroup"])] * 4
        assert proc_field(pid, "Groups") in ([], None), proc_field(pid, "Groups")
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            assert int(proc_field(pid, cap)[0], 16) == 0, (cap, proc_field(pid, cap))
        # it publishes, the files are nobody's, and the module accepts them
        wait_for(lambda: lookup_ok(path("zkhosts.conf"), "unpriv1", "10.8.0.1"),
                 "unpriv1 to resolve from nobody's cache")
        kz.create("/priv/hosts/unpriv2", b"10.8.0.2", acl=acl)
        wait_for(lambda: lookup_ok(conf, "unpriv2", "10.8.0.2"), "a change")
        for name in ("hosts.mdb", "generation", "status", ".master"):
            st = os.lstat(os.path.join(cache, name))
            assert st.st_uid == nobody, (name, st.st_uid)
            assert st.st_mode & 0o022 == 0, (name, oct(st.st_mode))
        r = subprocess.run(AS_NOBODY[:1] + ["--reuid=daemon", "--regid=daemon",
                           "--clear-groups", "getent", "-s", "hosts:zk", "hosts",
                           "unpriv2"], env=other_user_env(conf), capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and r.stdout.split()[0] == "10.8.0.2", r
        # the secret is nowhere to be read
        wait_for(lambda: os.path.exists(os.path.join(cache, "metrics.prom")),
                 "metrics file")
        places = {"log": d.log()}
        for name in ("status", "metrics.prom"):
            with open(os.path.join(cache, name), errors="replace") as f:
                places[name] = f.read()
        for name in ("cmdline", "environ"):
            with open("/proc/%d/%s" % (pid, name), "rb") as f:
                places[name] = f.read().decode(errors="replace")
        assert "zkcached: debug:" in places["log"], "not logging at debug level"
        for where, text in places.items():
            assert SECRET not in text, "secret in the %s" % where
    finally:
        d.close()
    # a credentials file the group may read is refused, quietly
    os.chmod(auth, 0o640)
    r = subprocess.run(AS_NOBODY + [state["zkcached"], "-c", conf, "-v"], env=dict(
        os.environ), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "auth" in r.stderr, (r.returncode, r.stderr)
    assert SECRET not in r.stderr + r.stdout, "secret in the refusal"


def lookup_ok(conf, name, addr):
    r = subprocess.run(["getent", "-s", "hosts:zk", "hosts", name],
                       env=lookup_env(conf), capture_output=True, text=True,
                       timeout=60)
    return r.returncode == 0 and r.stdout.split()[:1] == [addr]


def suid_capable_dir():
    """A fresh root-owned directory on a mount without nosuid, or None."""
    for base in (tempfile.gettempdir(), "/var/tmp", os.path.join(BUILD, "tests")):
        r = subprocess.run(["findmnt", "-n", "-o", "OPTIONS", "-T", base],
                           capture_output=True, text=True)
        if r.returncode == 0 and "nosuid" not in r.stdout.split(","):
            d = tempfile.mkdtemp(prefix="zkh-suid-", dir=base)
            os.chmod(d, 0o755)
            return d
    return None


def publish(cache, addr, owner=None):
    hosts = cache + ".hosts"
    write(hosts, "%s victim\n10.8.1.1 other\n" % addr)
    subprocess.run([PUBLISH, cache, hosts], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)
    if owner is not None:
        for root, dirs, files in os.walk(cache):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), owner, -1)
        os.chown(cache, owner, -1)


def run_client(binary, overlay, extra_env):
    """Run binary as nobody inside a mount namespace whose /etc is an
    overlay holding our zkhosts.conf; returns the parsed output line."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "ZKHOSTS_CONF": path("evil.conf")}
    env.update(extra_env)
    upper, work = overlay
    script = ('w=$1; shift; mount -t overlay overlay -o lowerdir=/etc,'
              'upperdir="$0",workdir="$w" /etc || exit 99; exec "$@"')
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        script, upper, work] + AS_NOBODY + [binary, "victim"],
                       env=env, capture_output=True, text=True, timeout=60)
    if r.returncode == 99:
        raise Skip("no overlay mount in a mount namespace: %s" % r.stderr.strip())
    assert r.returncode == 0, (binary, r.returncode, r.stdout, r.stderr)
    f = r.stdout.split()
    return dict(zip(f[0::2], f[1::2]))


def build_client(sdir):
    """Compile tests/stress/suid_resolve.c into sdir with the module path of
    a copy of the module placed there (the build tree's own client names
    the checkout, which another user may not be able to reach), with the
    build's sanitizers when it has them. Returns the binary's path."""
    mod = os.path.join(sdir, "libnss_zk.so.2")
    shutil.copyfile(MODULE, mod)
    os.chmod(mod, 0o755)
    out = os.path.join(sdir, "client")
    cc = os.environ.get("CC") or "cc"
    cmd = [cc, "-std=gnu11", "-D_GNU_SOURCE", "-O1", "-g",
           '-DZKH_MODULE_PATH="%s"' % mod, "-o", out, SUID_SRC, "-ldl"]
    san = os.environ.get("SANITIZE")
    if san:
        cmd[1:1] = ["-fsanitize=" + san, "-fno-omit-frame-pointer"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "compiling the set-uid client: %s" % r.stderr
    return out


def test_module_ignores_conf_in_setuid():
    nobody = state["nobody"]
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise Skip("set-uid check needs a mount namespace (CAP_SYS_ADMIN) for its "
                   "overlay /etc: %s" % probe.stderr.strip())
    for d in ("sys", "evil"):
        os.mkdir(path(d), 0o755)
    publish(path("sys", "cache"), "10.0.0.1")
    publish(path("evil", "cache"), "6.6.6.6", owner=nobody)
    write(path("evil.conf"), "cache = %s\n" % path("evil", "cache"), 0o644, nobody)
    os.makedirs(path("upper"))
    os.makedirs(path("work"))
    write(path("upper", "zkhosts.conf"), "cache = %s\n" % path("sys", "cache"))
    overlay = (path("upper"), path("work"))

    sdir = suid_capable_dir()
    if sdir is None:
        raise Skip("no mount without nosuid for the set-uid copy")
    state["suid_dir"] = sdir
    client = build_client(sdir)
    suid = os.path.join(sdir, "suid_resolve")
    plain = os.path.join(sdir, "plain_resolve")
    shutil.copy(client, suid)
    shutil.copy(client, plain)
    os.chown(suid, 0, state["nogroup"])
    os.chmod(suid, 0o4750)
    os.chmod(plain, 0o755)

    # control: without set-uid, ZKHOSTS_CONF is followed (and so is bypass)
    out = run_client(plain, overlay, {})
    assert out["secure"] == "0" and out["addr"] == "6.6.6.6", out
    out = run_client(plain, overlay, {"ZKHOSTS_NSS_BYPASS": "1"})
    assert out["addr"] == "-", out
    # set-uid: the caller's ZKHOSTS_CONF and bypass are ignored
    out = run_client(suid, overlay, {})
    assert out["secure"] == "1" and out["euid"] == "0", out
    assert out["ruid"] == str(nobody) and out["conf_env"] == "yes", out
    assert out["addr"] == "10.0.0.1", "set-uid program followed ZKHOSTS_CONF: %s" % out
    out = run_client(suid, overlay, {"ZKHOSTS_NSS_BYPASS": "1"})
    assert out["addr"] == "10.0.0.1", "set-uid program honoured the bypass: %s" % out


def teardown():
    if state.get("mods"):
        shutil.rmtree(state["mods"], ignore_errors=True)
    if state.get("suid_dir"):
        shutil.rmtree(state["suid_dir"], ignore_errors=True)
    if state.get("dir") and os.environ.get("ZKH_KEEP") is None:
        shutil.rmtree(state["dir"], ignore_errors=True)
    if state.get("zk"):
        state["zk"].close()


if __name__ == "__main__":
    try:
        run_tests([setup, test_daemon_as_nobody, test_module_ignores_conf_in_setuid,
                   teardown])
    finally:
        for key in ("suid_dir", "mods", "dir"):
            if state.get(key):
                shutil.rmtree(state[key], ignore_errors=True)
