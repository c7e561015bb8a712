#!/usr/bin/env bash
# keepalive-systemd: drop-in content and quoting, unit-name and value
# validation, --dry-run, --remove, units that set LD_PRELOAD themselves; the
# written file is read back by systemd itself (systemd-analyze verify, and
# the parsed environment from systemd --test) with a naive file as the
# negative control. Everything happens under --root in a temporary directory.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

KS=$SCRIPTS_DIR/keepalive-systemd
U=kaptest$$ # unit names no real system has

# A library path with a systemd specifier in it: unescaped, %n would become
# the unit name. (A space cannot be in a preloaded path at all: ld.so splits
# LD_PRELOAD there; the space is tested in --config.)
LIBDIR_T="$T_TMP/l%n"
LIB="$LIBDIR_T/libkapreload.so"
mkdir -p "$LIBDIR_T"
if [ -f "$KAP_LIB" ]; then
	cp "$KAP_LIB" "$LIB"
else
	printf 'int kap_stub;\n' >"$T_TMP/stub.c"
	${CC:-cc} -shared -fPIC -o "$LIB" "$T_TMP/stub.c" || {
		t_fail setup "cannot build a stand-in library"
		exit 1
	}
fi
CONF='/etc/keep %n "a" \b.conf' # space, specifier, quote, backslash

# tree DIR: every file and directory under DIR (empty for an empty DIR).
tree() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort); }

# ---- --help / --version -----------------------------------------------------
out=$("$KS" --help 2>&1)
rc=$?
t_eq help_exit_0 0 "$rc"
t_contains help_usage "Usage: keepalive-systemd" "$out"
t_contains help_exit_codes "Exit status" "$out"
t_contains help_examples "Examples:" "$out"
ver=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*//p' "$TOP_DIR/Makefile")
t_eq version_line "keepalive-systemd (libkapreload) $ver" "$("$KS" --version)"

# ---- a full drop-in ---------------------------------------------------------
R=$T_TMP/root
mkdir -p "$R"
out=$(cd "$T_TMP" && "$KS" "$U" --idle 30 --interval 0005 --count 4 --user-timeout auto \
	--override --log INFO --config "$CONF" --lib "l%n/libkapreload.so" --root "$R" 2>"$T_TMP/err")
rc=$?
F=$R/etc/systemd/system/$U.service.d/keepalive.conf
t_eq write_exit_0 0 "$rc"
t_check write_file_exists test -f "$F"
t_eq write_file_mode 644 "$(stat -c %a "$F" 2>/dev/null)"
t_eq write_no_temp_left "keepalive.conf" "$(ls -A "$(dirname "$F")" 2>/dev/null)"
expect="[Service]
Environment=\"LD_PRELOAD=$T_TMP/l%%n/libkapreload.so\"
Environment=\"KAP_IDLE=30\"
Environment=\"KAP_INTERVAL=5\"
Environment=\"KAP_COUNT=4\"
Environment=\"KAP_USER_TIMEOUT=auto\"
Environment=\"KAP_OVERRIDE=on\"
Environment=\"KAP_LOG=info\"
Environment=\"KAP_CONFIG=/etc/keep %%n \\\"a\\\" \\\\b.conf\""
t_eq write_content "$expect" "$(sed -n '/^\[Service\]/,$p' "$F" 2>/dev/null)"
t_contains write_header "# Written by keepalive-systemd (libkapreload) $ver" "$(head -n 1 "$F" 2>/dev/null)"
t_contains write_header_remove_hint "keepalive-systemd --remove $U.service" "$(cat "$F" 2>/dev/null)"
t_contains write_says_path "$F" "$out"
t_contains write_next_reload "systemctl daemon-reload" "$out"
t_contains write_next_restart "systemctl restart $U.service" "$out"
t_contains write_next_verify "keepalive-check \$(systemctl show -p MainPID --value $U.service)" "$out"
t_contains write_warns_missing_unit "no unit file for $U.service" "$(cat "$T_TMP/err")"

# Rewriting its own file works, and keeps one file.
"$KS" "$U" --idle 31 --lib "$LIB" --root "$R" >/dev/null 2>&1
t_eq rewrite_own_file 'Environment="KAP_IDLE=31"' "$(grep KAP_IDLE "$F")"

# Names: no suffix means .service (even with dots in it), templates, instances.
for n in "php8.2-fpm|php8.2-fpm.service" "$U@.service|$U@.service" "$U@x\\x2dy.service|$U@x\\x2dy.service" \
	"a:b_c-d|a:b_c-d.service" "$U.service|$U.service"; do
	arg=${n%|*} want=${n#*|}
	out=$("$KS" --dry-run "$arg" --lib "$LIB" --root "$R" 2>/dev/null)
	t_contains "name_${want//[^a-z0-9]/_}" "would write $R/etc/systemd/system/$want.d/keepalive.conf" "$out"
done
out=$("$KS" "$U@.service" --lib "$LIB" --root "$R" 2>/dev/null)
t_contains template_restart_all "systemctl restart '$U@*.service'" "$out"

# ---- --dry-run --------------------------------------------------------------
R2=$T_TMP/dry
mkdir -p "$R2"
out=$("$KS" --dry-run "$U" --idle 9 --lib "$LIB" --root "$R2" 2>/dev/null)
t_eq dry_run_exit_0 0 "$?"
t_contains dry_run_shows_path "would write $R2/etc/systemd/system/$U.service.d/keepalive.conf" "$out"
t_contains dry_run_shows_content 'Environment="KAP_IDLE=9"' "$out"
t_eq dry_run_writes_nothing "" "$(tree "$R2")"

# ---- bad arguments: exit 2, one line on stderr, nothing written -----------
bad_cases=(
	"idle_0|$U --idle 0" "idle_32768|$U --idle 32768" "idle_word|$U --idle abc"
	"idle_huge|$U --idle 99999999999999999999" "idle_missing_value|$U --idle"
	"interval_0|$U --interval 0" "count_128|$U --count 128" "count_0|$U --count 0"
	"uto_negative|$U --user-timeout -1" "uto_2147483648|$U --user-timeout 2147483648"
	"uto_word|$U --user-timeout soon" "log_level|$U --log loud" "config_relative|$U --config rel.conf"
	"unit_dotdot|../../etc/passwd" "unit_slash|a/b" "unit_dot_start|.service" "unit_empty|''"
	"unit_no_prefix|@x.service" "unit_dollar|'a\$b'" "unit_space|'a b'" "unit_socket|$U.socket"
	"unit_timer|$U.timer" "unit_too_long|$(printf 'a%.0s' {1..250})" "two_units|$U other"
	"unknown_option|$U --frobnicate" "remove_with_settings|$U --remove --idle 5"
	"dry_run_and_remove|$U --remove --dry-run" "append_and_replace|$U --append-preload /x.so --replace-preload"
	"lib_space|$U --lib $T_TMP/a\\ b.so" "lib_colon|$U --lib $T_TMP/a:b.so"
	"lib_missing|$U --lib $T_TMP/nope.so" "lib_not_elf|$U --lib /etc/hostname"
	"root_missing|$U --root $T_TMP/nope"
)
args=()
for c in "${bad_cases[@]}"; do
	name=${c%%|*}
	R3=$T_TMP/bad_$name
	mkdir -p "$R3"
	eval "args=(${c#*|})"
	"$KS" --root "$R3" --lib "$LIB" "${args[@]}" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	err=$(cat "$T_TMP/err")
	if [ "$rc" = 2 ] && [ "$(wc -l <"$T_TMP/err")" = 1 ] && [[ $err == "keepalive-systemd: "* ]] &&
		[ -z "$(tree "$R3")" ] && [ ! -s "$T_TMP/out" ]; then
		t_pass "bad_$name"
	else
		t_fail "bad_$name" "rc=$rc stderr=[$err] written=[$(tree "$R3")]"
	fi
done
# Negative control for the loop: the same harness with good values writes.
R3=$T_TMP/good_control
mkdir -p "$R3"
"$KS" --root "$R3" --lib "$LIB" "$U" --idle 1 --count 127 --user-timeout 2147483647 >/dev/null 2>&1
t_eq good_control_exit_0 0 "$?"
t_contains good_control_writes "$U.service.d/keepalive.conf" "$(tree "$R3")"

# ---- --remove ---------------------------------------------------------------
D=$(dirname "$F")
out=$("$KS" --remove "$U" --root "$R" 2>&1)
t_eq remove_exit_0 0 "$?"
t_check remove_deletes_file test ! -e "$F"
t_check remove_deletes_empty_dir test ! -e "$D"
t_contains remove_next_steps "systemctl daemon-reload" "$out"
t_contains remove_next_verify "grep -c libkapreload /proc/\$(systemctl show -p MainPID --value $U.service)/maps" "$out"
out=$("$KS" --remove "$U" --root "$R" 2>&1)
t_eq remove_absent_exit_0 0 "$?"
t_contains remove_absent_says_so "nothing to remove" "$out"

# With a neighbour drop-in the directory and the neighbour stay.
"$KS" "$U" --lib "$LIB" --root "$R" >/dev/null 2>&1
printf '[Service]\nNice=5\n' >"$D/other.conf"
"$KS" --remove "$U" --root "$R" >/dev/null 2>&1
t_eq remove_keeps_neighbour "other.conf" "$(ls -A "$D" 2>/dev/null)"

# A keepalive.conf someone else wrote is neither removed nor overwritten.
printf '[Service]\nEnvironment=FOO=1\n' >"$D/keepalive.conf"
sum=$(md5sum <"$D/keepalive.conf")
"$KS" --remove "$U" --root "$R" >/dev/null 2>"$T_TMP/err"
t_eq remove_foreign_exit_1 1 "$?"
t_contains remove_foreign_says_why "not written by keepalive-systemd" "$(cat "$T_TMP/err")"
t_eq remove_foreign_untouched "$sum" "$(md5sum <"$D/keepalive.conf")"
"$KS" "$U" --lib "$LIB" --root "$R" >/dev/null 2>"$T_TMP/err"
t_eq write_over_foreign_exit_1 1 "$?"
t_eq write_over_foreign_untouched "$sum" "$(md5sum <"$D/keepalive.conf")"
rm -rf "$D"

# ---- units that set LD_PRELOAD themselves -----------------------------------
P=$T_TMP/pre
mkdir -p "$P/lib/systemd/system"
printf '[Unit]\nDescription=t\n[Service]\nEnvironment="A=1" LD_PRELOAD=/usr/lib/libother.so\nExecStart=/bin/true\n' \
	>"$P/lib/systemd/system/$U.service"
PF=$P/etc/systemd/system/$U.service.d/keepalive.conf
"$KS" "$U" --lib "$LIB" --root "$P" >/dev/null 2>"$T_TMP/err"
t_eq preload_conflict_exit_1 1 "$?"
t_contains preload_conflict_hint "--append-preload /usr/lib/libother.so" "$(cat "$T_TMP/err")"
t_check preload_conflict_writes_nothing test ! -e "$PF"
"$KS" "$U" --lib "$LIB" --root "$P" --append-preload /usr/lib/libother.so >/dev/null 2>&1
t_eq preload_append_one_line "Environment=\"LD_PRELOAD=/usr/lib/libother.so $T_TMP/l%%n/libkapreload.so\"" \
	"$(grep LD_PRELOAD "$PF" 2>/dev/null)"
"$KS" "$U" --lib "$LIB" --root "$P" --replace-preload >/dev/null 2>&1
t_eq preload_replace "Environment=\"LD_PRELOAD=$T_TMP/l%%n/libkapreload.so\"" "$(grep LD_PRELOAD "$PF" 2>/dev/null)"
# A drop-in applied after keepalive.conf (override.conf sorts later) wins: refuse.
printf '[Service]\nEnvironment=LD_PRELOAD=/x.so\n' >"$(dirname "$PF")/override.conf"
"$KS" "$U" --lib "$LIB" --root "$P" --replace-preload >/dev/null 2>"$T_TMP/err"
t_eq preload_later_dropin_exit_1 1 "$?"
t_contains preload_later_dropin_names_it "override.conf" "$(cat "$T_TMP/err")"
rm -f "$(dirname "$PF")/override.conf"
# Without any LD_PRELOAD in the unit (negative control) it just writes.
sed -i '/LD_PRELOAD/d' "$P/lib/systemd/system/$U.service"
"$KS" "$U" --lib "$LIB" --root "$P" >/dev/null 2>&1
t_eq preload_none_writes 0 "$?"

# ---- what systemd itself makes of the file ----------------------------------
V=$T_TMP/verify
VU=$V/etc/systemd/system
mkdir -p "$VU"
for n in "$U" "${U}naive"; do
	printf '[Unit]\nDescription=keepalive-systemd test\n[Service]\nExecStart=/bin/true\n' >"$VU/$n.service"
done
"$KS" "$U" --idle 30 --config "$CONF" --lib "$LIB" --root "$V" >/dev/null 2>&1
# The naive way: no quoting, no %% (what a hand-written line often looks like).
mkdir -p "$VU/${U}naive.service.d"
printf '[Service]\nEnvironment=LD_PRELOAD=%s\nEnvironment=KAP_CONFIG=%s\n' "$LIB" "$CONF" \
	>"$VU/${U}naive.service.d/keepalive.conf"

if have systemd-analyze; then
	err=$(SYSTEMD_UNIT_PATH="$VU:" systemd-analyze verify --man=no "$VU/$U.service" 2>&1)
	rc=$?
	t_eq analyze_verify_exit_0 0 "$rc"
	t_not_contains analyze_verify_no_warning "keepalive.conf" "$err"
	err=$(SYSTEMD_UNIT_PATH="$VU:" systemd-analyze verify --man=no "$VU/${U}naive.service" 2>&1)
	t_contains analyze_verify_naive_warns "Invalid environment assignment" "$err"
else
	t_skip analyze_verify "systemd-analyze is not installed"
fi

# systemd --test loads the units offline and dumps each one's parsed
# Environment=. It refuses to run as root, so run it as nobody.
SD=/lib/systemd/systemd
dump_env() { # UNIT: the unit's Environment entries, one per line
	local run=()
	is_root && run=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	(cd / && HOME=/ SYSTEMD_UNIT_PATH="$VU:" timeout 30 "${run[@]}" "$SD" --test --system \
		--unit="$1" --log-target=console --log-level=err 2>/dev/null) |
		sed -n "/^[[:space:]]*-> Unit $1:/,/^[[:space:]]*-> Unit /p" |
		sed -n 's/^[[:space:]]*Environment: //p'
}
if [ ! -x "$SD" ]; then
	t_skip systemd_parsed_env "no $SD on this machine"
elif is_root && ! have setpriv; then
	t_skip systemd_parsed_env "systemd --test refuses root and setpriv is missing"
else
	chmod 0711 "$T_TMP"
	chmod -R a+rX "$V" "$LIBDIR_T"
	got=$(dump_env "$U.service")
	if [ -z "$got" ]; then
		t_skip systemd_parsed_env "systemd --test printed no unit dump here"
	else
		t_eq systemd_parsed_env "LD_PRELOAD=$LIB
KAP_IDLE=30
KAP_CONFIG=$CONF" "$(printf '%s\n' "$got" | grep -E '^(LD_PRELOAD|KAP_)')"
		# Negative control: the naive file does not give those values.
		got=$(dump_env "${U}naive.service" | grep -E '^(LD_PRELOAD|KAP_)')
		t_not_contains systemd_parsed_env_naive_differs "KAP_CONFIG=$CONF" "$got"
		t_not_contains systemd_parsed_env_naive_lib_differs "LD_PRELOAD=$LIB" "$got"
	fi
fi

t_done
