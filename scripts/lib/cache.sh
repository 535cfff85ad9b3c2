# Installs into keyrite's cache (${KEYRITE_CACHE:-$HOME/.cache/keyrite}), once, safely when several
# processes install the same thing at the same moment (parallel tests, CI, two terminals).
#
# An install is built in place under an exclusive lock (flock on $CACHE/.locks/<name>.lock) and
# marked complete (<dir>/.complete) only once it works. Whoever finds it complete and working uses
# it without waiting; whoever does not takes the lock, checks again under it (another process may
# have just finished), and only then builds. An install that works is never removed or replaced.
#
# Sourced by scripts/localkms (also embedded in the keyrite binary, with this file prepended),
# scripts/localaws, scripts/awscli, scripts/lint-deploy, scripts/kryoptic and scripts/setup.

KEYRITE_CACHE_DIR=${KEYRITE_CACHE:-$HOME/.cache/keyrite}

# cache_locked NAME CMD...: runs CMD holding the cache's lock NAME (waits for it).
cache_locked() {
  local name=$1; shift
  mkdir -p "$KEYRITE_CACHE_DIR/.locks"
  local fd rc=0
  exec {fd}>"$KEYRITE_CACHE_DIR/.locks/$name.lock"
  flock "$fd"
  "$@" {fd}>&- || rc=$?
  flock -u "$fd"
  exec {fd}>&-
  return "$rc"
}

# cache_install NAME DIR CHECK BUILD: makes DIR hold a complete, working install.
#   CHECK: a command that succeeds when DIR works (run with no lock held, and again under it);
#   BUILD: a command that builds into DIR (DIR does not exist when it starts); it must return
#          non-zero on any failure (it runs where `set -e` does not apply).
cache_install() {
  local name=$1 dir=$2 check=$3 build=$4
  if [[ -e $dir/.complete ]] && $check; then return 0; fi
  cache_locked "$name" _cache_install_locked "$dir" "$check" "$build"
}

_cache_install_locked() {
  local dir=$1 check=$2 build=$3
  if [[ -e $dir/.complete ]] && $check; then return 0; fi
  # Not complete, or complete and broken: nobody can be using it, and nobody else builds (lock).
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  if ! $build || ! $check; then
    rm -rf "$dir"
    return 1
  fi
  touch "$dir/.complete"
}

# find_python [MIN_MINOR]: KEYRITE_PYTHON, else pyenv's 3.13, else PATH's python3.13 (and, with
# MIN_MINOR given, any python3 of at least 3.MIN_MINOR).
find_python() {
  if [[ -n ${KEYRITE_PYTHON:-} ]]; then echo "$KEYRITE_PYTHON"; return; fi
  local c
  for c in "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3 /root/.pyenv/versions/3.13*/bin/python3 \
           "$(command -v python3.13 || true)"; do
    [[ -x $c ]] && { echo "$c"; return; }
  done
  if [[ -n ${1:-} ]] && c=$(command -v python3) \
     && "$c" -c "import sys; sys.exit(sys.version_info < (3, $1))"; then
    echo "$c"; return
  fi
  return 1
}

# venv_build DIR PIN...: a Python venv at DIR with the pinned packages (for cache_install's BUILD).
venv_build() {
  local dir=$1; shift
  local py
  py=$(find_python "${VENV_MIN_MINOR:-}") || {
    echo "no suitable Python found: install Python 3.13 (e.g. pyenv install 3.13) or set KEYRITE_PYTHON=/path/to/python3" >&2
    return 1
  }
  "$py" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2 || return 1
}

# cache_put_file SRC DEST: copies a built file into the cache, executable, whole or not at all.
cache_put_file() {
  local src=$1 dest=$2 tmp
  mkdir -p "$(dirname "$dest")" || return 1
  tmp=$(mktemp "$(dirname "$dest")/.$(basename "$dest").XXXXXX") || return 1
  if ! { cp "$src" "$tmp" && chmod 0755 "$tmp" && mv -f "$tmp" "$dest"; }; then
    rm -f "$tmp"; return 1
  fi
}

# apt_install PACKAGE...: installs the Debian packages not installed yet, one apt run at a time
# (the cache's lock `apt`, and apt's own lock waited for rather than failed on).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  cache_locked apt _apt_install_locked "${missing[@]}"
}

_apt_install_locked() {
  local sudo=() apt
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o DPkg::Lock::Timeout=900)
  echo "installing ${*} (Debian packages)" >&2
  "${apt[@]}" install --no-install-recommends "$@" >&2 && return 0
  "${apt[@]}" update >&2 || return 1
  "${apt[@]}" install --no-install-recommends "$@" >&2
}
