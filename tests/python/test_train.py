"""repro.train, Dataset, Run, diff, verify and the errors: the Python path
gives the CLI's bits, in-memory data is hashed into the record, callbacks
stop a run resumably, bad input raises, never crashes."""
import json
import os

import numpy as np
import pytest

import repro
from conftest import ROOT, run_cli, toy, toy_config

FASHION_MLP = os.path.join(ROOT, "examples", "fashion_mlp.yaml")
SHORT = {"max_steps": 20, "data.limit_train": 2000, "data.limit_test": 200}


def test_same_params_sha256_as_cli(tmp, cli, need_fashion):
    r = repro.train(FASHION_MLP, overrides=SHORT, out=os.path.join(tmp, "py"))
    run_cli(cli, "train", FASHION_MLP, "--quiet", "--out", os.path.join(tmp, "cli"),
            *[a for k, v in SHORT.items() for a in ("--set", f"{k}={v}")])
    cli_run = repro.Run(os.path.join(tmp, "cli"))
    assert len(r.params_sha256) == 64
    assert r.params_sha256 == cli_run.params_sha256
    assert repro.diff(r.path, cli_run.path)["identical"] is True
    assert r.steps == 20 and r.status == "complete"
    assert r.record["overrides"] == [f"{k}={v}" for k, v in SHORT.items()]


def test_run_reads_the_directory(tmp, need_fashion):
    r = repro.train(FASHION_MLP, overrides=SHORT, out=tmp)
    run = repro.Run(tmp)
    assert run.config["optim"]["lr"] == pytest.approx(1e-3)
    assert run.record["params_sha256"] == r.params_sha256
    assert [m["step"] for m in run.metrics][-1] == 20
    ledger = run.ledger
    assert len(ledger) == 20
    losses = run.losses()
    assert losses.dtype == np.float32 and losses.shape == (20,)
    assert all(f"{float(l):.9g}" == e["loss_dec"] for l, e in zip(losses, ledger))
    p = run.params()
    assert p["trunk.0.weight"].shape == (256, 784) and p["trunk.0.weight"].dtype == np.float32
    assert p["heads.class.0.bias"].shape == (10,)
    with pytest.raises(FileNotFoundError):
        repro.Run(os.path.join(tmp, "nope"))


def test_arrays_give_the_bits_of_the_same_data_in_npy_files(tmp, cli):
    X, y = toy()
    np.save(os.path.join(tmp, "x.npy"), X)
    np.save(os.path.join(tmp, "y.npy"), y.astype(np.int32))
    ds = repro.Dataset.from_arrays(X, y)
    r = repro.train(toy_config(), data=ds, out=os.path.join(tmp, "mem"))
    cfg = toy_config(data={"format": "npy", "train_x": os.path.join(tmp, "x.npy"),
                           "train_y": os.path.join(tmp, "y.npy"), "val_fraction": 0.1})
    with open(os.path.join(tmp, "npy.yaml"), "w") as f:
        json.dump(cfg, f)
    run_cli(cli, "train", os.path.join(tmp, "npy.yaml"), "--quiet", "--out", os.path.join(tmp, "npy"))
    assert r.params_sha256 == repro.Run(os.path.join(tmp, "npy")).params_sha256
    files = r.record["data"]["files"]
    assert files == [{"path": "<memory:train>", "sha256": ds.sha256, "samples": 600}]


def test_dataset_hash_is_of_the_array_bytes():
    X, y = toy()
    a = repro.Dataset.from_arrays(X, y)
    assert a.sha256 == repro.Dataset.from_arrays(X.copy(), y.astype(np.int32)).sha256
    X2 = X.copy()
    X2[5, 5] = np.nextafter(X2[5, 5], np.float32(np.inf))  # one ulp
    assert a.sha256 != repro.Dataset.from_arrays(X2, y).sha256
    y2 = y.copy()
    y2[0] = (y2[0] + 1) % 4
    assert a.sha256 != repro.Dataset.from_arrays(X, y2).sha256
    assert len(a) == 600


def test_twice_the_same_bits_and_a_different_array_differs(tmp):
    X, y = toy()
    a = repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), out=os.path.join(tmp, "a"))
    b = repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), out=os.path.join(tmp, "b"))
    assert a.params_sha256 == b.params_sha256
    X[0, 0] += 1.0
    c = repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), out=os.path.join(tmp, "c"))
    assert c.params_sha256 != a.params_sha256
    assert repro.diff(a.path, c.path)["identical"] is False


def test_regression_targets_and_test_set(tmp):
    X, _ = toy()
    t = (X[:, :2] @ np.array([[1.0], [-2.0]], dtype=np.float32)).astype(np.float32)
    cfg = toy_config()
    cfg["model"]["heads"] = [{"name": "reg", "layers": [{"type": "linear", "out": 1}], "loss": "mse"}]
    r = repro.train(cfg, data=repro.Dataset.from_arrays(X[:500], t[:500]),
                    test_data=repro.Dataset.from_arrays(X[500:], t[500:]), out=tmp)
    last = r.metrics[-1]
    assert "test_loss" in last and "test_accuracy" not in last
    assert last["test_loss"] < r.metrics[0]["test_loss"]


def test_stop_from_on_step_then_resume_gives_the_same_bits(tmp):
    X, y = toy()
    ds = repro.Dataset.from_arrays(X, y)
    full = repro.train(toy_config(), data=ds, out=os.path.join(tmp, "full"))
    seen = []

    def on_step(s):
        seen.append(s.step)
        return repro.STOP if s.step == 10 else None

    part = repro.train(toy_config(), data=ds, out=os.path.join(tmp, "part"), on_step=on_step)
    assert part.interrupted and part.stopped_by_callback and part.status == "interrupted"
    assert 10 <= part.steps < full.steps  # the next step boundary after the callback
    assert seen[:10] == list(range(1, 11))
    done = repro.train(toy_config(), data=ds, resume=part.path)
    assert done.params_sha256 == full.params_sha256


def test_stop_training_from_on_epoch_stops_at_the_epoch_end(tmp):
    X, y = toy()
    epochs = []

    def on_epoch(e):
        epochs.append(e)
        raise repro.StopTraining

    r = repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), out=tmp, on_epoch=on_epoch)
    assert len(epochs) == 1 and epochs[0].epoch == 1 and epochs[0].val_accuracy is not None
    assert r.interrupted and r.steps == epochs[0].step == 17  # 540 samples / batch 32
    assert len(r.metrics) == 1


def test_an_error_in_a_callback_stops_the_run_and_is_raised(tmp):
    X, y = toy()
    with pytest.raises(ZeroDivisionError):
        repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), out=tmp, on_step=lambda s: 1 / 0)
    assert repro.Run(tmp).status == "interrupted"


def test_verify_threads(tmp):
    X, y = toy()
    v = repro.verify(toy_config(), {"threads": [1, 2], "accum_steps": [1, 4]},
                     data=repro.Dataset.from_arrays(X, y), out=tmp)
    assert v["identical"] and [r["set"] for r in v["runs"]] == ["threads=2", "accum_steps=4"]


@pytest.mark.parametrize("make,exc,text", [
    (lambda X, y: (X.astype(np.float64), y), TypeError, "X has dtype float64"),
    (lambda X, y: (X.tolist(), y), TypeError, "X must be a numpy.ndarray"),
    (lambda X, y: (np.asfortranarray(X), y), ValueError, "not C-contiguous"),
    (lambda X, y: (X[:, ::2], y), ValueError, "not C-contiguous"),
    (lambda X, y: (X[0], y), ValueError, "expected [n, features]"),
    (lambda X, y: (X, y[:10]), ValueError, "y has shape (10,) but X has 600 samples"),
    (lambda X, y: (X, y.astype(np.float64)), TypeError, "y has dtype float64"),
    (lambda X, y: (X, y.reshape(300, 2)), ValueError, "y has shape (300, 2)"),
    (lambda X, y: (X, -y - 1), ValueError, "labels must lie in [0, 2^31 - 1]"),
])
def test_bad_arrays_raise_clearly(make, exc, text):
    X, y = toy()
    with pytest.raises(exc) as e:
        repro.Dataset.from_arrays(*make(X, y))
    assert text in str(e.value)


def test_library_refusals_are_exceptions_with_the_c_message(tmp):
    X, y = toy()
    X[3, 4] = np.inf
    with pytest.raises(repro.ArgumentError, match=r"x\[3\]\[4\] is infinite"):
        repro.Dataset.from_arrays(X, y)
    with pytest.raises(ValueError, match="classes"):
        repro.Dataset.from_arrays(*toy(), n_classes=2)
    with pytest.raises(repro.ConfigError) as e:
        repro.train(FASHION_MLP, overrides={"optim.lrr": 1}, out=tmp)
    assert str(e.value) == "--set optim.lrr=1: unknown key 'optim.lrr' (did you mean 'optim.lr'?)"
    assert isinstance(e.value, ValueError) and e.value.status == 4
    with pytest.raises(repro.ReproIOError) as e:
        repro.train(os.path.join(tmp, "missing.yaml"))
    assert isinstance(e.value, OSError) and "missing.yaml" in str(e.value)
    with pytest.raises(repro.ConfigError, match="data.format is memory but no data was given"):
        repro.train(toy_config(), out=os.path.join(tmp, "r"))
    with pytest.raises(TypeError, match="data must be a repro.Dataset"):
        repro.train(toy_config(), data=np.zeros((3, 3), np.float32))


def test_resume_with_other_arrays_is_refused(tmp):
    X, y = toy()
    part = repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), out=tmp,
                       on_step=lambda s: repro.STOP if s.step == 5 else None)
    X[0, 0] += 1
    with pytest.raises(repro.StateError, match=r"cannot resume '.*': the data '<memory:train>' has sha256 [0-9a-f]{64}, "
                                               r"the run started with [0-9a-f]{64}"):
        repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), resume=part.path)
