#!/usr/bin/python3
"""test_nss_concurrency - libnss_zk.so.2 under load, fork, descriptor abuse
and an unprivileged user, while the cache is republished continuously.

A publisher (nss_churn, the real publish.h code) republishes a cache of 200
stable names plus one name whose address alternates on every publish.
Meanwhile:
  * nss_stress: 8 threads resolve forward and reverse for a few seconds and
    the main thread keeps forking children that resolve too: zero errors
    for stable names, every churn answer one of its two real values, both
    values seen (so snapshots really were swapped under the threads);
  * nss_stress --fd-chaos: between lookups every descriptor above 2 is
    closed and /dev/null reopened onto the numbers;
  * as nobody (setpriv): getent resolves through the cache, and can create,
    change or remove nothing in the cache directory (nobody loads copies of
    the module and nss_stress from a private 0755 directory, so this does
    not depend on the checkout's directory modes: a clone under /root is
    0700);
  * readers write nothing: after all of the above, with the publisher
    stopped, lookups leave the cache directory byte-for-byte unchanged
    (no lock file, no new file, same mtimes).
Exit 0 pass, 1 fail.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkhdaemon  # noqa: E402

BUILD = os.environ.get("ZKH_BUILD", os.path.abspath("build"))
LIB = os.path.join(BUILD, "libnss_zk.so.2")
CHURN = os.path.join(BUILD, "tests/tools/nss_churn")
STRESS = os.path.join(BUILD, "tests/tools/nss_stress")
COUNT = 200
# GCC 12's AddressSanitizer allocator is not fork-safe: a child forked
# while another thread is inside its malloc deadlocks in the runtime. In
# sanitizer builds the workers are parked (between lookups) at each fork.
SANITIZED = bool(os.environ.get("ZKH_PRELOAD")) or "/san-" in BUILD
FORK = "--fork-paused" if SANITIZED else "--fork"
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup",
             "--clear-groups"]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def snapshot_dir(d):
    out = {}
    for name in sorted(os.listdir(d)):
        st = os.lstat(os.path.join(d, name))
        out[name] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode,
                     st.st_uid)
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="zkh-nss-conc-")
    os.chmod(tmp, 0o755)
    cache = os.path.join(tmp, "cache")
    conf = os.path.join(tmp, "zkhosts.conf")
    with open(conf, "w") as f:
        f.write("cache = %s\n" % cache)
    os.chmod(conf, 0o644)
    env = dict(os.environ, ZKHOSTS_CONF=conf)
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    genv = dict(env, LD_LIBRARY_PATH=BUILD)
    if os.environ.get("ZKH_PRELOAD"):
        genv["LD_PRELOAD"] = os.environ["ZKH_PRELOAD"]
        genv["ASAN_OPTIONS"] = "detect_leaks=0"
    # What nobody loads: copies in a private root-owned 0755 directory.
    mods = zkhdaemon.private_module_dir(files=(STRESS,), build=BUILD)
    nobody_lib = os.path.join(mods, os.path.basename(LIB))
    nobody_stress = os.path.join(mods, os.path.basename(STRESS))
    nenv = dict(genv, LD_LIBRARY_PATH=mods)

    subprocess.run([CHURN, cache, "host", str(COUNT), "churn", "1"],
                   check=True, timeout=60, stdout=subprocess.DEVNULL)
    pub = subprocess.Popen([CHURN, cache, "host", str(COUNT), "churn", "0"],
                           stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.2)
        p = subprocess.run([STRESS, "--threads", "8", FORK, LIB, "4",
                            "host", str(COUNT), "churn"], env=env,
                           capture_output=True, text=True, timeout=120)
        print("threads:", p.stdout.strip())
        check(p.returncode == 0, "8 threads + fork under republishing: "
              "exit %d %s" % (p.returncode, p.stderr.strip()[-800:]))

        p = subprocess.run([STRESS, "--fd-chaos", LIB, "2", "host",
                            str(COUNT), "churn"], env=env,
                           capture_output=True, text=True, timeout=120)
        print("fd chaos:", p.stdout.strip())
        check(p.returncode == 0, "descriptors closed/reused between "
              "lookups: exit %d %s" % (p.returncode, p.stderr.strip()[-800:]))

        # An unprivileged user reads, and can change nothing.
        p = subprocess.run(AS_NOBODY + ["getent", "-s", "hosts:zk", "hosts",
                                        "host7"], env=nenv,
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0 and p.stdout.split()[:2] ==
              ["10.1.0.7", "host7"], "nobody resolves: %d %r %r" %
              (p.returncode, p.stdout, p.stderr))
        p = subprocess.run(AS_NOBODY + ["getent", "-s", "hosts:zk", "hosts",
                                        "10.1.0.9"], env=nenv,
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0 and p.stdout.split()[:2] ==
              ["10.1.0.9", "host9"], "nobody reverse: %r" % p.stdout)
        attempts = [
            "touch %s/x" % cache,
            "echo > %s/hosts.mdb" % cache,
            "echo > %s/generation" % cache,
            "rm -f %s/hosts.mdb" % cache,
            "mv %s/hosts.mdb %s/y" % (cache, cache),
            "touch %s/hosts.mdb-lock" % cache,
            "chmod 666 %s/hosts.mdb" % cache,
        ]
        for cmd in attempts:
            p = subprocess.run(AS_NOBODY + ["sh", "-c", cmd],
                               capture_output=True, timeout=60)
            check(p.returncode != 0, "nobody must fail: %s" % cmd)
        p = subprocess.run(AS_NOBODY + [nobody_stress, "--threads", "2", nobody_lib, "1",
                                        "host", str(COUNT), "churn"],
                           env=env, capture_output=True, text=True,
                           timeout=60)
        print("nobody:", p.stdout.strip())
        check(p.returncode == 0, "nobody under republishing: %d %s" %
              (p.returncode, p.stderr.strip()[-400:]))
    finally:
        pub.send_signal(signal.SIGTERM)
        out, _ = pub.communicate(timeout=60)
        subprocess.run(["rm", "-rf", mods])
    print("publisher:", out.strip())
    check(pub.returncode == 0, "publisher exit %d" % pub.returncode)

    # Readers write nothing.
    before = snapshot_dir(cache)
    time.sleep(0.05)
    p = subprocess.run([STRESS, "--threads", "2", FORK, LIB, "0.5",
                        "host", str(COUNT), "churn"], env=env,
                       capture_output=True, text=True, timeout=60)
    check(" errors 0 " in p.stdout, "lookups with publisher stopped: %r"
          % p.stdout)
    subprocess.run(["getent", "-s", "hosts:zk", "hosts"], env=genv,
                   capture_output=True, timeout=60)
    after = snapshot_dir(cache)
    check(before == after, "cache directory unchanged by readers:\n%r\n%r"
          % (before, after))
    check(sorted(after) == [".master", "generation", "hosts.mdb"],
          "no reader files in the cache: %r" % sorted(after))

    subprocess.run(["rm", "-rf", tmp])
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
