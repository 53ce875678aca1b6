#!/usr/bin/env bash
# Regenerates Sources/SluiceTokenizers/Resources/<encoding>.ranks, the compiled tables the
# tokenizers map at start-up, from tiktoken's rank files beside them (each checked against its
# published SHA-256 first). The same test, run without SLUICE_UPDATE_GOLDENS, fails when a
# compiled table is stale.
#
#   Benchmarks/tokenizer/make-rank-tables.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build --build-tests
SLUICE_UPDATE_GOLDENS=1 swift test --skip-build --disable-swift-testing \
  --filter 'TokenizerTests/testShippedCompiledTablesAreTheRankFilesCompiled'
ls -l Sources/SluiceTokenizers/Resources/*.ranks
