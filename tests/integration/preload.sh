#!/usr/bin/env bash
# keepalive-preload: edits of ld.so.preload under --root (no duplicates,
# other entries, comments and the mode kept, refusals leave the file
# untouched, status exit codes), then the real thing in a private mount
# namespace: /etc there is an overlay, so the real /etc is never written,
# and a program started without LD_PRELOAD gets keepalive from the list.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

KP=$SCRIPTS_DIR/keepalive-preload
L=$T_TMP/lib
mkdir -p "$L"

# The library for the file edits: the real one when it can be loaded on its
# own (a sanitizer build cannot), else a plain shared object.
printf 'int kap_stub;\n' >"$T_TMP/stub.c"
real=0
if [ -f "$KAP_LIB" ] && [ "${KAP_SANITIZE:-0}" != 1 ]; then
	cp "$KAP_LIB" "$L/libkapreload.so"
	real=1
else
	${CC:-cc} -shared -fPIC -o "$L/libkapreload.so" "$T_TMP/stub.c" || {
		t_fail setup "cannot build a stand-in library"
		exit 1
	}
fi
LIB=$L/libkapreload.so

# newroot NAME: an empty system image with an etc directory.
newroot() {
	rm -rf "${T_TMP:?}/$1"
	mkdir -p "$T_TMP/$1/etc"
	echo "$T_TMP/$1"
}
sum() { if [ -e "$1" ]; then md5sum <"$1"; else echo absent; fi; }

# ---- --help / --version -----------------------------------------------------
out=$("$KP" --help 2>&1)
t_eq help_exit_0 0 "$?"
t_contains help_usage "Usage: keepalive-preload enable|disable|status" "$out"
t_contains help_exit_codes "3 not listed" "$out"
ver=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*//p' "$TOP_DIR/Makefile")
t_eq version_line "keepalive-preload (libkapreload) $ver" "$("$KP" --version)"

# ---- enable into an empty image ---------------------------------------------
R=$(newroot r1)
F=$R/etc/ld.so.preload
out=$("$KP" status --root "$R" --lib "$LIB" 2>&1)
t_eq status_no_file_exit_3 3 "$?"
t_contains status_no_file_says_so "does not exist" "$out"
out=$("$KP" enable --root "$R" --lib "$LIB" 2>&1)
t_eq enable_exit_0 0 "$?"
t_eq enable_content "$LIB" "$(cat "$F" 2>/dev/null)"
t_eq enable_new_mode_0644 644 "$(stat -c %a "$F" 2>/dev/null)"
t_eq enable_no_temp_left "ld.so.preload" "$(ls -A "$R/etc")"
t_contains enable_says_test_load "Test load" "$out"
t_contains enable_says_undo "keepalive-preload disable" "$out"
out=$("$KP" status --root "$R" --lib "$LIB" 2>&1)
t_eq status_listed_exit_0 0 "$?"
t_contains status_listed_says_so "listed (line 1)" "$out"

# Twice, and under another name of the same file: still one entry.
ln -s lib "$T_TMP/liblink"
"$KP" enable --root "$R" --lib "$LIB" >/dev/null 2>&1
t_eq enable_twice_exit_0 0 "$?"
(cd "$T_TMP" && "$KP" enable --root "$R" --lib liblink/libkapreload.so >"$T_TMP/out" 2>&1)
t_eq enable_other_name_exit_0 0 "$?"
t_contains enable_other_name_already "already listed" "$(cat "$T_TMP/out")"
t_eq enable_no_duplicate "$LIB" "$(cat "$F")"

# ---- other entries, comments, separators, mode ------------------------------
R=$(newroot r2)
F=$R/etc/ld.so.preload
old='# site preloads
/usr/lib/liba.so /usr/lib/libb.so:/usr/lib/libc.so # three on one line

/usr/lib/libd.so'
printf '%s' "$old" >"$F" # no newline at the end
chmod 0600 "$F"
"$KP" enable --root "$R" --lib "$LIB" >/dev/null 2>&1
t_eq enable_keeps_others_exit_0 0 "$?"
t_eq enable_keeps_others "$old
$LIB" "$(cat "$F")"
t_eq enable_keeps_mode 600 "$(stat -c %a "$F")"

# disable takes out only the library, also from a shared line.
printf '# site preloads\n/usr/lib/liba.so %s:/usr/lib/libb.so # shared\n%s\n# end\n/usr/lib/libd.so\n' \
	"$LIB" "$LIB" >"$F"
chmod 0640 "$F"
out=$("$KP" disable --root "$R" --lib "$LIB" 2>&1)
t_eq disable_exit_0 0 "$?"
t_eq disable_keeps_others '# site preloads
/usr/lib/liba.so /usr/lib/libb.so # shared
# end
/usr/lib/libd.so' "$(cat "$F")"
t_eq disable_keeps_mode 640 "$(stat -c %a "$F")"
t_contains disable_says_lines "lines 2, 3" "$out"
"$KP" status --root "$R" --lib "$LIB" >/dev/null 2>&1
t_eq status_not_listed_exit_3 3 "$?"
s=$(sum "$F")
out=$("$KP" disable --root "$R" --lib "$LIB" 2>&1)
t_eq disable_not_listed_exit_0 0 "$?"
t_eq disable_not_listed_untouched "$s" "$(sum "$F")"

# The file goes when the library was all there was in it.
R=$(newroot r3)
"$KP" enable --root "$R" --lib "$LIB" >/dev/null 2>&1
"$KP" disable --root "$R" --lib "$LIB" >/dev/null 2>&1
t_eq disable_last_entry_removes_file "" "$(ls -A "$R/etc")"
"$KP" disable --root "$R" --lib "$LIB" >/dev/null 2>&1
t_eq disable_no_file_exit_0 0 "$?"

# Listed but the library is gone: every program would print a loader error.
echo "$T_TMP/gone/libkapreload.so" >"$R/etc/ld.so.preload"
"$KP" status --root "$R" --lib "$T_TMP/gone/libkapreload.so" >/dev/null 2>"$T_TMP/err"
t_eq status_listed_missing_exit_1 1 "$?"
t_contains status_listed_missing_says_so "missing" "$(cat "$T_TMP/err")"
"$KP" disable --root "$R" --lib "$T_TMP/gone/libkapreload.so" >/dev/null 2>&1
t_eq disable_missing_library_works "" "$(ls -A "$R/etc")"

# ---- refusals: the file stays as it was -------------------------------------
R=$(newroot r4)
F=$R/etc/ld.so.preload
printf '/usr/lib/liba.so\n' >"$F"
s=$(sum "$F")

# refused NAME EXPECTED-RC NEEDLE LIB: enable must fail and leave F alone.
refused() {
	local rc err
	"$KP" enable --root "$R" --lib "$4" >/dev/null 2>"$T_TMP/err"
	rc=$?
	err=$(cat "$T_TMP/err")
	if [ "$rc" = "$2" ] && [ "$(sum "$F")" = "$s" ] && [[ $err == *"$3"* ]] &&
		[ "$(ls -A "$R/etc")" = ld.so.preload ]; then
		t_pass "$1"
	else
		t_fail "$1" "rc=$rc (want $2) stderr=[$err] file $(sum "$F") (was $s)"
	fi
}
printf 'not a shared object\n' >"$L/notelf.so"
refused refuse_not_elf 1 "cannot be preloaded" "$L/notelf.so"
refused refuse_missing 2 "library not found" "$L/missing.so"
# A library that prints at load time would print into every program.
printf '#include <stdio.h>\n__attribute__((constructor)) static void hi(void) { fputs("hello\\n", stderr); }\n' \
	>"$T_TMP/noisy.c"
${CC:-cc} -shared -fPIC -o "$L/noisy.so" "$T_TMP/noisy.c"
refused refuse_prints 1 "printed \"hello\"" "$L/noisy.so"
# Writable by others: anyone could then run code in setuid programs.
cp "$LIB" "$L/open.so"
chmod 0666 "$L/open.so"
refused refuse_world_writable 1 "writable by group or others" "$L/open.so"
# A symbolic link in a directory anyone can write: the link can be swapped.
mkdir -m 0777 "$T_TMP/open"
ln -s "$LIB" "$T_TMP/open/link.so"
refused refuse_link_in_open_dir 1 "$T_TMP/open is writable" "$T_TMP/open/link.so"
# Negative control: the good library passes through the same harness.
"$KP" enable --root "$R" --lib "$LIB" >/dev/null 2>&1
t_eq good_library_accepted "/usr/lib/liba.so
$LIB" "$(cat "$F")"

# The configuration every program would read must not make the library talk.
if [ "$real" = 1 ]; then
	R=$(newroot r5)
	printf 'idle = 99999\n' >"$R/etc/keepalive.conf"
	"$KP" enable --root "$R" --lib "$LIB" >/dev/null 2>"$T_TMP/err"
	t_eq refuse_bad_config_exit_1 1 "$?"
	t_contains refuse_bad_config_names_file "$R/etc/keepalive.conf" "$(cat "$T_TMP/err")"
	t_eq refuse_bad_config_untouched "keepalive.conf" "$(ls -A "$R/etc")"
	printf 'idle = 300\n' >"$R/etc/keepalive.conf"
	"$KP" enable --root "$R" --lib "$LIB" >/dev/null 2>&1
	t_eq good_config_accepted 0 "$?"
else
	t_skip refuse_bad_config "needs the real library (missing, or a sanitizer build)"
fi

# ---- bad arguments: exit 2 --------------------------------------------------
R=$(newroot r6)
for c in "no_command|" "unknown_command|frob" "two_commands|enable disable" "unknown_option|status --frob" \
	"root_missing|status --root $T_TMP/nope" "lib_space|enable --lib '$T_TMP/a b.so'" \
	"lib_colon|enable --lib $T_TMP/a:b.so" "lib_hash|enable --lib '$T_TMP/a#b.so'" "lib_empty|enable --lib ''"; do
	name=${c%%|*}
	eval "args=(${c#*|})"
	# shellcheck disable=SC2154 # args is set by eval
	"$KP" --root "$R" "${args[@]}" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	err=$(cat "$T_TMP/err")
	if [ "$rc" = 2 ] && [[ $err == "keepalive-preload: "* ]] && [ "$(wc -l <"$T_TMP/err")" = 1 ] &&
		[ -z "$(ls -A "$R/etc")" ]; then
		t_pass "bad_$name"
	else
		t_fail "bad_$name" "rc=$rc stderr=[$err]"
	fi
done

# ---- system-wide, in a private mount namespace ------------------------------
# conn.py prints "ready PORT" once a connection to itself is established.
cat >"$T_TMP/conn.py" <<'EOF'
import socket, sys, time
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port))
a, _ = srv.accept()
print("ready", port, flush=True)
time.sleep(30)
EOF
# inner.sh runs inside the namespace: overlay over /etc, the tool on the
# real path, a program without LD_PRELOAD, then disable and the same again.
cat >"$T_TMP/inner.sh" <<'EOF'
set -u
o=$1 kp=$2 lib=$3
timer() { # PROGRAM-OUTPUT-FILE: the keepalive timer of its connection
	local i line port
	for ((i = 0; i < 100; i++)); do
		line=$(grep -m 1 '^ready ' "$1") && break
		sleep 0.05
	done
	port=${line#ready }
	[ -n "$port" ] || { echo "no-connection"; return; }
	ss -Htnoe state established "( dport = :$port )" | grep -o 'timer:([^)]*)' | head -n 1
}
run() { # NAME: the probe program without LD_PRELOAD, keepalive idle 7 s wanted
	env -u LD_PRELOAD KAP_IDLE=7 python3 "$o/conn.py" >"$o/$1.py" 2>&1 &
	local pid=$!
	timer "$o/$1.py" >"$o/$1.timer"
	kill "$pid"
	wait "$pid" 2>/dev/null
}
mount -t tmpfs tmpfs "$o/ov" && mkdir "$o/ov/u" "$o/ov/w" &&
	mount -t overlay overlay -o "lowerdir=/etc,upperdir=$o/ov/u,workdir=$o/ov/w" /etc || exit 90
"$kp" enable --lib "$lib" >"$o/enable.out" 2>&1
echo $? >"$o/enable.rc"
"$kp" status --lib "$lib" >/dev/null 2>&1
echo $? >"$o/status.rc"
cat /etc/ld.so.preload >"$o/list" 2>/dev/null
run on
"$kp" disable --lib "$lib" >/dev/null 2>&1
echo $? >"$o/disable.rc"
run off
exit 0
EOF

real_before=$(sum /etc/ld.so.preload)
if ! is_root; then
	t_skip system_wide "needs root for a private mount namespace"
elif [ ! -f "$KAP_LIB" ]; then
	t_skip system_wide "no library at $KAP_LIB yet"
elif [ "${KAP_SANITIZE:-0}" = 1 ]; then
	t_skip system_wide "a sanitizer build cannot be preloaded from ld.so.preload"
elif ! unshare -m --propagation private true 2>/dev/null; then
	t_skip system_wide "unshare -m fails here"
else
	mkdir -p "$T_TMP/ov"
	unshare -m --propagation private bash "$T_TMP/inner.sh" "$T_TMP" "$KP" "$KAP_LIB" 2>"$T_TMP/inner.err"
	rc=$?
	if [ "$rc" = 90 ]; then
		t_skip system_wide "cannot mount an overlay over /etc here: $(head -n 1 "$T_TMP/inner.err")"
	else
		t_eq ns_enable_exit_0 0 "$(cat "$T_TMP/enable.rc")"
		t_eq ns_list_has_library "$(realpath -m -s "$KAP_LIB")" "$(cat "$T_TMP/list")"
		t_eq ns_status_exit_0 0 "$(cat "$T_TMP/status.rc")"
		t=$(cat "$T_TMP/on.timer")
		t_contains ns_program_without_ld_preload_has_keepalive "timer:(keepalive," "$t"
		secs=${t#timer:(keepalive,}
		secs=${secs%%.*}
		if [[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -le 7 ]; then
			t_pass ns_keepalive_idle_from_environment
		else
			t_fail ns_keepalive_idle_from_environment "want <= 7 s, got [$t]"
		fi
		t_eq ns_disable_exit_0 0 "$(cat "$T_TMP/disable.rc")"
		t_not_contains ns_after_disable_no_keepalive "keepalive" "$(cat "$T_TMP/off.timer")"
		t_not_contains ns_after_disable_connected "no-connection" "$(cat "$T_TMP/off.timer")"
	fi
	# Negative control outside: the same program, same environment, no list.
	env -u LD_PRELOAD KAP_IDLE=7 python3 "$T_TMP/conn.py" >"$T_TMP/outside.py" 2>&1 &
	T_PIDS+=($!)
	port=''
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/^ready //p' "$T_TMP/outside.py") && [ -n "$port" ] && break
		sleep 0.05
	done
	if [ -n "$port" ]; then
		t_eq outside_namespace_no_keepalive none "$(ss_keepalive_secs "( dport = :$port )")"
	else
		t_fail outside_namespace_no_keepalive "the program did not connect: $(cat "$T_TMP/outside.py")"
	fi
fi
t_eq real_etc_ld_so_preload_untouched "$real_before" "$(sum /etc/ld.so.preload)"

t_done
