#!/usr/bin/env bash
# IPv6: client and server on ::1 under the shim (C and Python), and a
# dual-stack listener on :: accepting an IPv4 client (v4-mapped AF_INET6
# socket).  Without the shim the same sockets stay untouched.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

if ! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	t_skip ipv6 "no ::1 on lo (IPv6 disabled)"
	exit 0
fi

# Connected side: a plain v6 server, clients with and without the shim.
kt_bg "$T_TMP/srv" "$KT_PROBE" server 0 --bind ::1 --accept 1000 --hold -1
srv_pid=$KT_PID
port=$(kt_port "$T_TMP/srv") || {
	t_fail ipv6_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}
kt_check_connected ipv6_client_c shim "$port" \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" client ::1 "$port" --hold -1
kt_check_connected ipv6_client_c_noshim noshim "$port" \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" client ::1 "$port" --hold -1
kt_check_connected ipv6_client_py shim "$port" \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PY" -c "$KT_PY_CLIENT" ::1 "$port" 60
kt_check_connected ipv6_client_py_noshim noshim "$port" \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PY" -c "$KT_PY_CLIENT" ::1 "$port" 60
got=$("${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" client ::1 "$port" --raw)
t_eq ipv6_client_raw_socket_configured_at_connect "$KT_WANT" "$got"
kt_stop "$srv_pid"

# Accepted side.
kt_check_accepted ipv6_server_c shim ::1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --bind ::1 --hold -1
kt_check_accepted ipv6_server_c_accept4 shim ::1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --bind ::1 --accept4 --nullfd-addr --hold -1
kt_check_accepted ipv6_server_c_noshim noshim ::1 \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --bind ::1 --hold -1
kt_check_accepted ipv6_server_py shim ::1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PY" -c "$KT_PY_SERVER" ::1 1 60
kt_check_accepted ipv6_server_py_noshim noshim ::1 \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PY" -c "$KT_PY_SERVER" ::1 1 60
# Dual-stack listener, IPv4 client: the accepted socket is AF_INET6 (mapped).
kt_check_accepted ipv6_dualstack_v4_client shim 127.0.0.1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --bind :: --hold -1
kt_check_accepted ipv6_dualstack_v4_client_noshim noshim 127.0.0.1 \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --bind :: --hold -1

t_done
