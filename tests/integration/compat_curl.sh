#!/usr/bin/env bash
# curl sets keepalive itself before connect (SO_KEEPALIVE, idle 60, interval
# 60; not the count). With KAP_IDLE=5 KAP_INTERVAL=3 KAP_COUNT=4:
#   override off: curl's 60/60 win, the count it does not set is ours (4);
#   KAP_OVERRIDE=1: 5/3/4 stay, curl's own calls change nothing;
#   curl --no-keepalive: curl sets nothing, the shim's 5/3/4 apply.
# Negative controls: the same curls without the shim (60/60/9, and no
# keepalive at all with --no-keepalive). Every curl waits on a slow local
# HTTP server, so its connection stays open while we look at it.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require
cp_need curl curl || {
	t_done
	exit
}

# Under check-sanitize: Debian's curl never gets past setlocale() with
# libasan preloaded, shim or no shim. That is the sanitizer's limit, not
# ours; a curl that only hangs with the shim still fails below.
if [ "${KAP_SANITIZE:-0}" = 1 ] &&
	! timeout 10 env LD_PRELOAD="${KAP_PRELOAD%% *}" curl --version >/dev/null 2>&1; then
	t_skip curl "curl hangs at start-up with libasan preloaded, even without the shim"
	exit 0
fi

cfg=(KAP_IDLE=5 KAP_INTERVAL=3 KAP_COUNT=4)

cp_bg "$T_TMP/srv" "${CP_NOSHIM[@]}" python3 "$CP_DIR/slow_http.py" 60
port=$(cp_wait_line "$T_TMP/srv" '^listening [0-9]+$') || {
	t_fail curl_server_started "$(cat "$T_TMP/srv.err")"
	exit 1
}
port=${port#listening }
url=http://127.0.0.1:$port/

# The service works through the shim: a complete request and answer.
got=$("${CP_SHIM[@]}" "${cfg[@]}" curl -sS --max-time 10 "${url}fast" 2>&1)
t_eq curl_request_works "ok" "$got"

# name: CMD..., all started at once, each checked by its own pid.
declare -A cmd=(
	[override_off]="${CP_SHIM[*]} ${cfg[*]} curl"
	[override_on]="${CP_SHIM[*]} ${cfg[*]} KAP_OVERRIDE=1 curl"
	[noshim]="${CP_NOSHIM[*]} ${cfg[*]} curl"
	[nokeepalive]="${CP_SHIM[*]} ${cfg[*]} curl --no-keepalive"
	[nokeepalive_noshim]="${CP_NOSHIM[*]} ${cfg[*]} curl --no-keepalive"
)
declare -A pid
for name in "${!cmd[@]}"; do
	# Word splitting is wanted: the entries are simple words (no spaces in paths).
	# shellcheck disable=SC2086
	cp_bg "$T_TMP/$name" ${cmd[$name]} -sS "$url"
	pid[$name]=$CP_PID
done

f=(dport "=" :"$port")
cp_expect curl_override_off_curl_wins "${pid[override_off]}" 30 60 "$(cp_ka 60 60 4)" "${f[@]}"
cp_expect curl_override_on_configured "${pid[override_on]}" 0 5 "$(cp_ka 5 3 4)" "${f[@]}"
cp_expect curl_noshim_own_values "${pid[noshim]}" 30 60 "$(cp_ka 60 60 "$CP_DEF_CNT")" "${f[@]}"
cp_expect curl_no_keepalive_configured "${pid[nokeepalive]}" 0 5 "$(cp_ka 5 3 4)" "${f[@]}"
cp_expect curl_no_keepalive_noshim "${pid[nokeepalive_noshim]}" none none "$CP_UNTOUCHED" "${f[@]}"
for name in override_off override_on nokeepalive; do
	cp_quiet "curl_${name}_prints_nothing" "$T_TMP/$name.err"
done
cp_stop "${pid[@]}"
t_done
