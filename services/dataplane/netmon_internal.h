/* netmon_internal: what the link monitor's files (netmon.h lists them)
 * share with one another and with nothing else. */
#ifndef MSOCK_NETMON_INTERNAL_H
#define MSOCK_NETMON_INTERNAL_H

#include <linux/if_addr.h>
#include <stdint.h>

#include "netmon.h"

/* Address flags that make an address unusable: DAD not done, or failed. */
#define NETMON_ADDR_FLAGS (IFA_F_TENTATIVE | IFA_F_DADFAILED)

/* netmon_parse.c: the link with that index, or NULL. */
struct netmon_link *netmon_find_link(const struct netmon_state *st, uint32_t index);

#endif
