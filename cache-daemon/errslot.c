/*
 * errslot.c - error slots (contract: errslot.h): set with a logged text
 * when it changes, cleared by their owner, ordered by a process-wide
 * sequence so the status file can name the error set last.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errslot.h"
#include "log.h"

static uint64_t next_seq;

bool zkd_error_set(struct zkd_error *e, int log_level, const char *fmt, ...)
{
	char buf[sizeof e->text];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (strcmp(buf, e->text) == 0)
		return false;
	if (!e->text[0])
		e->count++;
	memcpy(e->text, buf, sizeof buf);
	e->seq = ++next_seq;
	if (log_level)
		zkd_log((enum zkh_log_level)log_level, "%s", buf);
	return true;
}

bool zkd_error_clear(struct zkd_error *e)
{
	if (!e->text[0])
		return false;
	e->text[0] = '\0';
	return true;
}
