#!/usr/bin/python3
"""The fleet index (docs/scale.md) on a real 3-server ensemble: two
zkcached standing as indexers (indexer = yes) and two consumers (indexer
= no), each with its own cache. The index written matches <root>/hosts
record for record; consumers hold a watch on the head and none on the
directory; one create costs a consumer head reads and no bucket read; a
burst of creates, changes and deletes written by two indexers at once
(compare-and-set between them) converges everywhere with nothing
resurrected; a consumer stopped while the index moved far past its ring
compares only the buckets the head's recent-writes map names; an
indexer killed with SIGKILL loses nothing (the other keeps writing),
one stopped with SIGTERM frees its slot at once; a daemon that starts
its session on a tree that holds the layout writes no transaction but
its session's; a create costs the quorum two transactions (the standby
indexer writes nothing); with auth_file set the
index is writable only by zkhosts' identity and readable by all."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper, four_letter  # noqa: E402
from zkhdaemon import Env, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

ROOT = "/fleet"
zk = kz = None
envs = {}
daemons = {}


def hosts_now():
    """name -> set of addresses in <root>/hosts."""
    out = {}
    for name in kz.get_children(ROOT + "/hosts"):
        data, _ = kz.get("%s/hosts/%s" % (ROOT, name))
        out[name] = set(data.decode().replace(",", " ").split())
    return out


def index_now():
    """name -> set of addresses in the index (every bucket of the head)."""
    head, _ = kz.get(ROOT + "/index/v1/head")
    first = head.decode().split("\n")[0].split()
    assert first[0] == "zkhosts-index" and first[1] == "1", first
    out = {}
    for i in range(int(first[3])):
        data, _ = kz.get("%s/index/v1/b%d" % (ROOT, i))
        lines = data.decode().split("\n")
        assert lines[0] == "zkhosts-bucket 1 %d" % i, lines[0]
        for line in lines[1:]:
            if line:
                f = line.split(" ")
                out[f[0]] = set(f[3].split(","))
    return out


def index_matches():
    try:
        return index_now() == hosts_now()
    except Exception:
        return False


def status(name):
    return envs[name].status()


def setup():
    global zk, kz
    require(ZKCACHED, MODULE)
    zk = ZooKeeper(servers=3).__enter__()
    kz = zk.kazoo()
    kz.ensure_path(ROOT + "/hosts")
    for i in range(5):
        kz.create("%s/hosts/pre%d" % (ROOT, i), ("10.30.0.%d" % (i + 1)).encode())
    for name, mode in (("A", "yes"), ("B", "yes"), ("C", "no"), ("D", "no")):
        envs[name] = Env(zk, root=ROOT, session_timeout=4000, indexer=mode).__enter__()
        daemons[name] = envs[name].daemon()
    for name in "ABCD":
        envs[name].wait_status(lambda s: s.get("state") == "connected", "%s in step" % name)
    wait_for(index_matches, "the index to match %s/hosts" % ROOT)


def test_roles_and_watches():
    for name in "AB":
        assert status(name).get("index_role") == "indexer", status(name)
    for name in "CD":
        wait_for(lambda: status(name).get("index_role") == "consumer", "%s consumer" % name)
        envs[name].wait_resolves("pre3", {"10.30.0.4"})
    # a consumer's session watches the head only (plus nothing under hosts)
    cons = set()
    for i in range(3):
        text = four_letter(zk.ports[i][0], "wchp") or ""
        cur = None
        for line in text.splitlines():
            if line.startswith("/"):
                cur = line
            elif line.strip() and cur:
                cons.add((cur, line.strip()))
    sid_c = int(status("C")["session"], 16)
    paths_c = {p for p, s in cons if int(s, 16) == sid_c}
    assert paths_c == {ROOT + "/index/v1/head"}, paths_c


def test_one_create_costs_a_consumer_a_head_read():
    s0 = status("C")
    kz.create(ROOT + "/hosts/one", b"10.30.1.1")
    envs["C"].wait_resolves("one", {"10.30.1.1"})
    wait_for(lambda: int(status("C")["index_head_reads"]) > int(s0["index_head_reads"]),
             "the status to show the head read")
    s1 = status("C")
    assert int(s1["index_bucket_reads"]) == int(s0["index_bucket_reads"]), (s0, s1)
    assert int(s1["index_head_reads"]) - int(s0["index_head_reads"]) <= 3, (s0, s1)


def quiet_zxid():
    """The last zxid, once a second has passed without a write."""
    z = zk.last_zxid()
    for _ in range(30):
        time.sleep(1)
        n = zk.last_zxid()
        if n == z:
            return z
        z = n
    raise AssertionError("the fleet kept writing for 30 s")


def test_session_start_writes_nothing_that_exists():
    # A daemon that finds the layout in place costs the quorum no write: a
    # create answered "node exists" is still a transaction (one zxid), and
    # a fleet starts every session at once at a cold boot or mass expiry.
    before = quiet_zxid()
    e = Env(zk, root=ROOT, session_timeout=4000, indexer="auto").__enter__()
    d = None
    try:
        d = e.daemon()
        e.wait_status(lambda s: s.get("state") == "connected" and
                      s.get("index_role") == "consumer", "a standing consumer in step")
        e.wait_resolves("pre2", {"10.30.0.3"})
        # one transaction: createSession itself (sessions are global)
        after = zk.last_zxid()
        assert after - before == 1, "the daemon's session start wrote %d transaction(s)" % (
            after - before)
    finally:
        if d:   # closes its session: no expiry later in another test's count
            d.stop(signal.SIGTERM)
        e.close()


def test_one_create_costs_the_quorum_two_transactions():
    # the create and one index write: the standby indexer (B, slot 1)
    # leaves the change to the primary and writes nothing, where two
    # indexers racing used to cost a failed multi (a transaction) a change
    before = quiet_zxid()
    c0 = {n: int(status(n).get("index_conflicts", 0)) for n in "AB"}
    w0 = {n: int(status(n).get("index_writes", 0)) for n in "AB"}
    kz.create(ROOT + "/hosts/two", b"10.30.2.2")
    envs["C"].wait_resolves("two", {"10.30.2.2"})
    time.sleep(2)   # past the standby's wait (1 s): it looks, finds it written
    after = quiet_zxid()
    assert after - before == 2, "one create cost %d transactions" % (after - before)
    wait_for(lambda: int(status("A")["index_writes"]) > w0["A"], "A's status to count its write")
    for n in "AB":
        assert int(status(n).get("index_conflicts", 0)) == c0[n], (n, c0, status(n))
    assert int(status("B")["index_writes"]) == w0["B"], (w0, status("B"))


def test_burst_by_two_indexers_converges():
    for i in range(60):
        kz.create_async("%s/hosts/burst%02d" % (ROOT, i), ("10.31.0.%d" % (i + 1)).encode())
    wait_for(lambda: len([n for n in kz.get_children(ROOT + "/hosts") if n.startswith("burst")]) == 60,
             "the creates")
    for i in range(0, 20):
        kz.delete_async("%s/hosts/burst%02d" % (ROOT, i))
    for i in range(20, 40):
        kz.set_async("%s/hosts/burst%02d" % (ROOT, i), ("10.32.0.%d" % (i + 1)).encode())
    wait_for(index_matches, "the index to match after the burst")
    for name in "ABCD":
        envs[name].wait_resolves("burst25", {"10.32.0.26"})
        envs[name].wait_resolves("burst45", {"10.31.0.46"})
        wait_for(lambda: not envs[name].resolve("burst05"), "burst05 gone at %s" % name)
    idx = index_now()
    assert not any(n in idx for n in ("burst%02d" % i for i in range(20))), "resurrected"
    assert int(status("A")["index_writes"]) + int(status("B")["index_writes"]) > 0


def head_seq():
    head, _ = kz.get(ROOT + "/index/v1/head")
    return int(head.decode().split("\n")[0].split()[4])


def test_consumer_behind_the_ring_compares_only_written_buckets():
    """Enough records for several buckets; consumer D stopped while one
    record changes 60 times (each an index write: far more than the
    ring holds); continued, D compares only the buckets the head's
    recent-writes map marks, not every bucket, and serves the last
    value."""
    for i in range(260):
        kz.create_async("%s/hosts/m%03d" % (ROOT, i), ("10.34.%d.%d" % (i // 200, i % 200 + 1)).encode())
    wait_for(lambda: index_matches() and
             int(kz.get(ROOT + "/index/v1/head")[0].split(b"\n")[0].split()[3]) >= 4,
             "the index to hold 4 buckets or more")
    envs["D"].wait_resolves("m259", {"10.34.1.60"})
    nb = int(kz.get(ROOT + "/index/v1/head")[0].split(b"\n")[0].split()[3])
    # D's counters settled: at the head's sequence, and a heartbeat later
    wait_for(lambda: int(status("D")["index_seq"]) == head_seq(), "D at the head")
    time.sleep(float(status("D").get("heartbeat_interval_s", 5)) + 0.5)
    s0 = status("D")
    os.kill(daemons["D"].pid, signal.SIGSTOP)
    try:
        for k in range(60):
            seq = head_seq()
            kz.set(ROOT + "/hosts/m007", ("10.35.0.%d" % (k + 1)).encode())
            wait_for(lambda: head_seq() > seq, "index write %d" % k)
        head = kz.get(ROOT + "/index/v1/head")[0].decode()
        assert "\nw " in head, head[:200]
    finally:
        os.kill(daemons["D"].pid, signal.SIGCONT)
    envs["D"].wait_resolves("m007", {"10.35.0.60"})
    envs["D"].wait_resolves("m100", {"10.34.0.101"})
    wait_for(lambda: int(status("D")["index_head_reads"]) > int(s0["index_head_reads"]),
             "the status to show D's head read")
    s1 = status("D")
    exists = int(s1["index_exists_reads"]) - int(s0["index_exists_reads"])
    buckets = int(s1["index_bucket_reads"]) - int(s0["index_bucket_reads"])
    assert exists < nb, "compared %d of %d buckets: %s" % (exists, nb, (s0, s1))
    assert buckets <= 2, (s0, s1)


def test_indexer_killed_loses_nothing():
    daemons["A"].kill()
    kz.create(ROOT + "/hosts/after-kill", b"10.33.0.1")
    kz.delete(ROOT + "/hosts/burst30")
    for name in "CD":
        envs[name].wait_resolves("after-kill", {"10.33.0.1"})
        wait_for(lambda: not envs[name].resolve("burst30"), "burst30 gone at %s" % name)
    wait_for(index_matches, "the index to match after the kill")
    assert status("B").get("index_role") == "indexer"


def test_indexer_stopped_frees_its_slot():
    """SIGTERM closes the session, so the slot is free the moment the
    daemon has exited (a killed one holds it until its session expires)."""
    sid = int(status("B")["session"], 16)

    def held():
        kz.sync(ROOT + "/index/v1")
        out = []
        for c in kz.get_children(ROOT + "/index/v1"):
            st = kz.exists("%s/index/v1/%s" % (ROOT, c)) if c.startswith("indexer-") else None
            if st and st.ephemeralOwner == sid:
                out.append(c)
        return out

    assert held(), "B holds no slot"
    assert daemons["B"].stop() == 0
    assert held() == [], "slot still held by the stopped daemon's session"


def test_index_acl_with_auth_file():
    from kazoo.exceptions import NoAuthError
    auth_env = Env(zk, root="/secfleet", indexer="yes").__enter__()
    auth = os.path.join(auth_env.dir, "auth")
    with open(auth, "w") as f:
        f.write("digest:zkh:pw\n")
    os.chmod(auth, 0o600)
    auth_env.write_conf(root="/secfleet", indexer="yes", auth_file=auth)
    auth_env.daemon()
    auth_env.wait_status(lambda s: s.get("index_role") == "indexer" and
                         int(s.get("index_writes", 0)) > 0, "the index written with auth")
    acls, _ = kz.get_acls("/secfleet/index/v1/head")
    perms = {(a.id.scheme, a.perms) for a in acls}
    assert ("world", 1) in perms, perms            # READ for anyone
    assert ("digest", 31) in perms, perms          # ALL for zkhosts' identity
    data, _ = kz.get("/secfleet/index/v1/head")    # readable by all
    assert data.startswith(b"zkhosts-index 1 ")
    try:
        kz.set("/secfleet/index/v1/head", b"forged")
        raise AssertionError("an unauthenticated client wrote the index")
    except NoAuthError:
        pass
    auth_env.close()


def teardown():
    for e in envs.values():
        e.close()
    zk.close()


run_tests([setup, test_roles_and_watches, test_session_start_writes_nothing_that_exists,
           test_one_create_costs_a_consumer_a_head_read,
           test_one_create_costs_the_quorum_two_transactions,
           test_burst_by_two_indexers_converges,
           test_consumer_behind_the_ring_compares_only_written_buckets,
           test_indexer_killed_loses_nothing, test_indexer_stopped_frees_its_slot,
           test_index_acl_with_auth_file, teardown])
