#!/usr/bin/python3
"""test_zkhostctl - zkhostctl against a real ZooKeeper (tests/lib/zkharness).

Every command and error: usage and config errors (2), unreachable
ZooKeeper (3), add/get/rm/ls/ls --json (case-insensitive names, ephemeral
records, invalid znodes), import of hosts files and JSON with every
skipped line/entry reported by position, --dry-run writing nothing, a
JSON syntax error writing nothing, export -> import round trip, and status
healthy / stale / down from status files in the status.h format and
snapshots published by the lead's tests/tools/zkh-publish (and by the
real zkcached when it is built); status's index block (and --json's
"index") from real zkcached as indexer, consumer, waiting (no index, a
directory above index_fallback_max) and refused (a head of an unknown
format), and no block for a status file without index fields.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkharness  # noqa: E402
from zkharness import ZooKeeper  # noqa: E402
from toolenv import BUILD, Env, Skip, require, run_tests, wait_for  # noqa: E402

CTL = os.path.join(BUILD, "zkhostctl")
PUBLISH = os.path.join(BUILD, "tests", "tools", "zkh-publish")
ZKCACHED = os.path.join(BUILD, "zkcached")
HANG_GUARD = 120
HOSTS = "/zkhosts/hosts"

state = {}


def run(*args, conf=None, stdin=None):
    conf = conf or state["env"].conf
    return subprocess.run([CTL, "-c", conf] + list(args), capture_output=True, text=True,
                          timeout=HANG_GUARD, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def expect(r, code, *needles):
    assert r.returncode == code, "exit %d, wanted %d\nstdout: %s\nstderr: %s" % (
        r.returncode, code, r.stdout, r.stderr)
    for n in needles:
        assert n in r.stderr, "%r not in stderr: %s" % (n, r.stderr)


def write(name, text):
    path = os.path.join(state["env"].dir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def data(name):
    return state["kz"].get(HOSTS + "/" + name)[0].decode()


def children():
    kz = state["kz"]
    return sorted(kz.get_children(HOSTS)) if kz.exists(HOSTS) else []


def clear():
    kz = state["kz"]
    if kz.exists(HOSTS):
        for c in kz.get_children(HOSTS):
            kz.delete(HOSTS + "/" + c)


# ---- arguments and config ------------------------------------------------------

def test_usage_errors():
    expect(run(), 2, "missing command")
    expect(run("frob"), 2, "unknown command 'frob'")
    expect(run("add", "web-1"), 2, "'add' takes NAME ADDR...")
    expect(run("add", "bad_name!", "10.0.0.1"), 2, "bad host name 'bad_name!'")
    expect(run("add", "web-1", "10.0.0.1", "10.0.0.300"), 2, "bad address '10.0.0.300'")
    expect(run("add", "web-1", "10.0.0.1,nope"), 2, "bad address 'nope'")
    expect(run("add", "web-1", *["10.0.1.%d" % i for i in range(33)]), 2, "more than 32")
    expect(run("rm"), 2, "'rm' takes NAME")
    expect(run("get", "a", "b"), 2, "'get' takes NAME")
    expect(run("ls", "--dry-run"), 2, "'ls' does not take option '--dry-run'")
    expect(run("status", "--max-age", "x"), 2, "--max-age needs seconds")
    expect(run("import"), 2, "'import' takes FILE")
    expect(run("import", "/nonexistent/file"), 2, "cannot read /nonexistent/file")
    expect(run("-t", "never", "ls"), 2, "bad timeout 'never'")
    r = subprocess.run([CTL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "import FILE" in r.stdout and "Exit status" in r.stdout
    r = subprocess.run([CTL, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("zkhostctl ")
    assert children() == []  # nothing above reached ZooKeeper


def test_bad_config():
    bad = write("bad.conf", "zookeeper = 127.0.0.1:2\nroot = /zkhosts\ncolour = blue\n")
    expect(run("ls", conf=bad), 2, "bad.conf:3", "colour")
    bad = write("nozk.conf", "root = /zkhosts\n")
    expect(run("ls", conf=bad), 2, "zookeeper")
    bad = write("badroot.conf", "zookeeper = 127.0.0.1:2\nroot = no-slash\n")
    expect(run("ls", conf=bad), 2, "badroot.conf:2", "root")


def test_unreachable():
    conf = write("closed.conf", "zookeeper = 127.0.0.1:%d\n" % zkharness.free_port())
    expect(run("-t", "1", "ls", conf=conf), 3, "unreachable")
    expect(run("-t", "1", "add", "x", "10.0.0.1", conf=conf), 3, "unreachable")
    # every server refuses outright: no waiting for the 30 s default
    expect(run("ls", conf=conf), 3, "unreachable", "refused the connection")
    expect(run("import", "-", conf=conf, stdin="10.0.0.1 x\n"), 3, "refused the connection")


# ---- records ------------------------------------------------------------------

def test_add_get_rm():
    clear()
    expect(run("add", "web-1", "10.0.0.1", "fd00::1"), 0)
    assert data("web-1") == "10.0.0.1, fd00::1"
    r = run("get", "web-1")
    expect(r, 0)
    assert r.stdout.split() == ["10.0.0.1", "fd00::1"]
    r = run("get", "WEB-1.")          # any case, trailing dot
    assert r.returncode == 0 and r.stdout.split() == ["10.0.0.1", "fd00::1"]
    expect(run("add", "Web-1", "10.0.0.2,10.0.0.2", "10.0.0.3"), 0)
    assert children() == ["web-1"]    # same record, another spelling
    assert data("web-1") == "10.0.0.2, 10.0.0.3"
    expect(run("rm", "WEB-1"), 0)
    assert children() == []
    expect(run("rm", "web-1"), 1, "no record 'web-1'")
    expect(run("get", "web-1"), 1, "no record 'web-1'")


def test_ls():
    clear()
    kz = state["kz"]
    expect(run("add", "b-host", "10.0.0.2"), 0)
    expect(run("add", "A-host", "10.0.0.1", "fd00::a"), 0)
    kz.create(HOSTS + "/live", b"10.0.0.9", ephemeral=True)
    kz.create(HOSTS + "/junk", b"not an address")
    kz.create(HOSTS + "/bad..name", b"10.0.0.7")
    r = run("ls")
    expect(r, 0, "1 znode(s)")
    lines = r.stdout.splitlines()
    assert lines == ["A-host\t10.0.0.1,fd00::a\tpersistent",
                     "b-host\t10.0.0.2\tpersistent",
                     "junk\t-\tpersistent",
                     "live\t10.0.0.9\tephemeral"], lines
    r = run("ls", "--json")
    expect(r, 0)
    assert json.loads(r.stdout) == {"A-host": ["10.0.0.1", "fd00::a"], "b-host": ["10.0.0.2"],
                                    "junk": [], "live": ["10.0.0.9"]}
    r = run("get", "junk")
    expect(r, 1, "no valid address")
    clear()
    r = run("ls", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {}
    kz.delete(HOSTS)
    r = run("ls")
    assert r.returncode == 0 and r.stdout == ""


# ---- import / export -------------------------------------------------------------

HOSTS_FILE = """\
# a comment line
10.1.0.1   alpha alpha-alias   # trailing comment
10.1.0.2   beta
fd00::2    beta
10.1.0.3   Alpha
999.1.0.1  gamma
10.1.0.4
10.1.0.5   good bad!name
10.1.0.1   alpha
"""


def test_import_hosts_file():
    clear()
    f = write("in.hosts", HOSTS_FILE)
    before = children()
    r = run("import", f, "--dry-run")
    expect(r, 1, "in.hosts:6: skipped: '999.1.0.1' is not an IPv4 or IPv6 address",
           "in.hosts:7: skipped: address 10.1.0.4 has no host name",
           "in.hosts:8: skipped: bad host name 'bad!name'", "nothing written")
    assert children() == before
    assert "create\talpha\t10.1.0.1, 10.1.0.3\n" in r.stdout, r.stdout
    r = run("import", f)
    expect(r, 1, "in.hosts:6:", "in.hosts:7:", "in.hosts:8:", "4 created")
    assert children() == ["alpha", "alpha-alias", "beta", "good"]
    assert data("alpha") == "10.1.0.1, 10.1.0.3"    # lines merged, duplicate dropped
    assert data("beta") == "10.1.0.2, fd00::2"
    assert data("alpha-alias") == "10.1.0.1"
    # again: nothing changes; a live registration is left alone
    state["kz"].create(HOSTS + "/live", b"10.9.9.9", ephemeral=True)
    f2 = write("in2.hosts", "10.1.0.1 alpha\n10.1.0.3 alpha\n10.2.0.1 live\n10.2.0.2 beta\n")
    r = run("import", f2)
    expect(r, 1, "in2.hosts:3: skipped: live is a live (ephemeral) registration",
           "1 updated", "1 unchanged")
    assert data("live") == "10.9.9.9"
    assert data("beta") == "10.2.0.2"


def test_import_dry_run_plan():
    """--dry-run reads ZooKeeper: it plans what the real import then does
    (create / update / unchanged / refused) and warns about loopback and
    localhost entries, writing nothing."""
    clear()
    kz = state["kz"]
    expect(run("add", "upd", "10.7.0.1"), 0)
    expect(run("add", "Same", "10.7.0.2"), 0)
    kz.create(HOSTS + "/me", b"10.7.0.3", ephemeral=True)
    f = write("plan.hosts", "10.7.0.9 upd\n10.7.0.2 same\n10.7.0.4 me\n10.7.0.5 new\n"
                            "127.0.0.1 localhost\n::1 ip6-loop\n10.7.0.6 db.localhost\n")
    before = {c: data(c) for c in children()}
    r = run("import", f, "--dry-run")
    expect(r, 1, "plan.hosts:3: skipped: me is a live (ephemeral) registration",
           "plan.hosts:5: warning: 'localhost' is each host's own name",
           "plan.hosts:5: warning: localhost -> 127.0.0.1 is a loopback address",
           "plan.hosts:6: warning: ip6-loop -> ::1 is a loopback address",
           "plan.hosts:7: warning: 'db.localhost' is each host's own name",
           "4 to create, 1 to update, 1 unchanged, 1 refused", "nothing written")
    lines = r.stdout.splitlines()
    assert "update\tupd\t10.7.0.9\twas: 10.7.0.1" in lines, lines
    assert "unchanged\tsame\t10.7.0.2 (as Same)" in lines, lines
    assert ("refused\tme\t10.7.0.4\tlive (ephemeral) registration of 10.7.0.3: left alone"
            in lines), lines
    assert "create\tnew\t10.7.0.5" in lines, lines
    assert {c: data(c) for c in children()} == before
    # the real import does what the plan said
    r = run("import", f)
    expect(r, 1, "plan.hosts:3: skipped: me is a live", "4 created, 1 updated, 1 unchanged")
    assert data("upd") == "10.7.0.9" and data("me") == "10.7.0.3" and data("new") == "10.7.0.5"
    assert children() == sorted(["upd", "Same", "me", "new", "localhost", "ip6-loop",
                                 "db.localhost"])
    # no hosts path yet: everything is a create, and the path is not made
    clear()
    state["kz"].delete(HOSTS)
    r = run("import", f, "--dry-run")
    expect(r, 0, "7 to create, 0 to update, 0 unchanged, 0 refused")
    assert not kz.exists(HOSTS)
    # the plan needs ZooKeeper
    conf = write("closed2.conf", "zookeeper = 127.0.0.1:%d\n" % zkharness.free_port())
    expect(run("import", f, "--dry-run", conf=conf), 3, "unreachable")


def test_export_ephemeral():
    clear()
    kz = state["kz"]
    expect(run("add", "keep", "10.8.0.1"), 0)
    kz.create(HOSTS + "/live-one", b"10.8.0.2, fd00::8:2", ephemeral=True)
    r = run("export")
    expect(r, 0, "1 record(s) are live (ephemeral) registrations, marked")
    assert "10.8.0.1 keep\n" in r.stdout
    assert "10.8.0.2 live-one\t# ephemeral: live registration\n" in r.stdout, r.stdout
    assert "fd00::8:2 live-one\t# ephemeral" in r.stdout, r.stdout
    r = run("export", "--no-ephemeral")
    expect(r, 0, "1 record(s) are live (ephemeral) registrations, left out")
    assert "10.8.0.1 keep\n" in r.stdout and "live-one" not in r.stdout, r.stdout
    expect(run("ls", "--no-ephemeral"), 2, "'ls' does not take option '--no-ephemeral'")
    # what export marks imports back (as persistent records)
    f = write("eph.hosts", run("export").stdout)
    clear()
    expect(run("import", f), 0, "2 created")
    assert data("live-one") == "10.8.0.2, fd00::8:2"


JSON_FILE = """{
  "j-one": "10.3.0.1",
  "j-two": ["10.3.0.2", "fd00::3:2"],
  "j-three": "10.3.0.3, nonsense",
  "j-four": 5,
  "bad name": "10.3.0.5",
  "j-five": ["10.3.0.6", null],
  "j-six": "",
  "j-one": ["10.3.0.7"]
}
"""


def test_import_json():
    clear()
    f = write("in.json", JSON_FILE)
    r = run("import", f)
    expect(r, 1,
           "in.json:4:14: skipped: j-three: 'nonsense' is not an IPv4 or IPv6 address",
           "in.json:5:13: skipped: j-four: value is not an address string",
           "in.json:6:3: skipped: bad host name 'bad name'",
           "in.json:7:13: skipped: j-five: array element 2 is not a string",
           "in.json:8:12: skipped: j-six: no valid address")
    assert children() == ["j-five", "j-one", "j-three", "j-two"]
    assert data("j-one") == "10.3.0.1, 10.3.0.7"
    assert data("j-two") == "10.3.0.2, fd00::3:2"
    assert data("j-three") == "10.3.0.3"
    # all fine: exit 0
    f = write("ok.json", '{"k1": "10.4.0.1", "k2": ["10.4.0.2"]}')
    expect(run("import", f), 0, "2 created")
    # from stdin
    r = run("import", "-", stdin='{"k3": "10.4.0.3"}\n')
    expect(r, 0)
    assert data("k3") == "10.4.0.3"


def test_import_json_syntax_error_writes_nothing():
    clear()
    for text, where in [('{"a": "10.0.0.1",\n "b": "10.0.0.2"\n "c": "x"}', "bad.json:3:2"),
                        ('{"a": "10.0.0.1"', "bad.json:1:17"),
                        ('{"a": "10.0.0.1"} trailing', "bad.json:1:19"),
                        ('{"a": "10.0.0.\x01"}', "bad.json:1:15"),
                        ('{"a": [1, 2,]}', "bad.json:1:14")]:
        f = write("bad.json", text)
        expect(run("import", f), 2, where, "nothing imported")
        assert children() == [], text


def test_export_import_round_trip():
    clear()
    kz = state["kz"]
    expect(run("add", "r-1", "10.5.0.1", "fd00::5:1", "10.5.0.2"), 0)
    expect(run("add", "R-Two", "fd00::5:2"), 0)
    kz.create(HOSTS + "/r-3", b"10.5.0.3,   10.5.0.4 junk")
    before = json.loads(run("ls", "--json").stdout)
    r = run("export")
    expect(r, 0)
    assert "10.5.0.1 r-1\nfd00::5:1 r-1\n10.5.0.2 r-1\n" in r.stdout
    f = write("export.hosts", r.stdout)
    clear()
    r = run("import", f)
    expect(r, 0, "3 created")
    assert json.loads(run("ls", "--json").stdout) == before
    assert data("r-1") == "10.5.0.1, fd00::5:1, 10.5.0.2"
    assert children() == ["R-Two", "r-1", "r-3"]
    # ls --json output imports too
    f = write("ls.json", run("ls", "--json").stdout)
    clear()
    expect(run("import", f), 0)
    assert json.loads(run("ls", "--json").stdout) == before


# ---- status ---------------------------------------------------------------------

def status_file(cache, **kw):
    now = int(time.time() * 1e6)
    s = {"pid": os.getpid(), "state": "connected", "connected": 1, "session": "0x1234",
         "started_us": now - 10_000_000, "updated_us": now, "last_sync_us": now - 5_000_000,
         "records": 2, "skipped": 1, "publishes": 3, "generation": 3,
         "last_error": "", "future_key": "ignored"}
    s.update(kw)
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "status.tmp"), "w") as f:
        for k, v in s.items():
            f.write("%s %s\n" % (k, v))
    os.rename(os.path.join(cache, "status.tmp"), os.path.join(cache, "status"))


def status(*args, conf=None):
    return run("status", *args, conf=conf)


def test_status():
    require(PUBLISH)
    env = state["env"]
    cache = env.cache
    r = status()
    assert r.returncode == 3 and "down: no status file" in r.stdout, r
    status_file(cache)
    r = status()
    assert r.returncode == 1 and "stale" in r.stdout and "snapshot" in r.stdout, r.stdout
    hosts = write("pub.hosts", "10.6.0.1 s-one\n10.6.0.2 s-two\n")
    subprocess.run([PUBLISH, cache, hosts], check=True, capture_output=True, timeout=HANG_GUARD)
    r = status()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "health:        ok" in r.stdout and "(2 records)" in r.stdout, r.stdout
    assert "index" not in r.stdout, r.stdout    # no index_* fields: no block
    r = status("--json")
    j = json.loads(r.stdout)
    assert r.returncode == 0 and j["health"] == "ok" and j["snapshot_records"] == 2
    assert j["index"] is None, j
    assert j["connected"] is True and j["skipped_records"] == 1 and j["session"] == "0x1234"
    assert j["last_publish_age_s"] is not None
    # stale: disconnected
    status_file(cache, connected=0, state="disconnected", last_error="connection loss")
    r = status("--json")
    j = json.loads(r.stdout)
    assert r.returncode == 1 and j["health"] == "stale" and "not connected" in j["reason"]
    assert j["last_error"] == "connection loss"
    # schema 2: every active error, by source
    status_file(cache, connected=0, state="disconnected", version=2, last_error="register x: held",
                error_connection="connection lost", error_registration="register x: held")
    r = status()
    assert "error:         connection: connection lost" in r.stdout, r.stdout
    assert "error:         registration: register x: held" in r.stdout, r.stdout
    # down: heartbeat too old, unless --max-age allows it
    status_file(cache, updated_us=int((time.time() - 120) * 1e6))
    r = status()
    assert r.returncode == 3 and "no heartbeat" in r.stdout, r.stdout
    assert status("--max-age", "300").returncode == 0
    # down: pid gone, in our PID namespace (schema 3 records it)
    p = subprocess.Popen(["true"])
    p.wait()
    ours = os.stat("/proc/self/ns/pid").st_ino
    status_file(cache, pid=p.pid, pidns=ours)
    r = status()
    assert r.returncode == 3 and "is not running" in r.stdout, r.stdout
    # the same pid from another PID namespace (or an older daemon without
    # pidns) means nothing: alive by the fresh heartbeat
    for other in ({"pidns": ours + 1}, {}):
        status_file(cache, pid=p.pid, **other)
        r = status("--live")
        assert r.returncode == 0 and "alive" in r.stdout, r.stdout
        assert "another PID namespace" in status().stdout
    # --live ignores staleness, not death
    status_file(cache, connected=0, state="disconnected", pidns=ours)
    assert status().returncode == 1 and status("--live").returncode == 0
    status_file(cache, heartbeat_us=int((time.time() - 120) * 1e6), heartbeat_interval_s=5)
    r = status("--live")
    assert r.returncode == 3 and "dead or hung" in r.stdout, r.stdout
    # down: stopped
    status_file(cache, state="stopped", connected=0)
    assert status().returncode == 3
    # unreadable status file
    status_file(cache, records="many")
    r = status()
    assert r.returncode == 3 and "unreadable" in r.stdout, r.stdout
    # status needs no zookeeper key and no ZooKeeper at all
    conf = write("cacheonly.conf", "cache = %s\n" % cache)
    status_file(cache)
    assert status(conf=conf).returncode == 0


def test_status_json_any_bytes():
    """--json stays JSON whatever bytes the cache path and last_error hold:
    UTF-8 reads back as written, ill-formed bytes as U+FFFD."""
    env = state["env"]
    for raw, shown in [("cach\u00e9-\u20ac".encode(), "cach\u00e9-\u20ac"),
                       (b"cach\xc3-\xff", "cach\ufffd-\ufffd")]:
        cache = os.path.join(env.dir.encode(), raw)
        conf = os.path.join(env.dir, "bytes.conf")
        with open(conf, "wb") as f:
            f.write(b"cache = " + cache + b"\n")
        r = subprocess.run([CTL, "-c", conf, "status", "--json"], capture_output=True,
                           timeout=HANG_GUARD, stdin=subprocess.DEVNULL)
        assert r.returncode == 3, r
        j = json.loads(r.stdout.decode("utf-8"))   # strict: fails on bad bytes
        assert j["cache"] == env.dir + "/" + shown, j
        assert j["health"] == "down"
        # the daemon's last error, from its status file, is not trusted either
        os.makedirs(cache, exist_ok=True)
        status_file(os.fsdecode(cache), last_error="XLASTERRORX")
        with open(os.path.join(cache, b"status"), "rb") as f:
            text = f.read().replace(b"XLASTERRORX", b"caf\xc3\xa9 \xff")
        with open(os.path.join(cache, b"status"), "wb") as f:
            f.write(text)
        r = subprocess.run([CTL, "-c", conf, "status", "--json"], capture_output=True,
                           timeout=HANG_GUARD, stdin=subprocess.DEVNULL)
        j = json.loads(r.stdout.decode("utf-8"))
        assert j["last_error"] == "caf\u00e9 \ufffd", j


def test_status_with_daemon():
    if not os.path.exists(ZKCACHED):
        print("(zkcached not built: daemon part skipped)")
        return
    env = state["env"]
    cache = os.path.join(env.dir, "dcache")
    conf = env.write_conf(path=os.path.join(env.dir, "daemon.conf"), cache=cache)
    e = dict(os.environ)
    e.pop("LD_PRELOAD", None)
    d = subprocess.Popen([ZKCACHED, "-c", conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e,
                         preexec_fn=zkharness._pdeathsig)
    try:
        wait_for(lambda: run("status", conf=conf).returncode == 0, "a healthy status")
        d.terminate()
        d.wait(timeout=30)
        r = run("status", conf=conf)
        assert r.returncode == 3, r.stdout
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()


def start_daemon(conf):
    e = dict(os.environ)
    e.pop("LD_PRELOAD", None)
    return subprocess.Popen([ZKCACHED, "-c", conf], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e,
                            preexec_fn=zkharness._pdeathsig)


def read_status(cache):
    try:
        with open(os.path.join(cache, "status")) as f:
            return dict(line.rstrip("\n").split(" ", 1) for line in f if " " in line)
    except OSError:
        return {}


def field(out, label):
    """The text after `label` (padded to 14 columns) on its line of
    status's output, or None."""
    for line in out.splitlines():
        if line.startswith(label.ljust(14) + " "):
            return line[15:]
    return None


def test_status_index():
    """The index block of real zkcached: an indexer and a consumer of one
    index, a consumer waiting (no index, more hosts than
    index_fallback_max) and one refusing a head of an unknown format."""
    if not os.path.exists(ZKCACHED):
        print("(zkcached not built: index part skipped)")
        return
    env, kz = state["env"], state["kz"]
    for root, n in (("/ctlidx", 12), ("/ctlwait", 3), ("/ctlref", 2)):
        for i in range(n):
            kz.create("%s/hosts/h%d" % (root, i), ("10.40.0.%d" % (i + 1)).encode(),
                      makepath=True)
    kz.create("/ctlref/index/v1/head", b"zkhosts-index 9 1 1\nfrom a later zkhosts\n",
              makepath=True)
    # the indexer spreads its 12 data watches over watch sessions of 10
    roles = {"idx": ("/ctlidx", {"indexer": "yes", "watches_per_session": 10}),
             "con": ("/ctlidx", {"indexer": "no"}),
             "wait": ("/ctlwait", {"indexer": "no", "index_fallback_max": 2}),
             "ref": ("/ctlref", {"indexer": "no"})}
    confs, caches, procs = {}, {}, []
    for name, (root, keys) in roles.items():
        caches[name] = os.path.join(env.dir, "icache-" + name)
        confs[name] = env.write_conf(path=os.path.join(env.dir, "index-%s.conf" % name),
                                     root=root, cache=caches[name], **keys)
    try:
        for name in roles:
            procs.append(start_daemon(confs[name]))
        # the indexer wrote the index and the consumer holds it all
        wait_for(lambda: read_status(caches["idx"]).get("index_role") == "indexer" and
                 int(read_status(caches["idx"]).get("index_writes", 0)) > 0, "the indexer")
        wait_for(lambda: read_status(caches["con"]).get("index_role") == "consumer" and
                 read_status(caches["con"]).get("records") == "12", "the consumer in step")
        wait_for(lambda: read_status(caches["wait"]).get("index_role") == "waiting", "waiting")
        wait_for(lambda: read_status(caches["ref"]).get("index_role") == "refused", "refused")

        def steady(name):
            """status's output and the status file it was made from (the
            same file read before and after, counters may still move)."""
            before = read_status(caches[name])
            r = run("status", conf=confs[name])
            return before == read_status(caches[name]) and (r, before)

        for name in ("idx", "con"):
            r, st = wait_for(lambda: steady(name), "a steady status of " + name)
            assert r.returncode == 0, r.stdout + r.stderr
            words = {"idx": "indexer (writes the fleet index)",
                     "con": "consumer (follows the fleet index)"}[name]
            assert field(r.stdout, "index:") == words, r.stdout
            # nothing changes any more: the file and the output agree
            assert field(r.stdout, "index held:") == "epoch %s, %s bucket%s, write %s applied" % (
                st["index_epoch"], st["index_buckets"],
                "" if st["index_buckets"] == "1" else "s", st["index_seq"]), (r.stdout, st)
            assert int(st["index_epoch"]) > 0 and int(st["index_seq"]) > 0, st
            assert field(r.stdout, "index lag:") == "none (in step with /ctlidx/hosts)", r.stdout
            assert field(r.stdout, "index reads:") == (
                "%s head, %s bucket, %s version checks (exists)" % (
                    st["index_head_reads"], st["index_bucket_reads"],
                    st["index_exists_reads"])), (r.stdout, st)
            assert field(r.stdout, "index hint:") is None, r.stdout
            j = json.loads(run("status", "--json", conf=confs[name]).stdout)["index"]
            assert j["role"] == st["index_role"] and j["hint"] is None, j
            assert j["epoch"] == int(st["index_epoch"]) and j["buckets"] >= 1, (j, st)
            assert j["seq"] >= int(st["index_seq"]) and j["lag_ms"] == 0, (j, st)
            assert j["head_reads"] >= int(st["index_head_reads"]) >= 1, (j, st)
        idx_out = run("status", conf=confs["idx"]).stdout
        writes = field(idx_out, "index writes:")
        assert writes is not None and writes.endswith(
            ", 0 refused by compare-and-set (another indexer wrote first)"), idx_out
        assert int(writes.split(",")[0]) >= 1, idx_out
        st = read_status(caches["idx"])
        assert int(st["watch_sessions"]) == 2, st
        assert field(idx_out, "watches:") == (
            "2 extra sessions (at most %s data watches on one; %s established so far)" % (
                st["watch_max"], st["watch_sessions_new"])), (idx_out, st)
        j = json.loads(run("status", "--json", conf=confs["idx"]).stdout)["index"]
        assert j["watch_sessions"] == 2 and j["watch_max"] == int(st["watch_max"]), (j, st)
        con_out = run("status", conf=confs["con"]).stdout
        assert field(con_out, "watches:") is None, con_out   # no watch session
        assert field(con_out, "index writes:") is None, con_out   # a consumer writes none
        assert int(field(con_out, "index reads:").split()[0]) >= 1, con_out

        r = run("status", conf=confs["wait"])
        assert field(r.stdout, "index:") == (
            "waiting (no usable index: serves its last snapshot, waits)"), r.stdout
        assert field(r.stdout, "index held:") == "none yet", r.stdout
        assert field(r.stdout, "index lag:") == "not measured (no index followed)", r.stdout
        hint = field(r.stdout, "index hint:")
        assert hint and "/ctlwait/hosts holds more than index_fallback_max (2 here)" in hint, \
            r.stdout
        assert "check that an indexer runs" in hint, hint
        j = json.loads(run("status", "--json", conf=confs["wait"]).stdout)["index"]
        assert j["role"] == "waiting" and j["hint"] == hint, j

        r = run("status", conf=confs["ref"])
        assert field(r.stdout, "index:") == (
            "refused (cannot use the index head: serves its last snapshot)"), r.stdout
        hint = field(r.stdout, "index hint:")
        assert hint and hint.startswith("/ctlref/index/v1/head cannot be used"), r.stdout
        assert "error: index" in hint or "error_index" in hint, hint
        assert "\nerror:         index: index head /ctlref/index/v1/head: " in r.stdout, r.stdout
        j = json.loads(run("status", "--json", conf=confs["ref"]).stdout)["index"]
        assert j["role"] == "refused" and j["hint"] == hint, j
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def main():
    tests = [test_usage_errors, test_bad_config, test_unreachable, test_add_get_rm, test_ls,
             test_import_hosts_file, test_import_dry_run_plan, test_export_ephemeral,
             test_import_json,
             test_import_json_syntax_error_writes_nothing, test_export_import_round_trip,
             test_status, test_status_json_any_bytes, test_status_with_daemon,
             test_status_index]
    try:
        require(CTL)
    except Skip as e:
        print(e)
        sys.exit(77)
    with ZooKeeper() as zk, Env(zk) as env:
        state.update(zk=zk, env=env, kz=zk.kazoo())
        run_tests(tests)


if __name__ == "__main__":
    main()
