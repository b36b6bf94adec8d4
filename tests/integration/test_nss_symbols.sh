#!/usr/bin/env bash
# test_nss_symbols - libnss_zk.so.2 exports only the NSS entry points
# (version script + -fvisibility=hidden) and depends on nothing but libc
# and liblmdb (plus, in a sanitizer build, the sanitizer runtimes).
set -u
lib=${ZKH_BUILD:-build}/libnss_zk.so.2
[[ -f $lib ]] || { echo "missing $lib"; exit 1; }
command -v nm >/dev/null && command -v readelf >/dev/null || { echo "binutils missing"; exit 77; }
fail=0
want="_nss_zk_endhostent _nss_zk_gethostbyaddr2_r _nss_zk_gethostbyaddr_r
_nss_zk_gethostbyname2_r _nss_zk_gethostbyname3_r _nss_zk_gethostbyname4_r
_nss_zk_gethostbyname_r _nss_zk_gethostent_r _nss_zk_sethostent"
have=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u)
extra=$(comm -13 <(echo "$want" | tr ' ' '\n' | sort -u) <(echo "$have"))
missing=$(comm -23 <(echo "$want" | tr ' ' '\n' | sort -u) <(echo "$have"))
if [[ -n $extra ]]; then echo "unexpected exported symbols: $extra"; fail=1; fi
if [[ -n $missing ]]; then echo "entry points not exported: $missing"; fail=1; fi
while read -r needed; do
	case $needed in
	libc.so.6 | liblmdb.so.0 | libpthread.so.0 | ld-linux*.so.*) ;;
	libasan.so.* | libubsan.so.* | libtsan.so.*) ;;
	*) echo "unexpected dependency: $needed"; fail=1 ;;
	esac
done < <(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libnss_zk.so.2 ]] || { echo "SONAME is '$soname'"; fail=1; }
# No text relocations, and no executable stack.
if readelf -d "$lib" | grep -q TEXTREL; then echo "text relocations"; fail=1; fi
if readelf -lW "$lib" | grep GNU_STACK | grep -q RWE; then echo "executable stack"; fail=1; fi
[[ $fail -eq 0 ]] && echo ok
exit $fail
