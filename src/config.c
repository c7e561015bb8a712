/*
 * The configuration parser: file text and environment into struct kap_config.
 *
 * Pure by design (no I/O, no getenv, no heap): the library calls it once at
 * start-up, the unit tests and the fuzzer call it directly.  Every problem
 * becomes exactly one line in cfg->diags, which names where it is, the key,
 * the offending value, the reason, the allowed values and what was done.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "values.h"

/* Longest value looked at; longer ones are refused whole, never cut. */
#define VALUE_MAX 1024
/* How much of an offending value a message shows. */
#define SHOW_MAX 60

enum key {
	K_ENABLE,
	K_IDLE,
	K_INTERVAL,
	K_COUNT,
	K_USER_TIMEOUT,
	K_OVERRIDE,
	K_LOG,
	K_LOG_TARGET,
	K_INCLUDE,
	K_EXCLUDE,
	K_DIRECTION,
	K_REMOTE,
	K_PORT,
	K_NKEYS
};

#define IN_GLOBAL 1
#define IN_RULE	  2

static const struct key_info {
	const char *name;
	int where; /* IN_GLOBAL and/or IN_RULE */
	const char *allowed;
	const char *syntax; /* the reason for a value of the wrong shape */
} keys[K_NKEYS] = {
    [K_ENABLE] = {"enable", IN_GLOBAL | IN_RULE, "on/off, yes/no, true/false, 1/0",
		  "not a boolean"},
    [K_IDLE] = {"idle", IN_GLOBAL | IN_RULE, "1..32767", "not a number"},
    [K_INTERVAL] = {"interval", IN_GLOBAL | IN_RULE, "1..32767", "not a number"},
    [K_COUNT] = {"count", IN_GLOBAL | IN_RULE, "1..127", "not a number"},
    [K_USER_TIMEOUT] = {"user_timeout", IN_GLOBAL | IN_RULE, "0..2147483647 or auto",
			"not a number"},
    [K_OVERRIDE] = {"override", IN_GLOBAL, "on/off, yes/no, true/false, 1/0", "not a boolean"},
    [K_LOG] = {"log", IN_GLOBAL, "off, error, warn, info, debug", "not a log level"},
    [K_LOG_TARGET] = {"log_target", IN_GLOBAL, "stderr, syslog or an absolute path",
		      "not a log target"},
    [K_INCLUDE] = {"include_programs", IN_GLOBAL, "space-separated glob patterns",
		   "not a pattern list"},
    [K_EXCLUDE] = {"exclude_programs", IN_GLOBAL, "space-separated glob patterns",
		   "not a pattern list"},
    [K_DIRECTION] = {"direction", IN_RULE, "outbound, inbound or any", "not a direction"},
    [K_REMOTE] = {"remote", IN_RULE, "ADDRESS[/LEN], IPv4 or IPv6", "not a prefix"},
    [K_PORT] = {"port", IN_RULE, "1..65535 or N-M", "not a port"},
};

/* Environment variables per parameter, strongest first: KAP_, libkeepalive, libdontdie. */
static const struct env_source {
	enum key key;
	const char *names[3];
} env_sources[] = {
    {K_ENABLE, {"KAP_ENABLE", "KEEPALIVE", "DD_USE_KEEPALIVE"}},
    {K_IDLE, {"KAP_IDLE", "KEEPIDLE", "DD_TCP_KEEPALIVE_TIME"}},
    {K_INTERVAL, {"KAP_INTERVAL", "KEEPINTVL", "DD_TCP_KEEPALIVE_INTVL"}},
    {K_COUNT, {"KAP_COUNT", "KEEPCNT", "DD_TCP_KEEPALIVE_PROBES"}},
    {K_USER_TIMEOUT, {"KAP_USER_TIMEOUT", NULL, NULL}},
    {K_OVERRIDE, {"KAP_OVERRIDE", NULL, NULL}},
    {K_LOG, {"KAP_LOG", NULL, NULL}},
    {K_LOG_TARGET, {"KAP_LOG_TARGET", NULL, NULL}},
    {K_INCLUDE, {"KAP_INCLUDE_PROGRAMS", NULL, NULL}},
    {K_EXCLUDE, {"KAP_EXCLUDE_PROGRAMS", NULL, NULL}},
};

/* Where a value came from, for the message. */
struct where {
	const char *file; /* NULL for the environment */
	int line;
	const char *var;  /* environment variable name */
	const char *rule; /* rule being parsed, or NULL */
};

static int is_printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

/*
 * A value as a message shows it: at most SHOW_MAX characters, every byte that
 * could break the line or the terminal as '?'.
 */
static void show(char *buf, size_t size, const char *s, size_t n)
{
	size_t i, o = 0, max = n > SHOW_MAX ? SHOW_MAX : n;

	for (i = 0; i < max && o + 1 < size; i++)
		buf[o++] = is_printable((unsigned char)s[i]) ? s[i] : '?';
	if (n > max) {
		for (i = 0; i < 3 && o + 1 < size; i++)
			buf[o++] = '.';
	}
	buf[o] = '\0';
}

void kap_config_init(struct kap_config *cfg)
{
	/*
	 * Field by field rather than one memset: the arrays are guarded by
	 * their counts, and leaving them untouched spares a preloaded
	 * library's start-up the page faults of a 17 KiB clear.
	 */
	cfg->nrules = 0;
	cfg->include_set = cfg->exclude_set = 0;
	cfg->include_programs[0] = cfg->exclude_programs[0] = '\0';
	cfg->ndiags = cfg->dropped_diags = 0;
	cfg->global.enable = KAP_UNSET;
	cfg->global.idle = KAP_UNSET;
	cfg->global.interval = KAP_UNSET;
	cfg->global.count = KAP_UNSET;
	cfg->global.user_timeout = KAP_UNSET;
	cfg->override = 0;
	cfg->log_level = KAP_LOG_WARN;
	/* memcpy, not snprintf: a start-up with nothing to report never pages in stdio. */
	memcpy(cfg->log_target, "stderr", sizeof("stderr"));
}

void kap_config_diag(struct kap_config *cfg, int level, const char *fmt, ...)
{
	struct kap_diag *d;
	va_list ap;
	char *p;

	if (cfg->ndiags < 0 || cfg->ndiags >= KAP_MAX_DIAGS) {
		cfg->dropped_diags++;
		return;
	}
	d = &cfg->diags[cfg->ndiags++];
	d->level = level;
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof(d->text), fmt, ap);
	va_end(ap);
	/* One message is one line, whatever a file name or value held. */
	for (p = d->text; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
}

/* "FILE:LINE: " or "" for the environment. */
static void location(char *buf, size_t size, const struct where *w)
{
	if (w->file)
		snprintf(buf, size, "%s:%d: ", w->file, w->line);
	else
		buf[0] = '\0';
}

/* "; ignored" or "; rule 'NAME' skipped": what happens after a bad value. */
static void consequence(char *buf, size_t size, const struct where *w)
{
	if (w->rule)
		snprintf(buf, size, "; rule '%s' skipped", w->rule);
	else
		snprintf(buf, size, "; ignored");
}

static void report_value(struct kap_config *cfg, const struct where *w, enum key k, const char *v,
			 size_t vn, const char *reason)
{
	char loc[KAP_DIAG_LEN], shown[SHOW_MAX + 4], after[KAP_RULE_NAME_MAX + 32];

	location(loc, sizeof(loc), w);
	consequence(after, sizeof(after), w);
	show(shown, sizeof(shown), v, vn);
	if (w->file == NULL)
		kap_config_diag(cfg, KAP_LOG_WARN, "%s=%s: %s, allowed %s%s", w->var, shown, reason,
				keys[k].allowed, after);
	else if (vn == 0)
		kap_config_diag(cfg, KAP_LOG_WARN, "%s%s: %s, allowed %s%s", loc, keys[k].name,
				reason, keys[k].allowed, after);
	else
		kap_config_diag(cfg, KAP_LOG_WARN, "%s%s = %s: %s, allowed %s%s", loc, keys[k].name,
				shown, reason, keys[k].allowed, after);
}

static const char *value_reason(enum key k, int rc)
{
	switch (rc) {
	case KAP_VALUE_EMPTY:
		return "empty value";
	case KAP_VALUE_RANGE:
		return "out of range";
	default:
		return keys[k].syntax;
	}
}

/* A port RANGE error is either a number outside 1..65535 or N > M: say which. */
static const char *port_reason(const char *v)
{
	const char *dash = v[0] ? strchr(v + 1, '-') : NULL;
	char first[VALUE_MAX];
	long a, b;
	size_t n;

	if (dash == NULL)
		return "out of range";
	n = (size_t)(dash - v);
	memcpy(first, v, n);
	first[n] = '\0';
	if (kap_parse_long(first, 1, 65535, &a) == KAP_VALUE_OK &&
	    kap_parse_long(dash + 1, 1, 65535, &b) == KAP_VALUE_OK && a > b)
		return "first port above last";
	return "out of range";
}

static int set_log_target(struct kap_config *cfg, const char *v, size_t n, const char **reason)
{
	size_t i;

	if (n == 6 && memcmp(v, "stderr", 6) == 0) {
		snprintf(cfg->log_target, sizeof(cfg->log_target), "stderr");
		return 0;
	}
	if (n == 6 && memcmp(v, "syslog", 6) == 0) {
		snprintf(cfg->log_target, sizeof(cfg->log_target), "syslog");
		return 0;
	}
	if (v[0] != '/') {
		*reason = keys[K_LOG_TARGET].syntax;
		return -1;
	}
	if (n >= sizeof(cfg->log_target)) {
		*reason = "path too long";
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			*reason = "control character in path";
			return -1;
		}
	}
	memcpy(cfg->log_target, v, n);
	cfg->log_target[n] = '\0';
	return 0;
}

/* Stores the patterns separated by single spaces, so that the matcher splits on ' ' only. */
static int set_patterns(char *dst, size_t size, int *set, const char *v, size_t n,
			const char **reason)
{
	char tmp[KAP_PATTERNS_MAX];
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (kap_is_space((char)c)) {
			if (o > 0 && tmp[o - 1] != ' ' && o + 1 < sizeof(tmp))
				tmp[o++] = ' ';
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			*reason = "control character in pattern";
			return -1;
		}
		if (o + 1 >= sizeof(tmp) || o + 1 >= size) {
			*reason = "list too long";
			return -1;
		}
		tmp[o++] = (char)c;
	}
	while (o > 0 && tmp[o - 1] == ' ')
		o--;
	memcpy(dst, tmp, o);
	dst[o] = '\0';
	*set = 1;
	return 0;
}

/* Parses "P1, P2, ..." into rule->prefixes; the rule is left alone on error. */
static int set_remote(struct kap_rule *rule, const char *v, size_t n, const char **reason)
{
	struct kap_prefix tmp[KAP_MAX_PREFIXES];
	int count = 0;
	size_t pos = 0;

	while (pos <= n) {
		const char *comma = memchr(v + pos, ',', n - pos);
		const char *item = v + pos;
		size_t len = comma ? (size_t)(comma - item) : n - pos;
		char one[VALUE_MAX];
		int rc;

		kap_trim(&item, &len);
		if (len == 0) {
			*reason = "empty prefix in list";
			return -1;
		}
		if (count == KAP_MAX_PREFIXES) {
			*reason = "too many prefixes, at most 16";
			return -1;
		}
		memcpy(one, item, len);
		one[len] = '\0';
		rc = kap_parse_prefix(one, &tmp[count]);
		if (rc == KAP_VALUE_RANGE) {
			*reason = "prefix length out of range";
			return -1;
		}
		if (rc != KAP_VALUE_OK) {
			*reason = "not an address prefix";
			return -1;
		}
		count++;
		if (comma == NULL)
			break;
		pos = (size_t)(comma - v) + 1;
	}
	memcpy(rule->prefixes, tmp, sizeof(tmp[0]) * (size_t)count);
	rule->nprefixes = count;
	return 0;
}

/*
 * Applies one value to the globals (rule == NULL) or to a rule.  v is trimmed,
 * NUL-terminated, n == strlen(v) > 0.  Returns 0, or -1 with *reason set and
 * nothing changed.
 */
static int apply(struct kap_config *cfg, struct kap_rule *rule, enum key k, const char *v, size_t n,
		 const char **reason)
{
	struct kap_params *p = rule ? &rule->params : &cfg->global;
	long l = 0;
	int b = 0, rc;

	if (rule == NULL && !(keys[k].where & IN_GLOBAL)) {
		*reason = "only allowed in a rule";
		return -1;
	}

	switch (k) {
	case K_ENABLE:
	case K_OVERRIDE:
		rc = kap_parse_bool(v, &b);
		if (rc == KAP_VALUE_OK) {
			if (k == K_ENABLE)
				p->enable = b;
			else
				cfg->override = b;
		}
		break;
	case K_IDLE:
	case K_INTERVAL:
		rc = kap_parse_long(v, 1, KAP_IDLE_MAX, &l);
		if (rc == KAP_VALUE_OK)
			*(k == K_IDLE ? &p->idle : &p->interval) = (int)l;
		break;
	case K_COUNT:
		rc = kap_parse_long(v, 1, KAP_COUNT_MAX, &l);
		if (rc == KAP_VALUE_OK)
			p->count = (int)l;
		break;
	case K_USER_TIMEOUT:
		rc = kap_parse_user_timeout(v, &l);
		if (rc == KAP_VALUE_OK)
			p->user_timeout = l;
		break;
	case K_LOG:
		rc = kap_parse_log_level(v, &b);
		if (rc == KAP_VALUE_OK)
			cfg->log_level = b;
		break;
	case K_LOG_TARGET:
		return set_log_target(cfg, v, n, reason);
	case K_INCLUDE:
		return set_patterns(cfg->include_programs, sizeof(cfg->include_programs),
				    &cfg->include_set, v, n, reason);
	case K_EXCLUDE:
		return set_patterns(cfg->exclude_programs, sizeof(cfg->exclude_programs),
				    &cfg->exclude_set, v, n, reason);
	case K_DIRECTION: {
		enum kap_direction d = KAP_DIR_ANY;

		rc = kap_parse_direction(v, &d);
		if (rc == KAP_VALUE_OK)
			rule->direction = d;
		break;
	}
	case K_REMOTE:
		return set_remote(rule, v, n, reason);
	case K_PORT: {
		uint16_t lo = 0, hi = 0;

		rc = kap_parse_port_range(v, &lo, &hi);
		if (rc == KAP_VALUE_OK) {
			rule->port_lo = lo;
			rule->port_hi = hi;
		} else if (rc == KAP_VALUE_RANGE) {
			*reason = port_reason(v);
			return -1;
		}
		break;
	}
	default:
		*reason = "unknown key";
		return -1;
	}
	if (rc != KAP_VALUE_OK) {
		*reason = value_reason(k, rc);
		return -1;
	}
	return 0;
}

/*
 * Checks and applies a raw value from either source; reports a problem.
 * Returns 0 when applied, -1 when refused, 1 when the environment value was
 * empty (unset).
 */
static int take_value(struct kap_config *cfg, struct kap_rule *rule, enum key k,
		      const struct where *w, const char *raw, size_t rn)
{
	char buf[VALUE_MAX];
	const char *reason = NULL;

	kap_trim(&raw, &rn);
	if (rn == 0) {
		if (w->file == NULL)
			return 1;
		report_value(cfg, w, k, raw, 0, "empty value");
		return -1;
	}
	if (memchr(raw, '\0', rn)) {
		report_value(cfg, w, k, raw, rn, "NUL byte in value");
		return -1;
	}
	if (rn >= sizeof(buf)) {
		report_value(cfg, w, k, raw, rn, "value too long");
		return -1;
	}
	memcpy(buf, raw, rn);
	buf[rn] = '\0';
	if (apply(cfg, rule, k, buf, rn, &reason) == 0)
		return 0;
	report_value(cfg, w, k, raw, rn, reason);
	return -1;
}

static int lookup_key(const char *s, size_t n)
{
	int k;

	for (k = 0; k < K_NKEYS; k++) {
		if (strlen(keys[k].name) == n && memcmp(keys[k].name, s, n) == 0)
			return k;
	}
	return -1;
}

enum section { SEC_GLOBAL, SEC_RULE, SEC_SKIP };

struct file_state {
	const char *file;
	enum section section;
};

static int valid_rule_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= KAP_RULE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* Keeps the rule being parsed: it is the slot just past the last kept one. */
static void end_section(struct kap_config *cfg, struct file_state *st)
{
	if (st->section == SEC_RULE)
		cfg->nrules++;
	st->section = SEC_SKIP;
}

static void section_header(struct kap_config *cfg, struct file_state *st, const char *s, size_t n,
			   int line)
{
	char shown[SHOW_MAX + 4];
	const char *in = s + 1, *name;
	size_t inn = n - 1, nn;
	struct kap_rule *r;

	end_section(cfg, st);
	if (n < 2 || s[n - 1] != ']')
		goto bad;
	inn = n - 2;
	kap_trim(&in, &inn);
	if (inn < 4 || memcmp(in, "rule", 4) != 0 || (inn > 4 && !kap_is_space(in[4])))
		goto bad;
	name = in + 4;
	nn = inn - 4;
	kap_trim(&name, &nn);
	if (!valid_rule_name(name, nn)) {
		show(shown, sizeof(shown), name, nn);
		kap_config_diag(cfg, KAP_LOG_WARN,
				"%s:%d: bad rule name '%s', allowed 1..%d characters of "
				"A-Z a-z 0-9 _ . -; section skipped",
				st->file, line, shown, KAP_RULE_NAME_MAX - 1);
		return;
	}
	if (cfg->nrules < 0 || cfg->nrules >= KAP_MAX_RULES) {
		show(shown, sizeof(shown), name, nn);
		kap_config_diag(cfg, KAP_LOG_WARN,
				"%s:%d: too many rules, at most %d; rule '%s' skipped", st->file,
				line, KAP_MAX_RULES, shown);
		return;
	}
	r = &cfg->rules[cfg->nrules];
	memset(r, 0, sizeof(*r));
	memcpy(r->name, name, nn);
	r->name[nn] = '\0';
	r->line = line;
	r->direction = KAP_DIR_ANY;
	r->nprefixes = 0;
	r->port_lo = 0;
	r->port_hi = 65535;
	r->params.enable = KAP_UNSET;
	r->params.idle = KAP_UNSET;
	r->params.interval = KAP_UNSET;
	r->params.count = KAP_UNSET;
	r->params.user_timeout = KAP_UNSET;
	st->section = SEC_RULE;
	return;
bad:
	show(shown, sizeof(shown), s, n);
	kap_config_diag(cfg, KAP_LOG_WARN,
			"%s:%d: unknown section '%s', expected '[rule NAME]'; section skipped",
			st->file, line, shown);
}

static void file_line(struct kap_config *cfg, struct file_state *st, const char *s, size_t n,
		      int line)
{
	struct where w = {st->file, line, NULL, NULL};
	struct kap_rule *rule = NULL;
	const char *hash, *eq, *key;
	char after[KAP_RULE_NAME_MAX + 32], shown[SHOW_MAX + 4];
	size_t kn;
	int k;

	/* A UTF-8 byte order mark from a Windows editor is not part of the first key. */
	if (line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		n -= 3;
	}
	hash = memchr(s, '#', n);
	if (hash)
		n = (size_t)(hash - s);
	kap_trim(&s, &n);
	if (n == 0)
		return;
	if (s[0] == '[') {
		section_header(cfg, st, s, n, line);
		return;
	}
	if (st->section == SEC_SKIP)
		return;
	if (st->section == SEC_RULE) {
		rule = &cfg->rules[cfg->nrules];
		w.rule = rule->name;
	}
	if (rule)
		consequence(after, sizeof(after), &w);
	else
		snprintf(after, sizeof(after), "; line ignored");

	eq = memchr(s, '=', n);
	key = s;
	kn = eq ? (size_t)(eq - s) : 0;
	kap_trim(&key, &kn);
	if (eq == NULL || kn == 0) {
		kap_config_diag(cfg, KAP_LOG_WARN, "%s:%d: expected 'key = value'%s", st->file,
				line, after);
		goto bad;
	}
	k = lookup_key(key, kn);
	if (k < 0) {
		show(shown, sizeof(shown), key, kn);
		kap_config_diag(cfg, KAP_LOG_WARN, "%s:%d: unknown key '%s'%s", st->file, line,
				shown, after);
		goto bad;
	}
	if (rule && !(keys[k].where & IN_RULE)) {
		kap_config_diag(cfg, KAP_LOG_WARN,
				"%s:%d: key '%s' is global, put it before the first [rule]%s",
				st->file, line, keys[k].name, after);
		goto bad;
	}
	if (!rule && !(keys[k].where & IN_GLOBAL)) {
		kap_config_diag(cfg, KAP_LOG_WARN,
				"%s:%d: key '%s' belongs in a [rule NAME] section%s", st->file,
				line, keys[k].name, after);
		return;
	}
	if (take_value(cfg, rule, (enum key)k, &w, eq + 1, n - (size_t)(eq + 1 - s)) == 0)
		return;
bad:
	/* Only the first problem of a rule is reported: the rest of it is skipped. */
	if (rule)
		st->section = SEC_SKIP;
}

void kap_config_parse_file(struct kap_config *cfg, const char *text, size_t len,
			   const char *filename)
{
	struct file_state st;
	size_t pos = 0;
	int line = 0;

	st.file = filename ? filename : "(config)";
	st.section = SEC_GLOBAL;
	if (text == NULL)
		len = 0;
	if (len > KAP_FILE_MAX) {
		/* init.c refuses such a file itself; this guards other callers. */
		kap_config_diag(cfg, KAP_LOG_ERROR, "%s: larger than %d bytes; no file used",
				st.file, KAP_FILE_MAX);
		return;
	}
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		line++;
		file_line(cfg, &st, s, n, line);
		pos += n + 1;
	}
	end_section(cfg, &st);
}

void kap_config_apply_env(struct kap_config *cfg, kap_getenv_fn getenv_fn)
{
	size_t i, j;

	if (getenv_fn == NULL)
		return;
	for (i = 0; i < sizeof(env_sources) / sizeof(env_sources[0]); i++) {
		const struct env_source *src = &env_sources[i];

		for (j = 0; j < 3 && src->names[j]; j++) {
			struct where w = {NULL, 0, src->names[j], NULL};
			const char *v = getenv_fn(src->names[j]);

			/* The first valid source wins; weaker ones are not even looked at. */
			if (v && take_value(cfg, NULL, src->key, &w, v, strlen(v)) == 0)
				break;
		}
	}
}
