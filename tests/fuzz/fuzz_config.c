/*
 * libFuzzer target for the configuration parser (build: make fuzz).
 *
 * Input layout: FILE TEXT, then optionally the marker "\n@@env\n" followed by
 * NUL-separated environment values, given in order to the names in env_names[]
 * (a missing value or a lone "\x7f" is an unset variable).  The file text is
 * handed over without a terminating NUL, so ASan sees any read past len.
 *
 * After parsing, every invariant the library relies on is checked; a
 * violation traps so that libFuzzer keeps the input.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARKER "\n@@env\n"

static const char *const env_names[] = {
    "KAP_ENABLE",
    "KEEPALIVE",
    "DD_USE_KEEPALIVE",
    "KAP_IDLE",
    "KEEPIDLE",
    "DD_TCP_KEEPALIVE_TIME",
    "KAP_INTERVAL",
    "KEEPINTVL",
    "DD_TCP_KEEPALIVE_INTVL",
    "KAP_COUNT",
    "KEEPCNT",
    "DD_TCP_KEEPALIVE_PROBES",
    "KAP_USER_TIMEOUT",
    "KAP_OVERRIDE",
    "KAP_LOG",
    "KAP_LOG_TARGET",
    "KAP_INCLUDE_PROGRAMS",
    "KAP_EXCLUDE_PROGRAMS",
    "KAP_CONFIG",
};
#define NENV (sizeof(env_names) / sizeof(env_names[0]))

static const char *env_values[NENV];
static char env_buf[8192];

static const char *fake_getenv(const char *name)
{
	size_t i;

	for (i = 0; i < NENV; i++) {
		if (strcmp(env_names[i], name) == 0)
			return env_values[i];
	}
	/* The parser must only ask for the names it documents. */
	__builtin_trap();
}

static void setup_env(const uint8_t *p, size_t n)
{
	size_t i, pos = 0;

	if (p == NULL) {
		for (i = 0; i < NENV; i++)
			env_values[i] = NULL;
		return;
	}
	if (n >= sizeof(env_buf))
		n = sizeof(env_buf) - 1;
	memcpy(env_buf, p, n);
	env_buf[n] = '\0';
	for (i = 0; i < NENV; i++) {
		const char *v = env_buf + pos;
		size_t len;

		if (pos > n) {
			env_values[i] = NULL;
			continue;
		}
		len = strlen(v);
		env_values[i] = strcmp(v, "\x7f") == 0 ? NULL : v;
		pos += len + 1;
	}
}

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

static int nul_within(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void check_params(const struct kap_params *p)
{
	check(p->enable == KAP_UNSET || p->enable == 0 || p->enable == 1);
	check(p->idle == KAP_UNSET || (p->idle >= 1 && p->idle <= KAP_IDLE_MAX));
	check(p->interval == KAP_UNSET || (p->interval >= 1 && p->interval <= KAP_INTERVAL_MAX));
	check(p->count == KAP_UNSET || (p->count >= 1 && p->count <= KAP_COUNT_MAX));
	check(p->user_timeout == KAP_UNSET || p->user_timeout == KAP_UTO_AUTO ||
	      (p->user_timeout >= 0 && p->user_timeout <= KAP_UTO_MAX));
}

static void check_patterns(const char *s, int set)
{
	size_t i, n;

	check(nul_within(s, KAP_PATTERNS_MAX));
	n = strlen(s);
	if (!set) {
		check(n == 0);
		return;
	}
	/* Single spaces between patterns, none at the ends, no control bytes. */
	check(n > 0 && s[0] != ' ' && s[n - 1] != ' ');
	for (i = 0; i < n; i++) {
		check((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
		check(!(s[i] == ' ' && s[i + 1] == ' '));
	}
}

static void check_rule(const struct kap_rule *r)
{
	size_t i, n;
	int j, b;

	check(nul_within(r->name, sizeof(r->name)));
	n = strlen(r->name);
	check(n >= 1 && n < KAP_RULE_NAME_MAX);
	for (i = 0; i < n; i++) {
		char c = r->name[i];

		check((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-');
	}
	check(r->line >= 1);
	check(r->direction == KAP_DIR_ANY || r->direction == KAP_DIR_OUTBOUND ||
	      r->direction == KAP_DIR_INBOUND);
	check(r->nprefixes >= 0 && r->nprefixes <= KAP_MAX_PREFIXES);
	for (j = 0; j < r->nprefixes; j++) {
		const struct kap_prefix *p = &r->prefixes[j];
		int max = p->family == AF_INET ? 32 : 128;

		check(p->family == AF_INET || p->family == AF_INET6);
		check(p->len <= max);
		/* Host bits are zero, and an IPv4 prefix uses only the first 4 bytes. */
		for (b = p->len; b < 128; b++)
			check(!(p->addr[b / 8] & (0x80 >> (b % 8))));
	}
	check(r->port_lo <= r->port_hi);
	check((r->port_lo == 0 && r->port_hi == 65535) || r->port_lo >= 1);
	check_params(&r->params);
}

static void check_config(const struct kap_config *cfg)
{
	int i;

	check_params(&cfg->global);
	check(cfg->override == 0 || cfg->override == 1);
	check(cfg->log_level >= KAP_LOG_OFF && cfg->log_level <= KAP_LOG_DEBUG);
	check(nul_within(cfg->log_target, sizeof(cfg->log_target)));
	check(strcmp(cfg->log_target, "stderr") == 0 || strcmp(cfg->log_target, "syslog") == 0 ||
	      cfg->log_target[0] == '/');
	check(cfg->nrules >= 0 && cfg->nrules <= KAP_MAX_RULES);
	for (i = 0; i < cfg->nrules; i++)
		check_rule(&cfg->rules[i]);
	check_patterns(cfg->include_programs, cfg->include_set);
	check_patterns(cfg->exclude_programs, cfg->exclude_set);
	check(cfg->ndiags >= 0 && cfg->ndiags <= KAP_MAX_DIAGS);
	check(cfg->dropped_diags >= 0);
	check(cfg->dropped_diags == 0 || cfg->ndiags == KAP_MAX_DIAGS);
	for (i = 0; i < cfg->ndiags; i++) {
		const char *t = cfg->diags[i].text;

		check(nul_within(t, KAP_DIAG_LEN));
		check(t[0] != '\0');
		check(cfg->diags[i].level >= KAP_LOG_ERROR && cfg->diags[i].level <= KAP_LOG_DEBUG);
		for (; *t; t++)
			check((unsigned char)*t >= 0x20 && *t != 0x7f);
	}
}

/* Matching over whatever rules came out, with peers taken from the input. */
static void exercise_rules(const struct kap_config *cfg, const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	uint16_t port = 0;
	int d, r;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	sin.sin_family = AF_INET;
	sin6.sin6_family = AF_INET6;
	if (size >= 18) {
		memcpy(&sin.sin_addr, data + size - 4, 4);
		memcpy(&sin6.sin6_addr, data + size - 16, 16);
		port = (uint16_t)(data[size - 17] << 8 | data[size - 18]);
	}
	for (d = KAP_DIR_ANY; d <= KAP_DIR_INBOUND; d++) {
		r = kap_rules_find(cfg->rules, cfg->nrules, (enum kap_direction)d,
				   (struct sockaddr *)&sin, sizeof(sin), port);
		check(r >= -1 && r < cfg->nrules);
		if (r >= 0)
			check(kap_rule_matches(&cfg->rules[r], (enum kap_direction)d,
					       (struct sockaddr *)&sin, sizeof(sin), port));
		r = kap_rules_find(cfg->rules, cfg->nrules, (enum kap_direction)d,
				   (struct sockaddr *)&sin6, sizeof(sin6), port);
		check(r >= -1 && r < cfg->nrules);
		r = kap_rules_find(cfg->rules, cfg->nrules, (enum kap_direction)d, NULL, 0, port);
		check(r == -1 || cfg->rules[r].nprefixes == 0);
	}
}

static struct kap_config cfg, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *marker = memmem(data, size, MARKER, sizeof(MARKER) - 1);
	size_t text_len = marker ? (size_t)(marker - data) : size;
	char *text;

	/* An exact-size heap copy: ASan flags any read past text_len. */
	text = malloc(text_len ? text_len : 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, text_len);
	if (marker) {
		size_t off = text_len + sizeof(MARKER) - 1;

		setup_env(data + off, size - off);
	} else {
		setup_env(NULL, 0);
	}

	kap_config_init(&cfg);
	kap_config_parse_file(&cfg, text, text_len, "/etc/keepalive.conf");
	check_config(&cfg);
	kap_config_apply_env(&cfg, fake_getenv);
	check_config(&cfg);
	exercise_rules(&cfg, data, size);

	/* Pure means deterministic: the same input gives the same bytes. */
	kap_config_init(&again);
	kap_config_parse_file(&again, text, text_len, "/etc/keepalive.conf");
	kap_config_apply_env(&again, fake_getenv);
	check(memcmp(&cfg, &again, sizeof(cfg)) == 0);

	free(text);
	return 0;
}
