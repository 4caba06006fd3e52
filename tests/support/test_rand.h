/* test_rand: splitmix64, a small deterministic generator for tests: a
 * fixed seed gives the same run every time. */
#ifndef MSOCK_TEST_RAND_H
#define MSOCK_TEST_RAND_H

#include <stddef.h>
#include <stdint.h>

uint64_t th_rnd(uint64_t *state);
void th_rnd_bytes(uint64_t *state, uint8_t *b, size_t n);

#endif
