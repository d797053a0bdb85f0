"""The shipped model works on a fresh install with no network: packaged in the wheel, loaded offline, used by the command."""
import hashlib, json, os, shutil, subprocess, sys, zipfile
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / 'kpvp_nb' / 'data' / 'pretrained' / 'synthetic'
NO_NET = "import socket\ndef _refuse(*a, **k): raise OSError('network access attempted in an offline test')\nsocket.socket.connect = _refuse\nsocket.create_connection = _refuse\n"


def _offline_env(tmp_path, **extra):
    "An environment in which any socket connection fails and the Hub is offline."
    site = tmp_path / 'nonet'; site.mkdir(exist_ok=True)
    (site / 'sitecustomize.py').write_text(NO_NET)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get('PYTHONPATH', '')]), HF_HUB_OFFLINE='1',
               HF_HOME=str(tmp_path / 'hf_home'), OMP_NUM_THREADS='1', **extra)
    return env


def test_model_files_and_manifests():
    card = json.loads((MODEL / 'card.json').read_text())
    assert (card['size'], card['n_kp'], len(card['classes'])) == (64, 16, 7)
    for man in MODEL.rglob('manifest.json'):
        m = json.loads(man.read_text())
        assert list(m['files']) == ['models.safetensors']                # weights only: no optimizer state, no pickle
        assert hashlib.sha256((man.parent / 'models.safetensors').read_bytes()).hexdigest() == m['files']['models.safetensors']
    assert sum(f.stat().st_size for f in MODEL.rglob('*') if f.is_file()) < 5e6


def test_wheel_ships_the_model(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    whl = next(tmp_path.glob('kpvp_nb-*.whl'))
    names = set(zipfile.ZipFile(whl).namelist())
    want = {f'kpvp_nb/data/pretrained/synthetic/{f.relative_to(MODEL).as_posix()}' for f in MODEL.rglob('*') if f.is_file()}
    assert want <= names, sorted(want - names)


def test_predicts_offline(tmp_path):
    code = ("from kpvp_nb import Predictor\n"
            "p = Predictor.from_pretrained('synthetic', device='cpu')\n"
            "r = p.predict(p.run / 'example.png', 'waving', n_frames=8, n_samples=2, seed=0)\n"
            "print(r.frames.shape, r.action)")
    out = subprocess.run([sys.executable, '-c', code], env=_offline_env(tmp_path), capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2, 8, 64, 64, 3) waving"


def test_command_offline_shipped_and_hub_cache(tmp_path):
    # the shipped model by name, then the same files as a Hub repository in a pre-filled cache
    env = _offline_env(tmp_path)
    kp = [shutil.which('kpvp_predict')]
    r = subprocess.run(kp + ['--run', 'pretrained:synthetic', '--list-actions'], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == json.loads((MODEL / 'classes.json').read_text()), r.stderr
    r = subprocess.run(kp + ['--run', 'pretrained:synthetic', '--image', str(MODEL / 'example.png'), '--action', 'squats',
                             '--n-frames', '6', '--out', str(tmp_path / 'a.mp4')], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and (tmp_path / 'a.mp4').stat().st_size > 1000, r.stderr
    commit = '0' * 40
    repo = tmp_path / 'hub' / 'models--someone--kpvp-synthetic'
    shutil.copytree(MODEL, repo / 'snapshots' / commit); (repo / 'refs').mkdir(); (repo / 'refs' / 'main').write_text(commit)
    env_hub = dict(env, HF_HUB_CACHE=str(tmp_path / 'hub'))
    r = subprocess.run(kp + ['--run', 'someone/kpvp-synthetic', '--image', str(MODEL / 'example.png'), '--action', 'squats',
                             '--n-frames', '6', '--out', str(tmp_path / 'b.mp4')], env=env_hub, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'b.mp4').read_bytes() == (tmp_path / 'a.mp4').read_bytes()      # same weights, same seed, same video
    r = subprocess.run(kp + ['--run', 'someone/absent', '--list-actions'], env=env_hub, capture_output=True, text=True)
    assert r.returncode == 1 and 'cannot get this model from the Hugging Face Hub' in r.stderr and 'Traceback' not in r.stderr, r.stderr
