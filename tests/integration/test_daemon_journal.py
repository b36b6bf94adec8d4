#!/usr/bin/python3
"""zkcached under the journal: when its stderr is the journal's stream
(JOURNAL_STREAM names stderr's device:inode, as systemd sets it) each
message goes to journald's native socket with PRIORITY and the fields
ZKHOSTS_STATE, ZKHOSTS_SESSION and, for a message about one znode,
ZKHOSTS_ZNODE - and nothing is written to stderr. journald is stood in
for by a datagram socket of this test, bound where the daemon looks
(/run/systemd/journal/socket) inside a private mount namespace, so the
machine's /run is untouched. Needs `unshare --user --mount` (skipped with
the reason where refused)."""
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import Env, Skip, require, run_tests, wait_for, ZKCACHED, MODULE  # noqa: E402

NS = ["unshare", "--user", "--map-root-user", "--mount"]
zk = env = sock = proc = None
entries = []


def parse(dgram):
    """Native journal protocol: KEY=value lines (or KEY\\n<le64 size>value)."""
    out, i = {}, 0
    while i < len(dgram):
        nl = dgram.index(b"\n", i)
        line = dgram[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            out[k.decode()] = v.decode(errors="replace")
            i = nl + 1
        else:
            size = int.from_bytes(dgram[nl + 1:nl + 9], "little")
            out[line.decode()] = dgram[nl + 9:nl + 9 + size].decode(errors="replace")
            i = nl + 9 + size + 1
    return out


def reader():
    # read all the time, as journald does: a full socket queue would block
    # the daemon's sd_journal_sendv
    while sock.fileno() >= 0:
        try:
            entries.append(parse(sock.recv(65536)))
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            return




def setup():
    global zk, env, sock, proc
    require(ZKCACHED, MODULE)
    r = subprocess.run(NS + ["sh", "-c", "mount -t tmpfs tmpfs /run"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip("cannot make a mount namespace here (unshare --user --mount: %s)"
                   % (r.stderr.strip() or "exit %d" % r.returncode))
    zk = ZooKeeper().__enter__()
    env = Env(zk, session_timeout=2000).__enter__()
    jdir = os.path.join(env.dir, "journal")
    os.mkdir(jdir)
    os.chmod(env.dir, 0o755)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(os.path.join(jdir, "socket"))
    os.chmod(os.path.join(jdir, "socket"), 0o777)
    sock.settimeout(0.2)
    threading.Thread(target=reader, daemon=True).start()
    log = os.path.join(env.dir, "stderr.log")
    f = open(log, "ab")
    st = os.fstat(f.fileno())
    e = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    e.pop("LD_PRELOAD", None)
    script = ("mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && "
              "mount --bind \"$1\" /run/systemd/journal && shift && exec \"$@\"")
    proc = subprocess.Popen(NS + ["sh", "-c", script, "sh", jdir, ZKCACHED, "-c", env.conf],
                            stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=e)
    f.close()
    kz = zk.kazoo()
    kz.create(env.host_path("j1"), b"10.6.0.1", makepath=True)
    kz.create(env.host_path("j-bad"), b"not an address")
    env.wait_resolves("j1", {"10.6.0.1"})
    zk.release(kz)


def test_structured_entries():
    wait_for(lambda: any(x.get("ZKHOSTS_STATE") == "connected" for x in list(entries)),
             "an entry in state connected")
    # Layout lines name a znode too and come first: wait for the one
    # about the bad record itself.
    wait_for(lambda: any(x.get("ZKHOSTS_ZNODE") == env.host_path("j-bad") and
                         "skipping" in x.get("MESSAGE", "") for x in list(entries)),
             "the entry about the bad znode j-bad")
    for x in list(entries):
        assert x.get("PRIORITY") in ("3", "4", "6", "7"), x
        assert x.get("SYSLOG_IDENTIFIER") == "zkcached", x
        assert x.get("MESSAGE"), x
        assert "ZKHOSTS_STATE" in x and x["ZKHOSTS_SESSION"].startswith("0x"), x
    conn = [x for x in entries if x.get("ZKHOSTS_STATE") == "connected"]
    assert any(x["ZKHOSTS_SESSION"] != "0x0" for x in conn), conn
    znode = [x for x in entries if x.get("ZKHOSTS_ZNODE")]
    assert any(x["ZKHOSTS_ZNODE"] == env.host_path("j-bad") and "skipping" in x["MESSAGE"]
               for x in znode), znode
    with open(os.path.join(env.dir, "stderr.log")) as f:
        assert f.read() == "", "lines on stderr although the journal took them"


def teardown():
    if proc and proc.poll() is None:
        proc.terminate()
        proc.wait()
    if sock:
        sock.close()
    if env:
        env.close()
    if zk:
        zk.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests([setup, test_structured_entries, teardown])
