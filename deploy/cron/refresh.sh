#!/usr/bin/env bash
# Runs `leadsinstruct refresh` once; meant to be started by cron (see leadsinstruct.crontab).
#
# Configuration comes from an env file, default /etc/leadsinstruct/refresh.env (another one:
# LEADSINSTRUCT_ENV_FILE=/path). The file is read by bash, one VAR=value per line:
#
#   LEADSINSTRUCT_ROOT=gs://bucket/leads       output root, local directory or gs:// (required)
#   LEADSINSTRUCT_BIN=/opt/leadsinstruct/.venv/bin/leadsinstruct   (default: leadsinstruct on PATH)
#   LEADSINSTRUCT_LOG_DIR=/var/log/leadsinstruct                    (default)
#   LEADSINSTRUCT_LOCK_FILE=/var/log/leadsinstruct/refresh.lock     (default: <log dir>/refresh.lock)
#   LEADSINSTRUCT_ARGS="--email ops@example.org --tool leadsinstruct"
#   LEADSINSTRUCT_ARGS=(--pubmed_query 'systematic review[pt] AND english[la]' --runner FnApiRunner)
#   NCBI_API_KEY=...                           optional; the file must then be private (chmod 600)
#
# LEADSINSTRUCT_ARGS as a string is split at whitespace; use the array form when a value
# contains spaces. Exit status: that of `leadsinstruct refresh`; 2 for a configuration error;
# 0 without running when the previous refresh still holds the lock.
#
# Output of the refresh goes to <log dir>/refresh-YYYY-MM-DD.log (UTC day), each line prefixed
# with a UTC timestamp; the value of NCBI_API_KEY is replaced by *** in every logged line.
set -euo pipefail

die() {
  printf 'refresh.sh: %s\n' "$1" >&2
  exit 2
}

env_file="${LEADSINSTRUCT_ENV_FILE:-/etc/leadsinstruct/refresh.env}"
[[ -f "$env_file" && -r "$env_file" ]] || die "cannot read env file $env_file"

file_mode() {
  stat -c '%a' "$1" 2>/dev/null || stat -f '%Lp' "$1"
}

mode="$(file_mode "$env_file")"
if (( 8#$mode & 8#022 )); then
  die "$env_file is writable by group or others (mode $mode); it is run as shell code: chmod go-w $env_file"
fi
if grep -Eq '^[[:space:]]*(export[[:space:]]+)?NCBI_API_KEY=' "$env_file" && (( 8#$mode & 8#044 )); then
  die "$env_file holds NCBI_API_KEY but is readable by group or others (mode $mode): chmod 600 $env_file"
fi

set -a
# shellcheck source=/dev/null
. "$env_file"
set +a

[[ -n "${LEADSINSTRUCT_ROOT:-}" ]] || die "LEADSINSTRUCT_ROOT is not set in $env_file"
bin="${LEADSINSTRUCT_BIN:-leadsinstruct}"
command -v "$bin" >/dev/null 2>&1 || die "LEADSINSTRUCT_BIN=$bin is not an executable (cron's PATH is short: give the full path)"
log_dir="${LEADSINSTRUCT_LOG_DIR:-/var/log/leadsinstruct}"
lock_file="${LEADSINSTRUCT_LOCK_FILE:-$log_dir/refresh.lock}"

args=()
if [[ "$(declare -p LEADSINSTRUCT_ARGS 2>/dev/null)" == "declare -a"* ]]; then
  args=("${LEADSINSTRUCT_ARGS[@]}")
elif [[ -n "${LEADSINSTRUCT_ARGS:-}" ]]; then
  read -r -a args <<< "$LEADSINSTRUCT_ARGS"
fi
for arg in "${args[@]}"; do
  if [[ "$arg" == --*api_key || "$arg" == --*api_key=* ]]; then
    die "LEADSINSTRUCT_ARGS must not carry the api key ($arg); set NCBI_API_KEY in $env_file"
  fi
done

umask 027
mkdir -p "$log_dir" "$(dirname "$lock_file")"
log_file="$log_dir/refresh-$(date -u +%F).log"
key="${NCBI_API_KEY:-}"

# Prefixes each line with a UTC timestamp and hides the api key.
stamp() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ -z "$key" ]] || line="${line//"$key"/***}"
    TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T %s\n' -1 "$line"
  done
}

exec 9>>"$lock_file"
if ! flock -n 9; then
  echo "previous refresh still running (lock $lock_file held); not starting another" | stamp | tee -a "$log_file"
  exit 0
fi

cmd=("$bin" refresh --root "$LEADSINSTRUCT_ROOT" "${args[@]}")
printf '%q ' "${cmd[@]}" | sed 's/ $//; s/^/start: /' | stamp >> "$log_file"
set +e
"${cmd[@]}" 2>&1 | stamp >> "$log_file"
rc=${PIPESTATUS[0]}
set -e
if (( rc == 0 )); then
  echo "done: exit 0" | stamp >> "$log_file"
else
  echo "failed: exit $rc (log: $log_file)" | stamp | tee -a "$log_file" >&2
fi
exit "$rc"
