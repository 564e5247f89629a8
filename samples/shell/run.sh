#!/bin/sh
# The shell sample: an exec job. The host runs it in the bundle's folder and passes, among others,
#   JOBCENTER_RUN_ID       the run's UUID
#   JOBCENTER_PARAMS       the job's params as JSON
#   JOBCENTER_CONFIG_FILE  a JSON file: { runId, job, params, config: { key: value, ... }, scheduledAt, attempt }
#   JOBCENTER_CONFIG_<KEY> each config value (db.url -> JOBCENTER_CONFIG_DB_URL)
# Everything printed goes to the run's log; a non-zero exit status fails the run.
set -eu

# Prints the string value of config key $1 from JOBCENTER_CONFIG_FILE, or $2 when it is absent.
# Plain sh tools only (no jq): enough for simple keys whose values hold no escaped quotes.
config_value() {
  file="${JOBCENTER_CONFIG_FILE:-}"
  value=""
  if [ -n "$file" ] && [ -r "$file" ]; then
    value=$(tr -d '\n' < "$file" | sed -n "s/.*\"config\"[[:space:]]*:[[:space:]]*{[^}]*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p")
  fi
  if [ -n "$value" ]; then printf '%s\n' "$value"; else printf '%s\n' "$2"; fi
}

echo "run id: ${JOBCENTER_RUN_ID:-<not set>}"
echo "params: ${JOBCENTER_PARAMS:-null}"
target=$(config_value target .)
echo "config target: $target"
echo "disk usage of $target (KiB):"
du -sk "$target" 2>/dev/null || echo "(some entries could not be read)"
df -k "$target" | tail -n 1
echo "done"
