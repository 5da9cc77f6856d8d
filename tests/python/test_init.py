"""init.from and init torch_default: a run starts bit for bit from given
weights (repro's names or the nn.Sequential names of `repro export`, so a
PyTorch state_dict works), names and shapes are checked with messages naming
the tensor and both shapes; torch_default draws nn.Linear's / nn.Conv2d's
default distribution U(+-1/sqrt(fan_in))."""
import hashlib
import os
import subprocess

import numpy as np
import pytest

import repro
from repro import _safetensors
from conftest import toy, toy_config


def model_order_sha256(tensors, names):
    return hashlib.sha256(b"".join(np.ascontiguousarray(tensors[n], dtype="<f4").tobytes() for n in names)).hexdigest()


@pytest.fixture
def trained(tmp):
    X, y = toy()
    ds = repro.Dataset.from_arrays(X, y)
    return repro.train(toy_config(), data=ds, out=os.path.join(tmp, "src")), ds


def test_init_from_model_safetensors_and_from_its_export(tmp, cli, trained):
    r, ds = trained
    assert repro.initial_params_sha256(toy_config(), data=ds) != r.params_sha256
    for f in (os.path.join(r.path, "model.safetensors"), os.path.join(tmp, "e.safetensors")):
        if f.startswith(tmp) and not os.path.exists(f):
            subprocess.run([cli, "export", r.path, "--format", "torch", "-o", f, "--quiet"], check=True)
        cfg = toy_config(init={"from": f})
        assert repro.initial_params_sha256(cfg, data=ds) == r.params_sha256
    run = repro.train(cfg, data=ds, out=os.path.join(tmp, "cont"))
    assert run.record["init_from"]["sha256"] == hashlib.sha256(open(f, "rb").read()).hexdigest()
    assert run.config["init"]["from"] == f


def test_init_from_a_pytorch_state_dict(tmp, trained):
    torch = pytest.importorskip("torch")
    r, ds = trained
    m = r.torch_module()
    torch.manual_seed(0)
    for layer in m:
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()  # PyTorch's own fresh init
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    path = os.path.join(tmp, "torch.safetensors")
    _safetensors.write(path, sd)  # no metadata: the names alone say where each goes
    order = ["0.weight", "0.bias", "3.weight", "3.bias"]  # repro's tensor order
    got = repro.initial_params_sha256(toy_config(init={"from": path}), data=ds)
    assert got == model_order_sha256(sd, order)


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.pop("heads.class.0.bias"),
     "init.from '{f}': the model's tensor 'heads.class.0.bias' [4] is not in the file"),
    (lambda t: t.update({"trunk.0.weight": np.zeros((20, 16), np.float32)}),
     "init.from '{f}': tensor 'trunk.0.weight' has shape [20, 16] in the file but [16, 20] in the model"),
    (lambda t: t.update({"extra.weight": np.zeros(3, np.float32)}),
     "init.from '{f}': the file's tensor 'extra.weight' is no tensor of the model"),
])
def test_init_from_refusals_name_the_tensor(tmp, trained, cli, edit, message):
    r, ds = trained
    tensors = r.params()
    edit(tensors)
    f = os.path.join(tmp, "bad.safetensors")
    _safetensors.write(f, tensors)
    with pytest.raises(repro.ConfigError) as e:
        repro.initial_params_sha256(toy_config(init={"from": f}), data=ds)
    assert str(e.value) == message.format(f=f)
    with pytest.raises(repro.ConfigError):
        repro.train(toy_config(init={"from": f}), data=ds, out=os.path.join(tmp, "run"))


def draw(layers, input_shape=None, n_in=64):
    """The tensors a one-head model starts from (step 0)."""
    model = {"trunk": layers[:-1], "heads": [{"name": "h", "layers": layers[-1:], "loss": "cross_entropy"}]}
    if input_shape:
        model = {"input_shape": input_shape, "nodes": [dict(l, name=f"n{i}") for i, l in enumerate(layers)],
                 "heads": [{"name": "h", "loss": "cross_entropy"}]}
    cfg = {"seed": 7, "data": {"format": "memory"}, "model": model}
    p = repro.initial_params(cfg, input=n_in)
    assert model_order_sha256(p, list(p)) == repro.initial_params_sha256(cfg, input=n_in)
    return p


def test_torch_default_linear_is_uniform_one_over_sqrt_fan_in():
    p = draw([{"type": "linear", "out": 2048, "weight_init": "torch_default", "bias_init": "torch_default"},
                   {"type": "linear", "out": 2}], n_in=256)
    bound = np.float32(1) / np.sqrt(np.float32(256))
    w, b = p["trunk.0.weight"], p["trunk.0.bias"]
    for t in (w, b):
        assert np.abs(t).max() <= bound and np.abs(t).max() > 0.99 * bound
    # U(-a, a): mean 0, variance a^2 / 3, flat histogram (524288 draws)
    assert abs(w.mean()) < 0.01 * bound and w.var() == pytest.approx(bound ** 2 / 3, rel=0.01)
    hist, _ = np.histogram(w, bins=8, range=(-bound, bound))
    assert np.all(np.abs(hist / w.size - 1 / 8) < 0.005)
    # the default (kaiming_uniform, bias zeros) differs
    assert not np.any(p["heads.h.0.bias"])


def test_torch_default_conv_fan_in_is_c_over_groups_kh_kw():
    p = draw([{"type": "conv2d", "out": 64, "kernel": 3, "kernel_w": 2, "groups": 2,
                    "weight_init": "torch_default", "bias_init": "torch_default"},
                   {"type": "global_avg_pool"}, {"type": "linear", "out": 2}],
             input_shape=[4, 8, 8], n_in=256)
    w, b = p["n0.weight"], p["n0.bias"]
    assert w.shape == (64, 2, 3, 2)
    bound = np.float32(1) / np.sqrt(np.float32(2 * 3 * 2))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound and w.var() == pytest.approx(bound ** 2 / 3, rel=0.1)


def test_init_default_torch_default_is_every_layer_torch_default():
    layers = lambda init: [dict({"type": "linear", "out": 32}, **init), {"type": "relu"},
                           dict({"type": "linear", "out": 3}, **init)]
    per_layer = {"seed": 5, "model": {"input": 10, "trunk": layers({"weight_init": "torch_default",
                                                                     "bias_init": "torch_default"})[:2],
                                      "heads": [{"name": "h", "loss": "cross_entropy", "layers": layers(
                                          {"weight_init": "torch_default", "bias_init": "torch_default"})[2:]}]},
                 "data": {"format": "memory"}}
    scheme = {"seed": 5, "init": {"default": "torch_default"},
              "model": {"input": 10, "trunk": layers({})[:2],
                        "heads": [{"name": "h", "loss": "cross_entropy", "layers": layers({})[2:]}]},
              "data": {"format": "memory"}}
    plain = dict(scheme, init={})
    a, b = repro.initial_params_sha256(per_layer), repro.initial_params_sha256(scheme)
    assert a == b != repro.initial_params_sha256(plain)
    p = repro.initial_params(scheme)
    assert np.any(p["trunk.0.bias"]) and np.abs(p["trunk.0.bias"]).max() <= 1 / np.sqrt(np.float32(10))
