#!/usr/bin/env bash
# Fashion-MNIST for `make data`: use it where d2lnets finds it; else Debian's package
# where apt works (as root or with password-less sudo); else d2lnets' checked download.
# Exits 1 saying what was tried when all of these fail.
set -u
PY=${1:-.venv/bin/python}
found=$("$PY" -c "from d2lnets.data import find_local; f = find_local(); print(f or '')" 2>&1) || {
  echo "make data: $found" >&2; exit 1; }
if [ -n "$found" ]; then echo "Fashion-MNIST: $found"; exit 0; fi

tried=()
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=no; fi
  if [ "$sudo" = no ]; then
    tried+=("apt-get: needs root or password-less sudo")
  elif $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist; then
    echo "Fashion-MNIST: installed Debian's dataset-fashion-mnist"; exit 0
  else
    tried+=("apt-get install dataset-fashion-mnist failed")
  fi
else
  tried+=("apt-get: not on this machine")
fi
if "$PY" -c "from d2lnets.data import find_fashion_mnist; print('Fashion-MNIST:', find_fashion_mnist())"; then
  exit 0
fi
tried+=("the checked download from Gluon's mirror failed")
{
  echo "make data: Fashion-MNIST could not be had. Tried:"
  printf '  - %s\n' "${tried[@]}"
  echo "Put the four IDX .gz files in a folder and set D2LNETS_DATA=FOLDER, or train on the"
  echo "sample shipped with d2lnets, offline: make train ARGS=\"--data sample\""
} >&2
exit 1
