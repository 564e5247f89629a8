#!/bin/sh
# __NAME__: a JobCenter exec job. The host runs it as a child process in the bundle's folder; everything printed
# goes to the run's log and a non-zero exit status fails the run. It receives, among others:
#   JOBCENTER_RUN_ID       the run's UUID
#   JOBCENTER_PARAMS       the job's params as JSON
#   JOBCENTER_CONFIG_FILE  a JSON file: { runId, job, params, config: { key: value, ... }, scheduledAt, attempt }
#   JOBCENTER_CONFIG_<KEY> each config value (db.url -> JOBCENTER_CONFIG_DB_URL)
set -eu

# The string value of "$1" in the JSON text on stdin, or "$2". Plain sh tools only (no jq): fine for simple values.
json_value() {
  value=$(tr -d '\n' | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p")
  if [ -n "$value" ]; then printf '%s\n' "$value"; else printf '%s\n' "$2"; fi
}

name=$(printf '%s' "${JOBCENTER_PARAMS:-null}" | json_value name World)
greeting=Hello
if [ -n "${JOBCENTER_CONFIG_FILE:-}" ] && [ -r "$JOBCENTER_CONFIG_FILE" ]; then
  greeting=$(json_value greeting Hello < "$JOBCENTER_CONFIG_FILE")
fi
echo "run ${JOBCENTER_RUN_ID:-(no run id)}"
echo "$greeting, $name!"
