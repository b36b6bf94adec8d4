"""probe - resolves names on one lab host, through that host's own NSS
chain (its nsswitch.conf says `hosts: files zk`, so CPython's getaddrinfo
and gethostbyaddr go through glibc into libnss_zk.so.2).

    probe.py check NAME...   one JSON line: this host's hostname and, per
                             name, its addresses and the reverse name of
                             each address ("" when there is none)
    probe.py watch NAME      polls NAME every 10 ms; prints
                             "<CLOCK_MONOTONIC seconds> <addr,addr|->" at
                             start and on every change, until killed

CLOCK_MONOTONIC is shared by every process on the machine, so the driver
compares these stamps with its own. Run under /usr/bin/python3.
"""

import json
import socket
import sys
import time


def forward(name):
    """Sorted addresses of name, [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({i[4][0] for i in infos})


def reverse(addr):
    try:
        return socket.gethostbyaddr(addr)[0]
    except (socket.herror, socket.gaierror):
        return ""


def check(names):
    out = {"hostname": socket.gethostname(), "names": {}}
    for n in names:
        addrs = forward(n)
        out["names"][n] = {"addrs": addrs, "reverse": {a: reverse(a) for a in addrs}}
    print(json.dumps(out), flush=True)


def watch(name):
    last = None
    while True:
        now = forward(name)
        if now != last:
            print("%.6f %s" % (time.monotonic(), ",".join(now) or "-"), flush=True)
            last = now
        time.sleep(0.01)


def main(argv):
    if len(argv) >= 2 and argv[0] == "check":
        check(argv[1:])
    elif len(argv) == 2 and argv[0] == "watch":
        watch(argv[1])
    else:
        sys.stderr.write("usage: probe.py check NAME... | probe.py watch NAME\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
