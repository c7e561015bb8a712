#!/usr/bin/env bash
# nginx, master process plus two workers: the master creates the listeners
# under the shim, the forked workers accept, and a worker connects to a
# proxied upstream. Config: KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=4 and an
# inbound rule idle = 22, so accepted sockets (22) differ from listeners and
# connected sockets (33). Three listeners per nginx:
#   plain:    nginx sets nothing             -> accepted 22/7/4
#   off:      listen ... so_keepalive=off    -> override off: nginx wins (no
#             keepalive); KAP_OVERRIDE=1: 22/7/4
#   app:      listen ... so_keepalive=7m::5  -> override off: idle 420 and
#             count 5 are nginx's, the interval it does not set is ours (7);
#             KAP_OVERRIDE=1: 22/7/4
# Three nginx at once: shim, shim with KAP_OVERRIDE=1, no shim (control).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require
cp_need nginx nginx curl || {
	t_done
	exit
}
NGINX=$(command -v nginx)

printf '[rule accepted]\ndirection = inbound\nidle = 22\n' >"$T_TMP/kap.conf"
shim_env=(KAP_CONFIG="$T_TMP/kap.conf" KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=4)
declare -A master port port_off port_app upstream

# start_nginx MODE PREFIX-ARRAY-NAME ENV...: an upstream (no shim) and an
# nginx with a private prefix in $T_TMP/MODE.
start_nginx() {
	local mode=$1 dir=$T_TMP/$1 up
	local -n prefix=$2
	shift 2
	mkdir -p "$dir"
	cp_bg "$dir/upstream" "${CP_NOSHIM[@]}" python3 "$CP_DIR/slow_http.py" 60
	up=$(cp_wait_line "$dir/upstream" '^listening [0-9]+$') || {
		t_fail "nginx_${mode}_upstream" "$(cat "$dir/upstream.err")"
		return 1
	}
	upstream[$mode]=${up#listening }
	port[$mode]=$(free_port)
	port_off[$mode]=$(free_port)
	port_app[$mode]=$(free_port)
	sed -e "s|@TMP@|$dir|g" -e "s|@PORT@|${port[$mode]}|" \
		-e "s|@PORT_OFF@|${port_off[$mode]}|" -e "s|@PORT_APP@|${port_app[$mode]}|" \
		-e "s|@UPSTREAM@|${upstream[$mode]}|" "$CP_DIR/nginx.conf.in" >"$dir/nginx.conf"
	cp_bg "$dir/nginx" "${prefix[@]}" "$@" \
		"$NGINX" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
	master[$mode]=$CP_PID
	if ! wait_listen "${port_app[$mode]}"; then
		t_fail "nginx_${mode}_started" "$(cat "$dir/nginx.err" "$dir/error.log" 2>/dev/null)"
		return 1
	fi
}

modes=()
start_nginx shim CP_SHIM "${shim_env[@]}" && modes+=(shim)
start_nginx override CP_SHIM "${shim_env[@]}" KAP_OVERRIDE=1 && modes+=(override)
start_nginx noshim CP_NOSHIM "${shim_env[@]}" && modes+=(noshim)

for mode in "${modes[@]}"; do
	dir=$T_TMP/$mode
	# nginx still serves under the shim (curl without the shim).
	t_eq "nginx_${mode}_serves" ok \
		"$("${CP_NOSHIM[@]}" curl -sS --max-time 10 "http://127.0.0.1:${port[$mode]}/" 2>&1)"
	# Idle clients (sending nothing: nginx waits for a request header), and a
	# request that a worker proxies to the slow upstream.
	cp_bg "$dir/hold" "${CP_NOSHIM[@]}" python3 -c "$CP_PY_HOLD" 60 \
		"${port[$mode]}" "${port_off[$mode]}" "${port_app[$mode]}"
	cp_bg "$dir/curl_up" "${CP_NOSHIM[@]}" curl -sS "http://127.0.0.1:${port[$mode]}/up"
done

for mode in "${modes[@]}"; do
	dir=$T_TMP/$mode
	n=nginx_$mode
	cp_wait_line "$dir/hold" '^connected$' >/dev/null || t_fail "${n}_clients" "$(cat "$dir/hold.err")"
	# The accepted socket is held by a worker, a child of the master.
	row=$(cp_row - sport = :"${port[$mode]}")
	owner=$(cp_owner "$row")
	owner=${owner%%:*}
	t_eq "${n}_accepted_in_worker" "${master[$mode]}" "$(ps -o ppid= -p "${owner:-0}" | tr -d ' ')"
	case $mode in
	shim)
		cp_expect "${n}_accepted" - 15 22 "$(cp_ka 22 7 4)" sport = :"${port[$mode]}"
		cp_expect "${n}_accepted_so_keepalive_off_nginx_wins" - none none "keepalive=0 *" \
			sport = :"${port_off[$mode]}"
		cp_expect "${n}_accepted_so_keepalive_7m_nginx_wins" - 400 420 "$(cp_ka 420 7 5)" \
			sport = :"${port_app[$mode]}"
		cp_expect "${n}_upstream_connected" - 25 33 "$(cp_ka 33 7 4)" dport = :"${upstream[$mode]}"
		;;
	override)
		cp_expect "${n}_accepted" - 15 22 "$(cp_ka 22 7 4)" sport = :"${port[$mode]}"
		cp_expect "${n}_accepted_so_keepalive_off" - 15 22 "$(cp_ka 22 7 4)" \
			sport = :"${port_off[$mode]}"
		cp_expect "${n}_accepted_so_keepalive_7m" - 15 22 "$(cp_ka 22 7 4)" \
			sport = :"${port_app[$mode]}"
		cp_expect "${n}_upstream_connected" - 25 33 "$(cp_ka 33 7 4)" dport = :"${upstream[$mode]}"
		;;
	noshim)
		cp_expect "${n}_accepted" - none none "$CP_UNTOUCHED" sport = :"${port[$mode]}"
		cp_expect "${n}_accepted_so_keepalive_off" - none none "$CP_UNTOUCHED" \
			sport = :"${port_off[$mode]}"
		cp_expect "${n}_accepted_so_keepalive_7m" - 400 420 "$(cp_ka 420 "$CP_DEF_INTVL" 5)" \
			sport = :"${port_app[$mode]}"
		cp_expect "${n}_upstream_connected" - none none "$CP_UNTOUCHED" dport = :"${upstream[$mode]}"
		;;
	esac
	if [ "$mode" != noshim ]; then
		cp_quiet "${n}_prints_nothing" "$dir/nginx.err"
		t_not_contains "${n}_error_log_clean" "libkapreload" "$(cat "$dir/error.log")"
	fi
done
t_done
