/*
 * A preloadable call counter for the "nothing per call" check: heap
 * allocation, locks, environment lookups and stdio.
 *
 * Put it AFTER libkapreload in LD_PRELOAD: the shim defines none of these
 * functions, so its calls bind to the definitions here, which count and
 * forward to libc.  Counting is on only between kapcount_mark(1) and
 * kapcount_mark(0), which the benchmark loop calls around its timed loop;
 * kapcount_mark(0) writes one line to stderr:
 *   kapcount alloc=N lock=N getenv=N stdio=N [name=N ...]
 * Calls libc makes to itself do not go through the dynamic linker and are
 * not seen; calls out of another shared object, such as the shim, are.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/* glibc's own entry points: counting malloc must not recurse through dlsym. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

void kapcount_mark(int on);
/* The _FORTIFY_SOURCE forms a shim may have been compiled to call. */
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);

enum group { G_ALLOC, G_LOCK, G_ENV, G_STDIO, G_N };
static const char *const group_name[G_N] = {"alloc", "lock", "getenv", "stdio"};

enum fn {
	F_MALLOC,
	F_CALLOC,
	F_REALLOC,
	F_FREE,
	F_MEMALIGN,
	F_POSIX_MEMALIGN,
	F_ALIGNED_ALLOC,
	F_MUTEX_LOCK,
	F_MUTEX_TRYLOCK,
	F_RWLOCK_RD,
	F_RWLOCK_WR,
	F_SPIN_LOCK,
	F_GETENV,
	F_SECURE_GETENV,
	F_FOPEN,
	F_FDOPEN,
	F_FPRINTF,
	F_VFPRINTF,
	F_PRINTF,
	F_DPRINTF,
	F_VDPRINTF,
	F_FPUTS,
	F_PUTS,
	F_FWRITE,
	F_FFLUSH,
	F_FPUTC,
	F_FPRINTF_CHK,
	F_VFPRINTF_CHK,
	F_SYSLOG,
	F_VSYSLOG,
	F_N
};

static const struct {
	const char *name;
	enum group g;
} fns[F_N] = {
    [F_MALLOC] = {"malloc", G_ALLOC},
    [F_CALLOC] = {"calloc", G_ALLOC},
    [F_REALLOC] = {"realloc", G_ALLOC},
    [F_FREE] = {"free", G_ALLOC},
    [F_MEMALIGN] = {"memalign", G_ALLOC},
    [F_POSIX_MEMALIGN] = {"posix_memalign", G_ALLOC},
    [F_ALIGNED_ALLOC] = {"aligned_alloc", G_ALLOC},
    [F_MUTEX_LOCK] = {"pthread_mutex_lock", G_LOCK},
    [F_MUTEX_TRYLOCK] = {"pthread_mutex_trylock", G_LOCK},
    [F_RWLOCK_RD] = {"pthread_rwlock_rdlock", G_LOCK},
    [F_RWLOCK_WR] = {"pthread_rwlock_wrlock", G_LOCK},
    [F_SPIN_LOCK] = {"pthread_spin_lock", G_LOCK},
    [F_GETENV] = {"getenv", G_ENV},
    [F_SECURE_GETENV] = {"secure_getenv", G_ENV},
    [F_FOPEN] = {"fopen", G_STDIO},
    [F_FDOPEN] = {"fdopen", G_STDIO},
    [F_FPRINTF] = {"fprintf", G_STDIO},
    [F_VFPRINTF] = {"vfprintf", G_STDIO},
    [F_PRINTF] = {"printf", G_STDIO},
    [F_DPRINTF] = {"dprintf", G_STDIO},
    [F_VDPRINTF] = {"vdprintf", G_STDIO},
    [F_FPUTS] = {"fputs", G_STDIO},
    [F_PUTS] = {"puts", G_STDIO},
    [F_FWRITE] = {"fwrite", G_STDIO},
    [F_FFLUSH] = {"fflush", G_STDIO},
    [F_FPUTC] = {"fputc", G_STDIO},
    [F_FPRINTF_CHK] = {"__fprintf_chk", G_STDIO},
    [F_VFPRINTF_CHK] = {"__vfprintf_chk", G_STDIO},
    [F_SYSLOG] = {"syslog", G_STDIO},
    [F_VSYSLOG] = {"vsyslog", G_STDIO},
};

static int active;
static unsigned long counts[F_N];

static void bump(enum fn f)
{
	if (__atomic_load_n(&active, __ATOMIC_RELAXED))
		__atomic_fetch_add(&counts[f], 1, __ATOMIC_RELAXED);
}

/* The next definition after this object; a missing one is fatal, not silent. */
static void *next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		static const char msg[] = "libcount: a libc symbol is missing\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		abort();
	}
	return p;
}

/* Declares real_NAME, the next definition of NAME, resolved on first use. */
#define REAL(name)                                                                                 \
	static __typeof__(&name) real_##name;                                                      \
	if (!real_##name)                                                                          \
		real_##name = (__typeof__(&name))next(#name);

void kapcount_mark(int on)
{
	if (on) {
		memset(counts, 0, sizeof(counts));
		__atomic_store_n(&active, 1, __ATOMIC_SEQ_CST);
		return;
	}
	__atomic_store_n(&active, 0, __ATOMIC_SEQ_CST);

	unsigned long g[G_N] = {0};
	char buf[2048];
	int len = snprintf(buf, sizeof(buf), "kapcount");
	for (int f = 0; f < F_N; f++)
		g[fns[f].g] += counts[f];
	for (int i = 0; i < G_N; i++)
		len +=
		    snprintf(buf + len, sizeof(buf) - (size_t)len, " %s=%lu", group_name[i], g[i]);
	for (int f = 0; f < F_N && len < (int)sizeof(buf) - 64; f++)
		if (counts[f])
			len += snprintf(buf + len, sizeof(buf) - (size_t)len, " %s=%lu",
					fns[f].name, counts[f]);
	buf[len++] = '\n';
	(void)!write(2, buf, (size_t)len);
}

void *malloc(size_t n)
{
	bump(F_MALLOC);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	bump(F_CALLOC);
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	bump(F_REALLOC);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	bump(F_FREE);
	__libc_free(p);
}

void *memalign(size_t align, size_t n)
{
	bump(F_MEMALIGN);
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	bump(F_ALIGNED_ALLOC);
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	bump(F_POSIX_MEMALIGN);
	REAL(posix_memalign);
	return real_posix_memalign(out, align, n);
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	bump(F_MUTEX_LOCK);
	REAL(pthread_mutex_lock);
	return real_pthread_mutex_lock(m);
}

int pthread_mutex_trylock(pthread_mutex_t *m)
{
	bump(F_MUTEX_TRYLOCK);
	REAL(pthread_mutex_trylock);
	return real_pthread_mutex_trylock(m);
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	bump(F_RWLOCK_RD);
	REAL(pthread_rwlock_rdlock);
	return real_pthread_rwlock_rdlock(l);
}

int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	bump(F_RWLOCK_WR);
	REAL(pthread_rwlock_wrlock);
	return real_pthread_rwlock_wrlock(l);
}

int pthread_spin_lock(pthread_spinlock_t *l)
{
	bump(F_SPIN_LOCK);
	REAL(pthread_spin_lock);
	return real_pthread_spin_lock(l);
}

char *getenv(const char *name)
{
	bump(F_GETENV);
	REAL(getenv);
	return real_getenv(name);
}

char *secure_getenv(const char *name)
{
	bump(F_SECURE_GETENV);
	REAL(secure_getenv);
	return real_secure_getenv(name);
}

FILE *fopen(const char *path, const char *mode)
{
	bump(F_FOPEN);
	REAL(fopen);
	return real_fopen(path, mode);
}

FILE *fdopen(int fd, const char *mode)
{
	bump(F_FDOPEN);
	REAL(fdopen);
	return real_fdopen(fd, mode);
}

static int fwd_vfprintf(FILE *f, const char *fmt, va_list ap)
{
	REAL(vfprintf);
	return real_vfprintf(f, fmt, ap);
}

static int fwd_vdprintf(int fd, const char *fmt, va_list ap)
{
	REAL(vdprintf);
	return real_vdprintf(fd, fmt, ap);
}

static void fwd_vsyslog(int pri, const char *fmt, va_list ap)
{
	REAL(vsyslog);
	real_vsyslog(pri, fmt, ap);
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	bump(F_VFPRINTF);
	return fwd_vfprintf(f, fmt, ap);
}

int fprintf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	bump(F_FPRINTF);
	va_start(ap, fmt);
	int r = fwd_vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	bump(F_PRINTF);
	va_start(ap, fmt);
	int r = fwd_vfprintf(stdout, fmt, ap);
	va_end(ap);
	return r;
}

int vdprintf(int fd, const char *fmt, va_list ap)
{
	bump(F_VDPRINTF);
	return fwd_vdprintf(fd, fmt, ap);
}

int dprintf(int fd, const char *fmt, ...)
{
	va_list ap;
	bump(F_DPRINTF);
	va_start(ap, fmt);
	int r = fwd_vdprintf(fd, fmt, ap);
	va_end(ap);
	return r;
}

int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	bump(F_VFPRINTF_CHK);
	return fwd_vfprintf(f, fmt, ap);
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	(void)flag;
	bump(F_FPRINTF_CHK);
	va_start(ap, fmt);
	int r = fwd_vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

int fputc(int c, FILE *f)
{
	bump(F_FPUTC);
	REAL(fputc);
	return real_fputc(c, f);
}

int fputs(const char *s, FILE *f)
{
	bump(F_FPUTS);
	REAL(fputs);
	return real_fputs(s, f);
}

int puts(const char *s)
{
	bump(F_PUTS);
	REAL(puts);
	return real_puts(s);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	bump(F_FWRITE);
	REAL(fwrite);
	return real_fwrite(p, size, n, f);
}

int fflush(FILE *f)
{
	bump(F_FFLUSH);
	REAL(fflush);
	return real_fflush(f);
}

void vsyslog(int pri, const char *fmt, va_list ap)
{
	bump(F_VSYSLOG);
	fwd_vsyslog(pri, fmt, ap);
}

void syslog(int pri, const char *fmt, ...)
{
	va_list ap;
	bump(F_SYSLOG);
	va_start(ap, fmt);
	fwd_vsyslog(pri, fmt, ap);
	va_end(ap);
}
