/*
 * model.c - the expected cache contents of the stress programs and the
 * dlopen of the module under test (see model.h).
 */
#include "model.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zkh_model_stable_addr(long i, uint8_t a[4])
{
	a[0] = 10;
	a[1] = (uint8_t)(1 + i / 65536);
	a[2] = (uint8_t)(i / 256 % 256);
	a[3] = (uint8_t)(i % 256);
}

static int bad(const char *arg, const char *why)
{
	fprintf(stderr, "model '%s': %s\n", arg, why);
	return -1;
}

/* Split "a:b:c" into at most n fields (in place); returns the count. */
static int split(char *s, char **f, int n)
{
	int k = 0;

	while (k < n) {
		f[k++] = s;
		s = strchr(s, ':');
		if (!s)
			break;
		*s++ = '\0';
	}
	return k;
}

int zkh_model_parse(struct zkh_model *m, const char *arg)
{
	char buf[1024], *f[5], *tok, *save = NULL;
	int n;

	if (strlen(arg) >= sizeof(buf))
		return bad(arg, "too long");
	strcpy(buf, arg);
	n = split(buf, f, 5);
	if (n == 3 && strcmp(f[0], "stable") == 0) {
		if (strlen(f[1]) >= sizeof(m->stable_prefix))
			return bad(arg, "prefix too long");
		strcpy(m->stable_prefix, f[1]);
		m->stable_count = atol(f[2]);
		if (m->stable_count < 1 || m->stable_count > 65536 * 200)
			return bad(arg, "count must be 1..13107200");
		return 0;
	}
	if (n == 3 && strcmp(f[0], "churn") == 0) {
		unsigned c = m->nchurn;

		if (c >= ZKH_MODEL_MAX_CHURN)
			return bad(arg, "too many churning names");
		if (strlen(f[1]) >= sizeof(m->churn[c].name))
			return bad(arg, "name too long");
		strcpy(m->churn[c].name, f[1]);
		m->churn[c].nvalues = 0;
		for (tok = strtok_r(f[2], "/", &save); tok;
		     tok = strtok_r(NULL, "/", &save)) {
			if (m->churn[c].nvalues >= ZKH_MODEL_MAX_VALUES)
				return bad(arg, "too many values");
			if (inet_pton(AF_INET, tok, m->churn[c].values[
				      m->churn[c].nvalues]) != 1)
				return bad(arg, "not an IPv4 address");
			m->churn[c].nvalues++;
		}
		if (!m->churn[c].nvalues)
			return bad(arg, "no values");
		m->nchurn++;
		return 0;
	}
	if (n == 4 && strcmp(f[0], "churnset") == 0) {
		long count = atol(f[2]), k = atol(f[3]), j, v;

		if (count < 1 || count > 255 ||
		    m->nchurn + (unsigned)count > ZKH_MODEL_MAX_CHURN)
			return bad(arg, "count must be 1..255 in all");
		if (k < 1 || k > ZKH_MODEL_MAX_VALUES)
			return bad(arg, "values per name must be 1..16");
		if (strlen(f[1]) + 4 > sizeof(m->churn[0].name))
			return bad(arg, "prefix too long");
		for (j = 0; j < count; j++) {
			unsigned c = m->nchurn++;

			snprintf(m->churn[c].name, sizeof(m->churn[c].name),
				 "%s%ld", f[1], j);
			m->churn[c].nvalues = (unsigned)k;
			for (v = 0; v < k; v++) {
				uint8_t *a = m->churn[c].values[v];

				a[0] = 10;
				a[1] = 2;
				a[2] = (uint8_t)j;
				a[3] = (uint8_t)(v + 1);
			}
		}
		return 0;
	}
	return bad(arg, "expected stable:PREFIX:COUNT, churn:NAME:ADDR/... "
		   "or churnset:PREFIX:COUNT:K");
}

int zkh_model_churn_value(const struct zkh_model *m, unsigned c,
			  const uint8_t a[4])
{
	unsigned v;

	for (v = 0; v < m->churn[c].nvalues; v++)
		if (memcmp(m->churn[c].values[v], a, 4) == 0)
			return (int)v;
	return -1;
}

int zkh_model_load(const char *lib, struct zkh_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!e->handle) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return -1;
	}
	e->name4 = (zkh_name4_fn)dlsym(e->handle, "_nss_zk_gethostbyname4_r");
	e->name2 = (zkh_name2_fn)dlsym(e->handle, "_nss_zk_gethostbyname2_r");
	e->byaddr = (zkh_addr_fn)dlsym(e->handle, "_nss_zk_gethostbyaddr_r");
	if (!e->name4 || !e->name2 || !e->byaddr) {
		fprintf(stderr, "%s: missing NSS entry points\n", lib);
		dlclose(e->handle);
		e->handle = NULL;
		return -1;
	}
	return 0;
}

bool zkh_check_tuples(enum nss_status st, const struct gaih_addrtuple *pat,
		      const uint8_t *want, const struct zkh_model *m,
		      unsigned c, int *value)
{
	if (st != NSS_STATUS_SUCCESS || !pat || pat->next ||
	    pat->family != AF_INET)
		return false;
	if (want)
		return memcmp(pat->addr, want, 4) == 0;
	*value = zkh_model_churn_value(m, c, (const uint8_t *)pat->addr);
	return *value >= 0;
}
