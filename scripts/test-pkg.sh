#!/usr/bin/env bash
# Build one package (and what it references) and run only its tests: scripts/test-pkg.sh packages/models [mocha args]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/test-pkg.sh <package dir> [mocha args]}; shift
npx tsc -b "$dir"
exec npx mocha --no-config --require ./test/setup.js --timeout 300000 "$dir/dist/test/**/*.test.js" "$@"
