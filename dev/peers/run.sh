#!/usr/bin/env bash
# The peer harness: stai, SpaGE and Tangram on the same held-out genes.
#
#   bash dev/peers/run.sh PAIR [--data DIR] [--out DIR] [--stai PATH] [harness options]
#
# PAIR is osmfish (osmFISH + Allen, leave one gene out) or merfish (MERFISH +
# Moffitt, 10-fold over genes). Defaults: --data ../shared/data and
# --out ../peer-results/PAIR (both relative to the repository root),
# --stai build/stai. Other options go to harness.py (--stai-args "...",
# --stai-predictions FILE, --methods, --max-sets N, --threads N, --rerun;
# `bash dev/peers/run.sh osmfish --help` lists them).
#
# The first run makes dev/peers/.venv (git-ignored) on Debian's python3 with
# --system-site-packages, so that Debian's python3-torch is used (installed
# with apt-get when missing, as root), and installs requirements.txt plus
# tangram-sc and tissue-sc without their dependencies (which would pull
# torch and squidpy from PyPI; the ones they need are in requirements.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: bash dev/peers/run.sh osmfish|merfish [--data DIR] [--out DIR] [--stai PATH] [options]" >&2
  exit 2
fi
pair=$1
shift
data="$root/../shared/data"
out="$root/../peer-results/$pair"
stai="$root/build/stai"
rest=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --stai) stai=$2; shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done

py=/usr/bin/python3
venv="$here/.venv"
if ! "$py" -c "import torch" 2>/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "peers: installing Debian's python3-torch" >&2
    apt-get install -y python3-torch >/dev/null
  else
    echo "peers: error: Debian's python3-torch is missing; run: sudo apt-get install python3-torch" >&2
    exit 1
  fi
fi
stamp="$venv/.installed-$(sha256sum "$here/requirements.txt" | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  echo "peers: making $venv" >&2
  "$py" -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
  "$venv/bin/pip" install -q --no-deps tangram-sc==1.0.4 tissue-sc==1.0.1
  touch "$stamp"
fi

# One thread per numerical library unless told otherwise; fixed set order in Tangram's pp_adatas.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} \
  MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1} PYTHONHASHSEED=0
exec "$venv/bin/python" "$here/harness.py" "$pair" --data "$data" --out "$out" --stai "$stai" ${rest[@]+"${rest[@]}"}
