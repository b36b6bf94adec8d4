"""zkdnsenv - helpers for the zkdns tests: a private cache published with
zkh-publish (the real publisher, no ZooKeeper) or by zkcached, a config,
build/zkdns started on a free loopback port with its stderr in a file,
queries through dnspython (python3-dnspython) and dig (bind9-dnsutils),
and the module's own answers through `getent -s hosts:zk` for
comparison. Every process started here is killed at exit.

    from zkdnsenv import Zkdns, publish
    with Zkdns(domain="cluster.example") as z:
        z.publish("10.0.0.1 namenode\\n")
        z.start()
        z.query("namenode.cluster.example", "A")   # dns.message.Message
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import zkharness

SRC = os.environ.get("ZKH_SRC") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("ZKH_BUILD") or os.path.join(SRC, "build")
ZKDNS = os.path.join(BUILD, "zkdns")
PUBLISH = os.path.join(BUILD, "tests/tools/zkh-publish")
WAIT = float(os.environ.get("ZKH_WAIT", "30"))


class Skip(Exception):
    """Skip the whole test file (exit 77)."""


def free_udp_tcp_port(addr="127.0.0.1"):
    """A port free for both UDP and TCP on addr."""
    for _ in range(50):
        port = zkharness.free_port(addr)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise RuntimeError("no free port")


def lookup_env(conf):
    env = dict(os.environ)
    env["ZKHOSTS_CONF"] = conf
    env["LD_LIBRARY_PATH"] = BUILD
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    if os.environ.get("ZKH_PRELOAD"):
        env["LD_PRELOAD"] = os.environ["ZKH_PRELOAD"]
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    return env


class Zkdns:
    """A cache directory, a config naming it, and zkdns on a free port."""

    def __init__(self, domain=None, **keys):
        self.domain = domain
        self.keys = keys
        self.proc = None

    def __enter__(self):
        if not os.path.exists(ZKDNS):
            raise Skip("build/zkdns not built")
        self.dir = tempfile.mkdtemp(prefix="zkdns-test-")
        os.chmod(self.dir, 0o755)
        self.cache = os.path.join(self.dir, "cache")
        self.conf = os.path.join(self.dir, "zkhosts.conf")
        self.port = free_udp_tcp_port()
        self.addr = "127.0.0.1"
        self.write_conf()
        zkharness._live.add(self)
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def write_conf(self, **more):
        k = {"cache": self.cache,
             "dns_listen": "%s:%d" % (self.addr, self.port)}
        k.update(self.keys)
        k.update(more)
        with open(self.conf, "w") as f:
            for key, val in k.items():
                if val is not None:
                    f.write("%s = %s\n" % (key, val))

    def publish(self, hosts_text, domain=None):
        """Publish /etc/hosts-format text as the next snapshot."""
        path = os.path.join(self.dir, "hosts")
        with open(path, "w") as f:
            f.write(hosts_text)
        dom = domain if domain is not None else self.domain
        args = [PUBLISH] + (["--domain", dom] if dom else []) + [self.cache, path]
        subprocess.run(args, check=True, timeout=60)

    def start(self, args=(), wait=True, prefix=()):
        self.log_path = os.path.join(self.dir, "zkdns.log")
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(list(prefix) + [ZKDNS, "-c", self.conf] + list(args),
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=zkharness._pdeathsig)
        if wait:
            self.wait_listening()
        return self.proc

    def wait_listening(self):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("zkdns exited %s:\n%s" %
                                     (self.proc.returncode, self.log()))
            s = socket.socket()
            try:
                s.connect((self.addr, self.port))
                return
            except OSError:
                time.sleep(0.02)
            finally:
                s.close()
        raise AssertionError("zkdns did not listen:\n" + self.log())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.log_file.close()
        return rc

    def query(self, name, rdtype="A", tcp=False, rdclass="IN", **kw):
        """One query through dnspython; returns the response message."""
        import dns.message
        import dns.query
        q = dns.message.make_query(name, rdtype, rdclass, **kw)
        q.flags &= ~0x0100  # no RD: we are authoritative only
        f = dns.query.tcp if tcp else dns.query.udp
        return f(q, self.addr, port=self.port, timeout=5)

    def raw(self, data, tcp=False, timeout=2.0):
        """Send raw bytes; return the raw answer or None (no answer)."""
        if tcp:
            s = socket.create_connection((self.addr, self.port), timeout=timeout)
            try:
                s.sendall(len(data).to_bytes(2, "big") + data)
                hdr = b""
                while len(hdr) < 2:
                    c = s.recv(2 - len(hdr))
                    if not c:
                        return None
                    hdr += c
                n = int.from_bytes(hdr, "big")
                body = b""
                while len(body) < n:
                    c = s.recv(n - len(body))
                    if not c:
                        return None
                    body += c
                return body
            except socket.timeout:
                return None
            finally:
                s.close()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            s.sendto(data, (self.addr, self.port))
            return s.recv(65535)
        except socket.timeout:
            return None
        finally:
            s.close()

    def dig(self, *args):
        """dig's +short output lines (sorted)."""
        p = subprocess.run(["dig", "+norec", "+time=2", "+tries=2",
                            "@" + self.addr, "-p", str(self.port)] + list(args),
                           capture_output=True, text=True, timeout=60)
        return p

    def getent(self, *args):
        p = subprocess.run(["getent", "-s", "hosts:zk"] + list(args),
                           env=lookup_env(self.conf), capture_output=True,
                           text=True, timeout=60)
        return p.returncode, [l.split() for l in p.stdout.splitlines()]

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        zkharness._live.discard(self)
        if os.environ.get("ZKH_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
