#!/usr/bin/python3
"""demo - `make cluster-demo`: a Hadoop-style cluster on one machine.

Builds the lab of lab.py (private network and mount namespaces, a bridge,
five hosts each with its own netns, mount ns and hostname), a 3-server
ZooKeeper ensemble on the bridge, and runs the phases of scenario.py:
boot order with zkbarrier, every host resolving every host, Hadoop's
checks in Java from namenode, and membership (a datanode dies and comes
back). Prints what each phase saw; exits 0 when every outcome was right,
1 when one was wrong (with the logs of the hosts), 2 when the machine
cannot make namespaces. Everything is torn down at the end, also on
failure and Ctrl-C. Root only; run under /usr/bin/python3.

Environment: ZKH_BUILD (build dir, default <repo>/build), ZKH_WAIT
(generous deadline per step, seconds, default 60), ZKH_KEEP (keep the
lab's temp dir for inspection).
"""

import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import lab  # noqa: E402
import scenario  # noqa: E402


def say(s):
    print(s, flush=True)


def main():
    build = os.environ.get("ZKH_BUILD") or os.path.join(SRC, "build")
    for prog in ("zkcached", "zkbarrier", "libnss_zk.so.2"):
        if not os.path.exists(os.path.join(build, prog)):
            say("cluster-demo: %s not built (run make)" % os.path.join(build, prog))
            return 2
    try:
        lab.isolate()
    except lab.Unsupported as e:
        say("cluster-demo: cannot build the lab on this machine: %s" % e)
        return 2
    t0 = time.monotonic()
    c = scenario.Cluster(SRC, build, say)
    try:
        c.start()
        c.boot()
        c.matrix()
        c.java()
        c.membership()
    except Exception:
        say("\ncluster-demo: FAILED")
        traceback.print_exc(file=sys.stdout)
        c.dump_logs()
        return 1
    except BaseException:  # Ctrl-C, SIGTERM (zkharness turns them into SystemExit)
        say("\ncluster-demo: interrupted; tearing the lab down")
        raise
    finally:
        c.close()
    say("\ncluster-demo: all checks passed in %.1fs; lab torn down" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
