/* nc_region: the bus's DERPMap region -> netcheck's region (nc_region.h).
 * Field by field as tailcfg.DERPRegion / DERPNode name them. */
#include <stdio.h>
#include <string.h>

#include "nc_region.h"

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void nc_region_from_pb(const Msock__DERPMap *d, struct nc_region *r,
		       struct nc_svc_region_info *info)
{
	memset(r, 0, sizeof(*r));
	memset(info, 0, sizeof(*info));
	r->id = d->region_id;
	r->avoid = d->avoid;
	r->no_measure_no_home = d->no_measure_no_home;
	r->home_score = d->home_score; /* HomeParams.RegionScore */
	copy_str(info->code, sizeof(info->code), d->region_code);
	for (size_t i = 0; i < d->n_nodes && r->n_nodes < NC_MAX_NODES; i++) {
		const Msock__DERPNode *n = d->nodes[i];
		struct nc_node *o = &r->nodes[r->n_nodes];
		struct nc_svc_node_http *h = &info->nodes[r->n_nodes];

		copy_str(o->name, sizeof(o->name), n->name);
		copy_str(o->ipv4, sizeof(o->ipv4), n->ipv4);
		copy_str(o->ipv6, sizeof(o->ipv6), n->ipv6);
		copy_str(o->stun_test_ip, sizeof(o->stun_test_ip), n->stun_test_ip);
		o->stun_port = n->stun_port;
		o->stun_only = n->stun_only;
		copy_str(h->host, sizeof(h->host), n->host_name);
		h->derp_port = (uint16_t)(n->derp_port <= 65535 ? n->derp_port : 0);
		h->insecure = n->insecure_for_tests;
		h->bad_cert_name = tls_certname_parse(n->cert_name, &h->cert) < 0;
		r->n_nodes++;
	}
}
