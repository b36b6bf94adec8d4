#!/usr/bin/python3
"""test_zkdns_zk - the whole path: a ZooKeeper write, zkcached publishing,
zkdns answering it over DNS, and the same answers as the NSS module.

A real ZooKeeper (tests/lib/zkharness.py), zkcached and zkdns on one
zkhosts.conf (domain cluster.example, dns_listen on a free port). Checks
that a record created, changed and deleted in ZooKeeper reaches dig
(bind9-dnsutils) and dnspython with the module's answer each time, that
zkdns swaps snapshots without restarting (its own counters say so), and
that zkdns itself holds no ZooKeeper connection (no libzookeeper in its
mapped libraries). Waits for outcomes, never asserts timings.
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

import zkharness  # noqa: E402
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, Skip, require, run_tests, wait_for  # noqa: E402
from zkdnsenv import ZKDNS, free_udp_tcp_port  # noqa: E402

DOMAIN = "cluster.example"
state = {}


def dig(port, *args):
    p = subprocess.run(["dig", "+norec", "+short", "+time=2", "+tries=2",
                        "@127.0.0.1", "-p", str(port)] + list(args),
                       capture_output=True, text=True, timeout=60)
    return sorted(p.stdout.split())


def setup_all():
    require(ZKDNS)
    if shutil.which("dig") is None:
        raise Skip("dig (bind9-dnsutils) not installed")
    zk = ZooKeeper()
    zk.__enter__()
    env = Env(zk, domain=DOMAIN)
    env.__enter__()
    port = free_udp_tcp_port()
    env.write_conf(domain=DOMAIN, dns_listen="127.0.0.1:%d" % port, dns_ttl=1)
    env.daemon()
    log = open(os.path.join(env.dir, "zkdns.log"), "ab")
    proc = subprocess.Popen([ZKDNS, "-c", env.conf, "-v"], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            preexec_fn=zkharness._pdeathsig)
    state.update(zk=zk, env=env, port=port, proc=proc, kz=zk.kazoo())
    wait_for(lambda: dig(port, DOMAIN, "SOA") != [], "zkdns to answer the SOA")


def test_write_reaches_dig():
    env, kz, port = state["env"], state["kz"], state["port"]
    kz.create(env.host_path("namenode"), b"10.0.0.1, fd00::1", makepath=True)
    wait_for(lambda: dig(port, "namenode." + DOMAIN) == ["10.0.0.1"],
             "namenode to appear in DNS")
    assert dig(port, "namenode." + DOMAIN, "AAAA") == ["fd00::1"]
    assert env.resolve("namenode." + DOMAIN) == {"10.0.0.1", "fd00::1"}
    assert dig(port, "-x", "10.0.0.1") == ["namenode." + DOMAIN + "."]
    kz.set(env.host_path("namenode"), b"10.0.0.2")
    wait_for(lambda: dig(port, "namenode." + DOMAIN) == ["10.0.0.2"],
             "the new address in DNS")
    assert dig(port, "namenode." + DOMAIN, "AAAA") == []
    assert env.resolve("namenode." + DOMAIN) == {"10.0.0.2"}
    kz.delete(env.host_path("namenode"))
    wait_for(lambda: "NXDOMAIN" in subprocess.run(
        ["dig", "+norec", "@127.0.0.1", "-p", str(port), "namenode." + DOMAIN],
        capture_output=True, text=True).stdout, "NXDOMAIN after the delete")
    assert env.resolve("namenode." + DOMAIN) == set()


def test_no_zookeeper_in_zkdns():
    pid = state["proc"].pid
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read()
    assert "libzookeeper" not in maps, "zkdns maps libzookeeper"
    ld = subprocess.run(["ldd", ZKDNS], capture_output=True, text=True).stdout
    assert "zookeeper" not in ld, ld


def test_swapped_without_restart():
    proc = state["proc"]
    assert proc.poll() is None, "zkdns still running"
    proc.terminate()
    assert proc.wait(timeout=30) == 0
    with open(os.path.join(state["env"].dir, "zkdns.log")) as f:
        log = f.read()
    import re
    m = re.search(r"(\d+) snapshot swaps", log)
    assert m and int(m.group(1)) >= 3, "swaps counted: " + log[-500:]


def teardown():
    env = state.get("env")
    if env:
        env.close()
    if state.get("zk"):
        state["zk"].close()


if __name__ == "__main__":
    try:
        run_tests([setup_all, test_write_reaches_dig, test_no_zookeeper_in_zkdns,
                   test_swapped_without_restart])
    finally:
        teardown()
