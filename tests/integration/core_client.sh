#!/usr/bin/env bash
# Connected side: a C and a Python client under the shim get exactly the
# configured keepalive values (getsockopt inside, pidfd_getfd and the ss
# timer outside); the same clients without the shim get none of it.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

want="keepalive=1 idle=31 interval=7 count=4 user_timeout=0"
cfg=(KAP_IDLE=31 KAP_INTERVAL=7 KAP_COUNT=4)

# One plain server (no shim) for every client below.
kt_bg "$T_TMP/srv" "$KT_PROBE" server 0 --accept 1000 --hold -1
port=$(kt_port "$T_TMP/srv") || {
	t_fail client_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}

# C client, blocking connect.
got=$(kt_shim "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port")
t_eq client_c_values "$want" "$got"
got=$(kt_noshim "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port")
t_eq client_c_values_noshim_untouched "$KT_UNTOUCHED" "$got"

# Non-blocking connect: the values are in place once it completes.
got=$(kt_shim "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --nonblock | tail -n 1)
t_eq client_c_nonblock_values "$want" "$got"

# A socket created behind the shim's back (raw syscall): connect() configures it.
got=$(kt_shim "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --raw)
t_eq client_c_raw_socket_configured_at_connect "$want" "$got"
got=$(kt_noshim "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --raw)
t_eq client_c_raw_socket_noshim_untouched "$KT_UNTOUCHED" "$got"

# User timeout, and a default keepalive (only KAP_USER_TIMEOUT set).
got=$(kt_shim KAP_USER_TIMEOUT=12345 "$KT_PROBE" client 127.0.0.1 "$port")
t_eq client_c_user_timeout_only \
	"keepalive=1 idle=$KT_DEF_IDLE interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=12345" "$got"

# From outside: a held connection, seen through ss and pidfd_getfd.
# check_outside NAME SHIM(1|0) CMD...: CMD prints its line, then holds.
check_outside() {
	local name=$1 shim=$2 secs peek
	shift 2
	if [ "$shim" = 1 ]; then
		kt_bg "$T_TMP/$name" kt_shim KAP_IDLE=45 KAP_INTERVAL=6 KAP_COUNT=3 "$@"
	else
		kt_bg "$T_TMP/$name" kt_noshim KAP_IDLE=45 KAP_INTERVAL=6 KAP_COUNT=3 "$@"
	fi
	if ! kt_wait_line "$T_TMP/$name" 'keepalive=' >/dev/null; then
		t_fail "${name}_started" "no line: $(cat "$T_TMP/$name.err")"
		kt_stop "$KT_PID"
		return
	fi
	kt_ss_wait dport = :"$port"
	secs=$(ss_keepalive_secs dport = :"$port")
	peek=$("$KT_PROBE" peek "$KT_PID" "$port")
	if [ "$shim" = 1 ]; then
		# The timer counts down from idle: 45 at most, a little less by now.
		kt_in_range "${name}_ss_timer" 40 45 "$secs"
		t_contains "${name}_peek_exact" "keepalive=1 idle=45 interval=6 count=3 " "$peek"
	else
		t_eq "${name}_noshim_ss_no_timer" none "$secs"
		t_contains "${name}_noshim_peek_untouched" "$KT_UNTOUCHED" "$peek"
	fi
	kt_stop "$KT_PID"
}
check_outside client_c_outside 1 "$KT_PROBE" client 127.0.0.1 "$port" --hold -1
check_outside client_c_outside 0 "$KT_PROBE" client 127.0.0.1 "$port" --hold -1
check_outside client_py_outside 1 python3 -c "$KT_PY_CLIENT" 127.0.0.1 "$port" 30
check_outside client_py_outside 0 python3 -c "$KT_PY_CLIENT" 127.0.0.1 "$port" 30

# Python's own getsockopt view of the same thing.
got=$(kt_shim "${cfg[@]}" python3 -c "$KT_PY_CLIENT" 127.0.0.1 "$port" 0)
t_eq client_py_values "$want" "$got"
got=$(kt_noshim "${cfg[@]}" python3 -c "$KT_PY_CLIENT" 127.0.0.1 "$port" 0)
t_eq client_py_values_noshim_untouched "$KT_UNTOUCHED" "$got"

kt_stop "$(pgrep -P $$ -f 'tcpprobe server 0 --accept 1000' | head -n 1)"
t_done
