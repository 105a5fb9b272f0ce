"""The fingerprint settings load without numpy, and are the ones fingerprint and normalize use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from auditor import fingerprint, fingerprint_config, normalize

ROOT = Path(__file__).resolve().parents[1]


def test_the_settings_import_no_numpy() -> None:
    code = (
        "import sys\n"
        "from auditor.fingerprint_config import FingerprintConfig\n"
        "print(FingerprintConfig().config_id, 'numpy' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["n3_k4_s24_p64_b32r2_seed1_bp2-0.01-f12_affine64_poly64", "False"]


def test_fingerprint_and_normalize_use_these_settings() -> None:
    assert fingerprint.FingerprintConfig is fingerprint_config.FingerprintConfig
    assert normalize.NORMALIZER_VERSION == fingerprint_config.NORMALIZER_VERSION
    assert fingerprint_config.FingerprintConfig().normalizer == normalize.NORMALIZER_VERSION
