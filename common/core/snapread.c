/*
 * snapread.c - opening and closing one published snapshot read-only (see
 * snapread.h), with every check that makes it safe to map a file shared
 * by all users: the trust rules on the cache directory, its parent and
 * the two files; the generation file mapped read-only; hosts.mdb opened by
 * LMDB read-only without a lock file (so readers write nothing anywhere)
 * after we verified, through our own O_NOFOLLOW descriptor, that the file
 * LMDB opened is the one we checked; the map bounded by the file size so
 * a truncated file cannot fault; the meta record and database flags
 * validated before the snapshot is used. Closing checks that LMDB's
 * descriptor is still ours before letting LMDB close it; when it is not,
 * the map is located from a pointer into it recorded at open (LMDB only
 * reports its map address with MDB_FIXEDMAP) and unmapped here.
 * Also the one LMDB-to-errno mapping.
 */
#include "zkhosts/snapread.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Smallest LMDB file: two meta pages of the smallest page size in use. */
#define MIN_MDB_SIZE 8192
/* Named databases in a snapshot (meta, names, addrs). */
#define SNAP_DBS 3

int zkh_mdb_err(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
		return -ENOSPC;
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc > 0)
		return -rc;
	return -EIO;
}

/* Trust rule for a file or the cache dir: owner root or `owner`, not
 * writable by group or others. */
static bool trusted(const struct stat *st, uid_t owner)
{
	return (st->st_uid == 0 || st->st_uid == owner) &&
	    (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* Check the parent directory of `dir` (an absolute path). */
static int check_parent(const char *dir, uid_t owner)
{
	char parent[PATH_MAX];
	size_t n = strlen(dir);
	struct stat st;

	if (n == 0 || n >= sizeof(parent) || dir[0] != '/')
		return -EINVAL;
	memcpy(parent, dir, n + 1);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	while (n > 0 && parent[n - 1] != '/')
		n--;
	while (n > 1 && parent[n - 1] == '/')
		n--;
	parent[n] = '\0';
	if (stat(parent, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || !trusted(&st, owner))
		return -EPERM;
	return 0;
}

/* Open a regular file under dirfd with O_NOFOLLOW and check it (the
 * trust rule only if `trust`). Returns the descriptor or -errno. */
static int open_checked(int dirfd, const char *name, bool trust,
			uid_t owner, struct stat *st)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
			O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, st) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	if (!S_ISREG(st->st_mode) || (trust && !trusted(st, owner))) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Map the generation file read-only; the descriptor is closed here. */
static int map_generation(int dirfd, bool trust, uid_t owner,
			  struct zkh_snapread *s)
{
	struct stat st;
	void *map;
	int fd = open_checked(dirfd, ZKH_GENERATION_FILE, trust, owner, &st);

	if (fd < 0)
		return fd;
	if (st.st_size < ZKH_GENFILE_SIZE) {
		close(fd);
		return -EINVAL;
	}
	map = mmap(NULL, ZKH_GENFILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	s->gen = map;
	if (memcmp(s->gen->magic, ZKH_GENFILE_MAGIC, 8) != 0) {
		munmap(map, ZKH_GENFILE_SIZE);
		s->gen = NULL;
		return -EINVAL;
	}
	s->gen_at_open = __atomic_load_n(&s->gen->generation,
					 __ATOMIC_ACQUIRE);
	return 0;
}

/* Read and validate meta and the database handles in one read txn; note
 * where the meta value lies (inside LMDB's map, see zkh_snapread_close). */
static int open_dbs(struct zkh_snapread *s)
{
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	MDB_val key = { .mv_size = strlen(ZKH_META_KEY),
		.mv_data = (void *)ZKH_META_KEY }, val;
	MDB_stat ms;
	unsigned nflags, aflags;
	int rc;

	rc = zkh_mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
	if (rc < 0)
		goto fail;
	rc = zkh_mdb_err(mdb_dbi_open(txn, ZKH_DB_META, 0, &meta));
	if (rc == 0)
		rc = zkh_mdb_err(mdb_dbi_open(txn, ZKH_DB_NAMES, 0,
					      &s->names));
	if (rc == 0)
		rc = zkh_mdb_err(mdb_dbi_open(txn, ZKH_DB_ADDRS, 0,
					      &s->addrs));
	if (rc < 0) {
		rc = rc == -ENOENT ? -EINVAL : rc;	/* a database missing */
		goto fail;
	}
	if (mdb_dbi_flags(txn, s->names, &nflags) != 0 ||
	    mdb_dbi_flags(txn, s->addrs, &aflags) != 0 ||
	    (nflags & MDB_DUPSORT) || !(aflags & MDB_DUPSORT) ||
	    mdb_stat(txn, s->names, &ms) != 0) {
		rc = -EINVAL;
		goto fail;
	}
	if (mdb_get(txn, meta, &key, &val) != 0 ||
	    zkh_meta_decode(val.mv_data, val.mv_size, &s->meta) != 0 ||
	    s->meta.schema != ZKH_SCHEMA_VERSION ||
	    s->meta.domain_len > ZKH_DOMAIN_MAX) {
		rc = -EINVAL;
		goto fail;
	}
	s->entries = ms.ms_entries;
	s->in_map = val.mv_data;
	/* Committing a read txn keeps the database handles it opened. */
	rc = zkh_mdb_err(mdb_txn_commit(txn));
	txn = NULL;
	if (rc < 0)
		goto fail;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

/*
 * Open the LMDB environment over hosts.mdb, which we opened as `cfd` and
 * checked as *st. LMDB opens by path; /proc/self/fd/<cfd> names exactly
 * the file we checked even if the daemon renames a newer one over
 * hosts.mdb meanwhile, which under fast republishing made the plain path
 * lose that race several times in a row (-EAGAIN, lookups UNAVAIL). The
 * plain path is the fallback where /proc is not mounted.
 */
static int open_env(const char *dir, int cfd, const struct stat *st,
		    struct zkh_snapread *s)
{
	char path[PATH_MAX];
	struct stat est;
	MDB_envinfo info;
	MDB_stat mst;
	int fd, flags, rc;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", cfd);
	if (access(path, R_OK) != 0 &&
	    snprintf(path, sizeof(path), "%s/%s", dir, ZKH_SNAPSHOT_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = zkh_mdb_err(mdb_env_create(&s->env));
	if (rc < 0)
		return rc;
	/* Bound the map by the file: pages past the end are refused below,
	 * never touched (a truncated file must not SIGBUS a lookup). */
	rc = zkh_mdb_err(mdb_env_set_mapsize(s->env, (size_t)st->st_size));
	if (rc == 0)
		rc = zkh_mdb_err(mdb_env_set_maxdbs(s->env, SNAP_DBS));
	if (rc == 0)
		rc = zkh_mdb_err(mdb_env_open(s->env, path, MDB_RDONLY |
					      MDB_NOLOCK | MDB_NOSUBDIR |
					      MDB_NORDAHEAD | MDB_NOTLS, 0));
	if (rc < 0)
		goto fail;
	if (mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &est) < 0) {
		rc = -EIO;
		goto fail;
	}
	if (est.st_dev != st->st_dev || est.st_ino != st->st_ino) {
		rc = -EAGAIN;	/* replaced between our check and LMDB's open */
		goto fail;
	}
	flags = fcntl(fd, F_GETFD);
	if (flags >= 0 && !(flags & FD_CLOEXEC))
		fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	if (mdb_env_info(s->env, &info) != 0 ||
	    mdb_env_stat(s->env, &mst) != 0 ||
	    (uint64_t)info.me_mapsize > (uint64_t)st->st_size ||
	    ((uint64_t)info.me_last_pgno + 1) * mst.ms_psize >
	    (uint64_t)st->st_size) {
		rc = -EINVAL;	/* truncated */
		goto fail;
	}
	s->map_len = info.me_mapsize;
	return 0;
fail:
	mdb_env_close(s->env);	/* its descriptor is the one LMDB just opened */
	s->env = NULL;
	return rc;
}

int zkh_snapread_open(const char *dir, unsigned flags,
		      struct zkh_snapread *s)
{
	bool trust = flags & ZKH_SR_TRUST;
	struct stat dst, dfst, st;
	int dirfd = -1, fd = -1, rc;

	memset(s, 0, sizeof(*s));
	if (lstat(dir, &dst) < 0)
		return -errno;
	if (!S_ISDIR(dst.st_mode) ||
	    (trust && (dst.st_mode & (S_IWGRP | S_IWOTH))))
		return -EPERM;
	if (trust) {
		rc = check_parent(dir, dst.st_uid);
		if (rc < 0)
			return rc;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(dirfd, &dfst) < 0 || dfst.st_dev != dst.st_dev ||
	    dfst.st_ino != dst.st_ino || dfst.st_uid != dst.st_uid ||
	    (trust && (dfst.st_mode & (S_IWGRP | S_IWOTH)))) {
		rc = -EAGAIN;
		goto fail;
	}
	/* The counter first: a publish after this point bumps it again. */
	if (flags & ZKH_SR_GENERATION) {
		rc = map_generation(dirfd, trust, dst.st_uid, s);
		if (rc < 0)
			goto fail;
	}
	fd = open_checked(dirfd, ZKH_SNAPSHOT_FILE, trust, dst.st_uid, &st);
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	if (st.st_size < MIN_MDB_SIZE) {
		rc = -EINVAL;
		goto fail;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = (uint64_t)st.st_size;
	rc = open_env(dir, fd, &st, s);
	if (rc < 0)
		goto fail;
	rc = open_dbs(s);
	if (rc < 0)
		goto fail;
	if (s->meta.domain_len) {
		s->dsuffix[0] = '.';
		memcpy(s->dsuffix + 1, s->meta.domain, s->meta.domain_len);
		s->dsuffix_len = s->meta.domain_len + 1;
	}
	s->dsuffix[s->dsuffix_len] = '\0';
	close(fd);
	close(dirfd);
	return 0;
fail:
	if (s->env)
		mdb_env_close(s->env);
	if (s->gen)
		munmap((void *)s->gen, ZKH_GENFILE_SIZE);
	if (fd >= 0)
		close(fd);
	close(dirfd);
	memset(s, 0, sizeof(*s));
	return rc;
}

/*
 * Parse one line of /proc/self/maps; true if it maps file (dev, ino) and
 * its range holds address p. *base is then where the file's offset 0
 * would be in that mapping (start - offset), so a mapping split by the
 * kernel still gives LMDB's start.
 */
static bool maps_line_holds(const char *line, dev_t dev, ino_t ino,
			    uintptr_t p, uintptr_t *base)
{
	uintmax_t start, end, off, inode;
	unsigned maj, min;

	if (sscanf(line, "%jx-%jx %*s %jx %x:%x %ju", &start, &end, &off,
		   &maj, &min, &inode) != 6)
		return false;
	if (makedev(maj, min) != dev || (ino_t)inode != ino ||
	    p < start || p >= end || off > start)
		return false;
	*base = (uintptr_t)(start - off);
	return true;
}

/*
 * Find the start of the mapping of file (dev, ino) that holds address p,
 * reading /proc/self/maps with plain read() into a stack buffer (no
 * allocation). Returns 0 and *base, or -ENOENT / -errno.
 */
static int find_map(dev_t dev, ino_t ino, const void *p, uintptr_t *base)
{
	char buf[4096];
	size_t have = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), rc = -ENOENT;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *line = buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : rc;
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			if (maps_line_holds(line, dev, ino, (uintptr_t)p,
					    base)) {
				rc = 0;
				goto out;
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* no line is this long; drop it */
	}
out:
	close(fd);
	return rc;
}

/*
 * Environments whose descriptor the application took over: never closed
 * (that would close its file) and never freed (LMDB frees and closes in
 * one call). They are chained through LMDB's user-context pointer from
 * `parked`, so they stay reachable and leak checkers do not flag them.
 * A few KiB each, and only after the application closed our descriptor.
 */
static MDB_env *parked;

void zkh_snapread_close(struct zkh_snapread *s)
{
	struct stat st;
	uintptr_t base;
	int fd;

	if (s->env) {
		if (mdb_env_get_fd(s->env, &fd) == 0 && fstat(fd, &st) == 0 &&
		    st.st_dev == s->dev && st.st_ino == s->ino) {
			mdb_env_close(s->env);
		} else {
			/* Not our descriptor any more: unmap, keep the env. */
			if (s->in_map && s->map_len &&
			    find_map(s->dev, s->ino, s->in_map, &base) == 0)
				munmap((void *)base, s->map_len);
			mdb_env_set_userctx(s->env, parked);
			parked = s->env;
		}
	}
	if (s->gen)
		munmap((void *)s->gen, ZKH_GENFILE_SIZE);
	memset(s, 0, sizeof(*s));
}
