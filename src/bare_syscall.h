/*
 * Bare system calls for the shim's own use: setsockopt and getpid.
 *
 * Why not libc's: the shim must leave the caller's errno exactly as the
 * real call left it, and libc's wrapper writes errno on failure, so every
 * call would need errno saved and restored around it; on the socket() path,
 * which runs for every TCP socket of a busy server, that bookkeeping costs
 * more than the calls themselves (see make bench).  A bare system call
 * returns -errno instead and touches nothing else.  Architectures without
 * an inline version here go through libc and restore errno.
 *
 * getpid is bare for another reason: start-up calls it once, and libc's
 * wrapper sits on a page of libc that a small program never touches, so it
 * would cost a page fault, several times the system call itself.
 */
#ifndef KAP_BARE_SYSCALL_H
#define KAP_BARE_SYSCALL_H

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

/* 0 on success, else -errno; errno itself is left alone. */
static inline long kap_setsockopt_int(int fd, int level, int name, const int *value)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = (long)value;
	register long r8 __asm__("r8") = (long)sizeof(int);
	long ret;

	/* The kernel reads *value: say so instead of clobbering all memory. */
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_setsockopt), "D"((long)fd), "S"((long)level),
			   "d"((long)name), "r"(r10), "r"(r8), "m"(*value)
			 : "rcx", "r11");
	return ret;
#elif defined(__aarch64__)
	register long x0 __asm__("x0") = fd;
	register long x1 __asm__("x1") = level;
	register long x2 __asm__("x2") = name;
	register long x3 __asm__("x3") = (long)value;
	register long x4 __asm__("x4") = (long)sizeof(int);
	register long x8 __asm__("x8") = SYS_setsockopt;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x8), "m"(*value));
	return x0;
#else
	int saved_errno = errno;
	long ret = kap_real.setsockopt(fd, level, name, value, sizeof(int)) == 0 ? 0 : -errno;

	errno = saved_errno;
	return ret;
#endif
}

static inline pid_t kap_getpid(void)
{
#if defined(__x86_64__)
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_getpid) : "rcx", "r11", "memory");
	return (pid_t)ret;
#elif defined(__aarch64__)
	register long x0 __asm__("x0");
	register long x8 __asm__("x8") = SYS_getpid;

	__asm__ volatile("svc #0" : "=r"(x0) : "r"(x8) : "memory");
	return (pid_t)x0;
#else
	return getpid();
#endif
}

#endif
