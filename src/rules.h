/* Which [rule] of the configuration a connection matches: pure, no I/O. */
#ifndef KAP_RULES_H
#define KAP_RULES_H

#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

/*
 * peer: the remote address (AF_INET, AF_INET6; IPv4-mapped IPv6 matches IPv4
 * prefixes), or NULL when unknown: then only rules without prefixes match.
 * port: the remote port for KAP_DIR_OUTBOUND, the local port for
 * KAP_DIR_INBOUND, in host order.
 */
int kap_rule_matches(const struct kap_rule *rule, enum kap_direction direction,
		     const struct sockaddr *peer, socklen_t peer_len, uint16_t port);

/* Index of the first matching rule in file order, or -1. */
int kap_rules_find(const struct kap_rule *rules, int nrules, enum kap_direction direction,
		   const struct sockaddr *peer, socklen_t peer_len, uint16_t port);

#endif
