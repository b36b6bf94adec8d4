#!/usr/bin/python3
"""test_zkhostctl_resolve - `zkhostctl resolve NAME|ADDRESS [--json]`
explains the module's answer from this host's snapshot, then this
process's NSS chain's answer.

A snapshot published by zkh-publish with domain cluster.example holds
"Web" (written with a capital), "db.cluster.example" (stored qualified),
both "api" and "api.cluster.example" (siblings), and two names sharing
an address (reverse answer with aliases, in creation order, which is
not name order):

  * domain forms: "web.cluster.example" is found under its second key
    "web" (domain dropped), "db" under "db.cluster.example" (domain
    added); the canonical name and alias are the module's;
  * case: "WEB." folds to "web" and the record keeps "Web" as written;
  * siblings: "api" finds record "api", reports "api.cluster.example" as
    shadowed, and neither has the other's name as alias;
  * reverse: 10.0.0.5 gives both records in creation order, each
    resolving back; ::ffff:10.0.0.5 is answered by the IPv4-mapped rule;
  * not found: exit 1; a bad name exits 2; a cache refused by the trust
    rules (group-writable) exits 3, as the module refuses it;
  * --json is valid JSON with the same facts;
  * without a domain only the exact key is tried;
  * NSS chain: run with the nss_select shim and chain "zk", the process's
    getaddrinfo/gethostbyaddr answer agrees with the snapshot's;
    with chain "files" (the name is not in /etc/hosts) it does not.
No ZooKeeper needed. Exit 0 pass, 1 fail, 77 skip.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from toolenv import BUILD, Env, Skip, require, run_tests, select_env  # noqa: E402

CTL = os.path.join(BUILD, "zkhostctl")
PUBLISH = os.path.join(BUILD, "tests", "tools", "zkh-publish")
DOMAIN = "cluster.example"

state = {}


def resolve(*args, chain="zk"):
    env = select_env(state["env"].conf, chain)
    return subprocess.run([CTL, "-c", state["env"].conf, "resolve"] +
                          list(args), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env=env)


def rjson(*args, want=0, chain="zk"):
    r = resolve(*(args + ("--json",)), chain=chain)
    assert r.returncode == want, "resolve %r: exit %d, want %d: %s" % (
        args, r.returncode, want, r.stderr)
    return json.loads(r.stdout)


def test_domain_forms():
    d = rjson("web." + DOMAIN)
    assert [t["key"] for t in d["tried"]] == ["web." + DOMAIN, "web"], d
    assert [t["found"] for t in d["tried"]] == [False, True], d
    assert d["domain_form_matched"] is True
    assert d["record"]["name"] == "Web" and d["record"]["addresses"] == [
        "10.0.0.1"], d
    assert d["canonical"] == "Web." + DOMAIN and d["aliases"] == ["Web"], d
    d = rjson("db")
    assert [t["key"] for t in d["tried"]] == ["db", "db." + DOMAIN], d
    assert d["record"]["key"] == "db." + DOMAIN, d
    assert d["canonical"] == "db." + DOMAIN and d["aliases"] == ["db"], d
    assert d["snapshot"]["domain"] == DOMAIN
    assert d["snapshot"]["generation"] >= 1
    assert d["record"]["mzxid"] is None and d["record"]["ephemeral"] is None


def test_case_and_text():
    r = resolve("WEB.")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "folded:       web\n" in out, out
    assert "record:       Web (czxid" in out, out
    assert "canonical:    Web." + DOMAIN in out, out
    assert "alias:        Web\n" in out, out
    assert "generation" in out and "published:" in out, out


def test_siblings():
    d = rjson("api")
    assert d["record"]["key"] == "api" and d["domain_form_matched"] is False
    assert d["canonical"] == "api" and d["aliases"] == [], d
    assert [s["key"] for s in d["shadowed"]] == ["api." + DOMAIN], d
    d = rjson("API." + DOMAIN)
    assert d["record"]["key"] == "api." + DOMAIN, d
    assert d["canonical"] == "api." + DOMAIN and d["aliases"] == [], d
    assert [s["key"] for s in d["shadowed"]] == ["api"], d
    d = rjson("web")
    assert d["shadowed"] == [], d


def test_reverse():
    d = rjson("10.0.0.5")
    assert d["kind"] == "address" and d["ipv4_mapped"] is False
    assert [x["name"] for x in d["records"]] == ["zeta", "alpha"], d
    assert d["records"][0]["canonical"] == "zeta." + DOMAIN
    assert d["records"][0]["alias"] == "zeta"
    assert all(x["resolves_back"] for x in d["records"]), d
    assert d["canonical"] == "zeta." + DOMAIN
    d = rjson("::ffff:10.0.0.5")
    assert d["ipv4_mapped"] is True, d
    assert [x["name"] for x in d["records"]] == ["zeta", "alpha"], d
    r = resolve("::ffff:10.0.0.5")
    assert "IPv4-mapped" in r.stdout and "resolves back" in r.stdout, r.stdout


def test_not_found_and_usage():
    d = rjson("nope", want=1)
    assert d["record"] is None, d
    r = resolve("nope." + DOMAIN)
    assert r.returncode == 1 and "not in the snapshot" in r.stderr, r.stderr
    d = rjson("10.9.9.9", want=1)
    assert d["records"] == [], d
    r = resolve("bad_name!")
    assert r.returncode == 2 and "neither an address" in r.stderr, r.stderr
    r = subprocess.run([CTL, "-c", state["env"].conf, "resolve"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr


def test_refused_cache():
    cache = state["env"].cache
    os.chmod(cache, 0o775)
    try:
        r = resolve("web")
        assert r.returncode == 3 and "refused" in r.stderr, (r.returncode,
                                                             r.stderr)
    finally:
        os.chmod(cache, 0o755)
    assert resolve("web").returncode == 0


def test_nss_chain():
    d = rjson("db")
    assert d["nss"]["found"] is True, d["nss"]
    assert d["nss"]["canonical"] == "db." + DOMAIN, d["nss"]
    assert d["nss"]["addresses"] == ["10.0.0.2"], d["nss"]
    assert d["nss"]["matches_snapshot"] is True, d["nss"]
    assert d["nss"]["chain"], d["nss"]
    d = rjson("10.0.0.5")
    assert d["nss"]["canonical"] == "zeta." + DOMAIN, d["nss"]
    assert d["nss"]["matches_snapshot"] is True, d["nss"]
    r = resolve("db")
    assert "agrees:       yes" in r.stdout, r.stdout
    # Through `files` only (db is not in this machine's /etc/hosts): the
    # chain answers nothing and the tool says it differs.
    d = rjson("db", chain="files")
    assert d["nss"]["found"] is False and not d["nss"]["matches_snapshot"]
    assert d["nss"]["in_etc_hosts"] is False
    # The tool reads /etc/hosts itself: localhost is there on any usual
    # machine (checked here, not assumed).
    with open("/etc/hosts") as f:
        names = {w.lower() for line in f
                 for w in line.split("#")[0].split()[1:]}
    d = rjson("localhost", want=1, chain="files")
    assert d["nss"]["in_etc_hosts"] is ("localhost" in names), d["nss"]


def test_no_domain():
    """Without a domain only the exact key is tried, and a record has no
    alias."""
    with Env(None) as env:
        hosts = os.path.join(env.dir, "hosts")
        with open(hosts, "w") as f:
            f.write("10.0.1.1 web\n")
        subprocess.run([PUBLISH, env.cache, hosts], check=True,
                       capture_output=True, timeout=60)
        saved = state["env"]
        state["env"] = env
        try:
            d = rjson("web")
            assert [t["key"] for t in d["tried"]] == ["web"], d
            assert d["canonical"] == "web" and d["aliases"] == [], d
            assert d["snapshot"]["domain"] is None, d
            d = rjson("web." + DOMAIN, want=1)
            assert [t["key"] for t in d["tried"]] == ["web." + DOMAIN], d
        finally:
            state["env"] = saved


def main():
    try:
        require(CTL, PUBLISH)
        select_env(None, "zk")
    except Skip as e:
        print(e)
        sys.exit(77)
    with Env(None, domain=DOMAIN) as env:
        state["env"] = env
        hosts = os.path.join(env.dir, "hosts")
        with open(hosts, "w") as f:
            f.write("10.0.0.1 Web\n"
                    "10.0.0.2 db.%s\n"
                    "10.0.0.3 api\n"
                    "10.0.0.4 api.%s\n"
                    "10.0.0.5 zeta alpha\n" % (DOMAIN, DOMAIN))
        subprocess.run([PUBLISH, "--domain", DOMAIN, env.cache, hosts],
                       check=True, capture_output=True, timeout=60)
        run_tests([test_domain_forms, test_case_and_text, test_siblings,
                   test_reverse, test_not_found_and_usage, test_refused_cache,
                   test_nss_chain, test_no_domain])


if __name__ == "__main__":
    main()
