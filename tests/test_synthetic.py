"""End-to-end tests of the `kpvp_make_synthetic` command (the notebook tests the library itself)."""
import json, shutil, subprocess, sys

import numpy as np
import pytest

from kpvp_nb.synthetic import ACTIONS, make_synthetic_cli, render_video
from kpvp_nb.video import read_video


def _cmd():
    "The installed console script, or the same entry point through this Python."
    exe = shutil.which('kpvp_make_synthetic')
    return [exe] if exe else [sys.executable, '-c', 'from kpvp_nb.synthetic import make_synthetic_cli; make_synthetic_cli()']


def test_cli_writes_a_dataset(tmp_path):
    out = tmp_path / 'syn'
    r = subprocess.run(_cmd() + ['--out', str(out), '--videos', '14', '--size', '32', '--frames', '3',
                                 '--seed', '5', '--test-frac', '0.5', '--quiet'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'wrote 14 videos (7 train, 7 test)' in r.stdout
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['size'] == 32 and meta['n_frames'] == 3 and meta['seed'] == 5
    for split in ('train', 'test'):
        assert sorted(p.name for p in (out / split).iterdir()) == sorted(ACTIONS)
        assert set(meta['counts'][split].values()) == {1}
    v = meta['videos'][0]
    w = render_video(v['action'], v['seed'], 32, 3)
    assert np.array_equal(read_video(out / v['path']), w.frames)
    assert np.array_equal(np.load(out / v['keypoints']), w.joints)


def test_cli_refuses_bad_input(tmp_path):
    r = subprocess.run(_cmd() + ['--out', str(tmp_path / 'x'), '--videos', '10'], capture_output=True, text=True)
    assert r.returncode == 2 and 'at least 14' in r.stderr        # too few videos for both splits of every action
    r = subprocess.run(_cmd() + ['--out', str(tmp_path / 'x'), '--format', 'avi'], capture_output=True, text=True)
    assert r.returncode == 2 and 'invalid choice' in r.stderr


def test_cli_overwrite(tmp_path):
    args = ['--out', str(tmp_path / 'd'), '--videos', '2', '--frames', '2', '--actions', 'squats', '--test-frac', '0', '--quiet']
    make_synthetic_cli(args)
    with pytest.raises(SystemExit):                                 # a second run would mix two datasets
        make_synthetic_cli(args)
    make_synthetic_cli(args + ['--overwrite'])
    assert len(json.loads((tmp_path / 'd' / 'meta.json').read_text())['videos']) == 2
