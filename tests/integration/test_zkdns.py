#!/usr/bin/python3
"""test_zkdns - zkdns answers what libnss_zk answers, over DNS.

A snapshot published by zkh-publish (the real publisher, domain
cluster.example), build/zkdns on a free loopback port, and two clients
nobody here wrote: dig (bind9-dnsutils) and dnspython. Checks:
  * every name and address: dig's A/AAAA/PTR answers equal
    `getent -s hosts:zk` (ahostsv4/ahostsv6/hosts ADDR) of the same name;
  * every record type and error case: SOA/NS at the apexes, ANY minimal,
    NODATA vs NXDOMAIN with the SOA (TTL dns_ttl) in authority, AA set,
    REFUSED outside the zones and for another class, NOTIMP for AXFR,
    BADVERS, case echoed, TC over UDP and the whole answer over TCP;
  * a new snapshot is answered from the very next query; none at all
    gives SERVFAIL until one is published;
  * dns_zone without a domain, explicit dns_reverse_zones and "none";
  * as nobody without any capability, sockets passed by the socket
    activation protocol (systemd-socket-activate), dns_listen unused;
  * hostile packets (truncated, compression loops, huge counts, wrong
    class, 255-byte names, garbage) get FORMERR/REFUSED or nothing, and
    zkdns keeps answering.
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import random
import shutil
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

import zkharness  # noqa: E402
from zkdnsenv import ZKDNS as ZKDNS_BIN, Skip, Zkdns  # noqa: E402

try:
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdatatype
except ImportError:
    dns = None

HOSTS = """\
10.0.0.5 alpha web
10.0.0.6 beta
fd00::5 alpha
10.0.0.7 gamma.cluster.example
fd00::9 v6only
10.0.0.8 Multi
10.0.0.9 multi
fd00::8 MULTI
10.0.0.10 twin twin.cluster.example
10.0.1.1 a.rack1
"""
BIG = "".join("fd00::1:%x big\n" % i for i in range(1, 33))
DOMAIN = "cluster.example"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def fqdn(n):
    n = n.lower().rstrip(".")
    if n == DOMAIN or n.endswith("." + DOMAIN):
        return n + "."
    return n + "." + DOMAIN + "."


def dig_short(z, *args):
    p = z.dig("+short", *args)
    return sorted(l.lower() for l in p.stdout.split())


def dig_full(z, *args):
    return z.dig(*args).stdout


def rcode(m):
    return dns.rcode.to_text(m.rcode())


def soa_auth(m):
    return [rr for rr in m.authority if rr.rdtype == dns.rdatatype.SOA]


def test_same_as_module(z):
    names = ["alpha", "web", "beta", "gamma", "v6only", "multi", "twin",
             "a.rack1", "big"]
    for n in names:
        q = n + "." + DOMAIN
        for fam, t in (("ahostsv4", "A"), ("ahostsv6", "AAAA")):
            rc, lines = z.getent(fam, q)
            # getent ahostsv6 asks with AI_V4MAPPED: glibc adds the
            # mapped IPv4 addresses, the module gives none of them
            want = sorted({l[0] for l in lines
                           if not l[0].startswith("::ffff:")}) if rc == 0 else []
            got = dig_short(z, q, t)
            check(got == want, "%s %s: dig %s, module %s" % (q, t, got, want))
    addrs = ["10.0.0.5", "fd00::5", "10.0.0.6", "10.0.0.7", "fd00::9",
             "10.0.0.8", "10.0.0.9", "fd00::8", "10.0.0.10", "10.0.1.1"]
    for a in addrs:
        rc, lines = z.getent("hosts", a)
        check(rc == 0, "module knows %s" % a)
        want = sorted({fqdn(n) for n in lines[0][1:]}) if rc == 0 else []
        got = dig_short(z, "-x", a)
        check(got == want, "PTR %s: dig %s, module %s" % (a, got, want))


def test_record_types(z):
    m = z.query(DOMAIN, "SOA")
    check(rcode(m) == "NOERROR" and m.flags & dns.flags.AA, "apex SOA AA")
    check(len(m.answer) == 1 and m.answer[0].rdtype == dns.rdatatype.SOA,
          "apex SOA answered")
    soa = m.answer[0][0]
    check(soa.minimum == 3 and m.answer[0].ttl == 3, "SOA minimum/TTL = dns_ttl")
    m = z.query(DOMAIN, "NS")
    check(len(m.answer) == 1 and m.answer[0].rdtype == dns.rdatatype.NS,
          "apex NS answered")
    m = z.query(DOMAIN, "ANY")
    check(len(m.answer) == 1 and m.answer[0].rdtype == dns.rdatatype.SOA,
          "apex ANY: the SOA alone")
    m = z.query(DOMAIN, "A")
    check(rcode(m) == "NOERROR" and not m.answer and soa_auth(m),
          "apex A: NODATA with SOA")
    m = z.query("alpha." + DOMAIN, "ANY")
    check(len(m.answer) == 1 and m.answer[0].rdtype == dns.rdatatype.A,
          "ANY answered minimally with one RRset (RFC 8482): %s" % m.answer)
    m = z.query("v6only." + DOMAIN, "ANY")
    check(len(m.answer) == 1 and m.answer[0].rdtype == dns.rdatatype.AAAA,
          "ANY of an IPv6-only host: the AAAA set")
    m = z.query("alpha." + DOMAIN, "A")
    check(m.answer and m.answer[0].ttl == 3, "answer TTL = dns_ttl")
    check(m.flags & dns.flags.AA and not m.flags & dns.flags.RA, "AA set, RA not")
    # NODATA vs NXDOMAIN
    for name, t in (("v6only", "A"), ("beta", "AAAA"), ("alpha", "TXT"),
                    ("alpha", "MX"), ("alpha", "CNAME"), ("alpha", "PTR")):
        m = z.query(name + "." + DOMAIN, t)
        s = soa_auth(m)
        check(rcode(m) == "NOERROR" and not m.answer and s and
              s[0].ttl <= 3 and m.flags & dns.flags.AA,
              "%s %s: NODATA with SOA (%s)" % (name, t, m))
    m = z.query("nope." + DOMAIN, "A")
    check(rcode(m) == "NXDOMAIN" and soa_auth(m) and m.flags & dns.flags.AA,
          "NXDOMAIN with SOA and AA")
    check(str(soa_auth(m)[0].name) == DOMAIN + ".", "SOA owner is the apex")
    m = z.query("x.y.nope." + DOMAIN, "AAAA")
    check(rcode(m) == "NXDOMAIN", "deep NXDOMAIN")
    # empty non-terminals: "rack1" exists because "a.rack1" does
    m = z.query("rack1." + DOMAIN, "A")
    check(rcode(m) == "NOERROR" and not m.answer and soa_auth(m),
          "empty non-terminal rack1: NODATA (%s)" % rcode(m))
    m = z.query("Rack1." + DOMAIN, "TXT")
    check(rcode(m) == "NOERROR" and not m.answer, "empty non-terminal, any type")
    m = z.query("rack2." + DOMAIN, "A")
    check(rcode(m) == "NXDOMAIN", "rack2 (nothing below): NXDOMAIN")
    m = z.query("a.rack2." + DOMAIN, "A")
    check(rcode(m) == "NXDOMAIN", "a.rack2: NXDOMAIN")
    # outside every zone, other classes, transfers
    for name in ("example.org", "alpha", "cluster.example.org", "arpa",
                 "in-addr.arpa", "10.in-addr.arpa", "1.2.0.192.in-addr.arpa"):
        m = z.query(name, "A")
        check(rcode(m) == "REFUSED" and not m.flags & dns.flags.AA,
              "%s: REFUSED without AA" % name)
    m = z.query("alpha." + DOMAIN, "A", rdclass="CH")
    check(rcode(m) == "REFUSED", "class CH refused")
    out = dig_full(z, "+tcp", "axfr", DOMAIN)
    check("NOTIMP" in out or "Transfer failed" in out, "AXFR not served: " + out)
    out = dig_full(z, "+edns=1", "alpha." + DOMAIN)
    check("BADVERS" in out, "EDNS version 1: BADVERS")
    # case echoed
    m = z.query("AlPhA.ClUsTeR.eXaMpLe", "A")
    check(m.answer and m.answer[0].name.to_text() == "AlPhA.ClUsTeR.eXaMpLe.",
          "query case echoed in the answer: %s" % m.answer)
    check(m.question[0].name.to_text() == "AlPhA.ClUsTeR.eXaMpLe.",
          "query case echoed in the question")
    # reverse zones (auto: the /24 and /64 of each address)
    m = z.query("0.0.10.in-addr.arpa", "SOA")
    check(m.answer and m.answer[0].rdtype == dns.rdatatype.SOA, "/24 apex SOA")
    m = z.query("0.0.10.in-addr.arpa", "NS")
    check(m.answer and m.answer[0].rdtype == dns.rdatatype.NS, "/24 apex NS")
    m = z.query("99.0.0.10.in-addr.arpa", "PTR")
    check(rcode(m) == "NXDOMAIN" and soa_auth(m), "unknown address: NXDOMAIN")
    check(str(soa_auth(m)[0].name) == "0.0.10.in-addr.arpa.", "reverse SOA owner")
    m = z.query("5.0.0.10.in-addr.arpa", "A")
    check(rcode(m) == "NOERROR" and not m.answer and soa_auth(m),
          "known address, other type: NODATA")
    m = z.query("x.5.0.0.10.in-addr.arpa", "PTR")
    check(rcode(m) == "NXDOMAIN", "below an address: NXDOMAIN")
    m = z.query("1.0.0.127.in-addr.arpa", "PTR")
    check(rcode(m) == "REFUSED", "address outside the auto zones: REFUSED")
    v6 = "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa"
    m = z.query(v6, "PTR")
    check([r.target.to_text() for r in m.answer[0]] == ["alpha." + DOMAIN + "."]
          if m.answer else False, "ip6.arpa PTR")
    m = z.query(v6.split(".", 10)[-1], "PTR")
    check(rcode(m) == "NOERROR" and not m.answer, "ip6.arpa name above an "
          "address (inside the /64): NODATA")
    m = z.query("0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.d.f.ip6.arpa", "PTR")
    check(rcode(m) == "REFUSED", "ip6 address outside the auto zones: REFUSED")


def test_truncation_and_tcp(z):
    m = z.query("big." + DOMAIN, "AAAA", use_edns=False)
    check(m.flags & dns.flags.TC and not m.answer, "no EDNS: 32 AAAA truncated (TC)")
    m = z.query("big." + DOMAIN, "AAAA", use_edns=0, payload=4096)
    check(m.flags & dns.flags.TC or len(m.to_wire()) <= 1232,
          "EDNS answers stay within 1232 bytes")
    m = z.query("big." + DOMAIN, "AAAA", tcp=True)
    check(not m.flags & dns.flags.TC and len(m.answer[0]) == 32,
          "TCP: the whole answer")
    got = dig_short(z, "big." + DOMAIN, "AAAA")   # dig retries over TCP
    check(len(got) == 32, "dig falls back to TCP: %d" % len(got))
    m = z.query("alpha." + DOMAIN, "A", use_edns=0)
    check(m.opt is not None and m.payload == 1232, "EDNS answered with OPT, 1232")
    m = z.query("alpha." + DOMAIN, "A", use_edns=False)
    check(m.opt is None, "no OPT without EDNS in the query")
    # pipelined TCP queries on one connection, answered in order
    import socket
    s = socket.create_connection((z.addr, z.port), timeout=5)
    qs = [dns.message.make_query(n + "." + DOMAIN, "A") for n in ("alpha", "beta", "nope")]
    s.sendall(b"".join(len(w).to_bytes(2, "big") + w for w in (q.to_wire() for q in qs)))
    buf = b""
    answers = []
    while len(answers) < 3:
        c = s.recv(65535)
        if not c:
            break
        buf += c
        while len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
            n = int.from_bytes(buf[:2], "big")
            answers.append(dns.message.from_wire(buf[2:2 + n]))
            buf = buf[2 + n:]
    s.close()
    check([a.id for a in answers] == [q.id for q in qs], "pipelined TCP in order")


def test_new_snapshot_next_query(z):
    check(dig_short(z, "fresh." + DOMAIN) == [], "fresh not there yet")
    z.publish(HOSTS + BIG + "10.0.0.77 fresh\n")
    # the publish returned after the counter bump: the very next query sees it
    check(dig_short(z, "fresh." + DOMAIN) == ["10.0.0.77"], "new snapshot at the next query")
    check(dig_short(z, "-x", "10.0.0.77") == ["fresh." + DOMAIN + "."], "new PTR")
    z.publish(HOSTS + BIG + "10.0.0.78 x.newrack\n")
    # a new empty non-terminal: answered NODATA once the set follows the
    # snapshot (at most ~10 walk durations later; poll, no timing asserted)
    import time
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and rcode(z.query("newrack." + DOMAIN, "A")) != "NOERROR":
        time.sleep(0.01)
    check(rcode(z.query("newrack." + DOMAIN, "A")) == "NOERROR", "new empty non-terminal")
    check(rcode(z.query("rack1." + DOMAIN, "A")) == "NOERROR", "old one still there")
    z.publish(HOSTS + BIG)
    m = z.query("fresh." + DOMAIN, "A")
    check(rcode(m) == "NXDOMAIN", "removed host: NXDOMAIN at the next query")
    check(soa_auth(m)[0][0].serial > 1, "SOA serial follows the generation")


def q_wire(name=b"\x05alpha\x07cluster\x07example\x00", qtype=1, qclass=1,
           qd=1, an=0, ns=0, ar=0, flags=0, tail=b""):
    hdr = struct.pack(">HHHHHH", 0x4242, flags, qd, an, ns, ar)
    return hdr + name + struct.pack(">HH", qtype, qclass) + tail


def test_hostile(z):
    name255 = b"".join(b"\x3f" + b"a" * 63 for _ in range(3)) + b"\x3d" + b"a" * 61 + b"\x00"
    cases = {
        "empty": b"",
        "short header": b"\x42\x42\x00",
        "header only": struct.pack(">HHHHHH", 1, 0, 0, 0, 0, 0),
        "qdcount 1, no question": struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0),
        "truncated question": q_wire()[:20],
        "truncated type": q_wire()[:-3],
        "label past the end": struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x3f" + b"a" * 10,
        "compression loop": struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",
        "pointer forward": struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x20\x00\x01\x00\x01" + b"\x00" * 20,
        "two-step loop": struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x01a\xc0\x0e\x00\x01\x00\x01",
        "huge counts": q_wire(qd=0xffff, an=0xffff, ns=0xffff, ar=0xffff),
        "huge ancount": q_wire(an=0xffff),
        "two questions": q_wire(qd=2) + b"\x00\x00\x01\x00\x01",
        "wrong class": q_wire(qclass=3),
        "class ANY": q_wire(qclass=255),
        "255-byte name": q_wire(name=name255),
        "256-byte name": q_wire(name=b"\x01a" + name255),
        "64-byte label": q_wire(name=b"\x40" + b"a" * 64 + b"\x00"),
        "reserved label type": q_wire(name=b"\x80abc\x00"),
        "OPT as qtype": q_wire(qtype=41),
        "two OPT": q_wire(ar=2, tail=(b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00") * 2),
        "OPT with bad rdlen": q_wire(ar=1, tail=b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\xff\xff"),
        "opcode 5": q_wire(flags=5 << 11),
        "a response": q_wire(flags=0x8000),
        "NUL in label": q_wire(name=b"\x05al\x00ha\x07cluster\x07example\x00"),
        "dot in label": q_wire(name=b"\x07alp.hax\x07cluster\x07example\x00"),
        "trailing garbage": q_wire() + b"garbage",
        "TSIG-looking": q_wire(ar=1, tail=b"\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x02\x00\x00"),
    }
    rnd = random.Random(15)
    base = q_wire(ar=1, tail=b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00")
    for i in range(300):
        b = bytearray(base)
        for _ in range(rnd.randint(1, 6)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        cases["mutation %d" % i] = bytes(b[:rnd.randint(0, len(b))] if i % 3 == 0 else b)
    for i in range(50):
        cases["random %d" % i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 600)))
    # UDP: every case from its own socket, then one good query: zkdns
    # answers in order on one thread, so once that answer is back every
    # earlier case has been answered or dropped.
    import socket
    socks = {}
    for what, data in cases.items():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(data, (z.addr, z.port))
        socks[what] = s
    check(dig_short(z, "alpha." + DOMAIN) == ["10.0.0.5"], "answering after the flood")
    udp = {}
    for what, s in socks.items():
        s.setblocking(False)
        try:
            udp[what] = s.recv(65535)
        except BlockingIOError:
            udp[what] = None
        s.close()
    for what, data in cases.items():
        for tcp in (False, True):
            if tcp and not data:
                continue
            ans = z.raw(data, tcp=True) if tcp else udp[what]
            if ans is None:
                continue
            check(len(ans) >= 12, "%s: an answer has a header" % what)
            if len(ans) < 12:
                continue
            qr = ans[2] & 0x80
            rc = ans[3] & 0x0f
            check(qr, "%s: answered with QR set" % what)
            check(ans[:2] == data[:2], "%s: ID echoed" % what)
            if what in ("compression loop", "pointer forward", "two-step loop",
                        "truncated question", "truncated type", "two questions",
                        "label past the end", "256-byte name", "64-byte label",
                        "reserved label type", "OPT as qtype", "two OPT",
                        "OPT with bad rdlen", "huge counts", "huge ancount",
                        "qdcount 1, no question", "header only"):
                check(rc == 1, "%s: FORMERR, got rcode %d" % (what, rc))
            if what in ("wrong class", "class ANY"):
                check(rc == 5, "%s: REFUSED, got %d" % (what, rc))
            if what == "opcode 5":
                check(rc == 4, "opcode 5: NOTIMP")
            if what == "255-byte name":
                check(rc == 5, "255-byte name outside the zone: REFUSED, got %d" % rc)
            if what in ("NUL in label", "dot in label"):
                check(rc == 3, "%s: NXDOMAIN (no such host), got %d" % (what, rc))
        if what in ("a response", "empty", "short header"):
            check(udp[what] is None, "%s: dropped" % what)
    check(z.alive(), "zkdns survived the hostile packets")
    check(dig_short(z, "alpha." + DOMAIN) == ["10.0.0.5"], "still answering")


def test_servfail_then_snapshot():
    with Zkdns(domain=DOMAIN) as z:
        z.start()
        m = z.query("alpha." + DOMAIN, "A")
        check(rcode(m) == "SERVFAIL", "no snapshot: SERVFAIL")
        z.publish(HOSTS)
        # while none is open zkdns retries every 100 ms: wait for it
        import time
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and rcode(m) == "SERVFAIL":
            time.sleep(0.05)
            m = z.query("alpha." + DOMAIN, "A")
        check(rcode(m) == "NOERROR" and m.answer, "answers once published")
        check(z.stop() == 0, "SIGTERM: exit 0")


def test_dns_zone_and_reverse_config():
    with Zkdns(dns_zone="zone.test", dns_reverse_zones="10.1.0.0/16 fd01::/16",
               dns_ttl=0) as z:
        z.publish("10.1.0.1 host1 h1\n10.2.0.1 other\nfd01::1 host1\n"
                  "10.1.0.2 fq.example.org\n")
        z.start()
        check(dig_short(z, "host1.zone.test") == ["10.1.0.1"], "dns_zone: x.<zone> is x")
        check(dig_short(z, "HOST1.zone.test", "AAAA") == ["fd01::1"], "dns_zone AAAA")
        check(dig_short(z, "fq.example.org.zone.test") == ["10.1.0.2"],
              "dns_zone: a dotted record is <record>.<zone>")
        m = z.query("example.org.zone.test", "A")
        check(rcode(m) == "NOERROR" and not m.answer, "dns_zone: empty non-terminal")
        m = z.query("ORG.zone.test", "AAAA")
        check(rcode(m) == "NOERROR" and not m.answer, "dns_zone: empty non-terminal, 1 label")
        m = z.query("com.zone.test", "A")
        check(rcode(m) == "NXDOMAIN", "dns_zone: nothing below: NXDOMAIN")
        check(dig_short(z, "-x", "10.1.0.1") == ["h1.zone.test.", "host1.zone.test."],
              "dns_zone PTR: %s" % dig_short(z, "-x", "10.1.0.1"))
        rc, lines = z.getent("hosts", "10.1.0.1")
        check(rc == 0 and sorted(n.lower() + ".zone.test." for n in lines[0][1:])
              == dig_short(z, "-x", "10.1.0.1"), "dns_zone PTR = module's names in the zone")
        m = z.query("1.0.1.10.in-addr.arpa", "PTR")
        check(m.answer and m.answer[0].ttl == 0, "dns_ttl 0")
        m = z.query("1.10.in-addr.arpa", "SOA")
        check(m.answer and m.answer[0].rdtype == dns.rdatatype.SOA, "configured /16 apex")
        m = z.query("0.1.10.in-addr.arpa", "PTR")
        check(rcode(m) == "NOERROR" and not m.answer, "inside /16 above an address: NODATA")
        m = z.query("9.1.10.in-addr.arpa", "PTR")
        check(rcode(m) == "NXDOMAIN", "inside /16, nothing below: NXDOMAIN")
        m = z.query("1.0.2.10.in-addr.arpa", "PTR")
        check(rcode(m) == "REFUSED", "outside the configured zones: REFUSED")
        m = z.query("1.0.1.0.in-addr.arpa", "PTR")
        check(rcode(m) == "REFUSED", "10.1/16 is not 0.1/16")
        m = z.query("alpha.cluster.example", "A")
        check(rcode(m) == "REFUSED", "no domain: only the dns_zone")
        z.stop()
        z.write_conf(dns_zone="zone.test", dns_reverse_zones="none")
        z.start()
        m = z.query("1.0.1.10.in-addr.arpa", "PTR")
        check(rcode(m) == "REFUSED", "dns_reverse_zones = none")


def test_socket_activation_unprivileged():
    """zkdns as nobody with no capability, its sockets passed by systemd's
    socket-activation protocol (systemd-socket-activate, nested once for
    TCP and once for UDP), dns_listen naming another port it must not
    bind."""
    import shutil
    import socket
    import subprocess
    import time
    from zkdnsenv import free_udp_tcp_port
    act = shutil.which("systemd-socket-activate")
    setpriv = shutil.which("setpriv")
    if act is None or setpriv is None or os.geteuid() != 0:
        print("SKIP part: systemd-socket-activate/setpriv missing or not root")
        return
    with Zkdns(domain=DOMAIN) as z:
        z.publish(HOSTS)
        os.chmod(z.dir, 0o755)
        os.chmod(z.conf, 0o644)
        act_port = free_udp_tcp_port()
        prefix = [act, "-l", "127.0.0.1:%d" % act_port,
                  act, "--datagram", "-l", "127.0.0.1:%d" % act_port,
                  setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                  "--inh-caps=-all", "--bounding-set=-all"]
        z.start(prefix=prefix, wait=False)
        # the outer activator spawns the inner at the first TCP connection,
        # the inner spawns zkdns at the first datagram
        deadline = time.monotonic() + 30
        while True:
            try:
                t = socket.create_connection(("127.0.0.1", act_port), timeout=5)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        q = dns.message.make_query("alpha." + DOMAIN, "A")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(0.2)
        ans = None
        deadline = time.monotonic() + 30
        while ans is None and time.monotonic() < deadline:
            try:
                u.sendto(q.to_wire(), ("127.0.0.1", act_port))
                ans = dns.message.from_wire(u.recv(4096))
            except (socket.timeout, ConnectionRefusedError):
                pass
        u.close()
        check(ans is not None and [str(r) for r in ans.answer[0]] == ["10.0.0.5"],
              "socket-activated UDP answers: %s" % ans)
        w = q.to_wire()
        t.sendall(len(w).to_bytes(2, "big") + w)
        n = int.from_bytes(t.recv(2), "big")
        body = b""
        while len(body) < n:
            body += t.recv(n - len(body))
        t.close()
        m = dns.message.from_wire(body)
        check([str(r) for r in m.answer[0]] == ["10.0.0.5"], "socket-activated TCP answers")
        pid = int(subprocess.run(["pgrep", "-f", "-n", "^" + ZKDNS_BIN + " -c " + z.conf],
                                 capture_output=True, text=True).stdout.split()[0])
        with open("/proc/%d/status" % pid) as f:
            st = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        check(st["Uid"].split()[0] == "65534", "runs as nobody: %s" % st["Uid"])
        check(int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0,
              "no capability: %s %s" % (st["CapEff"], st["CapPrm"]))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", z.port))
            bound = False
        except OSError:
            bound = True
        s.close()
        check(not bound, "dns_listen not bound under socket activation")
        os.kill(pid, 15)


def test_bad_config():
    import subprocess
    with Zkdns(domain=DOMAIN) as z:
        z.write_conf(dns_listen="127.0.0.1:99999")
        p = subprocess.run([z.conf and os.path.join(os.environ.get("ZKH_BUILD", "build"), "zkdns"),
                            "-c", z.conf], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and "dns_listen" in p.stderr and
              "port must be an integer" in p.stderr and ":2:" in p.stderr,
              "bad dns_listen: exit 2 naming file, line and key: %r" % p.stderr)
        z.write_conf(bogus_key="1")
        p = subprocess.run([os.path.join(os.environ.get("ZKH_BUILD", "build"), "zkdns"),
                            "-t", "-c", z.conf], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and "unknown key" in p.stderr, "unknown key refused")


def main():
    if dns is None:
        print("python3-dnspython not installed")
        sys.exit(77)
    if shutil.which("dig") is None:
        print("dig (bind9-dnsutils) not installed")
        sys.exit(77)
    try:
        with Zkdns(domain=DOMAIN, dns_ttl=3) as z:
            z.publish(HOSTS + BIG)
            z.start()
            for t in (test_same_as_module, test_record_types,
                      test_truncation_and_tcp, test_new_snapshot_next_query,
                      test_hostile):
                n = len(failures)
                t(z)
                print("%s %s" % ("PASS" if len(failures) == n else "FAIL", t.__name__))
            check(z.stop() == 0, "zkdns exits 0 on SIGTERM")
            if failures:
                print(z.log()[-3000:])
        for t in (test_servfail_then_snapshot, test_dns_zone_and_reverse_config,
                  test_socket_activation_unprivileged, test_bad_config):
            n = len(failures)
            t()
            print("%s %s" % ("PASS" if len(failures) == n else "FAIL", t.__name__))
    except Skip as e:
        print(e)
        sys.exit(77)
    finally:
        zkharness.cleanup_all()
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
