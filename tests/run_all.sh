#!/usr/bin/env bash
# Every test of kpvp_nb: the library must be what the notebooks export, the notebooks must be clean, the
# exported code must pass tests/check_library.py (pyflakes, no duplicated runs of code),
# the docs pre-processing must pass on every notebook, every notebook's tests must pass (nbdev_test; cells
# flagged `slow` are skipped), then pytest.
# The slow tests: `nbdev_test --flags slow` and `pytest -m slow tests`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  before=$(git status --porcelain)
  nbdev_export
  nbdev_clean
  after=$(git status --porcelain)
  if [ "$before" != "$after" ]; then
    echo "FAIL: nbdev_export / nbdev_clean changed files; run them and commit the result:"
    diff <(echo "$before") <(echo "$after") || true
    exit 1
  fi
  echo "ok: kpvp_nb/ is what nbdev_export makes of nbs/, and the notebooks are clean"
fi
echo "== the library: pyflakes, duplication, line lengths"
python tests/check_library.py
echo "== the docs pre-processing (what nbdev_docs runs before Quarto)"
OMP_NUM_THREADS=1 python tests/check_docs.py --workers "${KPVP_TEST_WORKERS:-2}"
echo "== nbdev_test"
# notebooks run in parallel, one per core: one thread each (oversubscribed threads slow torch on CPUs a lot)
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nbdev_test --n_workers "${KPVP_TEST_WORKERS:-2}" --timing
echo "== pytest"
python -m pytest tests -q -p no:cacheprovider
