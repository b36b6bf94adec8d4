#!/usr/bin/python3
"""demo.py - zkhosts end to end on one machine, in about twenty seconds.

Starts a throwaway ZooKeeper on a free loopback port, a zkcached that syncs
it into a private cache directory, then plays the part of a cluster: hosts
register themselves in ZooKeeper (ephemeral znodes, as every node's zkcached
does) and an admin adds a static record. Every answer is then read through
real glibc: `getent -s hosts:zk` and a Python program that calls
getaddrinfo/gethostbyaddr in a private mount namespace whose
/etc/nsswitch.conf says `hosts: files zk`. Nothing on the machine is
changed; everything is stopped and removed at the end, also on failure.

Run as root from the repository (`make demo` builds first).
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
import socket, sys
for name in sys.argv[1:]:
    try:
        addrs = sorted({ai[4][0] for ai in socket.getaddrinfo(name, None)})
        back = [f"{a} -> {socket.gethostbyaddr(a)[0]}" for a in addrs]
        print(f"  python getaddrinfo({name!r}) -> {', '.join(addrs)};  gethostbyaddr: {', '.join(back)}")
    except OSError as e:
        print(f"  python getaddrinfo({name!r}) -> {e}")
"""


def step(msg):
    print(f"\n== {msg}", flush=True)


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
    if os.geteuid() != 0:
        raise SystemExit("demo: run as root (it uses a private mount namespace)")
    for f in ("zkcached", "libnss_zk.so.2"):
        if not os.path.exists(os.path.join(BUILD, f)):
            raise SystemExit(f"demo: {BUILD}/{f} missing: run `make` first")
    work = tempfile.mkdtemp(prefix="zkhosts-demo-")
    os.chmod(work, 0o755)
    cache = os.path.join(work, "cache")
    conf = os.path.join(work, "zkhosts.conf")
    nss = os.path.join(work, "nsswitch.conf")
    daemon = None
    with open(nss, "w") as f:
        f.write("hosts: files zk\n")
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
            print("  " + getent(env, "hosts", "demo-host"))

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
            t = wait(lambda: "10.99.0.12" in getent(env, "hosts", "datanode-2"),
                     "the new hosts to resolve")
            print(f"  visible through glibc {t * 1000:.0f} ms later")

            step("forward and reverse through getent -s hosts:zk")
            for args in (("ahosts", "namenode"), ("hosts", "NameNode.cluster.example"),
                         ("hosts", "10.99.0.11"), ("hosts", "fd00:99::10")):
                print(f"  getent {' '.join(args)}:")
                print("".join("    " + line + "\n" for line in getent(env, *args).splitlines()), end="")

            step("any program: Python in a mount namespace where nsswitch.conf says 'hosts: files zk'")
            rc, out = run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                           f"mount --bind {nss} /etc/nsswitch.conf && exec /usr/bin/python3 -c \"$0\" \"$@\"",
                           RESOLVER, "namenode", "datanode-1", "historyserver.cluster.example"], env)
            print(out)

            step("a change written by any ZooKeeper client shows up at once")
            admin.set("/zkhosts/hosts/historyserver", b"10.99.0.21")
            t = wait(lambda: "10.99.0.21" in getent(env, "hosts", "historyserver"), "the change")
            print(f"  set historyserver 10.99.0.21 -> {getent(env, 'hosts', 'historyserver')}   ({t * 1000:.0f} ms)")

            step("a node that dies takes its name with it (its ZooKeeper session closes)")
            zk.release(dn1)
            t = wait(lambda: "not found" in getent(env, "hosts", "datanode-1"), "the ephemeral names to vanish")
            print(f"  datanode-1 -> {getent(env, 'hosts', 'datanode-1')}   ({t * 1000:.0f} ms)")

            step("ZooKeeper goes away for longer than the session timeout: lookups keep answering")
            zk.stop_all()
            time.sleep(5)
            print(f"  historyserver -> {getent(env, 'hosts', 'historyserver')}")
            print(f"  zkcached still running: {daemon.poll() is None}")
            zk.start_all()
            admin.retry(admin.set, "/zkhosts/hosts/historyserver", b"10.99.0.22")
            t = wait(lambda: "10.99.0.22" in getent(env, "hosts", "historyserver"),
                     "changes to flow again after the outage")
            print(f"  ZooKeeper back; set historyserver 10.99.0.22 -> visible {t * 1000:.0f} ms later")

            step("the whole table, as `getent hosts` enumerates it")
            print("".join("  " + line + "\n" for line in getent(env, "hosts").splitlines()), end="")
            daemon.terminate()
            daemon.wait(timeout=15)
            daemon = None
        step("done: ZooKeeper and zkcached stopped, " + work + " removed")
        return 0
    finally:
        if daemon is not None:
            daemon.kill()
            daemon.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
