"""`--emit tf` and `--emit torch`: every example becomes a standalone module (a golden
file) that runs with only its framework and NumPy, draws the same initial parameters
as XLA, predicts, evaluates and trains to the same numbers as XLA, compiles with
`tf.function(jit_compile=True)` without a retrace per batch size and with
`torch.compile(fullgraph=True)` (inductor once per example), and exports through the
wrappers (`tf.saved_model`, `torch.export`). Hostile `.nn` names give valid code that
does only what the program says."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLES, ROOT, check_golden, run_dslc
from dslc import compile as compile_program
from dslc.compiler.agreement import relative_deviation
from dslc.compiler.backends.python_module import emit_module

tf = pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")

GOLDEN = ROOT / "tests" / "golden" / "emit"
TARGETS = ("tf", "torch")
TRAINED = [e for e in EXAMPLES if "train " in e.read_text()]


@pytest.fixture(scope="session")
def programs():
    return {e.stem: compile_program(str(e.relative_to(ROOT))) for e in EXAMPLES}


@pytest.fixture(scope="session")
def modules(programs):
    """(example, target) -> the emitted module, executed."""
    loaded = {}
    for stem, program in programs.items():
        for target in TARGETS:
            namespace = {"__name__": f"emitted_{stem}_{target}"}
            exec(compile(program.emit(target), f"<{stem}.{target}>", "exec"), namespace)
            loaded[stem, target] = namespace
    return loaded


def to_framework(target, arrays):
    if target == "tf":
        return [tf.constant(a) for a in arrays]
    return [torch.from_numpy(np.array(a)) for a in arrays]


def to_numpy(values):
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in values]


def call(namespace, target, name, arrays, backend="aot_eager"):
    """Calls an emitted function: TF's compiled one, torch's under `backend` (None:
    the plain function, eagerly)."""
    if target == "tf":
        return to_numpy(namespace[name](*to_framework("tf", arrays)))
    if backend is None:
        function = namespace[name]
    else:
        function = namespace.setdefault("_compiled", {}).setdefault(
            backend, namespace["compiled"](backend))[name]
    return to_numpy([r.detach() for r in function(*to_framework("torch", arrays))])


def batch_for(program, rows=16, seed=1):
    """A batch shaped like the program's data (inputs and targets)."""
    from dslc.compiler.training import load_data

    data = load_data(program)
    batch = data.take(np.random.default_rng(seed).permutation(len(data))[:rows])
    return batch.x, batch.y


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_emitted_module_is_golden(example, target, programs, update_goldens):
    source = programs[example.stem].emit(target)
    check_golden(GOLDEN / f"{example.stem}.{target}.py", source, update_goldens)
    assert "GradientTape" not in source and "autograd" not in source
    assert ".backward(" not in source and "torch.func" not in source


@pytest.mark.parametrize("target", TARGETS)
def test_cli_writes_the_same_module(target, tmp_path, programs):
    out = tmp_path / f"linear_{target}.py"
    result = run_dslc("examples/linear_classifier.nn", "--emit", target, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == programs["linear_classifier"].emit(target)
    printed = run_dslc("examples/linear_classifier.nn", "--emit", target)
    assert printed.stdout == out.read_text()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("example", TRAINED, ids=lambda p: p.stem)
def test_init_predict_and_eval_agree_with_xla(example, target, programs, modules):
    program, namespace = programs[example.stem], modules[example.stem, target]
    seed = np.int32(3)
    variables = program.init(int(seed))
    # torch runs `init` eagerly, as `Model` does: compiling the generator's unrolled
    # rounds takes long and proves nothing the eager run does not.
    initial = call(namespace, target, "init", [seed], backend=None)
    factored = qr_dependent(program.module.functions["init"])
    for ours, theirs, exact in zip(initial, variables.values(), factored):
        assert ours.dtype == theirs.dtype
        if exact:
            np.testing.assert_array_equal(ours, theirs)  # the same bits
        else:  # each framework factors with its own QR (see test_initializers.py)
            np.testing.assert_allclose(ours, theirs, atol=1e-6)
    x, y = batch_for(program)
    predict = program.module.functions["predict"]
    predicted = call(namespace, target, "predict", by_role(program, predict, variables, x))
    inputs = list(x) if isinstance(x, tuple) else x
    assert relative_deviation(predicted[0], program.predict(variables, inputs)) <= 1e-5
    eval_step = program.module.functions["eval_step"]
    arrays = by_role(program, eval_step, variables, x, y)
    evaluated = call(namespace, target, "eval_step", arrays)
    reference = program.function("eval_step")(*arrays)
    for ours, theirs in zip(evaluated, reference):
        assert relative_deviation(ours, theirs) <= 1e-5


def qr_dependent(init) -> list[bool]:
    """For each result of `init`: whether its bits are every backend's own (False where a
    `qr` op, an orthogonal initializer, computes it)."""
    factored: set[int] = set()
    for node in init.nodes:
        if node.op == "qr" or any(id(v) in factored for v in node.operands):
            factored.update(id(r) for r in node.results)
    return [id(r) not in factored for r in init.results]


def by_role(program, function, variables, x, y=None, step=0):
    """`function`'s arguments from the model's variables (`init`'s dict), the optimizer's
    initial slots and the metrics' initial variables, the seed of training step `step`,
    and the batch, by role."""
    from dslc.runtime.data import arrays
    from dslc.runtime.training import step_seed

    seed = program.compilation.train.seed if program.compilation.train else 0
    return function.order_args(
        rng=[np.int32(step_seed(seed, step))],
        param=[variables[n] for n in program.param_names],
        state=[variables[n] for n in program.state_names],
        optimizer=list(program.init_optimizer().values()),
        metric_state=list(program.init_metrics().values()),
        input=list(arrays(x)), target=[] if y is None else list(arrays(y)))


EVERY_DRAW = """
model Draws(x: f32[B, 3]) -> f32[B, 8] {
    param a: f32[3, 8] = normal(mean=0.5, stddev=2.0)
    param b: f32[8, 8] = truncated_normal
    param c: f32[8, 8] = glorot_normal
    param d: f32[8, 8] = he_normal
    param e: f32[8, 8] = lecun_normal
    param f: f32[8, 8] = uniform(minval=-3.0, maxval=1.0)
    param g: f32[8, 8] = he_uniform
    return x @ a @ b @ c @ d @ e @ f @ g
}
"""


def emitted_and_xla_inits(source, target):
    """(parameter name, the emitted `init`'s value, XLA's) for a few seeds."""
    program = compile_program(source)
    namespace = {"__name__": f"emitted_draws_{target}"}
    exec(compile(program.emit(target), f"<draws.{target}>", "exec"), namespace)
    for seed in (0, 12345, -7):
        drawn = call(namespace, target, "init", [np.int32(seed)], backend=None)
        for name, ours, theirs in zip(program.param_names, drawn,
                                      program.init(seed).values()):
            yield name, ours, np.asarray(theirs)


@pytest.mark.parametrize("target", TARGETS)
def test_every_initializer_draws_the_same_bits_as_xla(target):
    for name, ours, theirs in emitted_and_xla_inits(EVERY_DRAW, target):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)


ORTHOGONAL_DRAWS = """
model Orthogonals(x: f32[B, 8]) -> f32[B, 8] {
    param tall: f32[8, 5] = orthogonal
    param wide: f32[5, 8] = orthogonal(gain=0.5)
    param kernel: f32[2, 3, 8] = orthogonal
    return x
}
"""


@pytest.mark.parametrize("target", TARGETS)
def test_orthogonal_draws_agree_with_xla_to_rounding(target):
    """The normal draws are the same bits (above), but QR is each framework's own
    Householder code (LAPACK for XLA on CPU, torch and NumPy; XLA's own expansion under
    TF's `jit_compile`), which rounds differently: the factors agree to f32 rounding."""
    for name, ours, theirs in emitted_and_xla_inits(ORTHOGONAL_DRAWS, target):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("example", TRAINED, ids=lambda p: p.stem)
def test_forty_steps_agree_on_three_backends(example, programs):
    from dslc.compiler.agreement import verify

    result = verify(programs[example.stem], 40, torch_backend="aot_eager", log=None)
    assert result.ok, (result.failed_step, result.culprit)
    assert len(result.steps) == 40
    first, last = result.steps[0].losses["xla"], result.steps[-1].losses["xla"]
    assert last < first  # it trained, on all three together


SCHEDULED = """model M(x: f32[N, 2]) -> f32[N, 1] {
    return x |> Dense(8, activation=tanh) |> Dense(1, activation=sigmoid)
}
train M {
    data       = two_blobs(per_class=32)
    loss       = binary_crossentropy
    optimizer  = Nadam(learning_rate=CosineDecay(0.01, decay_steps=30, warmup_target=0.05,
                                                 warmup_steps=5),
                       global_clipnorm=0.5, weight_decay=0.01)
    batch_size = 16
    steps      = 40
}
"""


def test_scheduled_clipped_optimizer_agrees_on_three_backends():
    """A schedule read from `iterations`, global clipping, weight decay and Nadam's own
    optimizer-wide state, stepped in lockstep on XLA, TF and torch."""
    from dslc.compiler.agreement import verify

    program = compile_program(SCHEDULED, filename="scheduled.nn")
    result = verify(program, 40, torch_backend="aot_eager", log=None)
    assert result.ok, (result.failed_step, result.culprit)
    assert result.steps[-1].losses["xla"] < result.steps[0].losses["xla"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_inductor_compiles_each_example(example, programs, modules):
    """One real `torch.compile` (inductor, fullgraph) per example: its train step, or
    for a program of `fn`s, its last function."""
    program, namespace = programs[example.stem], modules[example.stem, "torch"]
    if "train_step" in program.functions:
        x, y = batch_for(program)
        name = "train_step"
        args = by_role(program, program.module.functions[name], program.init(0), x, y)
    else:
        name = program.functions[-1]
        args = [np.float32(1.5)]
    ours = call(namespace, "torch", name, args, backend="inductor")
    theirs = program.function(name)(*args)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    # Adam's first step moves each parameter by lr * g / (|g| + eps): where a gradient is
    # rounding noise (a unit relu switched off for the whole batch), inductor's fused
    # reductions round it differently and the step amplifies that to ~5e-5 of the
    # parameter; every other value agrees to 1e-5.
    roles = program.module.functions[name].result_roles or [None] * len(theirs)
    for a, b, role in zip(ours, theirs, roles):
        assert relative_deviation(a, b) <= (1e-4 if role == "param" else 1e-5)


def test_tf_traces_once_for_every_batch_size(programs, modules):
    namespace = modules["mlp", "tf"]
    params = list(programs["mlp"].init(0).values())
    predict = namespace["predict"]
    for rows in (3, 17, 64):
        predict(*params, np.zeros((rows, 2), np.float32))
    assert predict.experimental_get_tracing_count() == 1


def test_torch_keeps_the_batch_dim_dynamic(programs, modules):
    from torch._dynamo.testing import CompileCounter

    counter = CompileCounter()
    predict = torch.compile(modules["mlp", "torch"]["predict"], backend=counter,
                            fullgraph=True, dynamic=True)
    params = [torch.from_numpy(np.array(p)) for p in programs["mlp"].init(0).values()]
    # Sizes that equal no other dim of the model (2, 3, 64): torch unifies equal sizes
    # into one symbol ("duck sizing") and would then recompile for another batch size.
    for rows in (5, 17, 33):
        predict(*params, torch.zeros((rows, 2)))
    assert counter.frame_count == 1


def test_tf_module_wrapper_trains_and_saves(tmp_path, programs, modules):
    model = modules["linear_classifier", "tf"]["Model"](seed=0)
    program = programs["linear_classifier"]
    x, y = batch_for(program, rows=64)
    before = float(model.evaluate(x, y)[0])
    for _ in range(5):
        model.train_step(x, y)
    assert float(model.evaluate(x, y)[0]) < before
    assert_metrics_accumulate(model, x, y, lambda t: t.numpy())
    tf.saved_model.save(model, str(tmp_path / "saved"))
    restored = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_torch_module_wrapper_trains_and_exports(programs, modules):
    model = modules["linear_classifier", "torch"]["Model"](seed=0, backend="aot_eager")
    assert isinstance(model, torch.nn.Module)
    assert all(isinstance(p, torch.nn.Parameter) for p in model.parameters())
    x, y = (torch.from_numpy(a) for a in batch_for(programs["linear_classifier"], rows=64))
    before = float(model.evaluate(x, y)[0])
    for _ in range(5):
        model.train_step(x, y)
    assert float(model.evaluate(x, y)[0]) < before
    assert_metrics_accumulate(model, x, y, lambda t: t.numpy())
    exported = torch.export.export(model, (x,))
    torch.testing.assert_close(exported.module()(x), model(x))


EVERY_METRIC = """
model M(x: f32[B, 2]) -> f32[B, 1] {
    param W: f32[2, 1] = glorot_uniform
    param b: f32[1] = zeros
    return sigmoid(x @ W + b)
}

train M {
    data       = two_blobs(per_class=50, seed=0)
    loss       = binary_crossentropy
    optimizer  = SGD(learning_rate=0.1)
    metrics    = ["accuracy", AUC(num_thresholds=50), AUC(curve="PR"),
                  Precision(thresholds=0.3), Recall(top_k=1),
                  F1Score(average="weighted", threshold=0.5)]
    batch_size = 16
}
"""


def test_every_metric_class_agrees_on_three_backends():
    """The metric classes' updates and results (slices, iota, selects, the top-k mask)
    and their variables, carried from step to step, agree on XLA, TF and torch."""
    from dslc.compiler.agreement import verify

    result = verify(compile_program(EVERY_METRIC), 4, torch_backend="aot_eager", log=None)
    assert result.ok, (result.failed_step, result.culprit)
    assert len(result.steps) == 4


def assert_metrics_accumulate(model, x, y, numpy):
    """The wrapper's metrics (the loss tracker and binary accuracy) over two halves of a
    batch, after `reset_metrics`, are those of the whole batch evaluated at once."""
    model.reset_metrics()
    whole = [numpy(t) for t in model.evaluate(x, y)[1:]]
    model.reset_metrics()
    model.evaluate(x[:24], y[:24])
    halves = [numpy(t) for t in model.evaluate(x[24:], y[24:])[1:]]
    assert len(whole) == 2
    np.testing.assert_allclose(halves, whole, rtol=1e-6)


def test_emitted_module_needs_only_its_framework_and_numpy(tmp_path, programs):
    """The module runs in a fresh interpreter where dslc, JAX and Lark cannot be
    imported at all."""
    for target in TARGETS:
        path = tmp_path / f"linear_{target}.py"
        path.write_text(programs["linear_classifier"].emit(target))
        script = textwrap.dedent(f"""
            import importlib.abc, sys
            class Refuse(importlib.abc.MetaPathFinder):
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] in ("dslc", "jax", "jaxlib", "lark"):
                        raise ImportError(f"{{name}} is not available here")
            sys.meta_path.insert(0, Refuse())
            sys.path.insert(0, {str(tmp_path)!r})
            import linear_{target} as m
            params = m.init({'m.tf.constant(0)' if target == 'tf' else 'm.torch.tensor(0, dtype=m.torch.int32)'})
            print(len(params), [tuple(p.shape) for p in params])
        """)
        result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                text=True, cwd=tmp_path, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "2 [(2, 1), (1,)]" in result.stdout


HOSTILE = '''\
# A program whose every name is a trap for generated Python. ünïcödé in a comment.
layer os(units: int) {
    (x: f32[B, in]) -> f32[B, units]
    param tf: f32[in, units] = glorot_uniform
    param torch: f32[units] = zeros
    return x @ tf + torch
}
fn __import__(np) = np * 2.0
model Model(PARAMS: f32[N, 2]) -> f32[N, 1] {
    self = PARAMS |> os(3)
    lambda = __import__(self)
    return lambda |> os(1)
}
train Model {
    data      = two_blobs(per_class=8)
    loss      = mean_squared_error
    optimizer = SGD(learning_rate=0.1)
    steps     = 2
}
'''


@pytest.mark.parametrize("target", TARGETS)
def test_hostile_names_emit_valid_code_that_does_only_the_program(target, tmp_path):
    program = compile_program(HOSTILE, filename='evil"""\nimport os.nn')
    source = program.emit(target)
    compile(source, "hostile.py", "exec")
    assert not re.search(r"^\s*(def|class) (os|tf|torch|np|__import__|lambda)\b", source, re.M)
    assert re.findall(r"^import .*", source, re.M) == [
        "import numpy as np", f"import {'tensorflow as tf' if target == 'tf' else 'torch'}"]
    namespace: dict = {}
    exec(compile(source, "hostile.py", "exec"), namespace)
    params = call(namespace, target, "init", [np.int32(0)], backend=None)
    x = np.ones((4, 2), np.float32)
    assert np.allclose(call(namespace, target, "predict", params + [x])[0],
                       program.predict(dict(zip(program.param_names, params)), x), rtol=1e-5)
