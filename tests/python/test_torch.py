"""PyTorch interop: `repro export --format torch` gives a safetensors file an
nn.Sequential loads strictly, whose forward on a test set gives repro's own
test loss and accuracy (float tolerance); models without an nn.Sequential
equivalent are refused with a message naming the reason."""
import os
import subprocess

import numpy as np
import pytest

import repro
from repro import _safetensors
from conftest import toy, toy_config

torch = pytest.importorskip("torch")


def images(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 8, 8)).astype(np.float32)
    y = ((X[:, :4, :].mean(axis=(1, 2)) > 0).astype(np.int64) + 2 * (X[:, :, :4].mean(axis=(1, 2)) > 0))
    return X, y


CNN = {"seed": 3, "epochs": 2, "batch_size": 32, "data": {"format": "memory", "val_fraction": 0.1},
       "model": {"input_shape": [1, 8, 8], "nodes": [
           {"name": "c1", "type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
           {"name": "a1", "type": "silu"},
           {"name": "c2", "type": "conv2d", "out": 6, "kernel": 3, "kernel_w": 2, "groups": 2, "stride": 1,
            "dilation": 1},
           {"name": "n1", "type": "group_norm", "groups": 3},
           {"name": "p1", "type": "max_pool2d", "kernel": 2},
           {"name": "p2", "type": "avg_pool2d", "kernel": 2, "stride": 1, "padding": 1},
           {"name": "f", "type": "flatten"},
           {"name": "l1", "type": "linear", "out": 16},
           {"name": "g", "type": "gelu"},
           {"name": "h", "type": "hardswish"},
           {"name": "ln", "type": "layernorm"},
           {"name": "d", "type": "dropout", "p": 0.2},
           {"name": "out", "type": "linear", "out": 4}],
           "heads": [{"name": "class", "input": "out", "loss": "cross_entropy"}]},
       "optim": {"name": "adam", "lr": 0.01}}


def cli_export(cli, run, out, *extra):
    return subprocess.run([cli, "export", run, "--format", "torch", "-o", out, *extra],
                          capture_output=True, text=True)


def torch_eval(code, path, X, y):
    scope = {}
    exec(code, scope)
    model = scope["model"]
    tensors, meta = _safetensors.read(path)
    assert set(tensors) == set(model.state_dict())  # keys
    for k, v in model.state_dict().items():  # and shapes
        assert tuple(v.shape) == tensors[k].shape, k
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(X))
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)).item()
        acc = (logits.argmax(1) == torch.from_numpy(y)).float().mean().item()
    return loss, acc, meta


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_export_loads_into_torch_and_forward_matches(tmp, cli, kind):
    if kind == "mlp":
        X, y = toy()
        cfg, Xt = toy_config(), X[500:]
    else:
        X, y = images()
        cfg, Xt = CNN, X[300:].reshape(-1, 1, 8, 8)
    n = 500 if kind == "mlp" else 300
    r = repro.train(cfg, data=repro.Dataset.from_arrays(X[:n], y[:n]),
                    test_data=repro.Dataset.from_arrays(X[n:], y[n:]), out=os.path.join(tmp, "run"))
    out = os.path.join(tmp, "a.safetensors")
    p = cli_export(cli, r.path, out, "--code", os.path.join(tmp, "model.py"))
    assert p.returncode == 0, p.stderr
    assert open(os.path.join(tmp, "model.py")).read() == p.stdout
    loss, acc, meta = torch_eval(p.stdout, out, Xt, y[n:])
    final = r.metrics[-1]
    assert loss == pytest.approx(final["test_loss"], rel=1e-5, abs=1e-6)
    assert acc == pytest.approx(final["test_accuracy"], abs=1e-6)
    assert meta["params_sha256"] == r.params_sha256
    # the Python path gives the same module and weights
    m = r.torch_module()
    for k, v in m.state_dict().items():
        assert np.array_equal(v.numpy(), _safetensors.read(out)[0][k])


def test_load_into_a_sequential_from_the_printed_code(tmp, cli):
    X, y = toy()
    r = repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), out=tmp)
    scope = {}
    exec(r.export_torch(os.path.join(tmp, "e.safetensors")), scope)
    m = r.load_into(scope["model"])
    assert np.array_equal(m[0].weight.detach().numpy(), r.params()["trunk.0.weight"])
    assert np.array_equal(m[3].bias.detach().numpy(), r.params()["heads.class.0.bias"])


def test_safetensors_from_pypi_reads_the_export(tmp, cli):
    st = pytest.importorskip("safetensors.torch")
    X, y = toy()
    r = repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), out=tmp)
    out = os.path.join(tmp, "a.safetensors")
    scope = {}
    exec(r.export_torch(out), scope)
    scope["model"].load_state_dict(st.load_file(out))


@pytest.mark.parametrize("change,message", [
    (lambda c: c["model"]["heads"].append({"name": "second", "layers": [{"type": "linear", "out": 4}],
                                           "loss": "cross_entropy"}),
     "the model has 2 heads: a model with several outputs has no nn.Sequential equivalent"),
    (lambda c: c["model"].update(trunk=[], nodes=[
        {"name": "a", "type": "linear", "out": 8}, {"name": "b", "type": "linear", "out": 8, "inputs": ["input"]},
        {"name": "s", "type": "add", "inputs": ["a", "b"]}, {"name": "o", "type": "linear", "out": 4}]),
     "node 'b' reads 'input', not the node before it ('a'): a branching graph has no nn.Sequential equivalent"),
])
def test_no_sequential_equivalent_is_a_clear_error(tmp, cli, change, message):
    X, y = toy()
    cfg = toy_config()
    change(cfg)
    r = repro.train(cfg, data=repro.Dataset.from_arrays(X, y), out=os.path.join(tmp, "run"))
    p = cli_export(cli, r.path, os.path.join(tmp, "x.safetensors"))
    assert p.returncode == 2 and p.stderr == f"repro export: {message}\n"
    assert not os.path.exists(os.path.join(tmp, "x.safetensors"))
    with pytest.raises(repro.UnsupportedError, match="no nn.Sequential equivalent"):
        r.torch_module()


def test_export_usage_errors(tmp, cli):
    p = subprocess.run([cli, "export", tmp, "--format", "onnx", "-o", "x"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown --format 'onnx' (torch)" in p.stderr
    p = subprocess.run([cli, "export", tmp, "--format", "torch"], capture_output=True, text=True)
    assert p.returncode == 2 and "missing -o FILE.safetensors" in p.stderr
    p = cli_export(cli, os.path.join(tmp, "none"), os.path.join(tmp, "x"))
    assert p.returncode == 2 and "run.json" in p.stderr


def test_load_into_a_module_with_repro_names(tmp):
    X, y = toy()
    r = repro.train(toy_config(), data=repro.Dataset.from_arrays(X, y), out=tmp)
    nn = torch.nn

    class Model(nn.Module):  # trunk + heads, named as repro names them
        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Dropout(0.1))
            self.heads = nn.ModuleDict({"class": nn.Sequential(nn.Linear(16, 4))})

    m = r.load_into(Model())
    assert np.array_equal(m.heads["class"][0].weight.detach().numpy(), r.params()["heads.class.0.weight"])
    with pytest.raises(RuntimeError):  # torch's own message for a module that fits neither naming
        r.load_into(nn.Sequential(nn.Linear(20, 16)))
