#!/usr/bin/python3
"""Operating zkcached: what it logs through a ZooKeeper outage (a bounded
handful of its own lines, timestamped, none of the client's, the outage
in the status file, the recovery logged), liveness versus staleness as
`zkhostctl status --live` and plain `status` tell them through that
outage, the metrics (heartbeat, counters, build info), and SIGHUP: the
config re-read without a resync (live keys at once, a bad file refused
and the old config kept, `cache` needing a restart, `root` switched by a
new session), SIGUSR1: a full resync."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import BUILD, Env, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

ZKHOSTCTL = os.path.join(BUILD, "zkhostctl")
zk = env = kz = d = None
TIMEOUT_MS = 2000
METRICS = None
# ISO 8601 local time with milliseconds and offset, then the program name
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d zkcached: "
                   r"(error|warning|info|debug): ")


def ctl_status(*args):
    r = subprocess.run([ZKHOSTCTL, "-c", env.conf, "status"] + list(args),
                       capture_output=True, text=True, timeout=30,
                       env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    return r.returncode, r.stdout + r.stderr


def metrics():
    with open(METRICS) as f:
        return f.read()


def metric(name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), metrics(), re.M)
    return float(m.group(1)) if m else None


def setup():
    global zk, env, kz, d, METRICS
    require(ZKCACHED, MODULE, ZKHOSTCTL)
    zk = ZooKeeper().__enter__()
    env = Env(zk, session_timeout=TIMEOUT_MS).__enter__()
    METRICS = os.path.join(env.dir, "zkhosts.prom")
    env.write_conf(session_timeout=TIMEOUT_MS, metrics_file=METRICS)
    # stderr is a file: not the journal, even if the runner's is
    d = env.daemon(env={"JOURNAL_STREAM": "1:1"})
    kz = zk.kazoo()
    kz.create(env.host_path("op1"), b"10.9.0.1")
    env.wait_resolves("op1", {"10.9.0.1"})
    env.wait_status(lambda s: s.get("state") == "connected", "connected")


def test_log_format():
    lines = d.log().splitlines()
    assert lines, "no log"
    for line in lines:
        assert not line.startswith("<"), "priority prefix outside the journal: %r" % line
        assert STAMP.match(line), "no ISO 8601 timestamp: %r" % line
    assert any(" state " in line for line in lines), "no state line"


def test_outage_is_quiet_and_shown():
    global kz
    before = len(d.log().splitlines())
    zk.release(kz)
    zk.stop_all()
    env.wait_status(lambda s: s.get("state") == "disconnected", "daemon to notice")
    env.wait_status(lambda s: s.get("error_connection"), "the outage as the connection error")
    # liveness and staleness are separate answers during the outage
    rc, out = ctl_status("--live")
    assert rc == 0, "a live daemon reads as down during an outage (%d): %s" % (rc, out)
    rc, out = ctl_status()
    assert rc == 1 and "not connected to ZooKeeper" in out, (rc, out)
    # a few seconds of outage: the client retries many times a second
    time.sleep(6)
    outage = d.log().splitlines()[before:]
    assert not [x for x in outage if "zookeeper:" in x], \
        "client lines at the default level:\n" + "\n".join(outage)
    assert any("still disconnected" in x for x in outage), "\n".join(outage)
    assert len(outage) <= 10, "%d lines for one outage:\n%s" % (len(outage), "\n".join(outage))
    s = env.status()
    assert "unreachable since" in s.get("error_connection", ""), s
    assert int(s.get("disconnected_us", "0")) > 0, s
    assert metric('zkhosts_error{source="connection"}') == 1
    zk.start_all()
    kz = zk.kazoo()
    env.wait_status(lambda s: s.get("state") == "connected", "recovered")
    env.wait_status(lambda s: "error_connection" not in s, "the connection error cleared")
    recovery = d.log().splitlines()[before:]
    assert any("reconnected" in x or "established" in x for x in recovery), "\n".join(recovery)
    assert any("-> connected" in x for x in recovery), "\n".join(recovery)
    assert len(recovery) <= 14, "%d lines:\n%s" % (len(recovery), "\n".join(recovery))
    s = env.status()
    assert int(s["reconnects"]) + int(s["expiries"]) >= 1, s
    assert int(s["errors_connection"]) >= 1, s
    assert s["disconnected_us"] == "0", s


def test_metrics():
    env.wait_status(lambda s: True, "")
    text = metrics()
    assert 'zkhosts_build_info{version="' in text, text
    assert re.search(r'^zkhosts_errors_total\{source="connection"\} [1-9]', text, re.M), text
    hb = metric("zkhosts_heartbeat_timestamp_seconds")
    assert hb and abs(hb - time.time()) < 3600, hb
    assert metric("zkhosts_heartbeat_interval_seconds") > 0
    assert metric("zkhosts_last_publish_timestamp_seconds") > 0
    assert metric("zkhosts_reconnects_total") is not None
    assert metric("zkhosts_session_expiries_total") is not None
    wait_for(lambda: (metric("zkhosts_heartbeat_timestamp_seconds") or 0) > hb,
             "a new heartbeat in the metrics")


def test_sighup_live_keys_without_resync():
    s0 = env.status()
    sync0, sess0 = s0["last_sync_us"], s0["session"]
    assert env.resolve("op1.example.test") == set()
    env.write_conf(session_timeout=TIMEOUT_MS, metrics_file=METRICS,
                   domain="example.test", publish_delay=20, max_records=1000,
                   log_level="debug")
    d.send(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in d.log(), "the reload")
    env.wait_resolves("op1.example.test", {"10.9.0.1"})
    log = d.log()
    assert "reload: domain" in log and "publish_delay 5 -> 20" in log, log
    kz.create(env.host_path("op2"), b"10.9.0.2")
    env.wait_resolves("op2", {"10.9.0.2"})
    wait_for(lambda: "debug:" in d.log(), "debug lines after log_level = debug")
    s = env.status()
    assert s["last_sync_us"] == sync0, "SIGHUP resynced"
    assert s["session"] == sess0, "SIGHUP of live keys opened a new session"


def test_sighup_bad_config_refused():
    env.write_conf(session_timeout=TIMEOUT_MS, metrics_file=METRICS, domain="other.test",
                   publish_delay="soon")
    d.send(signal.SIGHUP)
    wait_for(lambda: "reload refused" in d.log(), "the refusal")
    line = [x for x in d.log().splitlines() if "reload refused" in x][-1]
    assert env.conf in line and "publish_delay" in line, line
    assert re.search(re.escape(env.conf) + r":\d+:", line), "no file:line: " + line
    assert d.alive()
    assert env.resolve("op1.example.test") == {"10.9.0.1"}, "old config not kept"
    assert "reload: domain 'example.test' -> 'other.test'" not in d.log()


def test_journal_stream_format():
    """stderr that is the journal's stream (JOURNAL_STREAM names its
    device:inode): structured entries to the journal socket, or - where
    no journald listens, as here - lines with the <N> priority prefix and
    no timestamp (journald stamps them)."""
    if os.path.exists("/run/systemd/journal/socket"):
        print("note: journald present; entries go there, not checked here")
        return
    env2 = Env(zk, session_timeout=TIMEOUT_MS).__enter__()
    try:
        log = os.path.join(env2.dir, "zkcached.0.log")
        open(log, "ab").close()
        st = os.stat(log)
        d2 = env2.daemon(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
        env2.wait_status(lambda s: s.get("state") == "connected", "connected")
        d2.stop()
        lines = d2.log().splitlines()
        assert lines and all(re.match(r"^<[3-7]>zkcached: ", x) for x in lines), lines
    finally:
        env2.close()


def test_watchdog_fed_through_outage():
    """WatchdogSec= (WATCHDOG_USEC) and NOTIFY_SOCKET as systemd sets
    them, a datagram socket of ours in systemd's place: WATCHDOG=1 keeps
    coming while ZooKeeper is down (it proves the loop runs, not that
    ZooKeeper is up); a reload is RELOADING=1 then READY=1."""
    global kz
    path = os.path.join(env.dir, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    got = []
    stop = threading.Event()

    def reader():
        # read all the time, as systemd does: a full socket queue would
        # block the daemon's sd_notify
        while not stop.is_set():
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    env2 = Env(zk, session_timeout=TIMEOUT_MS).__enter__()
    d2 = env2.daemon(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    try:
        env2.wait_status(lambda s: s.get("state") == "connected", "connected")
        zk.release(kz)
        zk.stop_all()
        env2.wait_status(lambda s: s.get("state") == "disconnected", "disconnected")
        got.clear()
        wait_for(lambda: sum(m == "WATCHDOG=1" for m in list(got)) >= 3,
                 "watchdog pings during the outage")
        assert env2.status().get("state") == "disconnected"
        zk.start_all()
        kz = zk.kazoo()
        env2.wait_status(lambda s: s.get("state") == "connected", "reconnected")
        got.clear()
        d2.send(signal.SIGHUP)
        wait_for(lambda: "READY=1" in got, "READY=1 after the reload")
        msgs = list(got)
        assert "RELOADING=1" in msgs and msgs.index("RELOADING=1") < msgs.index("READY=1"), msgs
        d2.stop()
    except BaseException:
        print("---- the watchdog daemon's log ----\n" + d2.log())
        raise
    finally:
        env2.close()
        stop.set()
        t.join()
        sock.close()
    env.wait_status(lambda s: s.get("state") == "connected", "the main daemon reconnected")


def test_sighup_cache_needs_restart():
    env.write_conf(session_timeout=TIMEOUT_MS, metrics_file=METRICS, domain="example.test",
                   cache=os.path.join(env.dir, "elsewhere"))
    d.send(signal.SIGHUP)
    wait_for(lambda: "needs a restart" in d.log(), "the restart notice")
    assert not os.path.exists(os.path.join(env.dir, "elsewhere"))
    env.write_conf(session_timeout=TIMEOUT_MS, metrics_file=METRICS, domain="example.test")


def test_sighup_root_new_session():
    sess0 = env.status()["session"]
    kz.create("/zkhosts-other/hosts/moved", b"10.9.1.1", makepath=True)
    env.write_conf(session_timeout=TIMEOUT_MS, metrics_file=METRICS, domain="example.test",
                   root="/zkhosts-other")
    d.send(signal.SIGHUP)
    wait_for(lambda: "a new session in" in d.log(), "the new session scheduled")
    env.wait_resolves("moved", {"10.9.1.1"})
    env.wait_gone("op1")
    env.wait_status(lambda s: s.get("state") == "connected" and s.get("session") != sess0,
                    "a new session on the new root")


def test_sigusr1_resyncs():
    env.wait_status(lambda s: s.get("state") == "connected", "connected")
    before = int(env.status()["last_sync_us"])
    d.send(signal.SIGUSR1)
    env.wait_status(lambda s: int(s.get("last_sync_us", 0)) > before, "a full resync")
    assert "SIGUSR1: full resync" in d.log()


def test_kill9_reads_down():
    d.send(signal.SIGKILL)
    d.wait()
    rc, out = ctl_status("--live")
    assert rc == 3 and "not running" in out, (rc, out)


def teardown():
    if env:
        env.close()
    if zk:
        zk.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests([setup, test_log_format, test_outage_is_quiet_and_shown, test_metrics,
               test_sighup_live_keys_without_resync, test_sighup_bad_config_refused,
               test_journal_stream_format, test_watchdog_fed_through_outage,
               test_sighup_cache_needs_restart, test_sighup_root_new_session,
               test_sigusr1_resyncs, test_kill9_reads_down, teardown])
