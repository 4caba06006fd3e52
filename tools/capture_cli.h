/* capture_cli: `msockctl capture` (docs/capture.md). */
#ifndef MSOCK_CAPTURE_CLI_H
#define MSOCK_CAPTURE_CLI_H

#include <jansson.h>

/* Runs a capture through the broker at control socket `sock` with the
 * command's arguments argv[0..argc); get_status gives the status JSON (the
 * caller's, NULL with a message on failure; the result is freed here) for
 * the peers' names. Returns the exit status (0, 1 failed, 2 usage, 3 no
 * broker). */
int capture_cli(const char *sock, int argc, char **argv, json_t *(*get_status)(const char *sock));

#endif
