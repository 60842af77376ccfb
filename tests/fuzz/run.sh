#!/usr/bin/env bash
# Runs each cargo-fuzz target for a bounded time (FUZZ_SECONDS each, default 20), starting from the
# committed seeds, and fails if any input crashes one (the input is then in
# tests/fuzz/artifacts/TARGET/). Coverage instrumentation without a sanitizer, so the machine's
# stable toolchain builds it (RUSTC_BOOTSTRAP lets cargo-fuzz pass its flags). Run by scripts/test;
# longer runs: FUZZ_SECONDS=600 tests/fuzz/run.sh markdown. FUZZ_BUILD_ONLY=1 stops after the build.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${FUZZ_SECONDS:-20}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(markdown frames rules)
say() { printf '==> fuzz: %s\n' "$*"; }
VERSION=${CARGO_FUZZ_VERSION:-0.13.2}
if ! cargo fuzz --version 2>/dev/null | grep -qF "$VERSION"; then
  say "installing cargo-fuzz $VERSION from crates.io"
  cargo install cargo-fuzz --locked --debug --version "$VERSION"
fi
export RUSTC_BOOTSTRAP=1
say "building the targets"
cargo fuzz build --fuzz-dir . -s none
# scripts/test builds them early, beside the main build, and runs them later.
if [ "${FUZZ_BUILD_ONLY:-}" = 1 ]; then exit 0; fi
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  say "$t for ${SECONDS_EACH}s"
  cargo fuzz run --fuzz-dir . -s none "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|==|SUMMARY|thread|panicked|Crash|artifact_prefix)" || true
  # cargo fuzz exits non-zero on a crash; grep above hides that, so look for the artifact.
  if compgen -G "artifacts/$t/crash-*" >/dev/null; then
    say "$t CRASHED: see tests/fuzz/artifacts/$t/"
    exit 1
  fi
done
say "no target crashed"
