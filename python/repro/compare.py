"""repro.diff and repro.verify: the CLI's comparisons, in process."""
from __future__ import annotations

import ctypes
import json
import os
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _lib
from .dataset import Dataset

PathLike = Union[str, "os.PathLike[str]"]


def _call_json(fn_name: str, a: PathLike, b: PathLike) -> Dict[str, Any]:
    L = _lib.lib()
    err = _lib.Error()
    out = ctypes.c_void_p()
    st = getattr(L, fn_name)(os.fsencode(a), os.fsencode(b), ctypes.byref(out), ctypes.byref(err))
    if st != 0:
        _lib.raise_error(err)
    text = _lib.take_string(out.value)
    assert text is not None
    return json.loads(text)


def diff(run_a: PathLike, run_b: PathLike) -> Dict[str, Any]:
    """Compares two run directories, as ``repro diff A B`` does.

    Returns the report (docs/run-directory.md): ``report["identical"]`` is
    True iff the ledgers agree step by step and the final params_sha256
    values are equal; ``report["ledger"]`` names the first divergent step.
    """
    return _call_json("repro_run_compare_json", run_a, run_b)


def verify(config: Union[PathLike, Mapping[str, Any]], vary: Mapping[str, Sequence[Any]],
           overrides: Union[None, Mapping[str, Any], Sequence[str]] = None,
           out: Optional[PathLike] = None, *, data: Optional[Dataset] = None,
           test_data: Optional[Dataset] = None) -> Dict[str, Any]:
    """Trains config once per value of each varied key and checks that every
    run has the bits of the first (``repro verify CONFIG --vary K=V1,V2``).

    Args:
        vary: ``{"threads": [1, 2], "accum_steps": [1, 4]}``; the baseline
            takes each key's first value, every other run changes one key.
        out: folder for the runs (default: a temporary folder, removed).

    Returns:
        {"identical": bool, "baseline": run_dir, "runs": [{"set", "run_dir",
        "identical", "first_step", "detail", "params_sha256"}]}.
    """
    from .train import _override_list, _yaml_value, train

    base_sets = _override_list(overrides)
    if not vary or any(len(list(v)) < 1 for v in vary.values()):
        raise ValueError("vary: give at least one key with at least one value")
    first = [f"{k}={_yaml_value(list(v)[0])}" for k, v in vary.items()]
    plan: List[List[str]] = []
    for k, vals in vary.items():
        for v in list(vals)[1:]:
            plan.append([s for s in first if not s.startswith(k + "=")] + [f"{k}={_yaml_value(v)}"])
    tmp = None
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="repro-verify-")
        out = tmp.name
    try:
        base_dir = os.path.join(os.fspath(out), "base")
        train(config, base_sets + first, base_dir, data=data, test_data=test_data, force=True)
        runs = []
        for i, sets in enumerate(plan):
            d = os.path.join(os.fspath(out), f"v{i + 1}")
            train(config, base_sets + sets, d, data=data, test_data=test_data, force=True)
            o = _call_json("repro_verify_compare_json", base_dir, d)
            o.update({"set": sets[-1], "run_dir": d})
            runs.append(o)
        return {"identical": all(r["identical"] for r in runs), "baseline": base_dir, "runs": runs}
    finally:
        if tmp is not None:
            tmp.cleanup()
