#!/usr/bin/python3
"""Nothing in ZooKeeper can hurt zkcached: znodes with invalid names (too
long, bad characters, a label over 63) or data (text, out-of-range octet,
empty, binary, 1 MB) are skipped with exactly one log line each, counted in
the status file's `skipped`, a re-read of the same version stays quiet, a
new bad version logs once more, fixing a node makes it resolve, and good
records beside them resolve; the daemon stays alive."""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

zk = env = kz = d = None
BAD_NAMES = {
    "toolong": "a" * 254,
    "badchar": "bad$char",
    "space": "has space",
    "label": "x" * 64 + ".example",
}
BAD_DATA = {
    "text-data": b"hello world",
    "octet-999": b"1.2.3.999",
    "empty-data": b"",
    "binary-data": bytes(range(256)) * 4,
    "megabyte": b"z" * 1000000,
}


def setup():
    global zk, env, kz, d
    require(ZKCACHED, MODULE)
    zk = ZooKeeper().__enter__()
    env = Env(zk).__enter__()
    kz = zk.kazoo()
    kz.ensure_path("/zkhosts/hosts")
    for name in BAD_NAMES.values():
        kz.create(env.host_path(name), b"10.0.0.1")
    for name, data in BAD_DATA.items():
        kz.create(env.host_path(name), data)
    kz.create(env.host_path("good-before"), b"10.1.0.1")
    kz.create(env.host_path("mixed"), b"10.1.0.2, bogus, 300.1.1.1, fd00::2")
    d = env.daemon()
    env.wait_status(lambda s: s.get("state") == "connected", "first full sync")


def lines_about(name, log=None):
    log = log if log is not None else d.log()
    shown = name[:60]
    return [ln for ln in log.splitlines() if "/hosts/" + shown in ln
            and ("skipping" in ln or "dropped" in ln)]


def test_good_records_resolve():
    env.wait_resolves("good-before", {"10.1.0.1"})
    env.wait_resolves("mixed", {"10.1.0.2", "fd00::2"})
    kz.create(env.host_path("good-after"), b"10.1.0.3")
    env.wait_resolves("good-after", {"10.1.0.3"})


def test_one_line_each_and_counted():
    log = d.log()
    for name in list(BAD_NAMES.values()) + list(BAD_DATA):
        got = lines_about(name, log)
        assert len(got) == 1, "%s: %d log lines: %s" % (name[:20], len(got), got)
    assert len(lines_about("mixed", log)) == 1, "dropped tokens logged once"
    s = env.status()
    assert int(s["skipped"]) == len(BAD_NAMES) + len(BAD_DATA), s
    assert d.alive()
    for name in BAD_DATA:
        assert env.resolve(name) == set(), name


def test_reread_is_quiet():
    before = int(env.status()["last_sync_us"])
    d.send(signal.SIGUSR1)  # full resync: every node read again
    env.wait_status(lambda s: int(s.get("last_sync_us", 0)) > before, "resync")
    for name in list(BAD_NAMES.values()) + list(BAD_DATA):
        assert len(lines_about(name)) == 1, name[:20]
    assert int(env.status()["skipped"]) == len(BAD_NAMES) + len(BAD_DATA)


def test_changes_of_bad_nodes():
    kz.set(env.host_path("text-data"), b"still not an address")
    kz.set(env.host_path("octet-999"), b"10.2.0.9")  # fixed
    env.wait_resolves("octet-999", {"10.2.0.9"})
    env.wait_status(lambda s: s.get("skipped") == str(len(BAD_NAMES) + len(BAD_DATA) - 1),
                    "skipped to drop by one")
    wait_for(lambda: len(lines_about("text-data")) == 2, "second log line for a new bad version")
    # a good record turned bad disappears, and is counted
    kz.set(env.host_path("good-before"), b"garbage")
    env.wait_gone("good-before")
    env.wait_status(lambda s: s.get("skipped") == str(len(BAD_NAMES) + len(BAD_DATA)),
                    "skipped back up")
    # deleting bad nodes uncounts them
    kz.delete(env.host_path("megabyte"))
    kz.delete(env.host_path(BAD_NAMES["badchar"]))
    env.wait_status(lambda s: s.get("skipped") == str(len(BAD_NAMES) + len(BAD_DATA) - 2),
                    "skipped to drop by two")
    assert d.alive()


def test_alive_and_clean_exit():
    assert d.stop() == 0, d.log()


def teardown():
    env.close()
    zk.close()


run_tests([setup, test_good_records_resolve, test_one_line_each_and_counted,
           test_reread_is_quiet, test_changes_of_bad_nodes, test_alive_and_clean_exit,
           teardown])
