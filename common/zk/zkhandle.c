/*
 * zkhandle.c - opening a ZooKeeper handle the same way in every zkhosts
 * program (contract: include/zkhosts/zkhandle.h): resolution through
 * zkh_zk_resolve (the zk NSS module bypassed), zookeeper_init2 with the
 * routed logger, no re-resolution by the client, auth_file errors worded
 * once, and the session-id file written and read in one format.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkhosts/zkconn.h"
#include "zkhosts/zkhandle.h"

#define SESSION_FILE_MAX 128

void zkh_zk_auth_wipe(struct zkh_zk_auth *a)
{
	explicit_bzero(a, sizeof(*a));
}

int zkh_zk_auth_load(const char *path, struct zkh_zk_auth *a, char *err,
		     size_t err_cap)
{
	int rc = zkh_zk_read_auth(path, a->scheme, sizeof(a->scheme), a->cred,
				  sizeof(a->cred));

	if (rc == 0)
		return 0;
	zkh_zk_auth_wipe(a);
	snprintf(err, err_cap, "auth_file %s: %s", path,
		 rc == -EPERM ? "readable or writable by group or others "
				"(want mode 0600)" :
		 rc == -EINVAL ? "not a regular file holding "
				 "scheme:credentials on its first line" :
		 rc == -ENOSPC ? "credentials too long" : strerror(-rc));
	return rc == -EPERM || rc == -ENOSPC ? -EINVAL : rc;
}

int zkh_zk_handle_open(const char *connect, int timeout_ms, watcher_fn watcher,
		       void *ctx, unsigned flags, zhandle_t **out,
		       char *resolved, size_t resolved_cap, char *err,
		       size_t err_cap)
{
	char buf[ZKH_ZK_CONNECT_MAX], bad[256] = "";
	zhandle_t *zh = NULL;
	int rc;

	*out = NULL;
	rc = zkh_zk_resolve(connect, buf, sizeof(buf), bad, sizeof(bad));
	if (rc == -EHOSTUNREACH) {
		snprintf(err, err_cap, "cannot resolve ZooKeeper server '%s'", bad);
		return rc;
	}
	if (rc == -EINVAL) {
		snprintf(err, err_cap, "bad entry '%s' (want host[:port] or "
			 "[ipv6]:port, comma separated, optional /chroot)", bad);
		return rc;
	}
	if (rc) {
		snprintf(err, err_cap, "connect string: %s", strerror(-rc));
		return rc;
	}
	if (flags & ZKH_ZK_STRIP_CHROOT) {
		char *slash = strchr(buf, '/');

		if (slash)
			*slash = '\0';
	}
	rc = zkh_zk_handle_init(buf, timeout_ms, watcher, ctx, &zh, err, err_cap);
	if (rc)
		return rc;
	if (resolved)
		snprintf(resolved, resolved_cap, "%s", buf);
	*out = zh;
	return 0;
}

int zkh_zk_handle_init(const char *resolved, int timeout_ms, watcher_fn watcher,
		       void *ctx, zhandle_t **out, char *err, size_t err_cap)
{
	zhandle_t *zh;
	int rc;

	errno = 0;
	zh = zookeeper_init2(resolved, watcher, timeout_ms, NULL, ctx, 0,
			     zkh_zk_log_callback);
	if (!zh) {
		rc = errno ? -errno : -EINVAL;
		snprintf(err, err_cap, "cannot start a ZooKeeper client for %s: %s",
			 resolved, strerror(-rc));
		return rc;
	}
	/* The string is numeric already: without this the client re-resolves
	 * it on every socket check (a netlink socket and a /dev/urandom read
	 * each time, measured at 10k per 10k-record sync). */
	zoo_set_servers_resolution_delay(zh, -1);
	*out = zh;
	return 0;
}

int zkh_zk_session_file_write(const char *path, uint64_t id,
			      const char *passwd, size_t passwd_len)
{
	char tmp[4096 + 8], buf[SESSION_FILE_MAX];
	size_t len;
	int fd = -1, rc;

	if (passwd_len > ZKH_ZK_PASSWD_LEN)
		return -EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	len = (size_t)snprintf(buf, sizeof(buf), "0x%" PRIx64 " ", id);
	for (size_t i = 0; i < passwd_len; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%02x",
					(unsigned char)passwd[i]);
	buf[len++] = '\n';
	fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) || write(fd, buf, len) != (ssize_t)len) {
		rc = errno ? -errno : -EIO;
		goto fail_fd;
	}
	if (close(fd)) {
		fd = -1;
		rc = -errno;
		goto fail_tmp;
	}
	fd = -1;
	if (rename(tmp, path)) {
		rc = -errno;
		goto fail_tmp;
	}
	return 0;
fail_fd:
	close(fd);
fail_tmp:
	unlink(tmp);
	return rc;
}

int zkh_zk_session_file_read(const char *path, uint64_t *id)
{
	char buf[SESSION_FILE_MAX];
	unsigned long long v;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	if (sscanf(buf, "%llx", &v) != 1)	/* "0x" prefix optional */
		return -EINVAL;
	*id = v;
	return 0;
}
