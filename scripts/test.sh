#!/usr/bin/env bash
# Runs every test (unit, then integration against real local services) after setting up what they need.
# Exits non-zero if a test fails or if any service process a test started is still running afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/scripts/bootstrap.sh"
dotnet build Ingest.sln -c Release -nologo -v quiet -clp:ErrorsOnly

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
# Everything the tests create (stacks, logs, chDB data) goes under this run's own temporary directory.
export TMPDIR=$results/tmp
mkdir -p "$TMPDIR"
status=0
for project in tests/Ingest.Pipeline.Tests tests/Ingest.Worker.Tests tests/Ingest.IntegrationTests; do
  echo "== $project"
  dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=normal" \
    --logger "trx;LogFileName=$(basename "$project").trx" --results-directory "$results" 2>&1 | tee -a "$results/console.log" || status=1
done

# Every service a test starts runs with its working directory under the run's TMPDIR (stack directories,
# worker logs); none may outlive the tests.
leftover=""
for cwd in /proc/[0-9]*/cwd; do
  dir=$(readlink "$cwd" 2>/dev/null) || continue
  case "$dir" in "$TMPDIR"/*) pid=${cwd#/proc/}; pid=${pid%/cwd}; leftover+="$(tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null)"$'\n'; kill -9 "$pid" 2>/dev/null || true ;; esac
done
if [ -n "$leftover" ]; then
  echo "FAIL: processes started by tests were still running (now killed):" >&2
  echo "$leftover" >&2
  status=1
fi

# One plain closing line over both projects, counted from the TRX results.
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  line=$(grep -o '<Counters [^>]*>' "$trx")
  p=$(echo "$line" | sed -E 's/.* passed="([0-9]+)".*/\1/'); f=$(echo "$line" | sed -E 's/.* failed="([0-9]+)".*/\1/')
  t=$(echo "$line" | sed -E 's/.* total="([0-9]+)".*/\1/'); e=$(echo "$line" | sed -E 's/.* executed="([0-9]+)".*/\1/')
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + t - e))
done
[ "$passed" -gt 0 ] || status=1
# A failure's report scrolls far up behind the later tests' output; repeat each one (head of its message, stack and
# output) and then their names, so the last lines of a run say what failed.
if [ "$failed" -gt 0 ]; then
  echo "== failed tests, again"
  awk '/^  Failed [A-Za-z]/ { n = 40 } /^  (Passed|Skipped) [A-Za-z]/ { n = 0 } n > 0 && !/^(%[0-7]\||\[xUnit\.net)/ { print; n-- }' "$results/console.log"
  grep -E '^  Failed [A-Za-z]' "$results/console.log" | sed 's/^  Failed /FAILED: /'
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
