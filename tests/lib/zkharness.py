"""zkharness - a throwaway real ZooKeeper for the zkhosts tests.

Starts the Debian `zookeeper` package's server (QuorumPeerMain) on free
loopback ports, standalone or as an N-server ensemble, with tickTime=200 so
sessions can be short, data in a private temp dir, 4-letter-word commands
allowed (srvr/mntr/stat/ruok/...) and the admin server off. It never touches
the system ZooKeeper service, its config or port 2181, and it always kills
its JVMs: on context-manager exit, at interpreter exit (atexit), on
SIGTERM/SIGINT/SIGHUP, and - through PR_SET_PDEATHSIG - even when the Python
process itself is SIGKILLed.

    from zkharness import ZooKeeper
    with ZooKeeper(servers=3) as zk:
        zk.connect_string          # "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
        kz = zk.kazoo()            # connected KazooClient, closed at exit
        i = zk.leader_index()      # index (0-based) of the current leader
        zk.stop(i); zk.start(i)    # kill / restart one server
        zk.stop_all(); zk.start_all()

client_address= binds the client ports to another local address than
127.0.0.1 (e.g. a bridge's address, so network namespaces reach the
ensemble); quorum ports stay on 127.0.0.1.

Only stdlib plus kazoo (Debian python3-kazoo; import is lazy so the module
loads without it). Run under /usr/bin/python3.
"""

import atexit
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ZK_JAR = "/usr/share/java/zookeeper.jar"
ZK_CLI = "/usr/share/zookeeper/bin/zkCli.sh"
# zookeeper.jar's manifest Class-Path lists its dependency jars; add an
# slf4j binding and log4j so the server logs to a file we can read.
EXTRA_JARS = ["/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"]
MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

# kazoo logs every lost connection; tests provoke plenty of them
logging.getLogger("kazoo").setLevel(logging.CRITICAL)

_live = set()  # every ZooKeeper / process holder still running, for cleanup


class HarnessError(RuntimeError):
    pass


def available():
    """True if java and the ZooKeeper server jar are installed."""
    return os.path.exists(ZK_JAR) and shutil.which("java") is not None


def free_port(address="127.0.0.1"):
    """A TCP port on `address` (an IPv4 address) that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((address, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _pdeathsig():
    """preexec_fn: die with SIGKILL when the parent dies; own process group."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def four_letter(port, cmd, timeout=2.0, address="127.0.0.1"):
    """Send a 4-letter-word command to address:port; return the reply
    text, or None if the server does not answer."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            s.sendall(cmd.encode())
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return None


def _kill_group(proc, sig=signal.SIGKILL):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cleanup_all():
    """Kill everything the harness started. Safe to call repeatedly."""
    for obj in list(_live):
        try:
            obj.close()
        except Exception:  # cleanup must go on
            pass


_prev_handlers = {}


def _on_signal(signum, frame):
    cleanup_all()
    prev = _prev_handlers.get(signum)
    if callable(prev):
        prev(signum, frame)
    sys.exit(128 + signum)


def _install_handlers():
    if _prev_handlers:
        return
    atexit.register(cleanup_all)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            _prev_handlers[sig] = signal.signal(sig, _on_signal)
        except ValueError:  # not the main thread
            pass


class ZooKeeper:
    """A private ZooKeeper server or ensemble for one test (see module doc).

    servers: 1 (standalone) or more (ensemble, quorum needs a majority).
    tick: tickTime in ms; sessions may last 2..max_session_ticks ticks.
    client_address: the IPv4 address the client ports listen on.
    """

    def __init__(self, servers=1, tick=200, max_session_ms=60000,
                 keep_dir=False, jvm_heap="192m", start_timeout=60,
                 jute_maxbuffer=None, client_address="127.0.0.1"):
        if servers < 1:
            raise ValueError("servers must be >= 1")
        self.n = servers
        self.tick = tick
        self.max_session_ms = max_session_ms
        self.keep_dir = keep_dir
        self.jvm_heap = jvm_heap
        self.start_timeout = start_timeout
        self.jute_maxbuffer = jute_maxbuffer  # None: the server default (1 MB - 1)
        self.client_address = client_address
        self.dir = None
        self.ports = []  # (client, peer, election) per server
        self.procs = [None] * servers
        self._clients = []
        self._started = False

    # ---- lifecycle ----------------------------------------------------
    def __enter__(self):
        self.start_all()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _setup(self):
        _install_handlers()
        self.dir = tempfile.mkdtemp(prefix="zkh-zk-")
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.dir, "log4j.properties"), "w") as f:
            f.write("log4j.rootLogger=INFO, FILE\n"
                    "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
                    "log4j.appender.FILE.File=${zkh.log}\n"
                    "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
                    "log4j.appender.FILE.layout.ConversionPattern="
                    "%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n")
        self.ports = [(free_port(self.client_address), free_port(), free_port())
                      for _ in range(self.n)]
        for i in range(self.n):
            sdir = self.server_dir(i)
            os.makedirs(os.path.join(sdir, "data"))
            lines = [
                "tickTime=%d" % self.tick,
                "initLimit=50",
                "syncLimit=25",
                "dataDir=%s" % os.path.join(sdir, "data"),
                "clientPort=%d" % self.ports[i][0],
                "clientPortAddress=%s" % self.client_address,
                "minSessionTimeout=%d" % (2 * self.tick),
                "maxSessionTimeout=%d" % self.max_session_ms,
                "maxClientCnxns=0",
                "4lw.commands.whitelist=*",
                "admin.enableServer=false",
                "forceSync=no",
                "autopurge.purgeInterval=0",
            ]
            if self.n > 1:
                with open(os.path.join(sdir, "data", "myid"), "w") as f:
                    f.write("%d\n" % (i + 1))
                for j, (_, peer, elect) in enumerate(self.ports):
                    lines.append("server.%d=127.0.0.1:%d:%d" % (j + 1, peer, elect))
            with open(os.path.join(sdir, "zoo.cfg"), "w") as f:
                f.write("\n".join(lines) + "\n")
        _live.add(self)
        self._started = True

    def server_dir(self, i):
        return os.path.join(self.dir, "s%d" % (i + 1))

    def log_path(self, i):
        return os.path.join(self.server_dir(i), "zookeeper.log")

    def _spawn(self, i):
        if self.procs[i] is not None and self.procs[i].poll() is None:
            return
        sdir = self.server_dir(i)
        cp = ":".join([self.dir, ZK_JAR] + [j for j in EXTRA_JARS if os.path.exists(j)])
        cmd = ["java", "-Xmx" + self.jvm_heap, "-Xss512k", "-XX:+UseSerialGC",
               "-Xshare:auto",
               "-Dzkh.log=" + self.log_path(i),
               "-Dzookeeper.jmx.log4j.disable=true",
               "-cp", cp, MAIN, os.path.join(sdir, "zoo.cfg")]
        if self.jute_maxbuffer:
            cmd.insert(1, "-Djute.maxbuffer=%d" % self.jute_maxbuffer)
        out = open(os.path.join(sdir, "stdout.log"), "ab")
        try:
            self.procs[i] = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=sdir, start_new_session=True, preexec_fn=_pdeathsig)
        finally:
            out.close()

    def start_all(self, wait=True):
        if not self._started:
            if not available():
                raise HarnessError("ZooKeeper (Debian package zookeeper) or java not installed")
            self._setup()
        for i in range(self.n):
            self._spawn(i)
        if wait:
            for i in range(self.n):
                self.wait_serving(i)

    def start(self, i, wait=True):
        """(Re)start server i (0-based); wait until it serves, if a quorum
        of servers is running."""
        self._spawn(i)
        if wait:
            self.wait_serving(i)

    def stop(self, i):
        """Kill server i at once (SIGKILL, like a crash)."""
        _kill_group(self.procs[i])
        self.procs[i] = None

    def stop_all(self):
        for i in range(self.n):
            self.stop(i)

    def running(self, i):
        return self.procs[i] is not None and self.procs[i].poll() is None

    def close(self):
        for kz in self._clients:
            try:
                kz.stop()
                kz.close()
            except Exception:
                pass
        self._clients = []
        for i in range(self.n):
            self.stop(i)
        _live.discard(self)
        if self.dir and not self.keep_dir and os.environ.get("ZKH_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # ---- queries ------------------------------------------------------
    def mode(self, i):
        """'standalone', 'leader', 'follower', or None (down/not serving)."""
        if not self.running(i):
            return None
        r = four_letter(self.ports[i][0], "srvr", address=self.client_address)
        if not r:
            return None
        for line in r.splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None

    def wait_serving(self, i, timeout=None):
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while time.monotonic() < deadline:
            if not self.running(i):
                raise HarnessError("ZooKeeper server %d exited; see %s" % (i + 1, self.log_path(i)))
            if self.mode(i) in ("standalone", "leader", "follower"):
                return
            time.sleep(0.1)
        raise HarnessError("ZooKeeper server %d not serving after %ss; see %s"
                           % (i + 1, timeout or self.start_timeout, self.log_path(i)))

    def leader_index(self, timeout=30):
        """Index of the server that is leader (or standalone), waiting for an
        election if one is under way."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(self.n):
                if self.mode(i) in ("leader", "standalone"):
                    return i
            time.sleep(0.1)
        raise HarnessError("no leader after %ss" % timeout)

    def last_zxid(self):
        """The ensemble's last zxid: the highest any running server's srvr
        reports. It moves once per transaction, a failed create included.
        (Each srvr counts as a packet in the servers' zk_packets_received.)"""
        best = 0
        for i in range(self.n):
            r = four_letter(self.ports[i][0], "srvr", address=self.client_address) or ""
            for line in r.splitlines():
                if line.startswith("Zxid:"):
                    best = max(best, int(line.split()[1], 16))
        return best

    def follower_indexes(self):
        return [i for i in range(self.n) if self.mode(i) == "follower"]

    def mntr(self, i=None):
        """The mntr command's key/value pairs of server i (default: leader)."""
        if i is None:
            i = self.leader_index()
        r = four_letter(self.ports[i][0], "mntr", address=self.client_address) or ""
        out = {}
        for line in r.splitlines():
            if "\t" in line:
                k, v = line.split("\t", 1)
                out[k] = v
        return out

    def server_address(self, i):
        return "%s:%d" % (self.client_address, self.ports[i][0])

    @property
    def connect_string(self):
        return ",".join(self.server_address(i) for i in range(self.n))

    # ---- clients ------------------------------------------------------
    def kazoo(self, timeout=10.0, **kw):
        """A started (connected) KazooClient on the whole ensemble; stopped
        and closed at exit. Extra keyword arguments go to KazooClient
        (e.g. client_id=(session_id, password), timeout=session seconds)."""
        from kazoo.client import KazooClient
        kw.setdefault("hosts", self.connect_string)
        kz = KazooClient(**kw)
        kz.start(timeout=timeout)
        self._clients.append(kz)
        return kz

    def release(self, kz):
        """Stop and close a client obtained from kazoo() now."""
        try:
            kz.stop()
            kz.close()
        finally:
            if kz in self._clients:
                self._clients.remove(kz)

    def expire_session(self, session_id, password, timeout=10.0):
        """Force expiry of a session: open a second handle with the same
        client id and close it, which ends the session on the server."""
        from kazoo.client import KazooClient
        kz = KazooClient(hosts=self.connect_string, client_id=(session_id, password))
        kz.start(timeout=timeout)
        try:
            kz.stop()
        finally:
            kz.close()

    def zkcli(self, *args, timeout=60):
        """Run /usr/share/zookeeper/bin/zkCli.sh -server <leader> ARGS...;
        return CompletedProcess (text)."""
        i = self.leader_index()
        env = dict(os.environ)
        env["ZOO_LOG_DIR"] = self.dir
        env.pop("LD_PRELOAD", None)
        env["CLIENT_JVMFLAGS"] = "-Dzookeeper.log.dir=%s -Xshare:auto -XX:TieredStopAtLevel=1" % self.dir
        return subprocess.run([ZK_CLI, "-server", self.server_address(i)] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, env=env)


if __name__ == "__main__":
    # Smoke test: python3 tests/lib/zkharness.py [servers]
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    t0 = time.monotonic()
    with ZooKeeper(servers=n) as zk:
        print("up in %.1fs: %s leader=%d" % (time.monotonic() - t0, zk.connect_string,
                                            zk.leader_index()))
        kz = zk.kazoo()
        kz.ensure_path("/smoke")
        kz.create("/smoke/a", b"1.2.3.4")
        print("children:", kz.get_children("/smoke"))
    print("stopped")
