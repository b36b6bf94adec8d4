#!/usr/bin/python3
"""test_zkdns_jndi - Java sees the names libnss_zk gives, through zkdns:
the JDK's JNDI DNS provider (a default InitialDirContext and
getAttributes("dns://SERVER/NAME", {TYPE}), the way Hadoop's
DNS.reverseDns asks for PTR records) against zkdns on a free port, with
a snapshot published by zkh-publish. A, AAAA and PTR equal
`getent -s hosts:zk` of the same name or address; NXDOMAIN is
NameNotFoundException; a name outside the zones is an error (REFUSED).
Exit 0 pass, 1 fail, 77 skip (reason on the last line).
"""
import ipaddress
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

import zkharness  # noqa: E402
from zkdnsenv import SRC, Skip, Zkdns  # noqa: E402

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
    return ipaddress.ip_address(addr).reverse_pointer


def test_jndi(z):
    java = shutil.which("java")
    args = ["%s:%d" % (z.addr, z.port)]
    for n in NAMES:
        args += ["A", fq(n), "AAAA", fq(n)]
    for a in ADDRS:
        args += ["PTR", rev_name(a)]
    args += ["A", fq("nope"), "A", "example.org"]
    p = subprocess.run([java, "-Xshare:auto", os.path.join(SRC, "tests/lib/ZkdnsJndi.java")]
                       + args, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "java ran: %s" % p.stderr[-2000:])
    got = {}
    for line in p.stdout.splitlines():
        t, name, val = line.split(" ", 2)
        got.setdefault((t, name.lower()), set()).add(val)
    for n in NAMES:
        want = module_addrs(z, fq(n))
        have = set()
        for t in ("A", "AAAA"):
            vals = got.get((t, fq(n)), set())
            check(not any(v.startswith("error") for v in vals),
                  "JNDI %s %s: no error (%s)" % (t, n, vals))
            have |= {v for v in vals if v != "none"}
        have = {str(ipaddress.ip_address(v)) for v in have}
        check(have == want, "JNDI %s: %s, module %s" % (n, sorted(have), sorted(want)))
    for a in ADDRS:
        vals = {v.lower() for v in got.get(("PTR", rev_name(a)), set())}
        want = {n + "." for n in module_names(z, a)}
        check(vals == want, "JNDI PTR %s: %s, module %s" % (a, sorted(vals), sorted(want)))
    check(got.get(("A", fq("nope"))) == {"error NameNotFoundException"},
          "JNDI NXDOMAIN: NameNotFoundException (%s)" % got.get(("A", fq("nope"))))
    check(any(v.startswith("error") for v in got.get(("A", "example.org"), {"none"})),
          "JNDI outside the zone: an error (REFUSED)")


def main():
    if shutil.which("java") is None:
        print("java not installed")
        sys.exit(77)
    try:
        with Zkdns(domain=DOMAIN) as z:
            z.publish(HOSTS)
            z.start()
            test_jndi(z)
    except Skip as e:
        print(e)
        sys.exit(77)
    finally:
        zkharness.cleanup_all()
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
