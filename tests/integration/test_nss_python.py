#!/usr/bin/python3
"""test_nss_python - an ordinary client (CPython's socket module) resolves
through libnss_zk.so.2 with `hosts: files zk` in nsswitch.conf.

The real /etc/nsswitch.conf is never touched and no privilege is needed:
the unmodified python3 runs with the nss_select.so preload shim
(tests/tools/nss_select.c), which selects `hosts: files zk` in-process
with glibc's __nss_configure_lookup, as `getent -s` does. Checks getaddrinfo (both families,
AF_INET only, AF_INET6 only, canonical name), gethostbyname_ex,
gethostbyaddr (IPv4 and IPv6), that /etc/hosts still answers first
(localhost), that an unknown name gives EAI_NONAME, and that with the cache
missing the chain still works (files answers, unknown names fail cleanly).
Exits 77 if the shim or the publisher is not built.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkhdaemon  # noqa: E402

BUILD = os.environ.get("ZKH_BUILD", os.path.abspath("build"))
PUBLISH = os.path.join(BUILD, "tests/tools/zkh-publish")
PY = "/usr/bin/python3"

HOSTS = """\
10.0.0.5 alpha web
fd00::5 alpha
10.0.0.6 beta
fd00::9 v6only
"""

CLIENT = r'''
import json, socket, sys
out = {}
def run(key, fn):
    try:
        out[key] = fn()
    except socket.gaierror as e:
        out[key] = ["gaierror", e.errno]
    except socket.herror as e:
        out[key] = ["herror", e.errno]
def gai(name, fam, flags=0):
    r = socket.getaddrinfo(name, None, fam, socket.SOCK_STREAM, 0, flags)
    return [[x[0].name, x[4][0], x[3]] for x in r]
run("gai_alpha", lambda: gai("alpha", socket.AF_UNSPEC, socket.AI_CANONNAME))
run("gai_alpha4", lambda: gai("alpha.example.com", socket.AF_INET))
run("gai_alpha6", lambda: gai("ALPHA", socket.AF_INET6))
run("gai_beta6", lambda: gai("beta", socket.AF_INET6))
run("gai_nope", lambda: gai("nope-not-there.invalid", socket.AF_UNSPEC))
run("gai_localhost", lambda: gai("localhost", socket.AF_INET))
run("ghbn_ex", lambda: list(socket.gethostbyname_ex("web")))
run("ghbn", lambda: socket.gethostbyname("beta"))
run("ghba4", lambda: list(socket.gethostbyaddr("10.0.0.5")))
run("ghba6", lambda: list(socket.gethostbyaddr("fd00::5")))
run("ghba_nope", lambda: list(socket.gethostbyaddr("10.77.0.1")))
print(json.dumps(out))
'''

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run_client(tmp, conf):
    env = zkhdaemon.select_env(conf, "files zk")
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    if os.environ.get("ZKH_PRELOAD"):
        env["ASAN_OPTIONS"] = "detect_leaks=0"   # python3's own leaks
    script = os.path.join(tmp, "client.py")
    with open(script, "w") as f:
        f.write(CLIENT)
    p = subprocess.run([PY, script], env=env, capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        print(p.stderr)
        return None
    return json.loads(p.stdout)


def main():
    for p in (PUBLISH, zkhdaemon.NSS_SELECT):
        if not os.path.exists(p):
            print("%s not built" % p)
            return 77
    tmp = tempfile.mkdtemp(prefix="zkh-nss-py-")
    os.chmod(tmp, 0o755)
    cache = os.path.join(tmp, "cache")
    hosts = os.path.join(tmp, "hosts")
    conf = os.path.join(tmp, "zkhosts.conf")
    with open(hosts, "w") as f:
        f.write(HOSTS)
    with open(conf, "w") as f:
        f.write("cache = %s\n" % cache)
    subprocess.run([PUBLISH, "--domain", "example.com", cache, hosts],
                   check=True, timeout=60)

    r = run_client(tmp, conf)
    check(r is not None, "client ran")
    if r:
        a = r["gai_alpha"]
        check(isinstance(a[0], list) and
              {x[1] for x in a} == {"10.0.0.5", "fd00::5"} and
              a[0][2] == "alpha.example.com",
              "getaddrinfo alpha (both families, canonname): %r" % a)
        check(r["gai_alpha4"] == [["AF_INET", "10.0.0.5", ""]],
              "getaddrinfo AF_INET: %r" % r["gai_alpha4"])
        check(r["gai_alpha6"] == [["AF_INET6", "fd00::5", ""]],
              "getaddrinfo AF_INET6: %r" % r["gai_alpha6"])
        check(r["gai_beta6"][0] == "gaierror",
              "AF_INET6 of an IPv4-only name fails: %r" % r["gai_beta6"])
        check(r["gai_nope"] == ["gaierror", socket_eai_noname()],
              "unknown name is EAI_NONAME: %r" % r["gai_nope"])
        check(r["gai_localhost"] and r["gai_localhost"][0][1] ==
              "127.0.0.1", "files still answers: %r" % r["gai_localhost"])
        check(r["ghbn_ex"] == ["web.example.com", ["web"], ["10.0.0.5"]],
              "gethostbyname_ex web: %r" % r["ghbn_ex"])
        check(r["ghbn"] == "10.0.0.6", "gethostbyname beta")
        check(r["ghba4"] == ["alpha.example.com",
                             ["alpha", "web.example.com", "web"],
                             ["10.0.0.5"]],
              "gethostbyaddr 10.0.0.5: %r" % r["ghba4"])
        check(r["ghba6"] == ["alpha.example.com", ["alpha"], ["fd00::5"]],
              "gethostbyaddr fd00::5: %r" % r["ghba6"])
        check(r["ghba_nope"][0] == "herror",
              "gethostbyaddr unknown: %r" % r["ghba_nope"])

    # Cache gone: files still answers, our names are simply unknown.
    subprocess.run(["rm", "-rf", cache])
    r = run_client(tmp, conf)
    check(r is not None, "client ran without cache")
    if r:
        check(r["gai_localhost"] and r["gai_localhost"][0][1] ==
              "127.0.0.1", "files answers without cache")
        check(r["gai_alpha"] == ["gaierror", socket_eai_noname()],
              "no cache: EAI_NONAME, got %r" % r["gai_alpha"])
        # CPython resolves through getaddrinfo(AF_INET) first; glibc 2.36
        # reports an UNAVAIL-only chain there as EAI_NODATA whatever
        # h_errno the module sets (only NETDB_INTERNAL/TRY_AGAIN/NO_DATA
        # would change it, for the worse). It must fail, not crash.
        check(r["ghbn_ex"][0] in ("herror", "gaierror"),
              "no cache: gethostbyname_ex fails: %r" % r["ghbn_ex"])
    subprocess.run(["rm", "-rf", tmp])
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


def socket_eai_noname():
    import socket
    return socket.EAI_NONAME


if __name__ == "__main__":
    sys.exit(main())
