/* Unit tests for rule matching (src/rules.c), fed by the real parser. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "rules.h"
#include "unit.h"

static struct kap_config cfg;

static void parse(const char *text)
{
	kap_config_init(&cfg);
	kap_config_parse_file(&cfg, text, strlen(text), "test.conf");
	if (cfg.ndiags)
		printf("# unexpected diag: %s\n", cfg.diags[0].text);
}

static struct sockaddr_in v4(const char *addr)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(12345); /* the port argument, not this, is what matters */
	inet_pton(AF_INET, addr, &sin.sin_addr);
	return sin;
}

static struct sockaddr_in6 v6(const char *addr)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, addr, &sin6.sin6_addr);
	return sin6;
}

/* Index of the rule matching an outbound/inbound connection to/from addr. */
static int find4(enum kap_direction dir, const char *addr, uint16_t port)
{
	struct sockaddr_in sin = v4(addr);

	return kap_rules_find(cfg.rules, cfg.nrules, dir, (struct sockaddr *)&sin, sizeof(sin),
			      port);
}

static int find6(enum kap_direction dir, const char *addr, uint16_t port)
{
	struct sockaddr_in6 sin6 = v6(addr);

	return kap_rules_find(cfg.rules, cfg.nrules, dir, (struct sockaddr *)&sin6, sizeof(sin6),
			      port);
}

static void test_prefixes(void)
{
	parse("[rule pg]\nremote = 10.0.0.0/8, fd00::/8\nport = 5432\n");
	CHECK("prefix: v4 inside", find4(KAP_DIR_OUTBOUND, "10.1.2.3", 5432) == 0);
	CHECK("prefix: v4 first address", find4(KAP_DIR_OUTBOUND, "10.0.0.0", 5432) == 0);
	CHECK("prefix: v4 last address", find4(KAP_DIR_OUTBOUND, "10.255.255.255", 5432) == 0);
	CHECK("prefix: v4 outside", find4(KAP_DIR_OUTBOUND, "11.0.0.1", 5432) == -1);
	CHECK("prefix: v4 just below", find4(KAP_DIR_OUTBOUND, "9.255.255.255", 5432) == -1);
	CHECK("prefix: v6 inside", find6(KAP_DIR_OUTBOUND, "fd12::1", 5432) == 0);
	CHECK("prefix: v6 outside", find6(KAP_DIR_OUTBOUND, "fe80::1", 5432) == -1);
	CHECK("prefix: v4-mapped peer matches v4 prefix",
	      find6(KAP_DIR_OUTBOUND, "::ffff:10.1.2.3", 5432) == 0);
	CHECK("prefix: v4-mapped peer outside v4 prefix",
	      find6(KAP_DIR_OUTBOUND, "::ffff:11.1.2.3", 5432) == -1);
	CHECK("prefix: v4-compatible-looking v6 is not mapped",
	      find6(KAP_DIR_OUTBOUND, "::10.1.2.3", 5432) == -1);
	CHECK("prefix: v6 peer with v4 bytes elsewhere not mapped",
	      find6(KAP_DIR_OUTBOUND, "64:ff9b::10.1.2.3", 5432) == -1);

	parse("[rule mapped]\nremote = ::ffff:10.0.0.0/104\n");
	CHECK("prefix: v4-mapped peer matches raw v6 prefix",
	      find6(KAP_DIR_OUTBOUND, "::ffff:10.9.9.9", 1) == 0);
	CHECK("prefix: plain v4 peer matches v4-mapped v6 prefix",
	      find4(KAP_DIR_OUTBOUND, "10.9.9.9", 1) == 0);
	CHECK("prefix: v4 peer outside v4-mapped v6 prefix",
	      find4(KAP_DIR_OUTBOUND, "11.9.9.9", 1) == -1);

	parse("[rule odd]\nremote = 172.16.0.0/12\n");
	CHECK("prefix: /12 includes 172.31.255.255",
	      find4(KAP_DIR_INBOUND, "172.31.255.255", 80) == 0);
	CHECK("prefix: /12 excludes 172.32.0.0", find4(KAP_DIR_INBOUND, "172.32.0.0", 80) == -1);
	parse("[rule host]\nremote = 192.168.1.7\n");
	CHECK("prefix: host matches itself", find4(KAP_DIR_OUTBOUND, "192.168.1.7", 1) == 0);
	CHECK("prefix: host excludes neighbour", find4(KAP_DIR_OUTBOUND, "192.168.1.6", 1) == -1);
	parse("[rule all4]\nremote = 0.0.0.0/0\n[rule all6]\nremote = ::/0\n");
	CHECK("prefix: 0.0.0.0/0 matches any v4", find4(KAP_DIR_OUTBOUND, "8.8.8.8", 1) == 0);
	CHECK("prefix: ::/0 matches any v6", find6(KAP_DIR_OUTBOUND, "2001:db8::1", 1) == 1);
	CHECK("prefix: 0.0.0.0/0 matches v4-mapped",
	      find6(KAP_DIR_OUTBOUND, "::ffff:8.8.8.8", 1) == 0);
}

static void test_peer_edge_cases(void)
{
	struct sockaddr_in sin = v4("10.1.2.3");
	struct sockaddr_un_like {
		sa_family_t family;
		char path[20];
	} un = {AF_UNIX, "/x"};
	char unaligned[sizeof(struct sockaddr_in6) + 1];
	struct sockaddr_in6 sin6 = v6("::ffff:10.1.2.3");

	parse("[rule net]\nremote = 10.0.0.0/8\n[rule any]\nport = 80\n");
	CHECK("peer NULL: rule with prefixes skipped, rule without matches",
	      kap_rules_find(cfg.rules, cfg.nrules, KAP_DIR_OUTBOUND, NULL, 0, 80) == 1);
	CHECK("peer NULL: no rule without prefixes -> -1",
	      kap_rules_find(cfg.rules, cfg.nrules, KAP_DIR_OUTBOUND, NULL, 0, 81) == -1);
	CHECK("peer: short length treated as unknown",
	      kap_rules_find(cfg.rules, cfg.nrules, KAP_DIR_OUTBOUND, (struct sockaddr *)&sin, 4,
			     80) == 1);
	CHECK("peer: zero length treated as unknown",
	      kap_rules_find(cfg.rules, cfg.nrules, KAP_DIR_OUTBOUND, (struct sockaddr *)&sin, 0,
			     81) == -1);
	CHECK("peer: AF_UNIX never matches a prefix",
	      kap_rules_find(cfg.rules, cfg.nrules, KAP_DIR_OUTBOUND, (struct sockaddr *)&un,
			     sizeof(un), 81) == -1);
	CHECK("peer: short IPv6 length treated as unknown",
	      kap_rules_find(cfg.rules, cfg.nrules, KAP_DIR_OUTBOUND, (struct sockaddr *)&sin6,
			     sizeof(sin6) - 8, 81) == -1);
	memcpy(unaligned + 1, &sin6, sizeof(sin6));
	CHECK("peer: unaligned v4-mapped sockaddr",
	      kap_rules_find(cfg.rules, cfg.nrules, KAP_DIR_OUTBOUND,
			     (struct sockaddr *)(void *)(unaligned + 1), sizeof(sin6), 81) == 0);
	CHECK("rules: NULL array", kap_rules_find(NULL, 3, KAP_DIR_OUTBOUND, NULL, 0, 80) == -1);
	CHECK("rules: zero rules",
	      kap_rules_find(cfg.rules, 0, KAP_DIR_OUTBOUND, NULL, 0, 80) == -1);
	CHECK("rules: negative count",
	      kap_rules_find(cfg.rules, -4, KAP_DIR_OUTBOUND, NULL, 0, 80) == -1);
	CHECK("rule_matches: NULL rule",
	      kap_rule_matches(NULL, KAP_DIR_OUTBOUND, NULL, 0, 80) == 0);
	CHECK("rule_matches: direct call",
	      kap_rule_matches(&cfg.rules[0], KAP_DIR_OUTBOUND, (struct sockaddr *)&sin,
			       sizeof(sin), 80) == 1);
}

static void test_ports(void)
{
	parse("[rule range]\nport = 8000-8100\n[rule single]\nport = 5432\n[rule rest]\n");
	CHECK("port: range low end", find4(KAP_DIR_OUTBOUND, "1.1.1.1", 8000) == 0);
	CHECK("port: range high end", find4(KAP_DIR_OUTBOUND, "1.1.1.1", 8100) == 0);
	CHECK("port: below range", find4(KAP_DIR_OUTBOUND, "1.1.1.1", 7999) == 2);
	CHECK("port: above range", find4(KAP_DIR_OUTBOUND, "1.1.1.1", 8101) == 2);
	CHECK("port: single", find4(KAP_DIR_OUTBOUND, "1.1.1.1", 5432) == 1);
	CHECK("port: single neighbour", find4(KAP_DIR_OUTBOUND, "1.1.1.1", 5433) == 2);
	CHECK("port: 65535 matches a rule without port",
	      find4(KAP_DIR_OUTBOUND, "1.1.1.1", 65535) == 2);
	CHECK("port: unknown (0) matches only a rule without port",
	      find4(KAP_DIR_OUTBOUND, "1.1.1.1", 0) == 2);
}

static void test_directions(void)
{
	parse("[rule out]\ndirection = outbound\nport = 1\n"
	      "[rule in]\ndirection = inbound\nport = 2\n"
	      "[rule any]\ndirection = any\nport = 3\n"
	      "[rule dflt]\nport = 4\n");
	CHECK("direction: outbound rule, outbound connection",
	      find4(KAP_DIR_OUTBOUND, "1.1.1.1", 1) == 0);
	CHECK("direction: outbound rule, inbound connection",
	      find4(KAP_DIR_INBOUND, "1.1.1.1", 1) == -1);
	CHECK("direction: inbound rule, inbound connection",
	      find4(KAP_DIR_INBOUND, "1.1.1.1", 2) == 1);
	CHECK("direction: inbound rule, outbound connection",
	      find4(KAP_DIR_OUTBOUND, "1.1.1.1", 2) == -1);
	CHECK("direction: any rule, outbound", find4(KAP_DIR_OUTBOUND, "1.1.1.1", 3) == 2);
	CHECK("direction: any rule, inbound", find4(KAP_DIR_INBOUND, "1.1.1.1", 3) == 2);
	CHECK("direction: missing = any, outbound", find4(KAP_DIR_OUTBOUND, "1.1.1.1", 4) == 3);
	CHECK("direction: missing = any, inbound", find4(KAP_DIR_INBOUND, "1.1.1.1", 4) == 3);
	CHECK("direction: unknown caller direction matches only any rules",
	      find4(KAP_DIR_ANY, "1.1.1.1", 1) == -1 && find4(KAP_DIR_ANY, "1.1.1.1", 3) == 2);
}

static void test_order(void)
{
	parse("[rule narrow]\nremote = 10.1.0.0/16\nidle = 5\n"
	      "[rule wide]\nremote = 10.0.0.0/8\nidle = 50\n"
	      "[rule all]\nidle = 500\n");
	CHECK("order: first match wins (narrow)", find4(KAP_DIR_OUTBOUND, "10.1.9.9", 1) == 0);
	CHECK("order: next rule when first misses", find4(KAP_DIR_OUTBOUND, "10.2.9.9", 1) == 1);
	CHECK("order: catch-all last", find4(KAP_DIR_OUTBOUND, "192.0.2.1", 1) == 2);
	parse("[rule all]\nidle = 500\n[rule narrow]\nremote = 10.1.0.0/16\nidle = 5\n");
	CHECK("order: catch-all first shadows later rules",
	      find4(KAP_DIR_OUTBOUND, "10.1.9.9", 1) == 0);
}

static void test_combined(void)
{
	parse("[rule pg]\ndirection = outbound\nremote = 10.0.0.0/8, fd00::/8\nport = 5432\n");
	CHECK("combined: all conditions met", find4(KAP_DIR_OUTBOUND, "10.0.0.5", 5432) == 0);
	CHECK("combined: wrong port", find4(KAP_DIR_OUTBOUND, "10.0.0.5", 5433) == -1);
	CHECK("combined: wrong direction", find4(KAP_DIR_INBOUND, "10.0.0.5", 5432) == -1);
	CHECK("combined: wrong peer", find4(KAP_DIR_OUTBOUND, "192.0.2.5", 5432) == -1);
	CHECK("combined: v4-mapped Java peer",
	      find6(KAP_DIR_OUTBOUND, "::ffff:10.0.0.5", 5432) == 0);
}

static void test_hand_built(void)
{
	/* Rules built by hand (not by the parser) with odd lengths must not read out of bounds. */
	struct kap_rule r;
	struct sockaddr_in sin = v4("10.1.2.3");

	memset(&r, 0, sizeof(r));
	r.direction = KAP_DIR_ANY;
	r.port_hi = 65535;
	r.nprefixes = 1;
	r.prefixes[0].family = AF_INET;
	r.prefixes[0].len = 200;
	memcpy(r.prefixes[0].addr, &sin.sin_addr, 4);
	CHECK("hand-built: oversized v4 length clamped to 32",
	      kap_rule_matches(&r, KAP_DIR_OUTBOUND, (struct sockaddr *)&sin, sizeof(sin), 1) == 1);
	r.nprefixes = 1000;
	sin = v4("11.1.2.3");
	CHECK("hand-built: nprefixes clamped to KAP_MAX_PREFIXES",
	      kap_rule_matches(&r, KAP_DIR_OUTBOUND, (struct sockaddr *)&sin, sizeof(sin), 1) == 0);
}

int main(void)
{
	test_prefixes();
	test_peer_edge_cases();
	test_ports();
	test_directions();
	test_order();
	test_combined();
	test_hand_built();
	UNIT_EXIT();
}
