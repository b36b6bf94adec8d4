/*
 * ifaddrs.h - the addresses zkcached registers when `register = NAME`
 * gives none (ifaddrs.c). Thread-safety: any thread.
 */
#ifndef ZKD_IFADDRS_H
#define ZKD_IFADDRS_H

#include <stddef.h>

#include "zkhosts/names.h"

/*
 * Addresses of the interface that holds the IPv4 default route (lowest
 * metric), IPv4 first, then global IPv6 ones. Returns the number found
 * (1..cap), -ENETUNREACH when there is no default route or the interface has
 * no address, -errno otherwise. ifname gets the interface name.
 */
int zkd_default_route_addrs(struct zkh_addr *out, size_t cap, char *ifname,
			    size_t ifname_cap);

#endif
