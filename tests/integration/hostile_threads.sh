#!/usr/bin/env bash
# Concurrency: 8 threads x 2000 sockets open at once (every TCP socket
# configured, nothing else touched, no descriptor leaked), and socket() and
# accept() called from a signal handler that keeps interrupting a main loop
# doing the same (no deadlock, every socket configured).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

KH=$KAP_BIN/kh_hostile
t_require_files "$KAP_LIB" "$KH"

idle=43
shim=(env LD_PRELOAD="$KAP_PRELOAD" KAP_IDLE="$idle" KAP_INTERVAL=9)
noshim=(env -u LD_PRELOAD KAP_IDLE="$idle")

# 16000 descriptors at once plus the process's own: raise the soft limit
# (kh_hostile raises it to the hard limit itself).
threads=8 per_thread=2000
need=$((threads * per_thread + 64))
if ! (ulimit -n "$need") 2>/dev/null; then
	t_skip threads_16000_sockets "RLIMIT_NOFILE hard limit $(ulimit -Hn) below $need and not raisable"
else
	# Two rounds, so descriptor numbers move between TCP and non-TCP sockets.
	tcp_total=$((2 * threads * per_thread * 7 / 8))
	other_total=$((2 * threads * per_thread - tcp_total))
	line=$(ulimit -n "$need" && timeout 60 "${shim[@]}" "$KH" threads "$threads" "$per_thread" "$idle")
	rc=$?
	t_eq threads_exit_status 0 "$rc"
	t_eq threads_tcp_sockets_made "$tcp_total" "$(t_field tcp "$line")"
	t_eq threads_every_tcp_socket_configured 0 "$(t_field tcp_bad "$line")"
	t_eq threads_other_sockets_made "$other_total" "$(t_field other "$line")"
	t_eq threads_no_other_socket_touched 0 "$(t_field other_bad "$line")"
	t_eq threads_no_socket_call_failed 0 "$(t_field failed "$line")"
	before=$(t_field fds_before "$line")
	after=$(t_field fds_after "$line")
	if [ -n "$before" ] && [ "$before" = "$after" ]; then
		t_pass threads_no_fd_leak
	else
		t_fail threads_no_fd_leak "descriptors before [$before], after [$after]"
	fi
	# Negative control: the same without the shim leaves every TCP socket alone.
	line=$(ulimit -n "$need" && timeout 60 "${noshim[@]}" "$KH" threads "$threads" "$per_thread" "$idle")
	t_eq threads_noshim_none_configured "$tcp_total" "$(t_field tcp_bad "$line")"
fi

# Signal handler: 200 us SIGALRM for 2 s. A lock or malloc in a wrapper
# deadlocks here, which the timeout turns into exit status 124.
line=$(timeout 20 "${shim[@]}" "$KH" signal 2 "$idle")
rc=$?
if [ "$rc" = 124 ]; then
	t_fail signal_no_deadlock "still running after 20 s: deadlock in a wrapper called from a signal handler"
else
	t_eq signal_exit_status 0 "$rc"
fi
for k in main_bad main_accept_bad handler_bad handler_accept_bad handler_fail; do
	t_eq "signal_$k" 0 "$(t_field "$k" "$line")"
done
# The handler must really have run socket() and accept() many times.
n=$(t_field handler_sockets "$line")
if [ "${n:-0}" -ge 100 ]; then
	t_pass signal_handler_sockets_many
else
	t_fail signal_handler_sockets_many "only [$n] sockets from the handler: [$line]"
fi
n=$(t_field handler_accepts "$line")
if [ "${n:-0}" -ge 1 ]; then
	t_pass signal_handler_accepts_some
else
	t_fail signal_handler_accepts_some "no accept() from the handler: [$line]"
fi
line=$(timeout 20 "${noshim[@]}" "$KH" signal 1 "$idle")
n=$(t_field handler_bad "$line")
if [ "${n:-0}" -ge 1 ] && [ "$n" = "$(t_field handler_sockets "$line")" ]; then
	t_pass signal_noshim_none_configured
else
	t_fail signal_noshim_none_configured "without the shim: [$line]"
fi

t_done
