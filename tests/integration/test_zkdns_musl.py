#!/usr/bin/python3
"""test_zkdns_musl - a program that never loads an NSS module sees the
names libnss_zk gives, through zkdns behind a forwarder:

  * a statically linked musl program (musl-gcc -static; musl has no NSS
    and reads /etc/resolv.conf by fixed path) calling getaddrinfo and
    getnameinfo, with resolv.conf pointing at a dnsmasq that forwards the
    cluster domain and its reverse zone to zkdns (server=/<domain>/addr#port,
    the deployment recipe of zkdns(8)). It runs in a user+mount+network
    namespace (unshare -rmn) where dnsmasq can take port 53 and a private
    resolv.conf is bind-mounted over /etc/resolv.conf; without namespaces
    that part is skipped with the reason.
Exit 0 pass, 1 fail, 77 skip (reason on the last line).
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

import zkharness  # noqa: E402
from zkdnsenv import SRC, ZKDNS, Skip, Zkdns  # noqa: E402

DOMAIN = "cluster.example"
HOSTS = """\
10.0.0.1 namenode nn
10.0.0.2 datanode1
fd00::2 datanode1
10.0.0.3 resourcemanager.cluster.example rm
fd00::4 v6only
"""
NAMES = ["namenode", "nn", "datanode1", "resourcemanager", "rm", "v6only"]
ADDRS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::2", "fd00::4"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def fq(n):
    return n + "." + DOMAIN


def module_addrs(z, name):
    out = set()
    for fam in ("ahostsv4", "ahostsv6"):
        rc, lines = z.getent(fam, name)
        if rc == 0:
            out |= {l[0] for l in lines if not l[0].startswith("::ffff:")}
    return out


def module_names(z, addr):
    rc, lines = z.getent("hosts", addr)
    if rc != 0:
        return set()
    return {(n if n.lower().endswith("." + DOMAIN) else n + "." + DOMAIN).lower()
            for n in lines[0][1:]}


def rev_name(addr):
    import ipaddress
    return ipaddress.ip_address(addr).reverse_pointer


def inside(cache, musl_bin, port):
    """Runs as root of a private user+mount+net namespace: zkdns on
    127.0.0.1:port, dnsmasq on 127.0.0.1:53 forwarding the domain and the
    reverse zones to it, resolv.conf bind-mounted, then the musl program."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    d = os.path.dirname(cache)
    conf = os.path.join(d, "inside.conf")
    with open(conf, "w") as f:
        f.write("cache = %s\ndns_listen = 127.0.0.1:%d\n" % (cache, port))
    resolv = os.path.join(d, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\noptions attempts:2 timeout:2\n")
    zk = subprocess.Popen([ZKDNS, "-c", conf], stderr=subprocess.DEVNULL)
    dm = subprocess.Popen(
        ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv",
         "--no-hosts", "--user=root", "--pid-file", "--listen-address=127.0.0.1",
         "--bind-interfaces", "--port=53", "--cache-size=0",
         "--server=/%s/127.0.0.1#%d" % (DOMAIN, port),
         "--server=/0.0.10.in-addr.arpa/127.0.0.1#%d" % port,
         "--server=/0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa/127.0.0.1#%d" % port],
        stderr=subprocess.DEVNULL)
    try:
        subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)
        import socket
        for _ in range(300):   # wait for both to listen
            ok = 0
            for p in (port, 53):
                s = socket.socket()
                try:
                    s.connect(("127.0.0.1", p))
                    ok += 1
                except OSError:
                    pass
                finally:
                    s.close()
            if ok == 2:
                break
            time.sleep(0.05)
        args = [fq(n) for n in NAMES] + [fq("nope")]
        for a in ADDRS:
            args += ["-x", a]
        p = subprocess.run([musl_bin] + args, capture_output=True, text=True,
                           timeout=120)
        sys.stdout.write(p.stdout)
    finally:
        zk.kill()
        dm.kill()
        zk.wait()
        dm.wait()


def test_musl(z):
    musl_gcc = shutil.which("musl-gcc")
    if musl_gcc is None:
        return "musl-tools not installed"
    if shutil.which("dnsmasq") is None:
        return "dnsmasq not installed"
    binp = os.path.join(z.dir, "musl_gai")
    subprocess.run([musl_gcc, "-static", "-O1", "-o", binp,
                    os.path.join(SRC, "tests/lib/musl_gai.c")], check=True, timeout=120)
    out = subprocess.run(["file", binp], capture_output=True, text=True).stdout
    check("statically linked" in out or "static-pie" in out, "musl program is static: " + out)
    probe = subprocess.run(["unshare", "-rmn", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "no user+mount+net namespace (unshare -rmn: %s)" % probe.stderr.strip()
    p = subprocess.run(["unshare", "-rmn", sys.executable, __file__, "--inside",
                        z.cache, binp, "5300"], capture_output=True, text=True,
                       timeout=300)
    check(p.returncode == 0, "namespace part ran: %s" % p.stderr[-2000:])
    print("musl program said:\n" + p.stdout)
    got = {}
    for line in p.stdout.splitlines():
        k, v = line.split(" ", 1)
        got.setdefault(k.lower(), set()).add(v)
    for n in NAMES:
        want = module_addrs(z, fq(n))
        check(got.get(fq(n)) == want, "musl getaddrinfo %s: %s, module %s" %
              (n, sorted(got.get(fq(n), [])), sorted(want)))
    check(any(v.startswith("error") for v in got.get(fq("nope"), {"x"})),
          "musl: unknown name is an error: %s" % got.get(fq("nope")))
    for a in ADDRS:
        names = got.get(a, set())
        check(len(names) == 1 and next(iter(names)).lower() in module_names(z, a),
              "musl getnameinfo %s: %s, module %s" % (a, names, module_names(z, a)))
    return None


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--inside":
        inside(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    skipped = None
    try:
        with Zkdns(domain=DOMAIN) as z:
            z.publish(HOSTS)
            z.start()
            n = len(failures)
            skipped = test_musl(z)
            print("%s test_musl" % ("SKIP" if skipped else
                                    "PASS" if len(failures) == n else "FAIL"))
    except Skip as e:
        print(e)
        sys.exit(77)
    finally:
        zkharness.cleanup_all()
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    if skipped:
        print(skipped)
        sys.exit(77)
    print("all passed")


if __name__ == "__main__":
    main()
