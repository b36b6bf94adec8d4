/*
 * model.h - what the stress programs in tests/stress/ expect the cache to
 * answer, and the NSS entry points they call: "stable" names whose single
 * address never changes, and "churning" names whose single address moves
 * among a known set of values while the programs run. Every answer is
 * checked against this model; a stable name must answer exactly, a
 * churning name must answer exactly one of its real values. The entry
 * points are taken from a dlopened libnss_zk.so.2 (zkh_model_load), so
 * the programs call the module directly, like glibc does.
 */
#ifndef ZKH_STRESS_MODEL_H
#define ZKH_STRESS_MODEL_H

#include <netdb.h>
#include <nss.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef enum nss_status (*zkh_name4_fn)(const char *, struct gaih_addrtuple **,
					char *, size_t, int *, int *,
					int32_t *);
typedef enum nss_status (*zkh_name2_fn)(const char *, int, struct hostent *,
					char *, size_t, int *, int *);
typedef enum nss_status (*zkh_addr_fn)(const void *, socklen_t, int,
				       struct hostent *, char *, size_t, int *,
				       int *);

/* The module's entry points, from zkh_model_load. */
struct zkh_entry {
	void *handle;		/* dlopen handle */
	zkh_name4_fn name4;
	zkh_name2_fn name2;
	zkh_addr_fn byaddr;
};

#define ZKH_MODEL_MAX_CHURN 256
#define ZKH_MODEL_MAX_VALUES 16

/*
 * The expected contents. Stable names are <stable_prefix><i> for i in
 * 0..stable_count-1 with address 10.<1 + i/65536>.<i/256%256>.<i%256>
 * (for i < 65536 this is 10.1.<i/256>.<i%256>, what tests/tools/nss_churn
 * publishes). Churning names are listed with their possible values.
 */
struct zkh_model {
	char stable_prefix[64];
	long stable_count;
	unsigned nchurn;
	struct {
		char name[64];
		unsigned nvalues;
		uint8_t values[ZKH_MODEL_MAX_VALUES][4];
	} churn[ZKH_MODEL_MAX_CHURN];
};

/*
 * Parse one model argument into *m (zeroed by the caller first):
 *   stable:PREFIX:COUNT         the stable names
 *   churn:NAME:A.B.C.D/...      one churning name and its values
 *   churnset:PREFIX:COUNT:K     churning names PREFIX0..PREFIX<COUNT-1>,
 *                               name j taking 10.2.<j>.<1..K>
 * Returns 0, or -1 with a message naming the problem on stderr.
 */
int zkh_model_parse(struct zkh_model *m, const char *arg);

/* Address of stable name i. */
void zkh_model_stable_addr(long i, uint8_t a[4]);

/* Index of value `a` among churn name c's values, or -1 if it is none. */
int zkh_model_churn_value(const struct zkh_model *m, unsigned c,
			  const uint8_t a[4]);

/*
 * dlopen `lib` (RTLD_NOW | RTLD_LOCAL) and find the entry points. Returns
 * 0, or -1 with dlerror()'s message on stderr. Not async-signal-safe.
 */
int zkh_model_load(const char *lib, struct zkh_entry *e);

/*
 * Check the forward answer of gethostbyname4_r for one name: exactly one
 * IPv4 tuple equal to `want` (stable) or, if want is NULL, one of churn
 * name c's values, whose index is stored in *value. Async-signal-safe
 * (no allocation, no lock), given an entry point that is.
 */
bool zkh_check_tuples(enum nss_status st, const struct gaih_addrtuple *pat,
		      const uint8_t *want, const struct zkh_model *m,
		      unsigned c, int *value);

#endif
