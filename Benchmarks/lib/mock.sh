# Shared by the benchmarks that run against the nginx mock (shared/bench/nginx-mock.conf) and
# LangChain LCEL (shared/bench/lcel_pipeline.py): one way to install, start and stop them.
# Source it from a run.sh that has `set -euo pipefail`, `say` and `die`, and has set $shared
# (the folder holding bench/). It defines:
#   mock_port, mock_base             127.0.0.1:18431 and its OpenAI-compatible /v1 URL
#   lcel_venv                        the venv with LangChain, pinned
#   mock_require_files               dies unless shared/bench has the mock and the LCEL pipeline
#   mock_ensure_nginx                installs nginx-light with apt-get when missing (as root)
#   mock_ensure_lcel                 creates the LangChain venv when missing
#   mock_start                       starts the mock, waits until it answers, stops it on EXIT
mock_port=18431
mock_base="http://127.0.0.1:$mock_port/v1"
lcel_venv="${XDG_CACHE_HOME:-$HOME/.cache}/sluice/bench/venv"

mock_require_files() {
  [ -f "$shared/bench/nginx-mock.conf" ] && [ -f "$shared/bench/lcel_pipeline.py" ] \
    || die "no $shared/bench/{nginx-mock.conf,lcel_pipeline.py} (set SLUICE_SHARED to the folder holding bench/)"
}

mock_ensure_nginx() {
  if ! command -v nginx >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing nginx-light"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
    else
      die "nginx is not installed (apt-get install nginx-light)"
    fi
  fi
  command -v nginx >/dev/null 2>&1 || die "nginx is still missing"
}

mock_ensure_lcel() {
  if ! "$lcel_venv/bin/python" -c "import langchain_core, langchain_openai" >/dev/null 2>&1; then
    say "installing langchain-core and langchain-openai into $lcel_venv"
    python3 -m venv "$lcel_venv"
    "$lcel_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "langchain-core==1.8.3" "langchain-openai==1.7.4" || die "pip could not install LangChain"
  fi
}

mock_start() {
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$mock_port/" 2>/dev/null; then
    die "something already listens on 127.0.0.1:$mock_port; stop it first"
  fi
  mock_prefix="$(mktemp -d)"
  mkdir -p "$mock_prefix/logs"
  nginx -p "$mock_prefix" -c "$shared/bench/nginx-mock.conf" &
  mock_pid=$!
  trap mock_stop EXIT
  for _ in $(seq 1 40); do
    curl -s -o /dev/null -X POST "$mock_base/chat/completions" 2>/dev/null && break
    sleep 0.25
  done
  curl -s -f -o /dev/null -X POST "$mock_base/chat/completions" || die "the nginx mock does not answer on $mock_base"
  say "mock up on $mock_base (nginx pid $mock_pid)"
}

mock_stop() {
  kill "$mock_pid" 2>/dev/null || true
  wait "$mock_pid" 2>/dev/null || true
  rm -rf "$mock_prefix"
}
