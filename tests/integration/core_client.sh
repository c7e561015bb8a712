#!/usr/bin/env bash
# Connected side: a C and a Python client under the shim get exactly the
# configured keepalive values (getsockopt inside, pidfd_getfd and the ss
# timer outside); the same clients without the shim get none of it.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
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
got=$("${KT_SHIM[@]}" "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port")
t_eq client_c_values "$want" "$got"
got=$("${KT_NOSHIM[@]}" "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port")
t_eq client_c_noshim_untouched "$KT_UNTOUCHED" "$got"

# Non-blocking connect: the values are in place once it completes.
got=$("${KT_SHIM[@]}" "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --nonblock | tail -n 1)
t_eq client_c_nonblock_values "$want" "$got"

# A socket created behind the shim's back (raw syscall): connect() configures it.
got=$("${KT_SHIM[@]}" "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --raw)
t_eq client_c_raw_socket_configured_at_connect "$want" "$got"
got=$("${KT_NOSHIM[@]}" "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --raw)
t_eq client_c_raw_socket_noshim_untouched "$KT_UNTOUCHED" "$got"

# The raw socket reuses the number of a closed socket on which the program had
# set SO_KEEPALIVE itself: what the shim remembers of the old socket must not
# stop it from configuring the new one.
got=$("${KT_SHIM[@]}" "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --stale)
t_eq client_c_reused_fd_number "$want" "$got"
got=$("${KT_SHIM[@]}" "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --stale --raw)
t_eq client_c_raw_socket_on_reused_fd_number "$want" "$got"
got=$("${KT_NOSHIM[@]}" "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --stale --raw)
t_eq client_c_raw_socket_on_reused_fd_number_noshim "$KT_UNTOUCHED" "$got"

# protocol IPPROTO_TCP spelled out.
got=$("${KT_SHIM[@]}" "${cfg[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --proto 6)
t_eq client_c_proto_6 "$want" "$got"

# Only KAP_USER_TIMEOUT set: keepalive on with the kernel's timing, plus UTO.
got=$("${KT_SHIM[@]}" KAP_USER_TIMEOUT=12345 "$KT_PROBE" client 127.0.0.1 "$port")
t_eq client_c_user_timeout_only \
	"keepalive=1 idle=$KT_DEF_IDLE interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=12345" "$got"

# Python's own getsockopt view.
got=$("${KT_SHIM[@]}" "${cfg[@]}" "$KT_PY" -c "$KT_PY_CLIENT" 127.0.0.1 "$port" 0)
t_eq client_py_values "$want" "$got"
got=$("${KT_NOSHIM[@]}" "${cfg[@]}" "$KT_PY" -c "$KT_PY_CLIENT" 127.0.0.1 "$port" 0)
t_eq client_py_noshim_untouched "$KT_UNTOUCHED" "$got"

# From outside (ss timer, pidfd_getfd) on held connections.
kt_check_connected client_c_held shim "$port" \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --hold -1
kt_check_connected client_c_held_noshim noshim "$port" \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" client 127.0.0.1 "$port" --hold -1
kt_check_connected client_py_held shim "$port" \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PY" -c "$KT_PY_CLIENT" 127.0.0.1 "$port" 60
kt_check_connected client_py_held_noshim noshim "$port" \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PY" -c "$KT_PY_CLIENT" 127.0.0.1 "$port" 60

t_done
