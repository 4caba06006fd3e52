/* nc_region: one region of the bus's DERPMap state (proto DERPMap, one
 * message per region, set by the broker from the config's derp_map) as
 * netcheck's plan and HTTPS probe take it. Pure: no I/O. */
#ifndef MSOCK_NC_REGION_H
#define MSOCK_NC_REGION_H

#include "nc_plan.h"
#include "nc_svc.h"
#include "state.pb-c.h"

/* Fills r and info (both cleared first) from d; nodes past NC_MAX_NODES are
 * left out, strings too long for their field are cut. */
void nc_region_from_pb(const Msock__DERPMap *d, struct nc_region *r,
		       struct nc_svc_region_info *info);

#endif
