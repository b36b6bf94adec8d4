#!/usr/bin/python3
"""zkcached on a 3-server ensemble, with a connect string listing all
three and a chroot suffix (which the daemon creates itself): kill the
leader - updates keep flowing; bring it back and kill a follower -
updates keep flowing; the daemon's registration survives throughout."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, require, run_tests, ZKCACHED, MODULE  # noqa: E402

zk = env = kz = d = None
CHROOT = "/cluster-a"


def write(op, path, data=None):
    """A write that survives the loss of the server kazoo is talking to."""
    from kazoo.exceptions import NodeExistsError, NoNodeError
    fn = {"create": kz.create, "set": kz.set, "delete": kz.delete}[op]
    try:
        kz.retry(fn, path, *([data] if data is not None else []))
    except (NodeExistsError, NoNodeError):
        pass  # an earlier attempt went through before the connection broke


def setup():
    global zk, env, kz, d
    require(ZKCACHED, MODULE)
    zk = ZooKeeper(servers=3).__enter__()
    env = Env(zk, root="/zkhosts", session_timeout=4000, register="ens-self 10.4.0.9",
              zookeeper=zk.connect_string + CHROOT).__enter__()
    d = env.daemon()
    kz = zk.kazoo()
    env.wait_status(lambda s: s.get("state") == "connected", "first sync")
    assert kz.exists(CHROOT + "/zkhosts/hosts"), "layout created under the chroot"
    kz.create(CHROOT + "/zkhosts/hosts/e1", b"10.4.0.1")
    env.wait_resolves("e1", {"10.4.0.1"})
    env.wait_resolves("ens-self", {"10.4.0.9"})


def test_kill_leader():
    leader = zk.leader_index()
    zk.stop(leader)
    zk.leader_index()  # wait for a new one
    write("create", CHROOT + "/zkhosts/hosts/e2", b"10.4.0.2")
    write("set", CHROOT + "/zkhosts/hosts/e1", b"10.4.1.1")
    env.wait_resolves("e2", {"10.4.0.2"})
    env.wait_resolves("e1", {"10.4.1.1"})
    zk.start(leader)


def test_kill_follower():
    follower = zk.follower_indexes()[0]
    zk.stop(follower)
    write("create", CHROOT + "/zkhosts/hosts/e3", b"10.4.0.3")
    write("delete", CHROOT + "/zkhosts/hosts/e2")
    env.wait_resolves("e3", {"10.4.0.3"})
    env.wait_gone("e2")
    zk.start(follower)


def test_still_registered_and_alive():
    kz.retry(kz.exists, "/")
    env.barrier(kz)
    assert env.resolve("ens-self") == {"10.4.0.9"}
    assert kz.exists(CHROOT + "/zkhosts/hosts/ens-self").ephemeralOwner == \
        int(env.status()["session"], 16)
    assert d.stop() == 0


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_kill_leader, test_kill_follower, test_still_registered_and_alive,
           teardown])
