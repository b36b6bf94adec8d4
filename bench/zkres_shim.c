/*
 * zkres_shim.c - a measurement aid, never shipped: an LD_PRELOAD library
 * (build/bench/libzkres_shim.so) that wraps zookeeper_init() and then calls
 * zoo_set_servers_resolution_delay(zh, -1), so the ZooKeeper C client stops
 * re-resolving its (already numeric) server list every time it checks its
 * socket. Loaded into zkcached it shows what that one call would save
 * (bench/zkbench.py --resdelay compares initial sync with and without it);
 * the real fix belongs in the daemon, right after zookeeper_init.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

typedef zhandle_t *(*init_fn)(const char *, watcher_fn, int,
			      const clientid_t *, void *, int);

__attribute__((visibility("default"))) zhandle_t *
zookeeper_init(const char *host, watcher_fn fn, int recv_timeout,
	       const clientid_t *clientid, void *context, int flags);

zhandle_t *zookeeper_init(const char *host, watcher_fn fn, int recv_timeout,
			  const clientid_t *clientid, void *context, int flags)
{
	init_fn real = (init_fn)(uintptr_t)dlsym(RTLD_NEXT, "zookeeper_init");
	zhandle_t *zh;

	if (!real)
		return NULL;
	zh = real(host, fn, recv_timeout, clientid, context, flags);
	if (zh)
		zoo_set_servers_resolution_delay(zh, -1);
	return zh;
}
