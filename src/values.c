/*
 * Single-value parsers shared by the file and the environment.
 *
 * Hand-written rather than strtol/strcasecmp: strtol accepts "0x10", "+5",
 * leading blanks only and silently saturates, and the ctype/strcasecmp
 * family depends on the locale of the host program, which a preloaded
 * library must not.
 */
#include "values.h"

#include <arpa/inet.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>

int kap_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

void kap_trim(const char **s, size_t *n)
{
	while (*n > 0 && kap_is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && kap_is_space((*s)[*n - 1]))
		(*n)--;
}

static int span_eq_ci(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (word[i] == '\0' || ascii_lower(s[i]) != word[i])
			return 0;
	}
	return word[n] == '\0';
}

/* s as a trimmed (pointer, length) span; KAP_VALUE_EMPTY when nothing is left. */
static int value_span(const char **s, size_t *n)
{
	if (*s == NULL)
		return KAP_VALUE_EMPTY;
	*n = strlen(*s);
	kap_trim(s, n);
	return *n ? KAP_VALUE_OK : KAP_VALUE_EMPTY;
}

struct word {
	const char *name;
	int value;
};

/* The value of the word the span spells (any case), or KAP_VALUE_SYNTAX. */
static int lookup_word(const char *s, size_t n, const struct word *words, size_t count, int *out)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (span_eq_ci(s, n, words[i].name)) {
			*out = words[i].value;
			return KAP_VALUE_OK;
		}
	}
	return KAP_VALUE_SYNTAX;
}

/* Parses the decimal number in the span; the span must already be trimmed. */
static int parse_long_span(const char *s, size_t n, long min, long max, long *out)
{
	unsigned long acc = 0;
	int neg = 0, overflow = 0;
	size_t i = 0;
	long v;

	if (n == 0)
		return KAP_VALUE_EMPTY;
	if (s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == n)
		return KAP_VALUE_SYNTAX;
	for (; i < n; i++) {
		unsigned d;

		if (!is_digit(s[i]))
			return KAP_VALUE_SYNTAX;
		d = (unsigned)(s[i] - '0');
		if (acc > (ULONG_MAX - d) / 10)
			overflow = 1; /* keep scanning: junk after it is still a syntax error */
		else
			acc = acc * 10 + d;
	}
	if (overflow)
		return KAP_VALUE_RANGE;
	if (neg) {
		if (acc > (unsigned long)LONG_MAX + 1)
			return KAP_VALUE_RANGE;
		v = acc == (unsigned long)LONG_MAX + 1 ? LONG_MIN : -(long)acc;
	} else {
		if (acc > (unsigned long)LONG_MAX)
			return KAP_VALUE_RANGE;
		v = (long)acc;
	}
	if (v < min || v > max)
		return KAP_VALUE_RANGE;
	*out = v;
	return KAP_VALUE_OK;
}

int kap_parse_long(const char *s, long min, long max, long *out)
{
	size_t n;
	int rc = value_span(&s, &n);

	return rc != KAP_VALUE_OK ? rc : parse_long_span(s, n, min, max, out);
}

int kap_parse_bool(const char *s, int *out)
{
	static const struct word words[] = {
	    {"on", 1},	{"yes", 1}, {"true", 1},  {"1", 1},
	    {"off", 0}, {"no", 0},  {"false", 0}, {"0", 0},
	};
	size_t n;
	int rc = value_span(&s, &n);

	return rc != KAP_VALUE_OK ? rc
				  : lookup_word(s, n, words, sizeof(words) / sizeof(words[0]), out);
}

int kap_parse_log_level(const char *s, int *out)
{
	static const struct word words[] = {
	    {"off", KAP_LOG_OFF},   {"error", KAP_LOG_ERROR}, {"warn", KAP_LOG_WARN},
	    {"info", KAP_LOG_INFO}, {"debug", KAP_LOG_DEBUG},
	};
	size_t n;
	int rc = value_span(&s, &n);

	return rc != KAP_VALUE_OK ? rc
				  : lookup_word(s, n, words, sizeof(words) / sizeof(words[0]), out);
}

int kap_parse_user_timeout(const char *s, long *out)
{
	size_t n;
	int rc = value_span(&s, &n);

	if (rc != KAP_VALUE_OK)
		return rc;
	if (span_eq_ci(s, n, "auto")) {
		*out = KAP_UTO_AUTO;
		return KAP_VALUE_OK;
	}
	return parse_long_span(s, n, 0, KAP_UTO_MAX, out);
}

int kap_parse_prefix(const char *s, struct kap_prefix *out)
{
	/* INET6_ADDRSTRLEN (46) holds the longest text form with its NUL. */
	char addr[46];
	const char *slash, *a;
	size_t n, an;
	struct kap_prefix p;
	long len;
	int maxbits, i, rc;

	rc = value_span(&s, &n);
	if (rc != KAP_VALUE_OK)
		return rc;

	slash = memchr(s, '/', n);
	a = s;
	an = slash ? (size_t)(slash - s) : n;
	kap_trim(&a, &an);
	if (an == 0 || an >= sizeof(addr))
		return KAP_VALUE_SYNTAX;
	memcpy(addr, a, an);
	addr[an] = '\0';

	memset(&p, 0, sizeof(p));
	if (memchr(addr, ':', an)) {
		if (inet_pton(AF_INET6, addr, p.addr) != 1)
			return KAP_VALUE_SYNTAX;
		p.family = AF_INET6;
		maxbits = 128;
	} else {
		if (inet_pton(AF_INET, addr, p.addr) != 1)
			return KAP_VALUE_SYNTAX;
		p.family = AF_INET;
		maxbits = 32;
	}

	len = maxbits;
	if (slash) {
		const char *l = slash + 1;
		size_t ln = n - (size_t)(l - s);

		kap_trim(&l, &ln);
		rc = parse_long_span(l, ln, 0, maxbits, &len);
		if (rc == KAP_VALUE_EMPTY)
			return KAP_VALUE_SYNTAX;
		if (rc != KAP_VALUE_OK)
			return rc;
	}
	p.len = (uint8_t)len;

	/* Host bits are cleared so that matching can compare whole bytes. */
	for (i = 0; i < 16; i++) {
		int bits = (int)len - i * 8;

		if (bits <= 0)
			p.addr[i] = 0;
		else if (bits < 8)
			p.addr[i] &= (uint8_t)(0xff << (8 - bits));
	}
	*out = p;
	return KAP_VALUE_OK;
}

int kap_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash;
	long a = 0, b = 0;
	size_t n;
	int rc;

	rc = value_span(&s, &n);
	if (rc != KAP_VALUE_OK)
		return rc;

	/* A dash at the very start is a minus sign: "-5" is a number out of range. */
	dash = n > 1 ? memchr(s + 1, '-', n - 1) : NULL;
	if (dash == NULL) {
		rc = parse_long_span(s, n, 1, 65535, &a);
		if (rc != KAP_VALUE_OK)
			return rc;
		b = a;
	} else {
		const char *l = s, *r = dash + 1;
		size_t ln = (size_t)(dash - s), rn = n - ln - 1;
		int rc2;

		kap_trim(&l, &ln);
		kap_trim(&r, &rn);
		rc = parse_long_span(l, ln, 1, 65535, &a);
		rc2 = parse_long_span(r, rn, 1, 65535, &b);
		if (rc == KAP_VALUE_EMPTY || rc2 == KAP_VALUE_EMPTY || rc == KAP_VALUE_SYNTAX ||
		    rc2 == KAP_VALUE_SYNTAX)
			return KAP_VALUE_SYNTAX;
		if (rc != KAP_VALUE_OK || rc2 != KAP_VALUE_OK || a > b)
			return KAP_VALUE_RANGE;
	}
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return KAP_VALUE_OK;
}

int kap_parse_direction(const char *s, enum kap_direction *out)
{
	static const struct word words[] = {
	    {"outbound", KAP_DIR_OUTBOUND},
	    {"inbound", KAP_DIR_INBOUND},
	    {"any", KAP_DIR_ANY},
	};
	size_t n;
	int v, rc = value_span(&s, &n);

	if (rc == KAP_VALUE_OK)
		rc = lookup_word(s, n, words, sizeof(words) / sizeof(words[0]), &v);
	if (rc == KAP_VALUE_OK)
		*out = (enum kap_direction)v;
	return rc;
}
