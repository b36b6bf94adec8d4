/*
 * ifaddrs.c - the addresses zkcached registers when `register = NAME`
 * gives none: those of the interface holding the IPv4 default route (read
 * from /proc/self/net/route, lowest metric wins), IPv4 first, then its global
 * IPv6 addresses (link-local ones are useless to other hosts and skipped).
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "ifaddrs.h"

static int default_iface(char *ifname, size_t cap)
{
	char line[512], name[IFNAMSIZ + 1];
	unsigned long dest, gw, flags, refcnt, use, metric, mask;
	unsigned long best = (unsigned long)-1;
	/* Not /proc/net/route: that symlink is hidden under systemd's
	 * ProcSubset=pid, its target in our own /proc/<pid> is not. */
	FILE *f = fopen("/proc/self/net/route", "re");

	if (!f)
		return -errno;
	ifname[0] = '\0';
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%16s %lx %lx %lx %lu %lu %lu %lx", name, &dest, &gw,
			   &flags, &refcnt, &use, &metric, &mask) != 8)
			continue;	/* header */
		if (dest != 0 || mask != 0 || !(flags & 0x1 /* RTF_UP */))
			continue;
		if (metric < best) {
			best = metric;
			snprintf(ifname, cap, "%s", name);
		}
	}
	fclose(f);
	return ifname[0] ? 0 : -ENETUNREACH;
}

int zkd_default_route_addrs(struct zkh_addr *out, size_t cap, char *ifname,
			    size_t ifname_cap)
{
	struct ifaddrs *ifa = NULL;
	size_t n = 0;
	int rc = default_iface(ifname, ifname_cap);

	if (rc)
		return rc;
	if (getifaddrs(&ifa))
		return -errno;
	for (int pass = 0; pass < 2; pass++) {
		for (struct ifaddrs *i = ifa; i && n < cap; i = i->ifa_next) {
			if (!i->ifa_addr || strcmp(i->ifa_name, ifname) != 0)
				continue;
			if (pass == 0 && i->ifa_addr->sa_family == AF_INET) {
				const struct sockaddr_in *s = (const void *)i->ifa_addr;
				out[n].family = AF_INET;
				memset(out[n].bytes, 0, sizeof out[n].bytes);
				memcpy(out[n].bytes, &s->sin_addr, 4);
				n++;
			} else if (pass == 1 && i->ifa_addr->sa_family == AF_INET6) {
				const struct sockaddr_in6 *s = (const void *)i->ifa_addr;
				if (IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr) ||
				    IN6_IS_ADDR_LOOPBACK(&s->sin6_addr))
					continue;
				out[n].family = AF_INET6;
				memcpy(out[n].bytes, &s->sin6_addr, 16);
				n++;
			}
		}
	}
	freeifaddrs(ifa);
	return n ? (int)n : -ENETUNREACH;
}
