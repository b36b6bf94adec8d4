#!/usr/bin/python3
"""test_signal - lookups from inside a signal handler never deadlock.

A publisher (tests/tools/nss_churn, the real publish.h code) republishes a
cache of 200 stable names plus one whose address alternates, while
tests/stress/sig_lookup:
  * steady: the main thread resolves through the module's forward entry
    points in a loop and a 10 kHz SIGALRM handler resolves too, so the
    handler interrupts every part of a lookup (snapshot swaps and reaping
    included): every answer right, no hang;
  * first open: fresh children arm a 20 us timer before their very first
    lookup, so the handler interrupts the module's initialisation and
    first open on the same thread: it must get UNAVAIL or the right
    answer, never hang (this deadlocked before the owner-word locks in
    nss_zk/current.c); the case must really have been hit;
  * getaddrinfo in the handler (`hosts: zk` chosen in-process by the
    nss_select.so preload shim, no privilege needed) while the main
    thread holds no glibc lock.
What is and is not async-signal-safe is in docs/security.md.
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkhdaemon  # noqa: E402

BUILD = os.environ.get("ZKH_BUILD", os.path.abspath("build"))
LIB = os.path.join(BUILD, "libnss_zk.so.2")
CHURN = os.path.join(BUILD, "tests/tools/nss_churn")
SIG = os.path.join(BUILD, "tests/stress/sig_lookup")
MODEL = ["stable:host:200", "churn:churn:10.255.0.1/10.255.0.2"]
# ThreadSanitizer delivers asynchronous signals only at its own safe points
# (intercepted calls), so under it a handler never interrupts the first
# open mid-way, and getaddrinfo in a handler crashes inside its runtime:
# only the steady case is meaningful there (make check-tsan).
TSAN = "tsan" in os.environ.get("ZKH_PRELOAD", "") or "san-thread" in BUILD
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(cmd, env, timeout=180):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    print(" ".join(os.path.basename(c) for c in cmd[:2]), "->",
          p.returncode, p.stdout.strip(), p.stderr.strip()[-600:])
    return p


def main():
    # the shim only serves the getaddrinfo case, which TSan skips
    for p in (LIB, CHURN, SIG) + (() if TSAN else (zkhdaemon.NSS_SELECT,)):
        if not os.path.exists(p):
            print("%s not built" % p)
            return 77
    tmp = tempfile.mkdtemp(prefix="zkh-signal-")
    os.chmod(tmp, 0o755)
    cache = os.path.join(tmp, "cache")
    conf = os.path.join(tmp, "zkhosts.conf")
    with open(conf, "w") as f:
        f.write("cache = %s\n" % cache)
    env = dict(os.environ, ZKHOSTS_CONF=conf)
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    subprocess.run([CHURN, cache, "host", "200", "churn", "1"], check=True,
                   timeout=60, stdout=subprocess.DEVNULL)
    pub = subprocess.Popen([CHURN, cache, "host", "200", "churn", "0"],
                           stdout=subprocess.PIPE, text=True)
    try:
        p = run([SIG, "--rate", "10000", LIB, "3"] + MODEL, env)
        check(p.returncode == 0, "steady: handler lookups over a lookup "
              "loop (exit %d, 3 = deadlock)" % p.returncode)
        check("errors 0" in p.stdout, "steady: no wrong answer")

        p = run([SIG, "--first-open", "400", LIB] + MODEL, env)
        check(p.returncode == 0, "first open interrupted by a lookup on "
              "the same thread (exit %d, 3 = deadlock)" % p.returncode)
        fields = p.stdout.split()
        hits = int(fields[3]) if len(fields) > 3 else 0
        check(hits > 0 or TSAN, "the handler really interrupted a first "
              "open")

        # getaddrinfo from the handler, through `hosts: zk` selected
        # in-process by the preload shim.
        if TSAN:
            print("getaddrinfo case skipped under ThreadSanitizer")
        else:
            genv = zkhdaemon.select_env(conf, "zk", base=env)
            p = run([SIG, "--gai", "--rate", "2000", LIB, "2"] + MODEL, genv)
            check(p.returncode == 0, "getaddrinfo in the handler "
                  "(exit %d)" % p.returncode)
    finally:
        pub.send_signal(signal.SIGTERM)
        pub.communicate(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
