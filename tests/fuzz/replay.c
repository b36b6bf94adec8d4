/*
 * replay.c - main() for the standalone build of a fuzz target
 * (-DFUZZ_STANDALONE): runs LLVMFuzzerTestOneInput once on every file of
 * the target's seed corpus, so the normal test suite replays the corpora
 * and the crash reproducers kept there. The corpus directory is
 * $ZKH_SRC/tests/fuzz/corpus/<FUZZ_NAME> when ZKH_SRC is set (tests/run-tests
 * sets it), else the absolute path compiled in as FUZZ_CORPUS_DIR; any file
 * or directory given on the command line is replayed instead. Exits 0 after
 * the last file, 1 if the corpus is missing or empty or a file cannot be
 * read; a violated invariant aborts inside the target.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME (the target's name) must be defined"
#endif
#ifndef FUZZ_CORPUS_DIR
#error "FUZZ_CORPUS_DIR (absolute path of the corpus) must be defined"
#endif

/* Read a whole file into a fresh heap block; 0 or -errno. */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int rc = 0;

	if (f == NULL)
		return -errno;
	for (;;) {
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap ? cap * 2 : 4096);

			if (nb == NULL) {
				rc = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		goto fail;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	fclose(f);
	return rc;
}

static int replay_one(const char *path)
{
	uint8_t *buf = NULL, *exact;
	size_t len = 0;
	int rc = read_file(path, &buf, &len);

	if (rc < 0) {
		fprintf(stderr, "%s: cannot read %s: %s\n", FUZZ_NAME, path,
			strerror(-rc));
		return rc;
	}
	/* An exactly sized copy, as libFuzzer gives, so ASan sees overreads. */
	exact = malloc(len ? len : 1);
	if (exact == NULL) {
		free(buf);
		return -ENOMEM;
	}
	if (len)
		memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay a file, or every regular file of a directory in name order.
 * Adds the number replayed to *count. 0 or -errno. */
static int replay_path(const char *path, unsigned *count)
{
	struct dirent *de;
	struct stat st;
	char **names = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	int rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", FUZZ_NAME, path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		rc = replay_one(path);
		if (rc == 0)
			(*count)++;
		return rc;
	}
	d = opendir(path);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 64) *
						   sizeof(*names));

			if (nn == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			names = nn;
			cap = cap ? cap * 2 : 64;
		}
		if (asprintf(&names[n], "%s/%s", path, de->d_name) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			rc = replay_one(names[i]);
			if (rc == 0)
				(*count)++;
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	const char *src = getenv("ZKH_SRC");
	char *dir = NULL;
	unsigned count = 0;
	int rc = 0;

	if (argc > 1) {
		for (int i = 1; i < argc && rc == 0; i++)
			rc = replay_path(argv[i], &count);
	} else {
		if (src != NULL && *src != '\0') {
			if (asprintf(&dir, "%s/tests/fuzz/corpus/%s", src,
				     FUZZ_NAME) < 0)
				return 1;
		} else {
			dir = strdup(FUZZ_CORPUS_DIR);
			if (dir == NULL)
				return 1;
		}
		rc = replay_path(dir, &count);
	}
	if (rc == 0 && count == 0) {
		fprintf(stderr, "%s: no corpus files in %s\n", FUZZ_NAME,
			dir ? dir : "the given paths");
		rc = -ENOENT;
	}
	if (rc == 0)
		printf("%s: replayed %u inputs, all invariants held\n",
		       FUZZ_NAME, count);
	free(dir);
	return rc == 0 ? 0 : 1;
}
