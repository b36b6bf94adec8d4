/*
 * publish.c - the writer side of the cache: a private master LMDB
 * environment that absorbs batches of record changes, and the publisher
 * that turns it into the immutable snapshot every process maps.
 *
 * The master lives in <cache>/.master (mode 0700, one process at a time,
 * guarded by an exclusive flock). A publish stamps the next generation into
 * the master's "meta" database, writes a compact copy of the whole
 * environment to a temporary file in the cache directory, optionally
 * fdatasyncs it, renames it over hosts.mdb and only then stores the new
 * counter into the mapped generation file. Every reader either still has
 * the old file open or opens the new complete one: rename is atomic, and
 * the counter is a single aligned 64-bit store. A crash before the rename
 * leaves a stray temporary file, removed at the next open.
 *
 * Self-healing: the publisher remembers the identity (device, inode) of
 * everything it owns in the cache directory: the directory, the master's
 * lock and data files, the generation file and the last hosts.mdb. Every
 * publish first compares them with what the paths name now (also on
 * demand, zkh_pub_check) and rebuilds what is gone or foreign: a directory
 * removed or replaced is recreated and the writer lock taken in it again
 * (refused with -EBUSY if another writer holds it there), the master is
 * copied into the new place, and a new generation file is created beside
 * the new snapshot. The old generation file stays mapped ("retired") and
 * is bumped by every later publish, so processes that still map it reopen
 * and find the new files.
 */
#include "zkhosts/publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "zkhosts/names.h"
#include "zkhosts/snapread.h"

#define MASTER_DIR   ".master"
#define MASTER_LOCK  "writer.lock"
#define TMP_PREFIX   ".hosts.mdb."
#define GEN_TMP_PREFIX ".generation."
#define MASTER_DATA  "data.mdb"
#define MASTER_COPY  "data.mdb.copy"
/* Replaced generation files kept mapped and bumped by every publish. */
#define RETIRED_MAX  4
#define DEFAULT_MAP  ((size_t)4 << 30)

struct zkh_publisher {
	char dir[PATH_MAX];
	int dirfd;
	int lockfd;
	MDB_env *env;
	MDB_dbi dbi_meta, dbi_names, dbi_addrs;
	struct zkh_genfile *gen;	/* mapped read-write */
	/* replaced generation files, newest first, NULL-padded */
	struct zkh_genfile *retired[RETIRED_MAX];
	dev_t dir_dev, gen_dev, snap_dev;	/* what we created or opened */
	ino_t dir_ino, gen_ino, snap_ino;
	int snapfd;	/* the last hosts.mdb, held open so its inode number
			 * cannot be reused by a file that replaces it */
	unsigned found;			/* ZKH_PUB_* seen by zkh_pub_check */
	unsigned repaired;		/* ZKH_PUB_* fixed by the last publish */
	uint64_t generation;		/* last published */
	uint64_t snapshot_size;
	bool dirty;			/* master changed since last publish */
	bool snapshot_ok;		/* hosts.mdb present and valid */
	bool fsync;
	uint32_t ttl;
	char domain[ZKH_DOMAIN_MAX + 1];
};

/* LMDB codes to -errno: the one mapping, shared with the reader. */
#define mdb_err zkh_mdb_err

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Remove temporary snapshot copies left by a crashed publish. */
static void remove_stale_temps(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *e;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0 ||
		    strncmp(e->d_name, GEN_TMP_PREFIX,
			    sizeof(GEN_TMP_PREFIX) - 1) == 0)
			unlinkat(dirfd, e->d_name, 0);
	}
	closedir(d);
}

/* Create (mode) or check a directory relative to dirfd or absolute. */
static int ensure_dir(int at, const char *path, mode_t mode)
{
	struct stat st;

	if (mkdirat(at, path, mode) < 0 && errno != EEXIST)
		return -errno;
	if (fstatat(at, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -EEXIST;
	if (st.st_uid != geteuid())
		return -EPERM;
	if ((st.st_mode & 07777) != mode && fchmodat(at, path, mode, 0) < 0)
		return -errno;
	return 0;
}

/* Open or create the generation file; map it read-write. */
static int open_genfile(struct zkh_publisher *p)
{
	struct stat st;
	void *map;
	int fd, rc;

	fd = openat(p->dirfd, ZKH_GENERATION_FILE,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = S_ISREG(st.st_mode) ? -errno : -EINVAL;
		goto fail;
	}
	/* Grow only: readers may have it mapped, shrinking would SIGBUS them.
	 * Allocated, not sparse: a store into a hole on a full disk is SIGBUS. */
	if (st.st_size < ZKH_GENFILE_SIZE) {
		rc = -posix_fallocate(fd, 0, ZKH_GENFILE_SIZE);
		if (rc)
			goto fail;
	}
	if (fchmod(fd, 0644) < 0) {
		rc = -errno;
		goto fail;
	}
	map = mmap(NULL, ZKH_GENFILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	close(fd);
	p->gen = map;
	p->gen_dev = st.st_dev;
	p->gen_ino = st.st_ino;
	if (memcmp(p->gen->magic, ZKH_GENFILE_MAGIC, 8) != 0) {
		__atomic_store_n(&p->gen->generation, 0, __ATOMIC_RELAXED);
		memcpy(p->gen->magic, ZKH_GENFILE_MAGIC, 8);
	}
	return 0;
fail:
	close(fd);
	return rc;
}

/*
 * Read the generation and size of the current hosts.mdb through the
 * shared reader (without the trust rules: these are our own files), and
 * check that its meta and record count agree. Returns 0, or -errno.
 */
static int probe_snapshot(struct zkh_publisher *p, uint64_t *gen,
			  uint64_t *size)
{
	struct zkh_snapread s;
	int rc = zkh_snapread_open(p->dir, 0, &s);

	if (rc)
		return rc;
	if (s.entries != s.meta.record_count) {
		rc = -EINVAL;
	} else {
		*gen = s.meta.generation;
		*size = s.size;
	}
	zkh_snapread_close(&s);
	return rc;
}

static int open_master_env(struct zkh_publisher *p, const char *path,
			   unsigned flags, size_t map_size);

/* The master is rebuilt from ZooKeeper by every full sync; only the
 * published snapshot needs to survive power loss, and only if asked. */
static unsigned master_flags(const struct zkh_publisher *p)
{
	return MDB_NOTLS | (p->fsync ? 0 : MDB_NOSYNC | MDB_NOMETASYNC);
}

static int open_master(struct zkh_publisher *p, size_t map_size)
{
	char path[PATH_MAX + 16];
	int rc;

	rc = ensure_dir(p->dirfd, MASTER_DIR, 0700);
	if (rc)
		return rc;
	if (snprintf(path, sizeof(path), "%s/%s", p->dir, MASTER_DIR) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	/* One writer per cache directory. */
	p->lockfd = openat(p->dirfd, MASTER_DIR "/" MASTER_LOCK,
			   O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (p->lockfd < 0)
		return -errno;
	if (flock(p->lockfd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return open_master_env(p, path, master_flags(p), map_size);
}

/* Open the master environment at `path` into p->env and its databases
 * (created if missing). On error p->env is NULL. */
static int open_master_env(struct zkh_publisher *p, const char *path,
			   unsigned flags, size_t map_size)
{
	MDB_txn *txn = NULL;
	int rc;

	rc = mdb_err(mdb_env_create(&p->env));
	if (rc)
		return rc;
	mdb_env_set_maxdbs(p->env, 4);
	rc = mdb_err(mdb_env_set_mapsize(p->env, map_size));
	if (!rc)
		rc = mdb_err(mdb_env_open(p->env, path, flags, 0600));
	if (rc)
		goto fail;
	rc = mdb_err(mdb_txn_begin(p->env, NULL, 0, &txn));
	if (rc)
		goto fail;
	rc = mdb_err(mdb_dbi_open(txn, ZKH_DB_META, MDB_CREATE, &p->dbi_meta));
	if (!rc)
		rc = mdb_err(mdb_dbi_open(txn, ZKH_DB_NAMES, MDB_CREATE,
					  &p->dbi_names));
	if (!rc)
		rc = mdb_err(mdb_dbi_open(txn, ZKH_DB_ADDRS,
					  MDB_CREATE | MDB_DUPSORT,
					  &p->dbi_addrs));
	if (rc) {
		mdb_txn_abort(txn);
		goto fail;
	}
	rc = mdb_err(mdb_txn_commit(txn));
	if (rc)
		goto fail;
	return 0;
fail:
	mdb_env_close(p->env);
	p->env = NULL;
	return rc;
}

/* ---- self-healing: is what we published still there? ----------------- */

static bool same_file(const struct stat *st, dev_t dev, ino_t ino)
{
	return st->st_dev == dev && st->st_ino == ino;
}

/* Remember the cache directory we hold open. */
static int remember_dir(struct zkh_publisher *p)
{
	struct stat st;

	if (fstat(p->dirfd, &st) < 0)
		return -errno;
	p->dir_dev = st.st_dev;
	p->dir_ino = st.st_ino;
	return 0;
}

/* Hold `fd` as the current snapshot (closing the previous one). */
static void hold_snapshot(struct zkh_publisher *p, int fd,
			  const struct stat *st)
{
	if (p->snapfd >= 0)
		close(p->snapfd);
	p->snapfd = fd;
	p->snap_dev = st->st_dev;
	p->snap_ino = st->st_ino;
}

/* Remember which file hosts.mdb is now (after zkh_pub_open's probe). */
static void remember_snapshot(struct zkh_publisher *p)
{
	struct stat st;
	int fd = openat(p->dirfd, ZKH_SNAPSHOT_FILE, O_RDONLY | O_NOFOLLOW |
			O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		hold_snapshot(p, fd, &st);
	else
		close(fd);
}

/* True if dir/name is the regular file (dev, ino) we own with `mode`. */
static bool file_is(int dirfd, const char *name, dev_t dev, ino_t ino,
		    mode_t mode)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && same_file(&st, dev, ino) &&
	    st.st_uid == geteuid() && (st.st_mode & 07777) == mode;
}

/* True if dir/name is the file open as `fd`. */
static bool file_is_fd(int dirfd, const char *name, int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 &&
	    file_is(dirfd, name, st.st_dev, st.st_ino, st.st_mode & 07777);
}

/* The ZKH_PUB_* bits of what differs from what we wrote; no writes. */
static unsigned layout_damage(struct zkh_publisher *p)
{
	struct stat st;
	unsigned bad = 0;
	int envfd = -1;

	if (lstat(p->dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    !same_file(&st, p->dir_dev, p->dir_ino) ||
	    st.st_uid != geteuid() || (st.st_mode & 07777) != 0755)
		return ZKH_PUB_DIR_REPLACED | ZKH_PUB_MASTER_GONE |
		    ZKH_PUB_GENFILE_GONE | ZKH_PUB_SNAPSHOT_GONE;
	if (!p->env || mdb_env_get_fd(p->env, &envfd) ||
	    !file_is_fd(p->dirfd, MASTER_DIR "/" MASTER_LOCK, p->lockfd) ||
	    !file_is_fd(p->dirfd, MASTER_DIR "/" MASTER_DATA, envfd))
		bad |= ZKH_PUB_MASTER_GONE;
	if (!file_is(p->dirfd, ZKH_GENERATION_FILE, p->gen_dev, p->gen_ino,
		     0644))
		bad |= ZKH_PUB_GENFILE_GONE;
	if (p->snapshot_ok &&
	    !file_is(p->dirfd, ZKH_SNAPSHOT_FILE, p->snap_dev, p->snap_ino,
		     0644))
		bad |= ZKH_PUB_SNAPSHOT_GONE;
	return bad;
}

/* The path names another directory (or none): create it if missing and
 * hold the one it names now. Everything in it is checked afterwards. */
static int reattach_dir(struct zkh_publisher *p)
{
	int fd, rc;

	rc = ensure_dir(AT_FDCWD, p->dir, 0755);
	if (rc)
		return rc;
	fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	close(p->dirfd);
	p->dirfd = fd;
	remove_stale_temps(p->dirfd);
	return remember_dir(p);
}

/*
 * The master's lock or data file is not ours any more (the directory was
 * replaced or .master emptied): take the writer lock in the directory the
 * path names now (-EBUSY if another writer holds it: we never share a
 * cache), write a compact copy of our master there and reopen it. If the
 * reopen fails, p->env is NULL and every later call fails with -EIO.
 */
static int relocate_master(struct zkh_publisher *p)
{
	char path[PATH_MAX + 16];
	size_t map_size;
	MDB_envinfo info;
	int lockfd = -1, fd = -1, envfd, rc;

	if (!p->env)
		return -EIO;
	rc = ensure_dir(p->dirfd, MASTER_DIR, 0700);
	if (rc)
		return rc;
	if (snprintf(path, sizeof(path), "%s/%s", p->dir, MASTER_DIR) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!file_is_fd(p->dirfd, MASTER_DIR "/" MASTER_LOCK, p->lockfd)) {
		lockfd = openat(p->dirfd, MASTER_DIR "/" MASTER_LOCK,
				O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (lockfd < 0)
			return -errno;
		if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
			rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
			goto fail;
		}
	}
	if (mdb_env_get_fd(p->env, &envfd) ||
	    !file_is_fd(p->dirfd, MASTER_DIR "/" MASTER_DATA, envfd)) {
		fd = openat(p->dirfd, MASTER_DIR "/" MASTER_COPY,
			    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = -errno;
			goto fail;
		}
		rc = mdb_err(mdb_env_copyfd2(p->env, fd, MDB_CP_COMPACT));
		if (!rc && p->fsync && fdatasync(fd) < 0)
			rc = -errno;
		if (close(fd) < 0 && !rc)
			rc = -errno;
		fd = -1;
		if (!rc && renameat(p->dirfd, MASTER_DIR "/" MASTER_COPY,
				    p->dirfd, MASTER_DIR "/" MASTER_DATA) < 0)
			rc = -errno;
		if (rc) {
			unlinkat(p->dirfd, MASTER_DIR "/" MASTER_COPY, 0);
			goto fail;
		}
		if (mdb_env_info(p->env, &info)) {
			rc = -EIO;
			goto fail;
		}
		map_size = info.me_mapsize;
		mdb_env_close(p->env);
		p->env = NULL;
		rc = open_master_env(p, path, master_flags(p), map_size);
	}
	if (lockfd >= 0) {
		/* Ours from now on, whatever happened to the environment. */
		close(p->lockfd);
		p->lockfd = lockfd;
	}
	return rc;
fail:
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

/*
 * Create a new generation file holding the current counter (a temporary
 * file renamed over whatever the name holds now) and map it; the old
 * mapping is retired (kept and bumped; the oldest of RETIRED_MAX dropped).
 */
static int replace_genfile(struct zkh_publisher *p)
{
	char path[PATH_MAX + 32];
	const char *tmp;
	struct zkh_genfile *map = MAP_FAILED;
	struct stat st;
	int fd, rc;

	if (snprintf(path, sizeof(path), "%s/" GEN_TMP_PREFIX "XXXXXX",
		     p->dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	tmp = strrchr(path, '/') + 1;
	/* Blocks allocated now: a store into a hole of a shared mapping on a
	 * full disk would be SIGBUS, not an error. */
	rc = -posix_fallocate(fd, 0, ZKH_GENFILE_SIZE);
	if (rc)
		goto fail;
	if (fchmod(fd, 0644) < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	map = mmap(NULL, ZKH_GENFILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	memcpy(map->magic, ZKH_GENFILE_MAGIC, 8);
	__atomic_store_n(&map->generation, p->generation, __ATOMIC_RELEASE);
	if (p->fsync && fdatasync(fd) < 0) {
		rc = -errno;
		goto fail;
	}
	if (renameat(p->dirfd, tmp, p->dirfd, ZKH_GENERATION_FILE) < 0) {
		rc = -errno;
		goto fail;
	}
	close(fd);
	if (p->retired[RETIRED_MAX - 1])
		munmap(p->retired[RETIRED_MAX - 1], ZKH_GENFILE_SIZE);
	memmove(&p->retired[1], &p->retired[0],
		(RETIRED_MAX - 1) * sizeof(p->retired[0]));
	p->retired[0] = p->gen;
	p->gen = map;
	p->gen_dev = st.st_dev;
	p->gen_ino = st.st_ino;
	return 0;
fail:
	if (map != MAP_FAILED)
		munmap(map, ZKH_GENFILE_SIZE);
	close(fd);
	unlinkat(p->dirfd, tmp, 0);
	return rc;
}

/* Rebuild what layout_damage finds missing, except the snapshot itself,
 * which the publish that follows writes. Sets p->repaired. */
static int heal_layout(struct zkh_publisher *p)
{
	unsigned bad = layout_damage(p);
	int rc = 0;

	/* Report what zkh_pub_check saw too (the snapshot, already marked). */
	p->repaired = bad | p->found;
	if (bad & ZKH_PUB_DIR_REPLACED) {
		rc = reattach_dir(p);
		if (rc)
			return rc;
		bad = layout_damage(p) | ZKH_PUB_SNAPSHOT_GONE;
	}
	if (bad & ZKH_PUB_MASTER_GONE) {
		rc = relocate_master(p);
		if (rc)
			return rc;
	}
	if (bad & ZKH_PUB_GENFILE_GONE) {
		rc = replace_genfile(p);
		if (rc)
			return rc;
	}
	if (bad & ZKH_PUB_SNAPSHOT_GONE)
		p->snapshot_ok = false;
	return 0;
}

unsigned zkh_pub_check(struct zkh_publisher *p)
{
	unsigned bad = layout_damage(p);

	/* Whatever is wrong, the next publish rebuilds it and republishes;
	 * until then every check reports it (the snapshot is no longer
	 * compared once it is marked for republishing). */
	if (bad)
		p->snapshot_ok = false;
	p->found |= bad;
	return p->found;
}

unsigned zkh_pub_repaired(const struct zkh_publisher *p)
{
	return p->repaired;
}

int zkh_pub_open(const char *dir, const struct zkh_pub_options *opt,
		 struct zkh_publisher **out)
{
	struct zkh_publisher *p;
	uint64_t snap_gen = 0, snap_size = 0;
	int rc;

	*out = NULL;
	if (!dir || dir[0] != '/' || strlen(dir) >= PATH_MAX)
		return -EINVAL;
	if (opt && opt->domain && opt->domain[0] &&
	    zkh_name_fold(opt->domain, strlen(opt->domain),
			  (char[ZKH_NAME_MAX + 1]){ 0 }) < 0)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dirfd = -1;
	p->lockfd = -1;
	p->snapfd = -1;
	strcpy(p->dir, dir);
	if (opt) {
		p->fsync = opt->fsync;
		p->ttl = opt->ttl;
		if (opt->domain && opt->domain[0])
			zkh_name_fold(opt->domain, strlen(opt->domain),
				      p->domain);
	}
	if (!p->ttl)
		p->ttl = 1;
	rc = ensure_dir(AT_FDCWD, dir, 0755);
	if (rc)
		goto fail;
	p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (p->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = remember_dir(p);
	if (rc)
		goto fail;
	rc = open_master(p, opt && opt->map_size ? opt->map_size : DEFAULT_MAP);
	if (rc)
		goto fail;
	remove_stale_temps(p->dirfd);
	rc = open_genfile(p);
	if (rc)
		goto fail;
	p->snapshot_ok = probe_snapshot(p, &snap_gen, &snap_size) == 0;
	p->snapshot_size = p->snapshot_ok ? snap_size : 0;
	if (p->snapshot_ok)
		remember_snapshot(p);
	p->generation = __atomic_load_n(&p->gen->generation, __ATOMIC_RELAXED);
	if (snap_gen > p->generation)
		p->generation = snap_gen;
	p->dirty = !p->snapshot_ok;
	*out = p;
	return 0;
fail:
	zkh_pub_close(p);
	return rc;
}

void zkh_pub_close(struct zkh_publisher *p)
{
	if (!p)
		return;
	if (p->env)
		mdb_env_close(p->env);
	if (p->gen)
		munmap(p->gen, ZKH_GENFILE_SIZE);
	for (unsigned i = 0; i < RETIRED_MAX; i++)
		if (p->retired[i])
			munmap(p->retired[i], ZKH_GENFILE_SIZE);
	if (p->lockfd >= 0)
		close(p->lockfd);
	if (p->snapfd >= 0)
		close(p->snapfd);
	if (p->dirfd >= 0)
		close(p->dirfd);
	free(p);
}

/* Delete the record stored under folded key `key` and its reverse entries. */
static int remove_record(struct zkh_publisher *p, MDB_txn *txn,
			 const char *key, size_t key_len)
{
	MDB_val k = { key_len, (void *)key }, v;
	struct zkh_rec_view rv;
	struct zkh_addr a;
	uint8_t akey[ZKH_ADDRKEY_MAX], rval[ZKH_REVVAL_MAX];
	int rc, klen, vlen;
	unsigned i;

	rc = mdb_get(txn, p->dbi_names, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return mdb_err(rc);
	if (zkh_rec_decode(v.mv_data, v.mv_size, key, key_len, &rv) == 0) {
		vlen = zkh_revval_encode(rv.czxid, key, key_len, rval,
					 sizeof(rval));
		if (vlen < 0)
			return vlen;
		for (i = 0; i < rv.n4 + rv.n6; i++) {
			MDB_val ak, av = { (size_t)vlen, rval };

			a.family = i < rv.n4 ? AF_INET : AF_INET6;
			memset(a.bytes, 0, sizeof(a.bytes));
			if (i < rv.n4)
				memcpy(a.bytes, rv.v4 + 4 * i, 4);
			else
				memcpy(a.bytes, rv.v6 + 16 * (i - rv.n4), 16);
			klen = zkh_addrkey_encode(&a, akey);
			if (klen < 0)
				return klen;
			ak.mv_size = (size_t)klen;
			ak.mv_data = akey;
			rc = mdb_del(txn, p->dbi_addrs, &ak, &av);
			if (rc && rc != MDB_NOTFOUND)
				return mdb_err(rc);
		}
	}
	rc = mdb_del(txn, p->dbi_names, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
}

static int put_record(struct zkh_publisher *p, MDB_txn *txn,
		      const struct zkh_change *c, const char *key,
		      size_t key_len)
{
	uint8_t rec[ZKH_REC_MAX], akey[ZKH_ADDRKEY_MAX], rval[ZKH_REVVAL_MAX];
	MDB_val k = { key_len, (void *)key }, v;
	int len, vlen, klen, rc;
	size_t i;

	len = zkh_rec_encode(c->name, c->name_len, c->czxid, c->addrs,
			     c->naddrs, rec, sizeof(rec));
	if (len < 0)
		return len;
	v.mv_size = (size_t)len;
	v.mv_data = rec;
	rc = mdb_err(mdb_put(txn, p->dbi_names, &k, &v, 0));
	if (rc)
		return rc;
	vlen = zkh_revval_encode(c->czxid, key, key_len, rval, sizeof(rval));
	if (vlen < 0)
		return vlen;
	for (i = 0; i < c->naddrs; i++) {
		MDB_val ak, av = { (size_t)vlen, rval };

		klen = zkh_addrkey_encode(&c->addrs[i], akey);
		if (klen < 0)
			return klen;
		ak.mv_size = (size_t)klen;
		ak.mv_data = akey;
		rc = mdb_put(txn, p->dbi_addrs, &ak, &av, MDB_NODUPDATA);
		if (rc && rc != MDB_KEYEXIST)
			return mdb_err(rc);
	}
	return 0;
}

/* Check a change before anything is written. */
static int check_change(const struct zkh_change *c)
{
	size_t i, j;

	if (!c->name || !zkh_name_valid(c->name, c->name_len))
		return -EINVAL;
	if (c->op == ZKH_DELETE)
		return 0;
	if (c->op != ZKH_UPSERT || !c->addrs || c->naddrs == 0 ||
	    c->naddrs > ZKH_MAX_ADDRS)
		return -EINVAL;
	for (i = 0; i < c->naddrs; i++) {
		size_t alen = zkh_addr_len(c->addrs[i].family);

		if (!alen)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (c->addrs[j].family == c->addrs[i].family &&
			    memcmp(c->addrs[j].bytes, c->addrs[i].bytes,
				   alen) == 0)
				return -EINVAL;
	}
	return 0;
}

int zkh_pub_apply(struct zkh_publisher *p, const struct zkh_change *c,
		  size_t n)
{
	MDB_txn *txn = NULL;
	char key[ZKH_NAME_MAX + 1];
	size_t i;
	int rc, klen;

	for (i = 0; i < n; i++)
		if (check_change(&c[i]))
			return -EINVAL;
	if (!p->env)
		return -EIO;
	rc = mdb_err(mdb_txn_begin(p->env, NULL, 0, &txn));
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		klen = zkh_name_fold(c[i].name, c[i].name_len, key);
		if (klen < 0) {
			rc = klen;
			goto fail;
		}
		rc = remove_record(p, txn, key, (size_t)klen);
		if (!rc && c[i].op == ZKH_UPSERT)
			rc = put_record(p, txn, &c[i], key, (size_t)klen);
		if (rc)
			goto fail;
	}
	rc = mdb_err(mdb_txn_commit(txn));
	if (rc)
		return rc;
	if (n)
		p->dirty = true;
	return 0;
fail:
	mdb_txn_abort(txn);
	return rc;
}

int zkh_pub_foreach(struct zkh_publisher *p,
		    int (*fn)(const char *name, size_t name_len,
			      uint64_t czxid, void *arg),
		    void *arg)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	struct zkh_rec_view rv;
	int rc, op = MDB_FIRST;

	if (!p->env)
		return -EIO;
	rc = mdb_err(mdb_txn_begin(p->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return rc;
	rc = mdb_err(mdb_cursor_open(txn, p->dbi_names, &cur));
	if (rc)
		goto fail;
	for (;;) {
		rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc) {
			rc = mdb_err(rc);
			break;
		}
		if (zkh_rec_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size,
				   &rv) < 0)
			continue;
		rc = fn(rv.name, rv.name_len, rv.czxid, arg);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
fail:
	mdb_txn_abort(txn);
	return rc;
}

uint64_t zkh_pub_count(struct zkh_publisher *p)
{
	MDB_txn *txn;
	MDB_stat st;
	uint64_t n = 0;

	if (!p->env || mdb_txn_begin(p->env, NULL, MDB_RDONLY, &txn))
		return 0;
	if (mdb_stat(txn, p->dbi_names, &st) == 0)
		n = st.ms_entries;
	mdb_txn_abort(txn);
	return n;
}

int zkh_pub_set_options(struct zkh_publisher *p,
			const struct zkh_pub_options *opt)
{
	char folded[ZKH_DOMAIN_MAX + 1] = "";

	if (opt->domain && opt->domain[0] &&
	    (strlen(opt->domain) > ZKH_DOMAIN_MAX ||
	     zkh_name_fold(opt->domain, strlen(opt->domain), folded) < 0))
		return -EINVAL;
	if (strcmp(folded, p->domain) != 0) {
		memcpy(p->domain, folded, sizeof(folded));
		p->dirty = true;
	}
	p->fsync = opt->fsync;
	return 0;
}

bool zkh_pub_needs_publish(const struct zkh_publisher *p)
{
	return p->dirty || !p->snapshot_ok;
}

/* Stamp the meta of generation `gen` into the master. */
static int write_meta(struct zkh_publisher *p, uint64_t gen, uint32_t flags,
		      uint64_t last_sync_us)
{
	struct zkh_meta m;
	uint8_t buf[ZKH_META_MAX];
	MDB_txn *txn = NULL;
	MDB_stat st;
	MDB_val k = { sizeof(ZKH_META_KEY) - 1, (void *)ZKH_META_KEY }, v;
	int rc, len;

	memset(&m, 0, sizeof(m));
	rc = mdb_err(mdb_txn_begin(p->env, NULL, 0, &txn));
	if (rc)
		return rc;
	rc = mdb_err(mdb_stat(txn, p->dbi_names, &st));
	if (rc)
		goto fail;
	m.schema = ZKH_SCHEMA_VERSION;
	m.flags = flags;
	m.generation = gen;
	m.publish_time_us = now_us();
	m.last_sync_us = last_sync_us;
	m.record_count = st.ms_entries;
	m.ttl = p->ttl;
	m.domain_len = strlen(p->domain);
	memcpy(m.domain, p->domain, m.domain_len + 1);
	len = zkh_meta_encode(&m, buf, sizeof(buf));
	if (len < 0) {
		rc = len;
		goto fail;
	}
	v.mv_size = (size_t)len;
	v.mv_data = buf;
	rc = mdb_err(mdb_put(txn, p->dbi_meta, &k, &v, 0));
	if (rc)
		goto fail;
	return mdb_err(mdb_txn_commit(txn));
fail:
	mdb_txn_abort(txn);
	return rc;
}

int zkh_pub_publish(struct zkh_publisher *p, uint32_t flags,
		    uint64_t last_sync_us)
{
	char tmp[sizeof(TMP_PREFIX) + 8];
	char path[PATH_MAX + 32];
	uint64_t gen = p->generation + 1;
	struct stat st;
	int fd = -1, hold = -1, rc;

	if (!p->env)
		return -EIO;
	rc = heal_layout(p);
	if (rc)
		return rc;
	rc = write_meta(p, gen, flags, last_sync_us);
	if (rc)
		return rc;
	if (snprintf(path, sizeof(path), "%s/" TMP_PREFIX "XXXXXX", p->dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s", strrchr(path, '/') + 1);
	rc = mdb_err(mdb_env_copyfd2(p->env, fd, MDB_CP_COMPACT));
	if (rc)
		goto fail;
	if (p->fsync && fdatasync(fd) < 0) {
		rc = -errno;
		goto fail;
	}
	if (fchmod(fd, 0644) < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	hold = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (hold < 0) {
		rc = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(p->dirfd, tmp, p->dirfd, ZKH_SNAPSHOT_FILE) < 0) {
		rc = -errno;
		goto fail;
	}
	if (p->fsync)
		fsync(p->dirfd);
	/* Readers compare this word with the one they saw last. */
	__atomic_store_n(&p->gen->generation, gen, __ATOMIC_RELEASE);
	if (p->fsync)
		msync(p->gen, ZKH_GENFILE_SIZE, MS_SYNC);
	/* Processes still mapping a replaced generation file: reopen now
	 * (every publish, in case a reopen of theirs failed meanwhile). */
	for (unsigned i = 0; i < RETIRED_MAX && p->retired[i]; i++)
		__atomic_store_n(&p->retired[i]->generation, gen,
				 __ATOMIC_RELEASE);
	p->generation = gen;
	hold_snapshot(p, hold, &st);
	p->snapshot_size = (uint64_t)st.st_size;
	p->snapshot_ok = true;
	p->dirty = false;
	p->found = 0;
	return 0;
fail:
	if (hold >= 0)
		close(hold);
	if (fd >= 0)
		close(fd);
	unlinkat(p->dirfd, tmp, 0);
	return rc;
}

uint64_t zkh_pub_generation(const struct zkh_publisher *p)
{
	return p->generation;
}

uint64_t zkh_pub_snapshot_size(const struct zkh_publisher *p)
{
	return p->snapshot_size;
}

/*
 * Find where LMDB mapped the master's data file: mdb_env_info reports the
 * address only for MDB_FIXEDMAP, so look the file (device, inode, offset 0)
 * up in the process's maps file. Returns 0 with the mapping's start and
 * length, or -errno (-ENOENT: not mapped).
 */
static int find_map(struct zkh_publisher *p, void **addr, size_t *len)
{
	struct stat st;
	char line[512];
	int fd, rc = -ENOENT;

	if (!p->env || mdb_env_get_fd(p->env, &fd) || fstat(fd, &st) < 0)
		return -EIO;
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof line, f)) {
		unsigned long start, end, off, ino;
		unsigned maj, min;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms,
			   &off, &maj, &min, &ino) != 7)
			continue;
		if (off == 0 && ino == st.st_ino && makedev(maj, min) == st.st_dev) {
			*addr = (void *)start;
			*len = end - start;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

int zkh_pub_release_pages(struct zkh_publisher *p)
{
	void *addr = NULL;
	size_t len = 0;
	int rc = find_map(p, &addr, &len);

	if (rc)
		return rc;
	/* The whole map: pages past the last one LMDB used were never
	 * touched, and dropping untouched pages costs nothing. */
	if (madvise(addr, len, MADV_DONTNEED) < 0)
		return -errno;
	return 0;
}
