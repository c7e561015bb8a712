#!/usr/bin/env bash
# nginx's on-the-fly binary upgrade (SIGUSR2 to the master, then SIGQUIT to
# the old one) execs a new master with an environment nginx rebuilds from
# its `env` directives: without `env LD_PRELOAD;` (and the KAP_ variables)
# the new master and its workers run without the shim. Two nginx under the
# shim (KAP_IDLE=33 ..., inbound rule idle 22), both upgraded:
#   envkept: nginx.conf has `env LD_PRELOAD; env KAP_CONFIG; ...`: after the
#            upgrade the shim is still loaded, accepted sockets get the
#            inbound rule (22/7/4), upstream connections 33/7/4;
#   plain:   no env directives (the documented limit): the new master has
#            no shim; accepted sockets still inherit the listener's 33/7/4
#            (the kernel copies them from the listener the old master
#            configured), but the inbound rule is gone and upstream
#            connections get no keepalive at all.
# The upgrade needs a daemonized master (nginx refuses it under a parent).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require
cp_need nginx_upgrade nginx curl || {
	t_done
	exit
}
# The upgrade execs argv[0]: it has to be an absolute path.
NGINX=$(command -v nginx)

printf '[rule accepted]\ndirection = inbound\nidle = 22\n' >"$T_TMP/kap.conf"
shim_env=(KAP_CONFIG="$T_TMP/kap.conf" KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=4)
env_lines='env LD_PRELOAD;\nenv KAP_CONFIG;\nenv KAP_IDLE;\nenv KAP_INTERVAL;\nenv KAP_COUNT;'
declare -A port upstream newpid

# alive PID: running and not a zombie.
alive() {
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -n "$s" ] && [ "${s:0:1}" != Z ]
}

# upgrade MODE EXTRA-SED: start a daemonized nginx under the shim, upgrade
# its binary in place, retire the old master; sets newpid[MODE].
upgrade() {
	local mode=$1 dir=$T_TMP/$1 up old new i
	mkdir -p "$dir"
	cp_bg "$dir/upstream" "${CP_NOSHIM[@]}" python3 "$CP_DIR/slow_http.py" 60
	up=$(cp_wait_line "$dir/upstream" '^listening [0-9]+$') || return 1
	upstream[$mode]=${up#listening }
	port[$mode]=$(free_port)
	sed -e "s|@TMP@|$dir|g" -e "s|@PORT@|${port[$mode]}|" -e "s|@PORT_OFF@|$(free_port)|" \
		-e "s|@PORT_APP@|$(free_port)|" -e "s|@UPSTREAM@|${upstream[$mode]}|" \
		-e 's|^daemon off;|daemon on;|' -e "$2" "$CP_DIR/nginx.conf.in" >"$dir/nginx.conf"
	if ! "${CP_SHIM[@]}" "${shim_env[@]}" "$NGINX" -p "$dir" -e "$dir/error.log" \
		-c "$dir/nginx.conf" >"$dir/start.out" 2>&1; then
		t_fail "nginx_upgrade_${mode}_start" "$(cat "$dir/start.out" "$dir/error.log")"
		return 1
	fi
	cp_wait_line "$dir/nginx.pid" '^[0-9]+$' >/dev/null || return 1
	old=$(cat "$dir/nginx.pid")
	kill -USR2 "$old"
	for ((i = 0; i < 100; i++)); do
		new=$(cat "$dir/nginx.pid" 2>/dev/null)
		[ -n "$new" ] && [ "$new" != "$old" ] && [ -e "$dir/nginx.pid.oldbin" ] && break
		sleep 0.05
	done
	if [ -z "$new" ] || [ "$new" = "$old" ]; then
		t_fail "nginx_upgrade_${mode}_usr2" "no new master: $(tail -n 3 "$dir/error.log")"
		kill "$old"
		return 1
	fi
	T_PIDS+=("$new")
	newpid[$mode]=$new
	# Only the new master's workers accept from now on.
	kill -QUIT "$old"
	for ((i = 0; i < 100; i++)); do
		alive "$old" || break
		sleep 0.05
	done
	if alive "$old"; then
		t_fail "nginx_upgrade_${mode}_old_quit" "old master $old still running"
		kill "$old"
		return 1
	fi
}

modes=()
upgrade envkept "s|^master_process on;|&\n$env_lines|" && modes+=(envkept)
upgrade plain 's|^x|x|' && modes+=(plain)

lib=$(readlink -f "$KAP_LIB")
for mode in "${modes[@]}"; do
	dir=$T_TMP/$mode
	n=nginx_upgrade_$mode
	cp_bg "$dir/hold" "${CP_NOSHIM[@]}" python3 -c "$CP_PY_HOLD" 60 "${port[$mode]}"
	cp_bg "$dir/curl_up" "${CP_NOSHIM[@]}" curl -sS "http://127.0.0.1:${port[$mode]}/up"
	maps=$(cat "/proc/${newpid[$mode]}/maps" 2>/dev/null)
	if [ "$mode" = envkept ]; then
		t_contains "${n}_new_master_has_shim" "$lib" "$maps"
		cp_expect "${n}_accepted" - 15 22 "$(cp_ka 22 7 4)" sport = :"${port[$mode]}"
		cp_expect "${n}_upstream_connected" - 25 33 "$(cp_ka 33 7 4)" \
			dport = :"${upstream[$mode]}"
	else
		t_not_contains "${n}_limit_new_master_lost_shim" "$lib" "$maps"
		cp_expect "${n}_limit_accepted_listener_values_only" - 25 33 "$(cp_ka 33 7 4)" \
			sport = :"${port[$mode]}"
		cp_expect "${n}_limit_upstream_not_configured" - none none "$CP_UNTOUCHED" \
			dport = :"${upstream[$mode]}"
	fi
done
for mode in "${modes[@]}"; do
	kill "${newpid[$mode]}" 2>/dev/null
done
t_done
