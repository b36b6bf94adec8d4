#!/usr/bin/python3
"""measure-wait-wakeup.py [N] - how long `zkbarrier wait` takes to return
after the state it waits for is set (design target: 50 ms). Not a test.

For each of N services (default 50): start `zkbarrier wait svcI up`, wait
until the server reports the watch armed on /zkhosts/boot/svcI (4-letter
word wchp), set the state with kazoo, and time from the set's
acknowledgement to the process's exit (which includes closing the
session). Prints the median, p90 and max in ms. Uses a private ZooKeeper
from tests/lib/zkharness.py and build/zkbarrier.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import zkharness  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
EXE = os.path.join(os.environ.get("ZKH_BUILD", os.path.join(HERE, "..", "build")), "zkbarrier")

with zkharness.ZooKeeper() as zk, tempfile.TemporaryDirectory() as d:
    conf = os.path.join(d, "zkhosts.conf")
    with open(conf, "w") as f:
        f.write("zookeeper = %s\n" % zk.connect_string)
    kz = zk.kazoo()
    kz.ensure_path("/zkhosts/boot")
    port = int(zk.connect_string.rsplit(":", 1)[1])
    lat = []
    for i in range(N):
        path = "/zkhosts/boot/svc%d" % i
        kz.create(path, b"boot")
        p = subprocess.Popen([EXE, "-c", conf, "wait", "svc%d" % i, "up", "--timeout", "60"],
                             preexec_fn=zkharness._pdeathsig)
        deadline = time.monotonic() + 10
        while path not in (zkharness.four_letter(port, "wchp") or ""):
            if time.monotonic() > deadline:
                sys.exit("watch never armed")
            time.sleep(0.005)
        kz.set(path, b"up")
        t0 = time.monotonic()
        assert p.wait(timeout=60) == 0
        lat.append((time.monotonic() - t0) * 1000)
    lat.sort()
    print("zkbarrier wait wake-up over %d sets: median %.1f ms, p90 %.1f ms, max %.1f ms"
          % (N, statistics.median(lat), lat[int(0.9 * (N - 1))], lat[-1]))
