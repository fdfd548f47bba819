# shellcheck shell=bash
# Shell functions shared by tools/setup, tools/test, tools/run and tools/lib/services.sh.
# Why one file: the repo root, the build directory and the way we print notes and errors must be
# the same in every script. Sourced (not executed); needs bash 4+ and coreutils.

# The repository root (this file lives in <root>/tools/lib).
PARLEY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# say/warn/die: one prefix so a user can tell our lines from the compiler's.
parley_say() { printf '==> %s\n' "$*"; }
parley_warn() { printf '==> warning: %s\n' "$*" >&2; }
parley_die() {
  printf '==> error: %s\n' "$*" >&2
  exit 1
}

# The build directory: $PARLEY_BUILD_DIR (relative paths are taken from the repo root) or <root>/build.
parley_build_dir() {
  local dir="${PARLEY_BUILD_DIR:-build}"
  case "$dir" in
    /*) printf '%s\n' "$dir" ;;
    *) printf '%s\n' "$PARLEY_ROOT/$dir" ;;
  esac
}

# Packages from tools/lib/packages.txt (or $PARLEY_PACKAGES_FILE), comments and blanks dropped.
parley_packages() {
  local file="${PARLEY_PACKAGES_FILE:-$PARLEY_ROOT/tools/lib/packages.txt}"
  [[ -f "$file" ]] || parley_die "no package list at $file"
  sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$file"
}

# Prints the packages from packages.txt that dpkg does not report as installed.
parley_missing_packages() {
  local pkg status
  while read -r pkg; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "installed" ]] || printf '%s\n' "$pkg"
  done < <(parley_packages)
}

# Prints the comment block at the top of script $1 (after the #! line) as its usage text.
parley_usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"; }

# Seconds since the epoch with a fraction (for durations in summaries).
parley_now() { date +%s.%N; }
parley_elapsed() { awk -v a="$1" -v b="$(parley_now)" 'BEGIN { printf "%.0f", b - a }'; }
