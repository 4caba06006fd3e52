/* errbuf: writing an error message into a caller's buffer (char *err,
 * size_t cap), the convention of functions that report to a person. */
#ifndef MSOCK_ERRBUF_H
#define MSOCK_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into err (if err and cap allow); a NULL err is fine. */
__attribute__((format(printf, 3, 4))) static inline void errbuf_set(char *err, size_t cap,
								    const char *fmt, ...)
{
	va_list ap;

	if (!err || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

#endif
