#!/usr/bin/python3
"""test_zkhostctl_reader - zkhostctl answers as the NSS module does, because
both go through the shared snapshot reader (common/core, snapread.h).

  * `get` applies `domain` with the module's rule: with domain
    cluster.example, "web.cluster.example" finds record "web" and "db"
    finds record "db.cluster.example", in any case, with a trailing dot;
    a name neither way is "no record". The same queries against a
    snapshot holding the same records (zkh-publish --domain, resolved by
    the module through nss_call) give the same addresses, name by name.
  * `status` reads the snapshot with the module's trust rules: a cache
    directory writable by its group is reported as refused, as the module
    refuses it; the same cache made 0755 again shows its generation.
Needs ZooKeeper (skips with 77 otherwise). Exit 0 pass, 1 fail.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zkharness import ZooKeeper  # noqa: E402
from toolenv import BUILD, Env, Skip, require, run_tests  # noqa: E402

CTL = os.path.join(BUILD, "zkhostctl")
PUBLISH = os.path.join(BUILD, "tests", "tools", "zkh-publish")
CALL = os.path.join(BUILD, "tests", "tools", "nss_call")
LIB = os.path.join(BUILD, "libnss_zk.so.2")
DOMAIN = "cluster.example"
HOSTS = "/zkhosts/hosts"

state = {}


def ctl(*args):
    return subprocess.run([CTL, "-c", state["env"].conf] + list(args),
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def module_addrs(name):
    """Addresses the module answers for name (name4), [] if none."""
    env = dict(os.environ, ZKHOSTS_CONF=state["env"].conf)
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    p = subprocess.run([CALL, "--buflen", "4096", LIB, "name4", name],
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    if not lines[0].startswith("status SUCCESS"):
        return []
    return [l.split()[2] for l in lines[1:] if l.startswith("tuple ")]


def test_get_applies_domain():
    kz = state["kz"]
    kz.ensure_path(HOSTS)
    kz.create(HOSTS + "/web", b"10.0.0.1")
    kz.create(HOSTS + "/db." + DOMAIN, b"10.0.0.2")
    hosts = os.path.join(state["env"].dir, "hosts")
    with open(hosts, "w") as f:
        f.write("10.0.0.1 web\n10.0.0.2 db.%s\n" % DOMAIN)
    subprocess.run([PUBLISH, "--domain", DOMAIN, state["env"].cache, hosts],
                   check=True, capture_output=True, timeout=60)
    cases = [("web", ["10.0.0.1"]),
             ("web." + DOMAIN, ["10.0.0.1"]),
             ("WEB.Cluster.Example.", ["10.0.0.1"]),
             ("db", ["10.0.0.2"]),
             ("db." + DOMAIN, ["10.0.0.2"]),
             ("nope." + DOMAIN, []),
             ("web.other.example", [])]
    for name, want in cases:
        r = ctl("get", name)
        got = r.stdout.split() if r.returncode == 0 else []
        assert got == want, "zkhostctl get %s: exit %d %r, want %r (%s)" % (
            name, r.returncode, got, want, r.stderr.strip())
        if not want:
            assert r.returncode == 1 and "no record" in r.stderr, r.stderr
        assert module_addrs(name) == want, "module %s: %r, want %r" % (
            name, module_addrs(name), want)


def test_status_applies_trust_rules():
    cache = state["env"].cache
    r = ctl("status")
    assert "generation:" in r.stdout and "refused" not in r.stdout, r.stdout
    os.chmod(cache, 0o775)
    try:
        r = ctl("status")
        assert "refused" in r.stdout and "generation:" not in r.stdout, \
            r.stdout
        assert module_addrs("web") == [], "the module must refuse it too"
    finally:
        os.chmod(cache, 0o755)
    r = ctl("status")
    assert "generation:" in r.stdout, r.stdout


def main():
    try:
        require(CTL, PUBLISH, CALL, LIB)
    except Skip as e:
        print(e)
        sys.exit(77)
    with ZooKeeper() as zk, Env(zk, domain=DOMAIN) as env:
        state.update(zk=zk, env=env, kz=zk.kazoo())
        run_tests([test_get_applies_domain, test_status_applies_trust_rules])


if __name__ == "__main__":
    main()
