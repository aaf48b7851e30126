#!/usr/bin/env bash
# install.sh — everything Estiba needs on a Debian machine: the system packages and the
# development venv (.venv). Run as root from anywhere; safe to run again: it asks apt only
# for what is missing and reinstalls the venv only when pyproject.toml, the interpreter or
# the checkout's path changed.
#
# The venv is made from Debian's /usr/bin/python3 with --system-site-packages, so that the
# parts binding Debian's own Python modules (python3-nftables) can import them.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# busybox-static: container root filesystems; gcc, libc6-dev: the static test probe;
# libseccomp2: seccomp filters; iproute2: network setup and leak checks; docker.io,
# containerd, runc: end-to-end tests and the reference runtime; hyperfine: the bench;
# zstd: zstd-compressed layers; debootstrap: scripts/debian-image; conmon: the per-container shim;
# tini: the init (its tini-static) of docker run --init; nftables: libnftables for the
# networks' firewall (and nft for the tests); iptables: the FORWARD chains a Docker
# leaves; curl: bench/network; zsh: the check of estiba's zsh completion.
packages=(python3 python3-venv busybox-static libseccomp2 gcc libc6-dev iproute2
          docker.io containerd runc hyperfine zstd debootstrap conmon tini nftables
          iptables curl zsh)

installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null \
            | awk '$NF == "installed" {print $1}' || true)
missing=()
for p in "${packages[@]}"; do
  grep -qx "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: missing packages ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "install.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-q -y -o DPkg::Lock::Timeout=300)
  apt-get "${apt_opts[@]}" update
  apt-get "${apt_opts[@]}" install "${missing[@]}"
fi

venv=$repo/.venv
stamp=$venv/.estiba-install
# What the venv was made from: the project's dependencies, the interpreter, this checkout.
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $(/usr/bin/python3 -V 2>&1) $repo"

venv_ok() {
  [ -x "$venv/bin/python" ] &&
  grep -qx 'include-system-site-packages = true' "$venv/pyvenv.cfg" 2>/dev/null &&
  [ "$(readlink -f "$venv/bin/python")" = "$(readlink -f /usr/bin/python3)" ]
}
if ! venv_ok; then
  echo "install.sh: making $venv from /usr/bin/python3"
  /usr/bin/python3 -m venv --clear --system-site-packages "$venv"
  rm -f "$stamp"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install.sh: pip install -e '.[test]'"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$want" >"$stamp"
fi

# estiba-runtime starts once per OCI call, so its launcher is written here rather than
# by pip: the interpreter runs with -S (no site: ~4.5 ms saved; the runtime needs only
# the standard library) and the console-script template's `import re` is avoided.
write_launcher() {  # write_launcher NAME MODULE: runs MODULE.run_main() under python -S
  local launcher=$venv/bin/$1
  printf '#!%s -S\nimport sys\nsys.path.insert(0, "%s")\nfrom %s import run_main\nrun_main()\n' \
    "$venv/bin/python" "$repo/src" "$2" >"$launcher.tmp"
  chmod 755 "$launcher.tmp"
  mv "$launcher.tmp" "$launcher"
}
write_launcher estiba-runtime estiba.runtime.cli
# The same for the daemon and the command line: `estiba ctr version` has a 60 ms budget
# end to end, and neither needs site-packages (the standard library only).
write_launcher estibad estiba.daemon.main
write_launcher estiba estiba.cli.main
# Bytecode ahead of time: the runtime must not compile its modules on each start (and
# PYTHONDONTWRITEBYTECODE may be set). compileall skips what is current.
"$venv/bin/python" -m compileall -q src >/dev/null
