#!/usr/bin/python3
"""test_bootstrap - the Hadoop bootstrap flow of examples/ against a real
ZooKeeper: five stand-in services wait for `boot`; the bootstrap job
(examples/hadoop-bootstrap.sh) waits until the five host names resolve
through the zk NSS module (registered in ZooKeeper by kazoo only after
the job started, synced by a real zkcached, or published with
tests/tools/zkh-publish when zkcached is not built), releases namenode
and datanode, waits for namenode up, creates the HDFS directories (a
stand-in), releases the rest and exits. The shared log must show that
order: nothing released before the names resolve, resourcemanager,
nodemanager and historyserver only after the HDFS step, which comes only
after namenode is up.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkharness  # noqa: E402
from zkharness import ZooKeeper  # noqa: E402
from toolenv import BUILD, SRC, Env, Procs, require, run_tests, select_env, wait_for  # noqa: E402

ZKBARRIER = os.path.join(BUILD, "zkbarrier")
ZKCACHED = os.path.join(BUILD, "zkcached")
PUBLISH = os.path.join(BUILD, "tests", "tools", "zkh-publish")
MODULE = os.path.join(BUILD, "libnss_zk.so.2")
BOOTSTRAP = os.path.join(SRC, "examples", "hadoop-bootstrap.sh")
STANDIN = os.path.join(SRC, "examples", "standin-service.sh")
SERVICES = ["namenode", "datanode", "resourcemanager", "nodemanager", "historyserver"]
GUARD = 120

state = {}


def read_log(path):
    """[(timestamp, who, what)] in the order the lines were appended."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                ts, who, what = line.rstrip("\n").split(" ", 2)
                out.append((float(ts), who, what))
    except FileNotFoundError:
        pass
    return out


def test_bootstrap_flow():
    require(ZKBARRIER, MODULE)
    env, zk, procs = state["env"], state["zk"], state["procs"]
    log = os.path.join(env.dir, "boot.log")
    e = dict(os.environ, ZKBARRIER=ZKBARRIER, ZKHOSTS_CONF=env.conf, BOOTSTRAP_LOG=log,
             BOOT_TIMEOUT="90", LD_LIBRARY_PATH=BUILD)
    e.pop("LD_PRELOAD", None)

    use_daemon = os.path.exists(ZKCACHED)
    if use_daemon:
        procs.popen([ZKCACHED, "-c", env.conf], env=e, stdout=subprocess.DEVNULL,
                    stderr=open(os.path.join(env.dir, "zkcached.log"), "w"))
    else:
        require(PUBLISH)

    services = {s: procs.popen(["sh", STANDIN, s], env=e) for s in SERVICES}
    wait_for(lambda: sum(1 for _, _, w in read_log(log) if w == "waiting") == 5,
             "the five services to start waiting")
    # The job resolves through `hosts: files zk`, chosen in-process by the
    # nss_select.so preload shim (no mount namespace, no privilege).
    # As before, no sanitizer runtime is preloaded into the script's sh and
    # helpers; zkbarrier carries its own.
    job = procs.popen(["sh", BOOTSTRAP], env=select_env(env.conf, "files zk", base=e,
                                                        sanitizer_preload=False))
    wait_for(lambda: any(w.startswith("waiting for hosts") for _, _, w in read_log(log)),
             "the bootstrap job to wait for hosts")
    # The names appear only now; nothing may have been released before.
    assert job.poll() is None, "bootstrap job exited early: %s" % job.returncode
    assert not any(w == "released" for _, _, w in read_log(log)), read_log(log)
    kz = zk.kazoo()
    hosts_in = os.path.join(env.dir, "hosts.in")
    with open(hosts_in, "w") as f:
        for i, s in enumerate(SERVICES):
            kz.create("/zkhosts/hosts/" + s, b"10.20.0.%d" % (i + 1), makepath=True)
            f.write("10.20.0.%d %s\n" % (i + 1, s))
    if not use_daemon:
        subprocess.run([PUBLISH, env.cache, hosts_in], check=True, timeout=GUARD)

    assert job.wait(timeout=GUARD) == 0, read_log(log)
    for s, p in services.items():
        assert p.wait(timeout=GUARD) == 0, "%s exited %s" % (s, p.returncode)

    lines = read_log(log)
    # File order is causal order for every pair checked below: each line
    # is appended before the zkbarrier call that lets the next one happen.
    order = [(who, what) for _, who, what in lines]

    def at(who, what):
        return order.index((who, what))
    resolved = at("bootstrap", "hosts-resolved")
    hdfs = at("bootstrap", "hdfs-dirs-created")
    for s in SERVICES:
        assert at(s, "released") > resolved, order
        assert at(s, "up") > at(s, "released"), order
    assert at("bootstrap", "namenode-up") > at("namenode", "released")
    assert hdfs > at("bootstrap", "namenode-up")
    for s in ("resourcemanager", "nodemanager", "historyserver"):
        assert at(s, "released") > hdfs, order
    assert at("bootstrap", "done") > hdfs
    for s in SERVICES:
        assert kz.get("/zkhosts/boot/" + s)[0] == b"up"
    print("release order:", [who for who, what in order if what == "released"])


def main():
    with ZooKeeper() as zk, Env(zk) as env:
        procs = Procs()
        state.update(zk=zk, env=env, procs=procs)
        try:
            run_tests([test_bootstrap_flow])
        finally:
            procs.close()


if __name__ == "__main__":
    main()
