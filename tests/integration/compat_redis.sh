#!/usr/bin/env bash
# redis-server sets keepalive on every accepted client itself (tcp-keepalive
# 300: idle 300, interval 100, count 3), after accept; redis-cli sets its own
# on its connection (idle 15, interval 5, count 3). Configured: 33/7/4.
#   server, override off: redis's 300/100/3 win;
#   server, KAP_OVERRIDE=1: 33/7/4 stay;
#   server with --tcp-keepalive 0 (redis sets nothing): 33/7/4;
#   redis-cli, override off: its 15/5/3 win; KAP_OVERRIDE=1: 33/7/4.
# Negative controls: redis-server without the shim (300, or nothing with
# --tcp-keepalive 0) and redis-cli without it (15/5/3). Each client holds
# its connection in BLPOP.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require
cp_need redis redis-server redis-cli || {
	t_done
	exit
}

cfg=(KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=4)
want=$(cp_ka 33 7 4)
redis_own=$(cp_ka 300 100 3)
cli_own=$(cp_ka 15 5 3)
# shellcheck disable=SC2034 # read through the namerefs of start()
SHIM_OFF=("${CP_SHIM[@]}" "${cfg[@]}")
# shellcheck disable=SC2034
SHIM_ON=("${CP_SHIM[@]}" "${cfg[@]}" KAP_OVERRIDE=1)
# shellcheck disable=SC2034
NOSHIM=("${CP_NOSHIM[@]}" "${cfg[@]}")
declare -A port srv cli

# start NAME SERVER-PREFIX CLIENT-PREFIX [REDIS-OPTION...]: a redis-server
# and a redis-cli blocked in BLPOP on it.
start() {
	local name=$1 p
	local -n sp=$2 cpx=$3
	shift 3
	p=$(free_port)
	mkdir -p "$T_TMP/$name"
	cp_bg "$T_TMP/$name/server" "${sp[@]}" redis-server --port "$p" --bind 127.0.0.1 \
		--save '' --appendonly no --dir "$T_TMP/$name" --daemonize no "$@"
	srv[$name]=$CP_PID
	if ! wait_listen "$p"; then
		t_fail "redis_${name}_started" "$(tail -n 3 "$T_TMP/$name/server")"
		return 1
	fi
	port[$name]=$p
	t_eq "redis_${name}_serves" PONG "$("${cpx[@]}" redis-cli -p "$p" PING 2>&1)"
	cp_bg "$T_TMP/$name/cli" "${cpx[@]}" redis-cli -p "$p" BLPOP kap:never 0
	cli[$name]=$CP_PID
}

start off SHIM_OFF SHIM_OFF
start on SHIM_ON SHIM_ON
start zero SHIM_OFF NOSHIM --tcp-keepalive 0
start noshim NOSHIM NOSHIM
start noshim_zero NOSHIM NOSHIM --tcp-keepalive 0

# check NAME SERVER-LOW SERVER-HIGH SERVER-EXACT CLIENT-LOW CLIENT-HIGH CLIENT-EXACT
check() {
	local n=$1 p=${port[$1]:-}
	[ -n "$p" ] || return
	cp_expect "redis_${n}_accepted" "${srv[$n]}" "$2" "$3" "$4" sport = :"$p"
	cp_expect "redis_${n}_cli_connected" "${cli[$n]}" "$5" "$6" "$7" dport = :"$p"
}
check off 290 300 "$redis_own" 10 15 "$cli_own"
check on 25 33 "$want" 25 33 "$want"
check zero 25 33 "$want" 10 15 "$cli_own"
check noshim 290 300 "$redis_own" 10 15 "$cli_own"
check noshim_zero none none "$CP_UNTOUCHED" 10 15 "$cli_own"
for n in off on zero; do
	[ -n "${port[$n]:-}" ] || continue
	cp_quiet "redis_${n}_server_prints_nothing" "$T_TMP/$n/server.err"
	t_not_contains "redis_${n}_server_log_clean" libkapreload "$(cat "$T_TMP/$n/server")"
done
cp_stop "${cli[@]}" "${srv[@]}"
t_done
