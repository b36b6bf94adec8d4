# shellcheck shell=bash
# chroot-lib.sh - sourced by deb-lifecycle and tests/container/run: a cached
# minimal Debian tree (bookworm by default, or any release the mirror has:
# trixie) made with mmdebstrap, a way to run commands inside it, and an
# interpreter for the subset of Dockerfile instructions our image recipe
# uses (FROM, ARG, ENV, COPY and shell-form RUN are executed; USER, WORKDIR,
# VOLUME, ENTRYPOINT, CMD and HEALTHCHECK are recorded, and later RUNs honour
# USER and WORKDIR as Docker does), so the chroot test executes the recipe's
# own steps and can then start its entry point and health check
# (docker_entrypoint, docker_healthcheck). Nothing here writes outside the chroot, the cache
# directory it is given, or the caller's private mount namespace.
#
# Callers set: ZKH_TOP (repo root), CHROOT (where the tree is unpacked).

say()  { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
fail() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

# Host apt sources for release $1 (default bookworm; one-line .list or
# deb822 .sources files). Other repositories the host may have (vendor
# tools) are left out.
host_sources() {
	local f release=${1:-bookworm}
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		grep -Eq "^[^#]*\\b$release\\b" "$f" && printf '%s\n' "$f"
	done
	return 0
}

# The host's Debian archive (the first non-security URI in its apt
# sources), for a release the host has no sources for; deb.debian.org if
# none is found.
host_mirror() {
	local f uri=""
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		uri=$(sed -n -E -e 's/^URIs:[[:space:]]*([^[:space:]]+).*/\1/p' \
			-e 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f" |
			grep -v -- '-security' | grep '/debian/\?$' | head -n 1) || true
		[[ -n $uri ]] && break
	done
	printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# apt options of the host that the chroot must share to reach the same
# mirror (a snapshot mirror needs Check-Valid-Until false; a proxy).
host_aptopts() {
	local key val
	for key in Acquire::Check-Valid-Until Acquire::Check-Date \
		Acquire::http::Proxy Acquire::https::Proxy; do
		val=$(apt-config dump "$key" | sed -n "s|^$key \"\\(.*\\)\";\$|\\1|p" | head -n 1)
		[[ -n $val ]] && printf '%s "%s";\n' "$key" "$val"
	done
	return 0
}

# Print the path of a cached minbase tarball of release $2 (default
# bookworm) with the packages of the comma-separated list $3 added, building
# it first if needed. The name carries a hash of everything that went into
# it (sources, apt options, mmdebstrap arguments), so a change rebuilds it.
# The apt lists are kept in it so `apt-get install ./x.deb` can resolve
# dependencies. The host's own apt sources for that release are used when
# it has some (its snapshot, its security suite), else its Debian mirror.
chroot_tarball() {
	local cache=$1 release=${2:-bookworm} include=${3:-} srcs opts key tar tmp name
	command -v mmdebstrap >/dev/null || fail "mmdebstrap not found (apt-get install mmdebstrap)"
	mapfile -t srcs < <(host_sources "$release")
	opts=$(host_aptopts)
	local args=(--variant=minbase --skip=cleanup/apt/lists --mode=root)
	[[ -n $include ]] && args+=(--include="$include")
	local aptargs=()
	local line
	while IFS= read -r line; do
		[[ -n $line ]] && aptargs+=(--aptopt="$line")
	done <<<"$opts"
	if [[ ${#srcs[@]} -eq 0 ]]; then
		srcs=("$(host_mirror)")
		key=$(printf '%s\n' "${args[*]}" "$opts" "${srcs[*]}" | sha256sum | cut -c1-16)
	else
		key=$( { printf '%s\n' "${args[*]}" "$opts"; cat "${srcs[@]}"; } | sha256sum | cut -c1-16)
	fi
	name=$release${include:+-plus}-minbase
	tar=$cache/$name-$key.tar
	if [[ ! -s $tar ]]; then
		mkdir -p "$cache"
		tmp=$(mktemp "$cache/.build.XXXXXX.tar")
		info "building the chroot tarball (once): mmdebstrap ${args[*]} $release ${srcs[*]}" >&2
		if ! mmdebstrap "${args[@]}" "${aptargs[@]}" "$release" "$tmp" "${srcs[@]}" >"$tmp.log" 2>&1; then
			tail -n 30 "$tmp.log" >&2
			rm -f "$tmp" "$tmp.log"
			fail "mmdebstrap failed"
		fi
		rm -f "$tmp.log"
		mv "$tmp" "$tar"
		# Old tarballs of other keys are dead weight.
		find "$cache" -maxdepth 1 -name "$name-*.tar" ! -name "${tar##*/}" -delete
	fi
	printf '%s\n' "$tar"
}

# Unpack the tarball $1 into $CHROOT (a fresh tmpfs of at most $2, default
# 2g, in our private mount namespace) and mount /proc and a private
# /dev/pts there. The host's resolv.conf is copied in so apt can reach the
# mirror.
chroot_setup() {
	local tar=$1 size=${2:-2g}
	mkdir -p "$CHROOT"
	mount -t tmpfs -o "size=$size,mode=0755" zkh-debcheck "$CHROOT"
	tar -C "$CHROOT" -xf "$tar"
	mount -t proc proc "$CHROOT/proc"
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$CHROOT/dev/pts"
	rm -f "$CHROOT/etc/resolv.conf"
	cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf"
}

# Variables (ARG/ENV) the Dockerfile set, as NAME=VALUE words.
DOCKER_ENV=()
# The image metadata the Dockerfile recorded: USER (name[:group], "" for
# root), WORKDIR ("" for /), VOLUME paths, ENTRYPOINT and CMD (exec form
# words), HEALTHCHECK command words (CMD-SHELL becomes /bin/sh -c) and its
# options (--interval=... words); DOCKER_HEALTHCHECK_NONE=1 after
# HEALTHCHECK NONE.
DOCKER_USER="" DOCKER_WORKDIR="" DOCKER_HEALTHCHECK_NONE=0
DOCKER_VOLUMES=() DOCKER_ENTRYPOINT=() DOCKER_CMD=()
DOCKER_HEALTHCHECK=() DOCKER_HEALTHCHECK_OPTS=()

# Set CHROOT_ARGV to the command line that runs "$@" inside the chroot
# with a clean, Docker-like environment, in WORKDIR: as root, or with
# --user as the image's USER, the way Docker runs RUN steps after USER, the
# entry point and the health check (that user's uid, its primary group or
# the named one, its supplementary groups, its home directory). Every
# program in it exec()s the next, so a background job of it has the
# command's own pid.
chroot_argv() {
	local as_user=0 user group="" home=/root
	local -a priv=()
	[[ $1 == --user ]] && { as_user=1; shift; }
	if [[ $as_user == 1 && -n $DOCKER_USER ]]; then
		user=${DOCKER_USER%%:*}
		[[ $DOCKER_USER == *:* ]] && group=${DOCKER_USER#*:}
		[[ -n $group ]] || group=$(chroot "$CHROOT" id -gn "$user") ||
			fail "USER $DOCKER_USER: no such user in the image"
		home=$(chroot "$CHROOT" getent passwd "$user" | cut -d: -f6)
		priv=(setpriv --reuid="$user" --regid="$group" --init-groups)
	fi
	CHROOT_ARGV=(chroot "$CHROOT" /usr/bin/env -i -C "${DOCKER_WORKDIR:-/}"
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		HOME="${home:-/}" LC_ALL=C.UTF-8 "${DOCKER_ENV[@]}" "${priv[@]}" "$@")
}

# Run a command inside the chroot as root (in_chroot) or as the image's
# USER (in_chroot_user).
in_chroot() { chroot_argv "$@"; "${CHROOT_ARGV[@]}"; }
in_chroot_user() { chroot_argv --user "$@"; "${CHROOT_ARGV[@]}"; }

# Run a shell snippet inside the chroot, the way Docker's RUN does.
in_chroot_sh() { in_chroot_user /bin/sh -c "$1"; }

# Set JSON_WORDS to the words of the JSON array of strings $1; fail naming
# $2 when $1 is not one.
json_words() {
	mapfile -d '' -t JSON_WORDS < <(python3 -c '
import json, sys
try:
    a = json.loads(sys.argv[1])
except ValueError as e:
    sys.exit("not JSON: %s" % e)
if not isinstance(a, list) or not all(isinstance(w, str) for w in a):
    sys.exit("not a JSON array of strings")
sys.stdout.write("".join(w + "\0" for w in a))' "$1")
	wait $! || fail "$2: $1: the exec form must be a JSON array of strings"
}

# Start the image's entry point (ENTRYPOINT then CMD, exec form) inside
# the chroot as USER, in the background, stdout and stderr to the file $1
# outside the chroot; the pid (the entry point's own, every wrapper
# exec()s) is left in DOCKER_PID.
docker_entrypoint() {
	local log=$1
	[[ ${#DOCKER_ENTRYPOINT[@]} -gt 0 || ${#DOCKER_CMD[@]} -gt 0 ]] ||
		fail "the Dockerfile has no ENTRYPOINT or CMD"
	chroot_argv --user "${DOCKER_ENTRYPOINT[@]}" "${DOCKER_CMD[@]}"
	"${CHROOT_ARGV[@]}" </dev/null >"$log" 2>&1 &
	# shellcheck disable=SC2034 # for the caller
	DOCKER_PID=$!
}

# Run the image's HEALTHCHECK command once inside the chroot as USER;
# return its exit status, its output on stdout.
docker_healthcheck() {
	[[ ${#DOCKER_HEALTHCHECK[@]} -gt 0 ]] || fail "the Dockerfile has no HEALTHCHECK"
	in_chroot_user "${DOCKER_HEALTHCHECK[@]}" </dev/null 2>&1
}

# Execute the Dockerfile $1 with build context $2 inside $CHROOT.
# Instructions this does not understand are an error, so the recipe cannot
# grow a step the test silently skips.
run_dockerfile() {
	local file=$1 context=$2 line inst args logical="" n=0
	local -a steps=()
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ -z $logical && $line =~ ^[[:space:]]*(#|$) ]]; then
			continue
		fi
		# Comment lines inside a continued instruction are dropped, as
		# Docker does.
		[[ -n $logical && $line =~ ^[[:space:]]*# ]] && continue
		if [[ $line =~ \\[[:space:]]*$ ]]; then
			logical+="${line%\\*} "
			continue
		fi
		logical+=$line
		steps+=("$logical")
		logical=""
	done <"$file"
	[[ -z $logical ]] || fail "$file: last instruction ends with a backslash"

	local step
	for step in "${steps[@]}"; do
		n=$((n + 1))
		step=${step#"${step%%[![:space:]]*}"}
		inst=${step%%[[:space:]]*}
		args=${step#"$inst"}
		args=${args#"${args%%[![:space:]]*}"}
		inst=${inst^^}
		info "Dockerfile step $n: $inst $args"
		case $inst in
		FROM)
			[[ $args == debian:bookworm || $args == debian:bookworm-slim ]] ||
				fail "$file: FROM $args: the chroot test only provides debian:bookworm"
			[[ ${CHROOT_RELEASE:-bookworm} == bookworm ]] ||
				info "(the recipe's steps run on $CHROOT_RELEASE here: the same image one release later)"
			;;
		ARG | ENV)
			[[ $args =~ ^[A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*$ ]] ||
				fail "$file: $inst $args: only the NAME=VALUE form is supported here"
			DOCKER_ENV+=("$args")
			;;
		COPY)
			local -a words=()
			read -r -a words <<<"$args"
			[[ ${#words[@]} -ge 2 && ${words[0]} != --* && ${words[0]} != \[* ]] ||
				fail "$file: COPY $args: only 'COPY SRC... DEST' is supported here"
			local dest=${words[-1]} src found
			unset 'words[-1]'
			[[ $dest == /*/ ]] || fail "$file: COPY destination must be an absolute directory ending in /"
			mkdir -p "$CHROOT$dest"
			for src in "${words[@]}"; do
				found=0
				for f in "$context"/$src; do
					[[ -e $f ]] || continue
					cp -a "$f" "$CHROOT$dest"
					found=1
				done
				[[ $found == 1 ]] || fail "$file: COPY $src: nothing in $context matches"
			done
			;;
		RUN)
			[[ $args != \[* ]] || fail "$file: RUN in exec form is not supported here"
			in_chroot_sh "$args" || fail "$file: step $n (RUN) failed"
			;;
		USER)
			[[ $args =~ ^[A-Za-z_][A-Za-z0-9_-]*(:[A-Za-z_][A-Za-z0-9_-]*)?$ ]] ||
				fail "$file: USER $args: only USER name[:group] is supported here"
			in_chroot getent passwd "${args%%:*}" >/dev/null ||
				fail "$file: USER $args: no such user in the image at this step"
			DOCKER_USER=$args
			;;
		WORKDIR)
			[[ $args == /* && $args != *[[:space:]]* ]] ||
				fail "$file: WORKDIR $args: only an absolute path is supported here"
			mkdir -p "$CHROOT$args"
			DOCKER_WORKDIR=$args
			;;
		VOLUME)
			local -a vols=()
			if [[ $args == \[* ]]; then
				json_words "$args" "$file: VOLUME"
				vols=("${JSON_WORDS[@]}")
			else
				read -r -a vols <<<"$args"
			fi
			local v
			for v in "${vols[@]}"; do
				[[ $v == /* ]] || fail "$file: VOLUME $v is not an absolute path"
				DOCKER_VOLUMES+=("$v")
			done
			;;
		ENTRYPOINT | CMD)
			[[ $args == \[* ]] ||
				fail "$file: $inst in shell form is not supported here (signals would go to /bin/sh)"
			json_words "$args" "$file: $inst"
			local -a argv=("${JSON_WORDS[@]}")
			if [[ $inst == ENTRYPOINT ]]; then
				[[ ${#argv[@]} -gt 0 ]] || fail "$file: ENTRYPOINT []"
				DOCKER_ENTRYPOINT=("${argv[@]}")
			else
				DOCKER_CMD=("${argv[@]}")
			fi
			;;
		HEALTHCHECK)
			# shellcheck disable=SC2034 # for the caller
			DOCKER_HEALTHCHECK=() DOCKER_HEALTHCHECK_OPTS=() DOCKER_HEALTHCHECK_NONE=0
			if [[ $args == NONE ]]; then
				# shellcheck disable=SC2034 # for the caller
				DOCKER_HEALTHCHECK_NONE=1
				continue
			fi
			while [[ $args =~ ^(--(interval|timeout|start-period|start-interval|retries)=[0-9a-z.]+)[[:space:]]+(.*)$ ]]; do
				DOCKER_HEALTHCHECK_OPTS+=("${BASH_REMATCH[1]}")
				args=${BASH_REMATCH[3]}
			done
			[[ $args =~ ^CMD[[:space:]]+(.+)$ ]] ||
				fail "$file: HEALTHCHECK: expected [--option=VALUE...] CMD ..., got '$args'"
			args=${BASH_REMATCH[1]}
			if [[ $args == \[* ]]; then
				json_words "$args" "$file: HEALTHCHECK"
				DOCKER_HEALTHCHECK=("${JSON_WORDS[@]}")
				[[ ${#DOCKER_HEALTHCHECK[@]} -gt 0 ]] || fail "$file: HEALTHCHECK CMD []"
			else
				DOCKER_HEALTHCHECK=(/bin/sh -c "$args")
			fi
			;;
		LABEL | EXPOSE | STOPSIGNAL)
			info "(image metadata; nothing to do in a chroot)"
			;;
		*)
			fail "$file: instruction $inst is not supported by the chroot test; extend run_dockerfile"
			;;
		esac
	done
}
