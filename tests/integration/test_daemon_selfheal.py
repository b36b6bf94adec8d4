#!/usr/bin/python3
"""test_daemon_selfheal - zkcached rebuilds its cache when it is removed or
replaced underneath it (issue 16 item 2), without a restart and without a
change in ZooKeeper, for new processes and for one already running:

  * every file of the cache directory removed (`rm cache/*`);
  * the directory removed and recreated; the directory replaced at once by
    another (rename-exchange, as a volume swapped under a sidecar);
  * one file replaced by a foreign one (the generation file, hosts.mdb),
    or made group-writable (readers refuse it).

After each fault: new processes (getent -s hosts:zk) resolve again, a
long-running process that resolved before (it loaded the module once and
keeps calling _nss_zk_gethostbyname2_r) sees a change made afterwards, and
a second zkcached on the same cache is still refused. Recovery is asserted
under a generous deadline; the times measured are printed, not asserted.
"""
import ctypes
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import (Env, lookup_env, require, run_tests, wait_for,  # noqa: E402
                       ZKCACHED, MODULE)

# One long-lived process with the module loaded: reads a name a line,
# answers "addr,addr" (empty: not found) a line.
LOOPER = r'''
import ctypes, socket, sys
lib = ctypes.CDLL(sys.argv[1])
class HOSTENT(ctypes.Structure):
    _fields_ = [("h_name", ctypes.c_char_p),
                ("h_aliases", ctypes.POINTER(ctypes.c_char_p)),
                ("h_addrtype", ctypes.c_int), ("h_length", ctypes.c_int),
                ("h_addr_list", ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)))]
fn = lib._nss_zk_gethostbyname2_r
fn.restype = ctypes.c_int
buf = ctypes.create_string_buffer(65536)
for line in sys.stdin:
    he = HOSTENT()
    err, herr = ctypes.c_int(0), ctypes.c_int(0)
    st = fn(line.strip().encode(), socket.AF_INET, ctypes.byref(he), buf,
            len(buf), ctypes.byref(err), ctypes.byref(herr))
    out = []
    if st == 1:
        i = 0
        while he.h_addr_list[i]:
            out.append(socket.inet_ntop(socket.AF_INET, bytes(he.h_addr_list[i][:4])))
            i += 1
    print(",".join(sorted(out)), flush=True)
'''

zk = env = kz = looper = None
times = []


class Looper:
    def __init__(self, conf):
        self.p = subprocess.Popen([sys.executable, "-c", LOOPER, MODULE], env=lookup_env(conf),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def resolve(self, name):
        self.p.stdin.write(name + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, "the long-running lookup process died"
        return set(a for a in line.strip().split(",") if a)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def setup():
    global zk, env, kz, looper
    require(ZKCACHED, MODULE)
    zk = ZooKeeper().__enter__()
    env = Env(zk).__enter__()
    kz = zk.kazoo()
    env.daemon(args=("-v",))
    kz.create(env.host_path("keep"), b"10.16.0.1", makepath=True)
    kz.create(env.host_path("moving"), b"10.16.1.1")
    env.wait_resolves("keep", {"10.16.0.1"})
    env.wait_resolves("moving", {"10.16.1.1"})
    looper = Looper(env.conf)
    assert looper.resolve("keep") == {"10.16.0.1"}
    assert looper.resolve("moving") == {"10.16.1.1"}


def recovered(fault, n):
    """Assert recovery after `fault` (just done by the caller): new
    processes resolve again, the running one sees a change made now, the
    status is ours again, a second daemon is refused. Records the times
    (polling every 2 ms; a getent costs ~4 ms here)."""
    t0 = time.monotonic()
    wait_for(lambda: env.resolve("keep") == {"10.16.0.1"}, "new processes to resolve keep",
             interval=0.002)
    t_new = time.monotonic() - t0
    d = env.daemons[0]
    assert d.alive(), d.log()
    # a change made after the recovery reaches the process that resolved
    # before the fault (it must have reopened the cache)
    addr = "10.16.1.%d" % (n + 1)
    t1 = time.monotonic()
    kz.set(env.host_path("moving"), addr.encode())
    wait_for(lambda: looper.resolve("moving") == {addr},
             "the long-running process to see moving -> %s" % addr, interval=0.002)
    t_run = time.monotonic() - t1
    env.wait_resolves("moving", {addr})
    for name in ("hosts.mdb", "generation", "status"):
        assert os.path.isfile(os.path.join(env.cache, name)), name
    env.wait_status(lambda s: s.get("pid") == str(d.pid), "the status file to be ours again")
    second_refused()
    times.append((fault, t_new, t_run))
    print("recovery after %s: new processes resolve after %.0f ms; a change reaches the "
          "running process %.0f ms after it is made" % (fault, t_new * 1000, t_run * 1000))


def second_refused():
    d2 = env.daemon(wait_ready=False)
    rc = d2.wait(timeout=30)
    assert rc == 1, "a second zkcached on the same cache exited %s:\n%s" % (rc, d2.log())
    assert "busy" in d2.log(), d2.log()


def test_second_daemon_refused_before():
    second_refused()


def test_every_file_removed():
    # as `rm cache/*` does (sorted: generation goes first, so no publish
    # can bump the file the running process maps while it is still there)
    for name in sorted(os.listdir(env.cache)):
        if not name.startswith("."):
            os.unlink(os.path.join(env.cache, name))
    # the running process keeps answering from what it has mapped
    assert looper.resolve("keep") == {"10.16.0.1"}
    recovered("rm cache/*", 1)
    assert "rebuilt" in env.daemons[0].log()


def test_directory_removed_and_recreated():
    ino = os.stat(env.cache).st_ino

    def removed():
        # zkcached may write into the directory while rmtree empties it
        # (rmdir: not empty); an operator's `rm -rf` would be run again too
        shutil.rmtree(env.cache, ignore_errors=True)
        try:
            return os.stat(env.cache).st_ino != ino   # recreated by zkcached
        except FileNotFoundError:
            return True
    wait_for(removed, "the cache directory to be removed")
    os.makedirs(env.cache, exist_ok=True)   # zkcached may have been quicker
    os.chmod(env.cache, 0o755)
    recovered("rm -rf cache; mkdir cache", 2)


def test_directory_exchanged():
    fresh = os.path.join(env.dir, "fresh-volume")
    os.mkdir(fresh, 0o755)
    libc = ctypes.CDLL(None, use_errno=True)
    RENAME_EXCHANGE = 2
    AT_FDCWD = -100
    if libc.renameat2(AT_FDCWD, fresh.encode(), AT_FDCWD, env.cache.encode(),
                      RENAME_EXCHANGE) != 0:
        raise AssertionError("renameat2: %s" % os.strerror(ctypes.get_errno()))
    recovered("the directory exchanged for an empty one", 3)
    shutil.rmtree(fresh)


def replace_with_foreign(name, content):
    tmp = os.path.join(env.dir, "foreign")
    with open(tmp, "wb") as f:
        f.write(content)
    os.chmod(tmp, 0o644)
    os.rename(tmp, os.path.join(env.cache, name))


def test_generation_replaced_by_foreign_file():
    replace_with_foreign("generation", b"ZKHGEN99" + b"\0" * 4088)
    recovered("generation replaced by a foreign file", 4)


def test_snapshot_replaced_by_foreign_file():
    replace_with_foreign("hosts.mdb", b"\xa5" * 16384)
    recovered("hosts.mdb replaced by a foreign file", 5)


def test_snapshot_made_group_writable():
    os.chmod(os.path.join(env.cache, "hosts.mdb"), 0o664)
    recovered("hosts.mdb made group-writable", 6)


def test_still_following_zookeeper():
    kz.create(env.host_path("after"), b"10.16.2.1")
    env.wait_resolves("after", {"10.16.2.1"})
    assert looper.resolve("after") == {"10.16.2.1"}
    kz.delete(env.host_path("keep"))
    env.wait_gone("keep")
    wait_for(lambda: looper.resolve("keep") == set(), "the running process to see keep gone")
    d = env.daemons[0]
    assert d.stop() == 0, d.log()
    print("recovery times (s): " + "; ".join("%s: new %.3f, running %.3f" % t for t in times))


def teardown():
    if looper:
        looper.close()
    env.close()
    zk.close()


run_tests([setup, test_second_daemon_refused_before, test_every_file_removed,
           test_directory_removed_and_recreated, test_directory_exchanged,
           test_generation_replaced_by_foreign_file, test_snapshot_replaced_by_foreign_file,
           test_snapshot_made_group_writable, test_still_following_zookeeper, teardown])
