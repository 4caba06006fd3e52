/* derper_duration: Go's time.Duration as Tailscale's cmd/derper flags take
 * it (-tcp-user-timeout 15s): time.ParseDuration and Duration.String
 * (time/format.go, time/time.go), pure. */
#ifndef MSOCK_DERPER_DURATION_H
#define MSOCK_DERPER_DURATION_H

#include <stddef.h>
#include <stdint.h>

enum {
	/* Duration.String's longest: "-2562047h47m16.854775808s" is 25. */
	DERPER_DURATION_TEXT_BYTES = 32,
};

/* time.ParseDuration: an optional sign, then "0" or one or more decimal
 * numbers (with an optional fraction) each followed by a unit: ns, us, µs
 * (U+00B5 or U+03BC), ms, s, m, h ("1h30m", "1.5s", "-2m"). Returns 0 with
 * *ns set, -EINVAL (syntax, missing or unknown unit) or -ERANGE (outside
 * int64 nanoseconds). */
int derper_duration_parse(const char *s, int64_t *ns);

/* Duration.String into buf (at least DERPER_DURATION_TEXT_BYTES): "0s",
 * "1.5ms", "2µs", "15s", "10m0s", "1h0m0s". Returns buf. */
char *derper_duration_format(int64_t ns, char *buf, size_t cap);

#endif
