#!/usr/bin/python3
"""test_limits - the snapshot budget (config key max_records).

Past the budget zkcached refuses to publish, logs an error naming the
count and the budget, shows it in the status file, and lookups keep the
last good snapshot (its names, its values, its generation); back within
the budget it publishes again and clears the error. The same holds when
the daemon starts (full sync) with more records than its budget.
Real ZooKeeper (tests/lib/zkharness.py), real zkcached, lookups through
glibc (getent -s hosts:zk). Exit 0 pass, 1 fail, 77 skip.
"""
import os
import sys

from zkharness import ZooKeeper
from zkhdaemon import Env, MODULE, ZKCACHED, getent, require, run_tests, wait_for

BUDGET = 20
state = {}


def addr(i):
    return "10.9.%d.%d" % (i // 256, i % 256)


def setup():
    require(ZKCACHED, MODULE)
    state["zk"] = ZooKeeper().__enter__()
    state["env"] = Env(state["zk"], max_records=BUDGET).__enter__()
    state["kz"] = state["zk"].kazoo()


def gen(env):
    return int(env.status().get("generation", "0"))


def published_names(env):
    """Every name in the snapshot now served (getent hosts enumerates it;
    one address per record here, so one line per record)."""
    rc, out = getent(env.conf, "hosts")
    return {line.split()[1] for line in out.splitlines() if line.strip()}


def test_within_budget_publishes():
    env, kz = state["env"], state["kz"]
    env.daemon()
    for i in range(15):
        kz.create(env.host_path("lim%d" % i), addr(i).encode(), makepath=True)
    env.wait_resolves("lim14", {addr(14)})
    env.wait_status(lambda s: s.get("records") == "15", "15 records")
    assert not env.status().get("last_error"), env.status()


def test_past_budget_keeps_last_snapshot():
    env, kz = state["env"], state["kz"]
    d = env.daemons[-1]
    for i in range(15, 26):
        kz.create(env.host_path("lim%d" % i), addr(i).encode())
    env.wait_status(lambda s: "26 records" in s.get("last_error", ""),
                    "the budget error in the status file")
    err = env.status()["last_error"]
    assert "max_records is %d" % BUDGET in err, err
    served = int(err.rsplit(" ", 1)[1])       # "...; serving generation G"
    wait_for(lambda: "snapshot budget exceeded" in d.log(), "the error logged")
    line = [ln for ln in d.log().splitlines() if "budget exceeded" in ln][0]
    assert "error" in line and "max_records is %d" % BUDGET in line, line
    env.wait_status(lambda s: s.get("generation") == str(served),
                    "status showing the generation served")
    # the snapshot served never holds more than the budget. Which of the
    # new names made it in is not defined: a listing names new children in
    # no particular order, and their reads are applied as they come back.
    names = published_names(env)
    assert 15 <= len(names) <= BUDGET, sorted(names)
    assert {"lim%d" % i for i in range(15)} <= names, sorted(names)
    assert env.resolve("lim14") == {addr(14)}
    # changes while over the budget are not published either
    kz.set(env.host_path("lim0"), b"10.9.99.1")
    kz.create(env.host_path("lim26"), addr(26).encode())
    env.wait_status(lambda s: "27 records" in s.get("last_error", ""),
                    "the error following the count")
    assert env.resolve("lim0") == {addr(0)}, "old value kept"
    assert gen(env) == served, (gen(env), served)
    assert d.alive()
    assert d.log().count("snapshot budget exceeded") == 1, d.log()


def test_back_within_budget_publishes_again():
    env, kz = state["env"], state["kz"]
    for i in range(19, 27):
        kz.delete(env.host_path("lim%d" % i))
    env.wait_resolves("lim18", {addr(18)})
    env.wait_resolves("lim0", {"10.9.99.1"})
    assert env.resolve("lim19") == set()
    env.wait_status(lambda s: not s.get("last_error"), "the error cleared")
    assert "within max_records" in env.daemons[-1].log()


def test_restart_over_budget_serves_last_snapshot():
    env, kz = state["env"], state["kz"]
    env.daemons[-1].stop()
    before = gen(env)
    env.write_conf(max_records=10)   # 19 records in ZooKeeper
    d = env.daemon()
    env.wait_status(lambda s: s.get("pid") == str(d.pid) and
                    "19 records" in s.get("last_error", ""),
                    "the budget error after the full sync")
    assert gen(env) == before, (gen(env), before)
    assert env.resolve("lim18") == {addr(18)}
    assert d.alive()
    d.stop()
    env.write_conf(max_records=BUDGET)


def teardown():
    state["env"].close()
    state["zk"].close()


if __name__ == "__main__":
    run_tests([setup, test_within_budget_publishes,
               test_past_budget_keeps_last_snapshot,
               test_back_within_budget_publishes_again,
               test_restart_over_budget_serves_last_snapshot, teardown])
