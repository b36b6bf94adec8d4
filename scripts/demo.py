#!/usr/bin/python3
"""demo.py - zkhosts end to end on one machine, in about twenty seconds.

Starts a throwaway ZooKeeper on a free loopback port, a zkcached that syncs
it into a private cache directory, then plays the part of a cluster: hosts
register themselves in ZooKeeper (ephemeral znodes, as every node's zkcached
does) and an admin adds a static record. Every answer is then read through
real glibc: `getent -s hosts:zk` and a Python program whose socket module
calls getaddrinfo/gethostbyaddr after selecting `hosts: files zk` for
itself with glibc's __nss_configure_lookup (what `getent -s` does), so no
mount namespace, no privilege and no change to /etc/nsswitch.conf is
needed. Nothing on the machine is changed; everything is stopped and
removed at the end, also on failure. Each step checks what it shows: the
demo exits 1 naming every step whose outcome was wrong, 0 when all were
right.

Run from the repository (`make demo` installs the packages and builds
zkcached and the module first); root is not needed.
"""

import os
import subprocess
import sys
import tempfile
import time

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("ZKH_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import zkharness  # noqa: E402
import zkhdaemon  # noqa: E402

RESOLVER = r"""
import ctypes, socket, sys
libc = ctypes.CDLL(None)
if getattr(libc, "__nss_configure_lookup")(b"hosts", b"files zk") != 0:
    sys.exit("__nss_configure_lookup refused 'files zk'")
for name in sys.argv[1:]:
    try:
        addrs = sorted({ai[4][0] for ai in socket.getaddrinfo(name, None)})
        back = [f"{a} -> {socket.gethostbyaddr(a)[0]}" for a in addrs]
        print(f"  python getaddrinfo({name!r}) -> {', '.join(addrs)};  gethostbyaddr: {', '.join(back)}")
    except OSError as e:
        print(f"  python getaddrinfo({name!r}) -> {e}")
"""


FAILED = []


def step(msg):
    print(f"\n== {msg}", flush=True)
    step.current = msg


def expect(cond, what):
    """Record a wrong outcome of the current step (the demo goes on, so
    every step is shown, and exits 1 at the end)."""
    if not cond:
        print(f"  FAILED: {what}", flush=True)
        FAILED.append(f"{step.current}: {what}")


def run(cmd, env, check=False):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    out = (r.stdout + r.stderr).rstrip()
    if check and r.returncode != 0:
        raise SystemExit(f"demo: {' '.join(cmd)} failed: {out}")
    return r.returncode, out


def getent(env, *args):
    rc, out = run(["getent", "-s", "hosts:zk", *args], env)
    return out if rc == 0 else f"(not found, exit {rc})"


def wait(pred, what, timeout=30):
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic() - start
        time.sleep(0.01)
    raise SystemExit(f"demo: timed out waiting for {what}")


def main():
    for f in ("zkcached", "libnss_zk.so.2"):
        if not os.path.exists(os.path.join(BUILD, f)):
            raise SystemExit(f"demo: {BUILD}/{f} missing: run `make` first")
    work = tempfile.mkdtemp(prefix="zkhosts-demo-")
    os.chmod(work, 0o755)
    cache = os.path.join(work, "cache")
    conf = os.path.join(work, "zkhosts.conf")
    daemon = None
    # getent and python load build/libnss_zk.so.2 (and, in a sanitizer
    # build, the sanitizer runtime it needs, preloaded).
    env = zkhdaemon.lookup_env(conf)
    try:
        step("starting a throwaway ZooKeeper on a free loopback port")
        with zkharness.ZooKeeper(servers=1) as zk:
            print(f"  ZooKeeper at {zk.connect_string}")
            with open(conf, "w") as f:
                f.write(f"zookeeper = {zk.connect_string}\n"
                        f"cache = {cache}\n"
                        "domain = cluster.example\n"
                        "session_timeout = 4000\n"
                        "register = demo-host 10.99.0.1\n")
            print(f"  config {conf}:")
            print("".join("    " + line for line in open(conf)))

            step("starting zkcached (it registers this host as demo-host)")
            log = open(os.path.join(work, "zkcached.log"), "w")
            daemon = subprocess.Popen([os.path.join(BUILD, "zkcached"), "-c", conf],
                                      stdout=log, stderr=subprocess.STDOUT)
            wait(lambda: "10.99.0.1" in getent(env, "hosts", "demo-host"),
                 "zkcached to publish its own registration")
            out = getent(env, "hosts", "demo-host")
            print("  " + out)
            expect(out.startswith("10.99.0.1 "), "demo-host should resolve to 10.99.0.1")

            step("three cluster nodes register themselves (ephemeral znodes, written with kazoo)")
            nodes = zk.kazoo()
            dn1 = zk.kazoo()    # datanode-1 has a session of its own: it will die
            for client, name, addr in ((nodes, "namenode", "10.99.0.10, fd00:99::10"),
                                       (dn1, "datanode-1", "10.99.0.11"),
                                       (nodes, "datanode-2", "10.99.0.12")):
                client.create(f"/zkhosts/hosts/{name}", addr.encode(), ephemeral=True)
                print(f"  create -e /zkhosts/hosts/{name} '{addr}'")
            admin = zk.kazoo()
            admin.create("/zkhosts/hosts/historyserver", b"10.99.0.20")
            print("  create /zkhosts/hosts/historyserver '10.99.0.20'   (a static record)")
            # zkcached publishes as soon as changes arrive (leading edge),
            # so one name resolving says nothing of the others: wait for all.
            new = (("namenode", "10.99.0.10"), ("datanode-1", "10.99.0.11"),
                   ("datanode-2", "10.99.0.12"), ("historyserver", "10.99.0.20"))
            t = wait(lambda: all(a in getent(env, "ahosts", n) for n, a in new),
                     "the new hosts to resolve")
            print(f"  visible through glibc {t * 1000:.0f} ms later")

            step("forward and reverse through getent -s hosts:zk")
            for args in (("ahosts", "namenode"), ("hosts", "NameNode.cluster.example"),
                         ("hosts", "10.99.0.11"), ("hosts", "fd00:99::10")):
                print(f"  getent {' '.join(args)}:")
                out = getent(env, *args)
                print("".join("    " + line + "\n" for line in out.splitlines()), end="")
                expect("not found" not in out, f"getent {' '.join(args)} should answer")
            expect("fd00:99::10" in getent(env, "ahosts", "namenode"),
                   "namenode should have its IPv6 address too")
            expect("datanode-1" in getent(env, "hosts", "10.99.0.11"),
                   "10.99.0.11 should map back to datanode-1")

            step("any program: Python's socket module, with 'hosts: files zk' chosen in-process "
                 "(__nss_configure_lookup, as getent -s does)")
            penv = dict(env)
            if penv.get("LD_PRELOAD"):      # a sanitizer build: python3's own leaks are not ours
                penv["ASAN_OPTIONS"] = "detect_leaks=0"
            rc, out = run(["/usr/bin/python3", "-c", RESOLVER,
                           "namenode", "datanode-1", "historyserver.cluster.example"], penv)
            print(out)
            expect(rc == 0, f"the Python resolver exited {rc}")
            for name, addr in (("namenode", "10.99.0.10"), ("datanode-1", "10.99.0.11"),
                               ("historyserver.cluster.example", "10.99.0.20")):
                expect(f"getaddrinfo({name!r}) -> {addr}" in out, f"Python should resolve {name} to {addr}")
            expect("10.99.0.10 -> namenode.cluster.example" in out,
                   "Python's gethostbyaddr should map 10.99.0.10 back to namenode")

            step("a change written by any ZooKeeper client shows up at once")
            admin.set("/zkhosts/hosts/historyserver", b"10.99.0.21")
            t = wait(lambda: "10.99.0.21" in getent(env, "hosts", "historyserver"), "the change")
            out = getent(env, 'hosts', 'historyserver')
            print(f"  set historyserver 10.99.0.21 -> {out}   ({t * 1000:.0f} ms)")
            expect(out.startswith("10.99.0.21 "), "historyserver should now be 10.99.0.21")

            step("a node that dies takes its name with it (its ZooKeeper session closes)")
            zk.release(dn1)
            t = wait(lambda: "not found" in getent(env, "hosts", "datanode-1"), "the ephemeral names to vanish")
            out = getent(env, 'hosts', 'datanode-1')
            print(f"  datanode-1 -> {out}   ({t * 1000:.0f} ms)")
            expect("not found" in out, "datanode-1 should be gone")

            step("ZooKeeper goes away for longer than the session timeout: lookups keep answering")
            zk.stop_all()
            time.sleep(5)
            out = getent(env, 'hosts', 'historyserver')
            print(f"  historyserver -> {out}")
            print(f"  zkcached still running: {daemon.poll() is None}")
            expect(out.startswith("10.99.0.21 "), "historyserver should still answer during the outage")
            expect(daemon.poll() is None, "zkcached should keep running during the outage")
            zk.start_all()
            admin.retry(admin.set, "/zkhosts/hosts/historyserver", b"10.99.0.22")
            t = wait(lambda: "10.99.0.22" in getent(env, "hosts", "historyserver"),
                     "changes to flow again after the outage")
            print(f"  ZooKeeper back; set historyserver 10.99.0.22 -> visible {t * 1000:.0f} ms later")

            step("the whole table, as `getent hosts` enumerates it")
            out = getent(env, "hosts")
            print("".join("  " + line + "\n" for line in out.splitlines()), end="")
            for name in ("demo-host", "namenode", "datanode-2", "historyserver"):
                expect(f" {name}" in out, f"the table should list {name}")
            expect("datanode-1" not in out, "the table should not list datanode-1")
            daemon.terminate()
            rc = daemon.wait(timeout=15)
            daemon = None
            expect(rc == 0, f"zkcached should exit 0 on SIGTERM (exit {rc})")
        step("done: ZooKeeper and zkcached stopped, " + work + " removed")
        if FAILED:
            print(f"\ndemo: {len(FAILED)} step(s) went wrong:", file=sys.stderr)
            for f in FAILED:
                print(f"  {f}", file=sys.stderr)
            return 1
        return 0
    finally:
        if daemon is not None:
            daemon.kill()
            daemon.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
