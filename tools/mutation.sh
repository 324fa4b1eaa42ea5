#!/usr/bin/env bash
# make mutation: cosmic-ray over the protocol core and the ending of a task, in a copy of the
# committed tree under .mutation/tree (mutants are written in place there, never in the working
# tree), the tests run by the main venv's Python from that copy. The session is kept in
# .mutation/session.sqlite: a run that is stopped resumes where it was (MUTATION_FRESH=1 starts
# over: needed after the code changed, or to change the modules or tests). Narrow a run with
# MUTATION_MODULES and MUTATION_TESTS (space-separated paths).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/.mutation"
modules=${MUTATION_MODULES:-craft_airflow/protocol craft_airflow/ending.py craft_airflow/outputs.py craft_airflow/finishing.py}
tests=${MUTATION_TESTS:-tests/protocol tests/test_ending.py tests/test_outputs.py tests/test_finishing.py tests/integration/test_ending_failures.py}
session="$work/session.sqlite"

mkdir -p "$work"
# A fresh copy every run: a run stopped in the middle of a mutant leaves its copy mutated.
rm -rf "$work/tree"
mkdir -p "$work/tree"
git -C "$root" archive HEAD | tar -x -C "$work/tree"
if [ -n "${MUTATION_FRESH:-}" ] || [ ! -f "$session" ]; then
  rm -f "$session"
  paths=$(printf '"%s", ' $modules)
  cat > "$work/config.toml" <<TOML
[cosmic-ray]
module-path = [${paths%, }]
timeout = 900.0
excluded-modules = []
test-command = "$root/.venv/bin/python -m pytest -x -q -p no:cacheprovider $tests"

[cosmic-ray.distributor]
name = "local"
TOML
  (cd "$work/tree" && "$root/.venv-mutation/bin/cosmic-ray" init "$work/config.toml" "$session")
fi
cd "$work/tree"
"$root/.venv-mutation/bin/cosmic-ray" exec "$work/config.toml" "$session"
"$root/.venv-mutation/bin/cr-report" "$session" | tail -n 3
