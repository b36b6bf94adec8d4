/*
 * errslot.h - one error slot (errslot.c): the current error of one source
 * (connection, auth, registration, publish, sync, budget; the list is
 * enum zkh_err_source in zkhosts/status.h). Each slot lives in the struct
 * of the role that owns the source, and only that role sets or clears it;
 * main copies every slot into the status file and metrics. A slot logs its
 * text once, when it is set to a new text, so an error repeated by every
 * retry is one log line.
 *
 * Thread-safety: main loop only.
 */
#ifndef ZKD_ERRSLOT_H
#define ZKD_ERRSLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "zkhosts/status.h"

struct zkd_error {
	char text[ZKH_STATUS_TEXT_MAX];	/* "" = no error */
	uint64_t seq;		/* order of setting, across all slots */
	uint64_t count;		/* times raised (set while clear) */
};

/*
 * Set the slot to the formatted text (line breaks become spaces). If the
 * text differs from the slot's, it is logged at `log_level` (0: not
 * logged, for callers that log their own wording) and true is returned.
 * Setting a clear slot counts one more error of that source (`count`).
 */
bool zkd_error_set(struct zkd_error *e, int log_level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear the slot. True if it held an error. */
bool zkd_error_clear(struct zkd_error *e);

#endif
