/*
 * fuzz.h - what every zkhosts fuzz target shares. A target is one file
 * tests/fuzz/fuzz_<what>.c defining LLVMFuzzerTestOneInput; it is built two
 * ways: with clang -fsanitize=fuzzer (build/fuzz/fuzz_<what>, driven by
 * tests/fuzz/run-fuzz) and, with -DFUZZ_STANDALONE, linked with replay.c
 * into build/tests/unit/test_fuzz_<what>, which runs every file of the
 * target's seed corpus once so `make check` replays the corpora (under ASan
 * when SANITIZE=address,...). A target states its invariants with
 * FUZZ_CHECK: a violation prints where and why and aborts, which libFuzzer
 * reports as a crash and saves as an artifact.
 */
#ifndef ZKH_FUZZ_H
#define ZKH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The libFuzzer entry point; returns 0 (inputs are never rejected). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with file:line and the failed condition if `cond` is false. */
#define FUZZ_CHECK(cond)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",  \
				__FILE__, __LINE__, #cond);               \
			abort();                                          \
		}                                                         \
	} while (0)

/*
 * Copy `size` bytes into a fresh heap block of exactly that size (1 byte
 * for an empty input), so that ASan flags any read past the end. Aborts if
 * out of memory. Caller frees.
 */
static inline char *fuzz_dup(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);

	if (p == NULL)
		abort();
	p[0] = '\0';
	if (size > 0)
		memcpy(p, data, size);
	return p;
}

#endif
