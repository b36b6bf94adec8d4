#!/usr/bin/python3
"""mkdata.py - build one benchmark data set by hand, for profiling:

    bench/mkdata.py N DIR [BUILD]

DIR must not exist; it is created 0755 (the module refuses caches whose
parent others can write) and receives nN/{hosts,hits,misses,cache/,
zkhosts.conf} exactly as `make bench` builds them (bench/benchlib.py).
Prints the data-set directory.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


class _Dir:
    def __init__(self, path):
        self.path = path

    def sub(self, *parts):
        return os.path.join(self.path, *parts)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: mkdata.py N DIR [BUILD]")
    n, path = int(sys.argv[1]), os.path.abspath(sys.argv[2])
    build = sys.argv[3] if len(sys.argv) == 4 else os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build")
    os.makedirs(path, mode=0o755)
    os.chmod(path, 0o755)
    ds = benchlib.Dataset(os.path.abspath(build), _Dir(path), n)
    print(ds.dir)


if __name__ == "__main__":
    main()
