#!/usr/bin/python3
"""pollrewrite.py - the approach zkhosts replaces, as a benchmark baseline:
every INTERVAL seconds read every record under ROOT/hosts from ZooKeeper
(list the children, then fetch all of them, pipelined with kazoo's async
API, which is as fast as a script can do it) and rewrite OUT as an
/etc/hosts file. OUT is rewritten in place (truncate + write), as a
script must do when /etc/hosts is a bind mount (Docker's), where rename()
over it fails; readers can therefore catch a half-written file, which is
one of the flaws of this approach.

Usage: pollrewrite.py CONNECT ROOT OUT [INTERVAL]
Prints "cycle START_NS END_NS RECORDS" (CLOCK_MONOTONIC) per rewrite.
Runs until killed.
"""

import sys
import time

from kazoo.client import KazooClient


def main():
    connect, root, out = sys.argv[1:4]
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    kz = KazooClient(hosts=connect, timeout=30)
    kz.start(timeout=30)
    base = root.rstrip("/") + "/hosts"
    while True:
        t0 = time.monotonic_ns()
        names = kz.get_children(base)
        reqs = [(n, kz.get_async(base + "/" + n)) for n in names]
        lines = ["127.0.0.1 localhost\n"]
        for n, r in reqs:
            try:
                data = r.get()[0].decode("ascii", "replace")
            except Exception:
                continue
            for a in data.replace(",", " ").split():
                lines.append("%s %s\n" % (a, n))
        with open(out, "w") as f:
            f.write("".join(lines))
        t1 = time.monotonic_ns()
        print("cycle %d %d %d" % (t0, t1, len(names)), flush=True)
        time.sleep(max(0.0, interval - (t1 - t0) / 1e9))


if __name__ == "__main__":
    main()
