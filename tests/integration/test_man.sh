#!/usr/bin/env bash
# test_man.sh - every man page (docs/man/*.scd, rendered by scdoc into
# $ZKH_BUILD/man/) renders with groff without a single warning, has the
# sections a page needs, and documents every long option its program's
# --help lists (so the page and the program cannot drift apart unnoticed).
# Skips (77) when scdoc is not installed and the pages were not built.
set -u
SRC=${ZKH_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${ZKH_BUILD:-$SRC/build}
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if ! ls "$BUILD"/man/*.[0-9] >/dev/null 2>&1; then
	command -v scdoc >/dev/null || { echo "scdoc not installed: man pages not built"; exit 77; }
	echo "FAIL: man pages not built in $BUILD/man"; exit 1
fi
command -v groff >/dev/null || { echo "groff not installed"; exit 77; }

for scd in "$SRC"/docs/man/*.scd; do
	page=$(basename "$scd" .scd)
	out=$BUILD/man/$page
	[[ -s $out ]] || { bad "$page: not built"; continue; }
	warn=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$out" 2>&1)
	[[ -z $warn ]] || bad "$page: groff warnings: $warn"
	text=$(LC_ALL=C.UTF-8 MANWIDTH=100 man -l "$out" 2>/dev/null | col -b)
	for section in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		grep -q "^$section" <<<"$text" || bad "$page: no $section section"
	done
	name=${page%.*}
	grep -q "^ *$name" <<<"$(sed -n '/^NAME/,/^[A-Z]/p' <<<"$text")" || bad "$page: NAME does not name $name"
	prog=""
	case $name in zkbarrier|zkhostctl|zkcached|zkdns) prog=$BUILD/$name ;; esac
	if [[ -n $prog && -x $prog ]]; then
		grep -q "^EXIT STATUS" <<<"$text" || bad "$page: no EXIT STATUS section"
		for opt in $("$prog" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
			grep -q -- "$opt" <<<"$text" || bad "$page: option $opt of '$name --help' not documented"
		done
	fi
done
[[ $fail -eq 0 ]] && echo "all man pages render cleanly"
exit $fail
