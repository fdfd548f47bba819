#!/usr/bin/env bash
# tools/lib/services.sh: starts the services listed in tools/lib/services.txt from a build tree,
# waits for their /readyz, and stops them all cleanly (SIGTERM, grace, then SIGKILL).
# Used by tools/run (after set-up) and directly by ctest; depends on common.sh, bash's /dev/tcp.
#
# Usage: tools/lib/services.sh run                     start, print URLs, follow logs until Ctrl-C
#        tools/lib/services.sh check [--skip-if-none]  start, wait ready, probe, stop, print OK
#        tools/lib/services.sh list                    the services and whether each is built
# Environment:
#   PARLEY_BUILD_DIR       build tree holding the binaries (default: build)
#   PARLEY_SERVICES_FILE   the list (default: tools/lib/services.txt)
#   PARLEY_PORT_OFFSET     added to every port of the list (default 0; tests use their own)
#   PARLEY_RUN_DIR         where each service's log goes (default: <build>/run)
#   PARLEY_READY_TIMEOUT   seconds to wait for every /readyz to answer 200 (default 120)
#   PARLEY_STOP_GRACE      seconds between SIGTERM and SIGKILL (default 15)
#   PARLEY_RUN_ASR_MODEL   the ASR's Whisper folder, {asr_model} in the list (default: empty = the
#                          ASR's own default, whisper-tiny-en)
#   PARLEY_RUN_LM_MODEL    the LM's GGUF file, {lm_model} in the list (default: empty = the LM's
#                          own default, SmolLM2); tools/run --lm qwen sets it
#   PARLEY_RUN_NLU_ENCODER the NLU's encoder folder, {nlu_encoder} in the list (default: empty = the
#                          NLU's own default, all-MiniLM-L6-v2); tools/run --nlu-encoder mpnet sets it
# Exit: 0 fine; 1 a service failed to start, get ready or stop cleanly; 77 (check --skip-if-none)
# when no listed service is built.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SERVICES_FILE="${PARLEY_SERVICES_FILE:-$PARLEY_ROOT/tools/lib/services.txt}"
BUILD_DIR="$(parley_build_dir)"
BUILD_SHOWN="${PARLEY_BUILD_DIR:-build}"  # as the user would type it, for printed commands
OFFSET="${PARLEY_PORT_OFFSET:-0}"
RUN_DIR="${PARLEY_RUN_DIR:-$BUILD_DIR/run}"
READY_TIMEOUT="${PARLEY_READY_TIMEOUT:-120}"
STOP_GRACE="${PARLEY_STOP_GRACE:-15}"
LM_MODEL="${PARLEY_RUN_LM_MODEL:-}"
ASR_MODEL="${PARLEY_RUN_ASR_MODEL:-}"
NLU_ENCODER="${PARLEY_RUN_NLU_ENCODER:-}"
# These steer this script only; the services must not inherit them (their config reads PARLEY_*).
export -n PARLEY_SERVICES_FILE PARLEY_PORT_OFFSET PARLEY_RUN_DIR PARLEY_READY_TIMEOUT PARLEY_STOP_GRACE \
  PARLEY_RUN_LM_MODEL PARLEY_RUN_ASR_MODEL PARLEY_RUN_NLU_ENCODER

# The list, as parsed.
SVC_NAMES=() SVC_BINS=() SVC_PORTS=() SVC_ARGS=()
NOTE_KINDS=() NOTE_NAMES=() NOTE_TEXTS=()
# What was started (parallel arrays).
RUN_NAMES=() RUN_PIDS=() RUN_PORTS=() RUN_LOGS=() RUN_CODES=()
TAIL_PID=""
STOPPED=0

usage() { parley_usage "${BASH_SOURCE[0]}"; }

# Replaces {port:N}, {http_port}, {build}, {lm_model}, {asr_model} and {nlu_encoder} in $1 ($2: the HTTP port after
# the offset).
expand() {
  local text="$1" http_port="${2:-}" n
  while [[ "$text" =~ \{port:([0-9]+)\} ]]; do
    n="${BASH_REMATCH[1]}"
    text="${text//"${BASH_REMATCH[0]}"/$((10#$n + OFFSET))}"
  done
  text="${text//\{http_port\}/$http_port}"
  text="${text//\{build\}/$BUILD_SHOWN}"
  text="${text//\{lm_model\}/$LM_MODEL}"
  text="${text//\{asr_model\}/$ASR_MODEL}"
  text="${text//\{nlu_encoder\}/$NLU_ENCODER}"
  printf '%s' "$text"
}

load_list() {
  [[ -f "$SERVICES_FILE" ]] || parley_die "no services list at $SERVICES_FILE"
  [[ "$OFFSET" =~ ^[0-9]+$ ]] || parley_die "PARLEY_PORT_OFFSET must be a number, got '$OFFSET'"
  [[ "$STOP_GRACE" =~ ^[0-9]+$ ]] || parley_die "PARLEY_STOP_GRACE must be whole seconds, got '$STOP_GRACE'"
  [[ "$READY_TIMEOUT" =~ ^[0-9]+$ ]] || parley_die "PARLEY_READY_TIMEOUT must be whole seconds, got '$READY_TIMEOUT'"
  local line kind name rest bin port args lineno=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    read -r kind name rest <<<"$line"
    case "$kind" in
      service)
        read -r bin port args <<<"$rest"
        [[ -n "$name" && -n "${bin:-}" && "${port:-}" =~ ^[0-9]+$ ]] ||
          parley_die "$SERVICES_FILE:$lineno: expected 'service NAME BINARY HTTP_PORT ARGS...'"
        SVC_NAMES+=("$name") SVC_BINS+=("$bin") SVC_PORTS+=("$((10#$port + OFFSET))")
        SVC_ARGS+=("${args:-}")
        ;;
      url | try)
        [[ -n "$name" && -n "$rest" ]] || parley_die "$SERVICES_FILE:$lineno: expected '$kind NAME TEXT...'"
        NOTE_KINDS+=("$kind") NOTE_NAMES+=("$name") NOTE_TEXTS+=("$rest")
        ;;
      *) parley_die "$SERVICES_FILE:$lineno: unknown record '$kind' (service, url or try)" ;;
    esac
  done <"$SERVICES_FILE"
}

# Milliseconds since the epoch (EPOCHREALTIME's separator depends on the locale).
now_ms() {
  local us="${EPOCHREALTIME//[^0-9]/}"
  echo $((10#$us / 1000))
}

# True while PID runs (a zombie does not count).
is_running() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo X)"
  [[ "$state" != "Z" && "$state" != "X" ]]
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the HTTP status code of GET http://127.0.0.1:PORT/PATH, or 000 when there is no answer.
# Plain bash (/dev/tcp): curl is not guaranteed on a fresh machine.
http_status() {
  local port="$1" path="$2" fd line=""
  if exec {fd}<>"/dev/tcp/127.0.0.1/$port"; then
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&"$fd" || true
    IFS= read -r -t 5 line <&"$fd" || true
    exec {fd}>&-
  fi
  if [[ "$line" =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]]; then echo "${BASH_REMATCH[1]}"; else echo 000; fi
} 2>/dev/null

show_log() {  # NAME LOG
  parley_say "last lines of $1's log ($2):"
  tail -n 30 "$2" 2>/dev/null | sed 's/^/    /' || true
}

start_all() {
  mkdir -p "$RUN_DIR"
  local i name bin port argv log
  for i in "${!SVC_NAMES[@]}"; do
    name="${SVC_NAMES[$i]}" bin="$BUILD_DIR/${SVC_BINS[$i]}" port="${SVC_PORTS[$i]}"
    if [[ ! -x "$bin" ]]; then
      parley_say "skip $name: $bin is not built"
      continue
    fi
    if port_in_use "$port"; then
      parley_die "port $port for $name is already in use (another tools/run? set PARLEY_PORT_OFFSET)"
    fi
    read -r -a argv <<<"$(expand "${SVC_ARGS[$i]}" "$port")"
    log="$RUN_DIR/$name.log"
    : >"$log"
    "$bin" "${argv[@]}" </dev/null >>"$log" 2>&1 &
    RUN_NAMES+=("$name") RUN_PIDS+=("$!") RUN_PORTS+=("$port") RUN_LOGS+=("$log") RUN_CODES+=("")
    parley_say "started $name (pid $!): ${SVC_BINS[$i]} ${argv[*]}"
  done
}

# Waits until every started service answers 200 on /readyz; fails early when one exits.
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) i code
  local -A ready=() last=()
  while ((${#ready[@]} < ${#RUN_NAMES[@]})); do
    for i in "${!RUN_NAMES[@]}"; do
      [[ -n "${ready[$i]:-}" ]] && continue
      if ! is_running "${RUN_PIDS[$i]}"; then
        code=0
        wait "${RUN_PIDS[$i]}" 2>/dev/null || code=$?
        RUN_CODES[i]="$code"
        parley_warn "${RUN_NAMES[$i]} exited (code $code) before it was ready"
        show_log "${RUN_NAMES[$i]}" "${RUN_LOGS[$i]}"
        return 1
      fi
      code="$(http_status "${RUN_PORTS[$i]}" /readyz)"
      last[$i]="$code"
      if [[ "$code" == "200" ]]; then
        ready[$i]=1
        parley_say "${RUN_NAMES[$i]} ready: http://127.0.0.1:${RUN_PORTS[$i]}/readyz"
      fi
    done
    ((${#ready[@]} < ${#RUN_NAMES[@]})) || break
    if ((SECONDS >= deadline)); then
      for i in "${!RUN_NAMES[@]}"; do
        [[ -n "${ready[$i]:-}" ]] && continue
        parley_warn "${RUN_NAMES[$i]} not ready after ${READY_TIMEOUT}s (last /readyz: ${last[$i]:-none}; 000 = no answer)"
        show_log "${RUN_NAMES[$i]}" "${RUN_LOGS[$i]}"
      done
      return 1
    fi
    sleep 0.1
  done
}

# SIGTERM to all, up to STOP_GRACE seconds to exit, then SIGKILL. Returns 1 when any needed
# SIGKILL or exited non-zero after SIGTERM (a service must drain and exit 0).
stop_all() {
  ((STOPPED == 0)) || return 0
  STOPPED=1
  [[ -n "$TAIL_PID" ]] && { kill "$TAIL_PID" 2>/dev/null || true; wait "$TAIL_PID" 2>/dev/null || true; }
  ((${#RUN_PIDS[@]} > 0)) || return 0
  local i pid code clean=0 deadline
  for i in "${!RUN_PIDS[@]}"; do
    if [[ -z "${RUN_CODES[$i]}" ]]; then kill -TERM "${RUN_PIDS[$i]}" 2>/dev/null || true; fi
  done
  deadline=$(($(now_ms) + STOP_GRACE * 1000))
  for i in "${!RUN_PIDS[@]}"; do
    pid="${RUN_PIDS[$i]}"
    while is_running "$pid" && (($(now_ms) < deadline)); do
      sleep 0.1
    done
    if is_running "$pid"; then
      parley_warn "${RUN_NAMES[$i]} did not stop within ${STOP_GRACE}s of SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      clean=1
    fi
    if [[ -z "${RUN_CODES[$i]}" ]]; then
      code=0
      wait "$pid" 2>/dev/null || code=$?
      RUN_CODES[i]="$code"
      if [[ "$code" == "0" ]]; then
        parley_say "stopped ${RUN_NAMES[$i]} (exit 0)"
      else
        parley_warn "${RUN_NAMES[$i]} exited with code $code after SIGTERM (expected 0)"
        show_log "${RUN_NAMES[$i]}" "${RUN_LOGS[$i]}"
        clean=1
      fi
    fi
  done
  return "$clean"
}

print_notes() {  # prints the url and try records of the started services
  local i j name shown=0
  for i in "${!RUN_NAMES[@]}"; do
    name="${RUN_NAMES[$i]}"
    printf '    %-10s metrics  http://127.0.0.1:%s/metrics   log %s\n' "$name" "${RUN_PORTS[$i]}" "${RUN_LOGS[$i]}"
    for j in "${!NOTE_NAMES[@]}"; do
      [[ "${NOTE_NAMES[$j]}" == "$name" && "${NOTE_KINDS[$j]}" == "url" ]] &&
        printf '    %-10s %s\n' "" "$(expand "${NOTE_TEXTS[$j]}" "${RUN_PORTS[$i]}")"
    done
  done
  for i in "${!RUN_NAMES[@]}"; do
    for j in "${!NOTE_NAMES[@]}"; do
      if [[ "${NOTE_NAMES[$j]}" == "${RUN_NAMES[$i]}" && "${NOTE_KINDS[$j]}" == "try" ]]; then
        ((shown++ == 0)) && parley_say "try:"
        printf '    %s\n' "$(expand "${NOTE_TEXTS[$j]}" "${RUN_PORTS[$i]}")"
      fi
    done
  done
  if ((${#RUN_NAMES[@]} > 0)); then
    ((shown++ == 0)) && parley_say "try:"
    printf '    curl -s http://127.0.0.1:%s/metrics | grep ^parley_\n' "${RUN_PORTS[0]}"
  fi
}

cmd_list() {
  local i bin
  for i in "${!SVC_NAMES[@]}"; do
    bin="$BUILD_DIR/${SVC_BINS[$i]}"
    printf '%-10s %-8s http %-5s %s\n' "${SVC_NAMES[$i]}" "$([[ -x "$bin" ]] && echo built || echo missing)" \
      "${SVC_PORTS[$i]}" "$bin"
  done
}

cmd_check() {
  local skip_if_none=0
  [[ "${1:-}" == "--skip-if-none" ]] && skip_if_none=1
  trap 'stop_all || true' EXIT
  trap 'exit 130' INT TERM
  start_all
  if ((${#RUN_NAMES[@]} == 0)); then
    if ((skip_if_none)); then
      parley_say "SKIP: no service in $SERVICES_FILE is built in $BUILD_DIR"
      exit 77
    fi
    parley_die "no service in $SERVICES_FILE is built in $BUILD_DIR (run tools/setup)"
  fi
  wait_ready || parley_die "check failed: not every service became ready"
  local i code
  for i in "${!RUN_NAMES[@]}"; do
    for path in /healthz /metrics; do
      code="$(http_status "${RUN_PORTS[$i]}" "$path")"
      [[ "$code" == "200" ]] || parley_die "check failed: ${RUN_NAMES[$i]} answered $code on $path"
    done
  done
  trap - EXIT
  stop_all || parley_die "check failed: not every service stopped cleanly"
  parley_say "OK: ${RUN_NAMES[*]} started, ready (/readyz, /healthz, /metrics 200) and stopped cleanly"
}

cmd_run() {
  STOP_REQUESTED=0
  trap 'STOP_REQUESTED=1' INT TERM
  trap 'stop_all || true' EXIT
  start_all
  ((${#RUN_NAMES[@]} > 0)) || parley_die "no service in $SERVICES_FILE is built in $BUILD_DIR (run tools/setup)"
  wait_ready || parley_die "not every service became ready; stopping"
  echo
  parley_say "Parley is up on loopback:"
  print_notes
  parley_say "Ctrl-C stops everything. Service logs follow."
  echo
  tail -n 0 -q -F "${RUN_LOGS[@]}" &
  TAIL_PID=$!
  local i rc=0
  while ((STOP_REQUESTED == 0)); do
    for i in "${!RUN_PIDS[@]}"; do
      if ! is_running "${RUN_PIDS[$i]}"; then
        local code=0
        wait "${RUN_PIDS[$i]}" 2>/dev/null || code=$?
        RUN_CODES[i]="$code"
        parley_warn "${RUN_NAMES[$i]} exited unexpectedly (code $code); stopping everything"
        rc=1
        STOP_REQUESTED=1
        break
      fi
    done
    ((STOP_REQUESTED)) || sleep 0.5 || true
  done
  echo
  parley_say "stopping"
  trap - EXIT
  stop_all || rc=1
  exit "$rc"
}

main() {
  local cmd="${1:-}"
  (($# > 0)) && shift
  case "$cmd" in
    -h | --help) usage; exit 0 ;;
    run | check | list) ;;
    *) usage >&2; exit 2 ;;
  esac
  load_list
  "cmd_$cmd" "$@"
}

main "$@"
