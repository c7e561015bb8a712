/*
 * Rule matching.  Called from connect() and accept() wrappers, so it must stay
 * async-signal-safe: no allocation, no syscalls, work bounded by
 * KAP_MAX_RULES x KAP_MAX_PREFIXES byte comparisons.
 */
#include "rules.h"

#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

/* The peer as 16 bytes, in whichever forms it can be matched. */
struct peer {
	int have_v4, have_v6;
	uint8_t v4[4];
	uint8_t v6[16];
};

static const uint8_t v4mapped_head[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/*
 * The sockaddr is read with memcpy and only as far as peer_len allows: the
 * caller's buffer may be unaligned or shorter than the family claims.
 */
static int read_peer(const struct sockaddr *sa, socklen_t len, struct peer *p)
{
	sa_family_t family;

	memset(p, 0, sizeof(*p));
	if (sa == NULL || len < (socklen_t)sizeof(family))
		return 0;
	memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof(family));
	if (family == AF_INET) {
		if (len < (socklen_t)(offsetof(struct sockaddr_in, sin_addr) + 4))
			return 0;
		memcpy(p->v4, (const char *)sa + offsetof(struct sockaddr_in, sin_addr), 4);
		p->have_v4 = 1;
		/* Also as ::ffff:a.b.c.d, so that an IPv6 prefix written that way matches. */
		memcpy(p->v6, v4mapped_head, 12);
		memcpy(p->v6 + 12, p->v4, 4);
		p->have_v6 = 1;
		return 1;
	}
	if (family == AF_INET6) {
		if (len < (socklen_t)(offsetof(struct sockaddr_in6, sin6_addr) + 16))
			return 0;
		memcpy(p->v6, (const char *)sa + offsetof(struct sockaddr_in6, sin6_addr), 16);
		p->have_v6 = 1;
		/* Dual-stack sockets (Java) see IPv4 peers as ::ffff:a.b.c.d. */
		if (memcmp(p->v6, v4mapped_head, 12) == 0) {
			memcpy(p->v4, p->v6 + 12, 4);
			p->have_v4 = 1;
		}
		return 1;
	}
	return 0;
}

static int prefix_matches(const struct kap_prefix *pfx, const uint8_t *addr, int maxbits)
{
	int bits = pfx->len > maxbits ? maxbits : pfx->len;
	int full = bits / 8, rest = bits % 8;

	if (memcmp(pfx->addr, addr, (size_t)full) != 0)
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((pfx->addr[full] & mask) != (addr[full] & mask))
			return 0;
	}
	return 1;
}

static int peer_matches(const struct kap_rule *rule, const struct peer *p)
{
	int i, n = rule->nprefixes > KAP_MAX_PREFIXES ? KAP_MAX_PREFIXES : rule->nprefixes;

	for (i = 0; i < n; i++) {
		const struct kap_prefix *pfx = &rule->prefixes[i];

		if (pfx->family == AF_INET && p->have_v4 && prefix_matches(pfx, p->v4, 32))
			return 1;
		if (pfx->family == AF_INET6 && p->have_v6 && prefix_matches(pfx, p->v6, 128))
			return 1;
	}
	return 0;
}

static int rule_matches(const struct kap_rule *rule, enum kap_direction direction,
			const struct peer *p, int have_peer, uint16_t port)
{
	if (rule->direction != KAP_DIR_ANY && rule->direction != direction)
		return 0;
	if (port < rule->port_lo || port > rule->port_hi)
		return 0;
	if (rule->nprefixes <= 0)
		return 1;
	return have_peer && peer_matches(rule, p);
}

int kap_rule_matches(const struct kap_rule *rule, enum kap_direction direction,
		     const struct sockaddr *peer, socklen_t peer_len, uint16_t port)
{
	struct peer p;
	int have = read_peer(peer, peer_len, &p);

	if (rule == NULL)
		return 0;
	return rule_matches(rule, direction, &p, have, port);
}

int kap_rules_find(const struct kap_rule *rules, int nrules, enum kap_direction direction,
		   const struct sockaddr *peer, socklen_t peer_len, uint16_t port)
{
	struct peer p;
	int i, have;

	if (rules == NULL || nrules <= 0)
		return -1;
	/* Decoded once, not per rule. */
	have = read_peer(peer, peer_len, &p);
	for (i = 0; i < nrules && i < KAP_MAX_RULES; i++) {
		if (rule_matches(&rules[i], direction, &p, have, port))
			return i;
	}
	return -1;
}
