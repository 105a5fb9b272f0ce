"""Loading the compiled kernels: lazily, only those used, and without numba importing scipy.linalg or cffi.

Each test runs in a fresh interpreter: what a process has imported is the thing under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from auditor.registry import WorkRegistry

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_command_line_imports_no_numba_until_a_kernel_runs() -> None:
    out = _run(
        """
        import sys
        import auditor.cli, auditor.fingerprint, auditor.normalize, auditor.kernels
        print("numba" in sys.modules)
        """
    )
    assert out == "False"


def test_a_scan_warm_up_loads_its_kernels_without_scipy_linalg() -> None:
    out = _run(
        """
        import sys
        from auditor import kernels
        kernels.warm_up()
        from numba.np import arraymath, linalg
        loaded = sorted(n for n, k in kernels._KERNELS.items() if k.dispatcher is not None)
        print("scipy.linalg" in sys.modules, arraymath.ensure_blas is linalg.ensure_blas, loaded)
        """
    )
    scan = sorted([*__import__("auditor.kernels").kernels._SCAN, "key_ranges"])
    assert out == f"False True {scan}"


def test_a_scan_warm_up_loads_its_kernels_without_cffi() -> None:
    out = _run(
        """
        import sys
        from auditor import kernels
        kernels.warm_up()
        from numba.core.typing import cffi_utils
        print("cffi" in sys.modules, "pycparser" in sys.modules, cffi_utils.SUPPORTED)
        import cffi  # importable again afterwards
        print(cffi.FFI().sizeof("int"))
        """
    )
    assert out.splitlines() == ["False False False", "4"]


def test_the_rules_automaton_readies_numba_as_the_kernels_do() -> None:
    # A scan without registries, or `auditor rules test`, loads numba for the keyword automaton first.
    out = _run(
        """
        import sys
        from auditor.rules import load_rule_set
        load_rule_set().warm_up()
        print("numba" in sys.modules, "scipy.linalg" in sys.modules, "cffi" in sys.modules)
        """
    )
    assert out == "True False False"


def test_numba_keeps_cffi_when_it_was_imported_before_the_kernels() -> None:
    out = _run(
        """
        import cffi
        from auditor import kernels
        kernels.warm_up()
        from numba.core.typing import cffi_utils
        print(cffi_utils.SUPPORTED)
        """
    )
    assert out == "True"


def test_warm_up_loads_the_key_ranges_variant_a_registry_is_looked_up_with(
    small_registry: WorkRegistry,
) -> None:
    """A scan's look-ups in a mapped registry need no key_ranges variant beyond warm_up's; another
    variant (an index built in memory) still loads when first met, and agrees with numpy."""
    out = _run(
        f"""
        import numpy as np
        from auditor import kernels
        from auditor.keyindex import KeyIndex
        from auditor.registry import WorkRegistry
        kernels.warm_up()
        warmed = len(kernels.key_ranges.signatures)
        registry = WorkRegistry(__import__("pathlib").Path({str(small_registry.path)!r}))
        mapped = KeyIndex(registry.band_key, registry.band_buckets)
        queries = np.concatenate([registry.band_key[::7], np.arange(50, dtype=np.uint64)])
        found = mapped.ranges(queries)
        print(warmed, len(kernels.key_ranges.signatures), len(found[0]) > 0)
        built = KeyIndex(np.array(registry.band_key))
        assert all((a == b).all() for a, b in zip(built.ranges(queries), built.ranges_numpy(queries)))
        assert all((a == b).all() for a, b in zip(found, built.ranges(queries)))
        print(len(kernels.key_ranges.signatures))
        """
    )
    assert out.splitlines() == ["1 1 True", "2"]


def test_numba_linear_algebra_still_works_after_the_kernels_load() -> None:
    # ensure_blas is restored: np.dot jitted afterwards uses BLAS (importing scipy.linalg then).
    out = _run(
        """
        import sys
        import numba
        import numpy as np
        from auditor import kernels
        kernels.warm_up()
        a = np.arange(6.0).reshape(2, 3)
        print(numba.njit(lambda x: np.dot(x, x.T))(a).tolist(), "scipy.linalg" in sys.modules)
        print(numba.njit(lambda x, y: np.convolve(x, y))(a[0], a[1]).tolist())
        """
    )
    assert out.splitlines() == ["[[5.0, 14.0], [14.0, 50.0]] True", "[0.0, 3.0, 10.0, 13.0, 10.0]"]


def test_every_kernel_loads_and_takes_its_dispatchers_place() -> None:
    out = _run(
        """
        from auditor import kernels
        for name, kernel in kernels._KERNELS.items():
            dispatcher = kernel.load()
            assert getattr(kernels, name) is dispatcher, name
            assert kernel.signature is None or len(dispatcher.signatures) == 1, name
        left = [name for name, value in vars(kernels).items() if isinstance(value, kernels._Kernel)]
        print(len(kernels._KERNELS), left)
        """
    )
    count, left = out.split(" ", 1)
    assert int(count) >= 18 and left == "[]"
