"""Runs a program's `train` block: loads its data, hands the compiled `train_step` and
`eval_step` (as JAX functions) to the runtime's training loop, and returns its result.

The runtime knows nothing of `.nn` files; run-time data problems come back here and
become diagnostics pointing at the `data` setting (E0406).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os

import numpy as np

from ..dsl import Diagnostic
from ..runtime.callbacks import CALLBACKS, SaveCheckpoints
from ..runtime.checkpoint import Checkpoint
from ..runtime.data import DATA_SOURCES, DataError, Dataset, arrays
from ..runtime.mesh import DeviceMesh
from ..runtime.training import evaluate_dataset, fit, step_seed
from . import dims, limits
from .backends.jax_lower import lower_function, precision
from .backends.stablehlo import argument_shardings, numpy_dtype
from .frontend.values import PRELUDE_PREFIX
from .ir import format_bytes, itemsize


class TrainError(Exception):
    """Training could not start; `.diagnostics` says why."""

    def __init__(self, diagnostics):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(d.message for d in self.diagnostics))


class DataFileError(ValueError):
    """A data file given on the command line or to the API does not fit the model."""


def load_data(program, setting: str = "data") -> Dataset:
    """The train block's data (or another data source `setting`, `validation_data`),
    checked against the model (`checked_data`); problems are E0406 diagnostics at the
    setting's line."""
    config = program.compilation.train
    spec = getattr(config, setting)
    source = DATA_SOURCES[spec.name]
    base_dir = os.path.dirname(os.path.abspath(program.compilation.path))
    span = config.spans[setting]

    def fail(message, label="data loaded here", help=None):
        raise TrainError([Diagnostic("E0406", message, span, label, help=help)])

    try:
        data = source.load(base_dir=base_dir, **spec.args)
    except DataError as error:
        fail(str(error))
    return checked_data(program, data, fail)


def load_data_file(program, path: str) -> Dataset:
    """The `.npz` file `path` as data for the model: arrays `x` and `y`, or for several
    inputs (targets) one per input (target), named as the model names them."""
    eval_step = program.module.functions["eval_step"]
    names = {part: (part if len(args) == 1 else [a.name for a in args])
             for part, args in (("x", eval_step.args_with("input")),
                                ("y", eval_step.args_with("target")))}

    def fail(message, label=None, help=None):
        raise DataFileError(f"{path}: {message}" + (f" ({help})" if help else ""))

    try:
        data = DATA_SOURCES["npz"].load(base_dir=os.getcwd(), path=path, **names)
    except DataError as error:
        fail(str(error))
    return checked_data(program, data, fail)


def checked_data(program, data: Dataset, fail) -> Dataset:
    """`data` with one array per input and per target (a tuple where there are several),
    of the shapes and dtypes the model's types ask, labels in range for the sparse
    losses; otherwise `fail(message, label, help)` raises."""
    eval_step = program.module.functions["eval_step"]
    parts = {}
    for part, role in (("x", "input"), ("y", "target")):
        args, given = eval_step.args_with(role), arrays(getattr(data, part))
        if len(given) != len(args):
            fail(f"the data gives {len(given)} array(s) as `{part}`, but the model "
                 f"takes {len(args)} {'inputs' if role == 'input' else 'targets'}",
                 help=f"name one array per {role}, e.g. "
                 f"`{part}=[{', '.join(repr(a.name) for a in args)}]`".replace("'", '"'))
        checked = []
        for index, (array, arg) in enumerate(zip(given, args)):
            name = part if len(args) == 1 else f"{part}[{index}]"
            if problem := shape_problem(array.shape, arg.type.shape):
                fail(f"the data's `{name}` has shape `{list(array.shape)}`, but the model "
                     f"needs `{arg.type}`", problem,
                     help="check the model's input type and the loss (sparse losses take "
                     "class ids)")
            checked.append(np.asarray(array, numpy_dtype(arg.type.dtype)))
        parts[part] = checked[0] if len(args) == 1 else tuple(checked)
    if problem := label_problem(program, arrays(parts["y"])):
        fail(problem, help="class ids run from 0 to the model's output width - 1")
    return Dataset(parts["x"], parts["y"])


def label_problem(program, targets) -> str | None:
    """For each output trained with a sparse loss: class ids outside `[0, classes)`,
    which would otherwise pick no class (a one-hot row of zeros) and give a loss of 0
    without a word."""
    outputs = program.module.functions["predict"].results
    for loss, output, labels in zip(program.compilation.train.losses, outputs, targets):
        if problem := sparse_label_problem(loss, output, labels):
            return problem
    return None


def sparse_label_problem(loss: str, output, labels) -> str | None:
    if not loss.startswith("sparse_") or labels.size == 0:
        return None
    classes = output.type.shape[-1]
    if not isinstance(classes, int):
        return None
    low, high = labels.min(), labels.max()
    if np.issubdtype(labels.dtype, np.floating) and not np.all(labels == np.round(labels)):
        return "the labels are not whole numbers, but a sparse loss takes class ids"
    if low < 0 or high >= classes:
        return (f"the labels range from {low:g} to {high:g}, but the model's output has "
                f"{classes} classes")
    return None


def nonfinite_loss(program, result) -> Diagnostic | None:
    """E0407 at the `loss` line when a training step's loss was NaN or infinite."""
    if result.first_nonfinite_step is None:
        return None
    step, value = result.first_nonfinite_step
    return Diagnostic(
        "E0407", f"the loss became {value} at step {step}", program.compilation.train.spans["loss"],
        "this loss", help="training diverged: lower the learning rate, or check the data "
        "and the loss for values that overflow")


def shape_problem(actual: tuple[int, ...], expected: tuple) -> str | None:
    """What keeps data of shape `actual` from the type's `expected` shape: its rank,
    a fixed size, or an expression dim (`H * W`) that its plain symbols contradict."""
    if len(actual) != len(expected):
        return f"rank {len(actual)}, expected rank {len(expected)}"
    symbols, bad = dims.bind(zip(expected, actual))
    if bad is not None and (dims.is_concrete(expected[bad])
                            or set(dims.symbols_of(expected[bad])) <= set(symbols)):
        want = dims.evaluate(expected[bad], symbols)
        named = "" if dims.is_concrete(expected[bad]) else f" (`{expected[bad]}`)"
        return f"dim {bad} is {actual[bad]}, expected {want}{named}"
    return None


def step_functions(program, seed: int = 0):
    """The compiled `train_step` and `eval_step` in the runtime's calling convention,
    whose pytrees carry the named signature's groups: `step((params, state),
    (slots, step_count), metric_state, x, y) -> ((params, state), (slots, step_count),
    metric_state, loss, metrics)` and `evaluate((params, state), metric_state, x, y) ->
    (metric_state, loss, metrics)`, `metrics` being the results the training log names
    (`TrainConfig.metrics`, "loss" first). A `train_step` that draws takes the step's
    seed (`step_seed(seed, step_count)`)."""
    functions = program.module.functions
    train_step, eval_step = functions["train_step"], functions["eval_step"]
    lowered_train, lowered_eval = lower_function(train_step), lower_function(eval_step)
    draws = bool(train_step.args_with("rng"))

    def step(variables, carry, metric_state, x, y):
        (params, state), (slots, count) = variables, carry
        rng = [step_seed(seed, count)] if draws else []
        out = train_step.group_results(lowered_train(*train_step.order_args(
            rng=rng, param=params, state=state, optimizer=slots, metric_state=metric_state,
            input=arrays(x), target=arrays(y))))
        return ((tuple(out.get("param", ())), tuple(out.get("state", ()))),
                (tuple(out.get("optimizer", ())), count + 1),
                tuple(out.get("metric_state", ())), out["loss"][0], tuple(out["metric"]))

    def evaluate(variables, metric_state, x, y):
        params, state = variables
        out = eval_step.group_results(lowered_eval(*eval_step.order_args(
            param=params, state=state, metric_state=metric_state, input=arrays(x),
            target=arrays(y))))
        return tuple(out.get("metric_state", ())), out["loss"][0], tuple(out["metric"])

    return step, evaluate


def carry_names(program):
    """The names checkpoints and callbacks give the arrays of the run's carry,
    `(*initial_carry, initial_metrics)`, shaped like it: "params/W", "state/...",
    "optimizer/..." and "metrics/<metric>/<variable>" (one group per `meta` list) and
    the step counter "loop/step". The optimizer's own entries are named so already
    (`optimizer/learning_rate`, which ReduceLROnPlateau rewrites); its per-parameter
    slots get the prefix (`optimizer/W/momentum`)."""
    def group(kind: str, prefix: str) -> tuple[str, ...]:
        return tuple(m["name"] if m["name"].startswith(f"{prefix}/") else f"{prefix}/{m['name']}"
                     for m in program.meta.get(kind, []))

    return ((group("params", "params"), group("state", "state")),
            (group("optimizer_state", "optimizer"), "loop/step"),
            group("metric_state", "metrics"))


def source_info(program) -> dict:
    """What a checkpoint records of the program: its `.nn` path and the sha256 of its
    text."""
    compilation = program.compilation
    return {"source": {"path": os.path.abspath(compilation.path),
                       "sha256": hashlib.sha256(compilation.text.encode("utf-8")).hexdigest()}}


def source_mismatch(program, checkpoint: Checkpoint) -> str | None:
    """A warning when `checkpoint` was written by a program whose text differs from
    `program`'s (the arrays may still fit: an edited comment or `epochs` changes it)."""
    recorded = checkpoint.info.get("source", {})
    if recorded.get("sha256") == source_info(program)["source"]["sha256"]:
        return None
    return (f"the checkpoint was written from {recorded.get('path', 'another program')}, "
            f"whose text differed from {program.compilation.path} (sha256 "
            f"{str(recorded.get('sha256'))[:12]}...); its arrays are used where their names "
            "and shapes match the program")


def weights_of(program, checkpoint: Checkpoint) -> dict[str, np.ndarray]:
    """The model's variables (params and state by name) stored in `checkpoint`;
    `ValueError` names what is missing or differs in shape."""
    expected = {m["name"]: (tuple(m["shape"]), group)
                for group, kind in (("params", "params"), ("state", "state"))
                for m in program.meta.get(kind, [])}
    variables = {}
    for name, (shape, group) in expected.items():
        array = checkpoint.arrays.get(f"{group}/{name}")
        if array is None:
            raise ValueError(f"the checkpoint has no `{group}/{name}`")
        if tuple(array.shape) != shape:
            raise ValueError(f"`{group}/{name}` is {list(array.shape)} in the checkpoint, "
                             f"{list(shape)} in the program")
        variables[name] = array
    return variables
def variable_specs(program):
    """A `PartitionSpec` per leaf of `initial_carry`'s pair: params (and their optimizer
    slots) split as their `sharded` annotations say, the rest replicated."""
    from jax.sharding import PartitionSpec

    train_step = program.module.functions["train_step"]
    specs = dict(zip((a.name for a in train_step.args),
                     argument_shardings(program.module, train_step)))
    params, state, slots = (tuple(PartitionSpec(*specs.get(m["name"], ()))
                                  for m in program.meta.get(kind, []))
                            for kind in ("params", "state", "optimizer_state"))
    return (params, state), (slots, PartitionSpec())


def initial_carry(program, seed: int):
    """What `step_functions`' step starts from: ((params, state) drawn from `seed`,
    (the optimizer's initial slots, step 0))."""
    variables = split_variables(program, program.init(seed))
    return variables, (tuple(program.init_optimizer().values()), np.int32(0))


def initial_metrics(program) -> tuple:
    """The metric state `step_functions`' functions start an epoch or evaluation from."""
    return tuple(program.init_metrics().values())


def split_variables(program, variables: dict) -> tuple[tuple, tuple]:
    """A dict of the model's variables (`Program.init`'s) as (params, state) tuples."""
    return tuple(tuple(variables[m["name"]] for m in program.meta.get(kind, []))
                 for kind in ("params", "state"))


def final_metrics(program, variables: dict) -> dict[str, float]:
    """Loss and metrics of trained `variables` over the whole training data."""
    _, evaluate = step_functions(program)
    data = load_data(program)
    loss, metrics = evaluate_dataset(evaluate, split_variables(program, variables), data,
                                     program.compilation.train.batch_size,
                                     initial_metrics(program))
    return dict(zip(program.compilation.train.metrics,
                    [float(loss)] + [float(m) for m in metrics]))


def activation_problem(program, rows: int) -> Diagnostic | None:
    """E0207 when the values one training step computes, at `rows` rows per batch,
    would take more than `DSLC_MAX_ACTIVATION_BYTES` (16 GiB by default): an upper
    bound from the types (XLA frees and fuses some), made before anything is
    allocated, reported at the line of the largest value."""
    limit = limits.limit("DSLC_MAX_ACTIVATION_BYTES")

    def size(ttype) -> int:
        return math.prod(d if isinstance(d, int) else rows for d in ttype.shape) \
            * itemsize(ttype.dtype)

    values = [(size(r.type), node) for node in program.module.functions["train_step"].nodes
              for r in node.results]
    total = sum(s for s, _ in values)
    if total <= limit:
        return None
    largest, node = max(values, key=lambda item: item[0])
    spans = program.compilation.train.spans
    message = (f"one training step computes {format_bytes(total)} of values at {rows} rows "
               f"per batch, more than the limit of {format_bytes(limit)}")
    help = ("lower `batch_size`, or raise the limit with DSLC_MAX_ACTIVATION_BYTES if the "
            "machine has the memory")
    span = node.loc.span
    if span is None or span.source.name.startswith(PRELUDE_PREFIX):
        return Diagnostic("E0207", message, spans.get("batch_size", spans["data"]),
                          "at this batch size", help=help,
                          notes=(f"the largest value, {format_bytes(largest)}, is made at "
                                 f"{node.loc}",))
    return Diagnostic("E0207", message, span,
                      f"the largest, {format_bytes(largest)}, is made here", help=help)


def devices_problem(program, devices: int | None, rows: int,
                    data: int | None = None) -> Diagnostic | None:
    """E0404 at the `batch_size` line when the batch does not split evenly over the
    `data` devices (all of them by default) of data-parallel training (or more devices
    are asked for than exist)."""
    data = data or devices
    if devices is None or devices == 1:
        return None
    import jax

    spans = program.compilation.train.spans
    span = spans.get("batch_size", spans["data"])
    available = len(jax.devices())
    if devices > available or (jax.process_count() > 1 and devices != available):
        where = "this machine has" if jax.process_count() == 1 else \
            f"a run of {jax.process_count()} processes trains on all of its"
        return Diagnostic("E0404", f"{devices} devices asked for, {where} {available}",
                          spans.get("devices", span), "devices asked for",
                          help="ask for at most that many, or `all`")
    if rows % data:
        return Diagnostic("E0404", f"a batch of {rows} rows does not split over {data} "
                          "devices", span, "batch size",
                          help=f"use a batch size that is a multiple of {data}")
    return None


def callbacks_of(program) -> list:
    """The runtime callbacks the train block's `callbacks` names; paths are relative to
    the `.nn` file's folder, as data paths are."""
    config = program.compilation.train
    base_dir = os.path.dirname(os.path.abspath(program.compilation.path))
    made = []
    for spec in config.callbacks:
        args = dict(spec.args)
        if "filepath" in args:
            args["filepath"] = os.path.join(base_dir, args["filepath"])
        made.append(CALLBACKS[spec.name](**args))
    return made


def run_training(program, *, log=print, verbose: int = 1, save: str | None = None,
                 save_every: int | None = None, resume: Checkpoint | None = None,
                 callbacks=(), **overrides):
    """Runs the train block, `overrides` replacing its settings. `save` names a folder
    the run's checkpoint is written to at every epoch end, every `save_every` steps and
    at the end; `resume` continues from a checkpoint (epochs and steps stay totals);
    `callbacks` run after the train block's own."""
    config = program.compilation.train
    if config is None:
        raise ValueError("the program has no `train` block")
    settings = {"epochs": config.epochs, "steps": config.steps,
                "batch_size": config.batch_size, "shuffle": config.shuffle,
                "seed": config.seed, "validation_split": config.validation_split,
                "devices": config.devices, "mesh": None}
    unknown = set(overrides) - set(settings)
    if unknown:
        raise TypeError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
    settings.update(overrides)
    if overrides.get("steps") is not None:
        settings["epochs"] = None
    if overrides.get("epochs") is not None:
        settings["steps"] = None
    data = load_data(program)
    validation = None if config.validation_data is None else load_data(program, "validation_data")
    if settings["validation_split"]:
        try:
            data, validation = data.split(settings["validation_split"])
        except DataError as error:
            span = config.spans.get("validation_split", config.spans["data"])
            raise TrainError([Diagnostic("E0404", str(error), span, "split here",
                                         help="use a smaller `validation_split` or more data")]
                             ) from None
    if problem := activation_problem(program, settings["batch_size"] or len(data)):
        raise TrainError([problem])
    import jax

    data_axis, model_axis = settings["mesh"] or (None, 1)
    if settings["mesh"]:
        settings["devices"] = data_axis * model_axis
    elif settings["devices"] == "all" or jax.process_count() > 1:
        settings["devices"] = len(jax.devices())
    if problem := devices_problem(program, settings["devices"], settings["batch_size"] or len(data),
                                  data_axis):
        raise TrainError([problem])
    mesh = DeviceMesh(settings["devices"], model_axis) if (settings["devices"] or 1) > 1 else None
    step, evaluate = step_functions(program, settings["seed"])
    variables, carry = initial_carry(program, settings["seed"])
    callbacks = [*callbacks_of(program), *callbacks]
    if save is not None:
        callbacks.append(SaveCheckpoints(save, save_every))
    with precision(program.module):
        result = fit(step, variables, carry, data,
                   batch_size=settings["batch_size"], epochs=settings["epochs"],
                   steps=settings["steps"], shuffle=settings["shuffle"], seed=settings["seed"],
                   validation=validation,
                   evaluate=evaluate if validation is not None else None,
                   metric_names=config.metrics, metric_state=initial_metrics(program),
                   log=log, verbose=verbose, devices=settings["devices"], callbacks=callbacks,
                   names=carry_names(program), resume=resume, info=source_info(program),
                   mesh=mesh, specs=mesh and variable_specs(program))
    (params, state), (slots, _) = result.params, result.opt_state
    names = [m["name"] for kind in ("params", "state") for m in program.meta.get(kind, [])]
    return dataclasses.replace(
        result, params=dict(zip(names, (*params, *state))),
        opt_state=dict(zip((m["name"] for m in program.meta["optimizer_state"]), slots)))

