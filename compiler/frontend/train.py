"""A `train` block to IR: `eval_step` (loss and metrics), `train_step` (the same, its
gradient by `compiler.passes.autodiff`, and the optimizer update) and the settings the
runtime's training loop needs (`TrainConfig`). Settings are checked against `SETTINGS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...dsl import ast
from ...dsl.diagnostics import Label, suggest
from .. import optimizers
from ..builder import Builder
from ..callbacks import monitored
from ..ir import Function, Loc, TensorType
from .errors import fail
from .evaluate import Evaluator
from .trace import Scope, Trace
from . import keras_names, metric_specs
from .values import ALL, REQUIRED, Configured, FnRef, Spec, as_spec, kind_name


# Setting -> (default, check(value) -> error text or None). REQUIRED ones must be given.
SETTINGS: dict[str, tuple[Any, Any]] = {
    "data": (REQUIRED, None),
    "loss": (REQUIRED, None),
    "optimizer": ("rmsprop", None),
    "metrics": ([], lambda v: None if isinstance(v, list) else "a list such as `[accuracy]`"),
    # One weight per output of a model with several, as Keras' `loss_weights`.
    "loss_weights": (None, lambda v: None if isinstance(v, list) and all(
        isinstance(w, (int, float)) and not isinstance(w, bool) for w in v)
        else "a list of numbers, one per output"),
    "epochs": (None, lambda v: _positive_int(v)),
    "steps": (None, lambda v: _positive_int(v)),
    "batch_size": (32, lambda v: None if v is ALL else _positive_int(v)),
    "shuffle": (True, lambda v: None if isinstance(v, bool) else "`true` or `false`"),
    "seed": (0, lambda v: None if isinstance(v, int) and not isinstance(v, bool)
             and 0 <= v < 2**31 else "an integer from 0 to 2**31 - 1"),
    "validation_split": (0.0, lambda v: None if isinstance(v, (int, float)) and 0 <= v < 1
                         else "a fraction in [0, 1)"),
    # A data source evaluated on after each epoch, instead of a split of `data`.
    "validation_data": (None, None),
    # Data parallel over this many of the host's devices, or `all` of them.
    "devices": (1, lambda v: None if v is ALL else _positive_int(v)),
    "callbacks": ([], lambda v: None if isinstance(v, list) else
                  "a list such as `[EarlyStopping(patience=3)]`"),
    # The folder `dslc train` saves the run's checkpoint in (as `--save`).
    "checkpoint": (None, lambda v: None if isinstance(v, str) and v else "a folder name"),
}


def _describe(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"`{value}`"
    return kind_name(value)


def _positive_int(value) -> str | None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return "a positive integer"
    return None if value < 2**31 else "a positive integer below 2**31"


@dataclass
class TrainConfig:
    """What the training loop needs, plus spans so run-time data errors point back."""

    model: str
    data: Spec
    loss: str
    optimizer: Spec
    metrics: list[str]  # the training log's names of eval_step's metrics ("loss" first)
    epochs: int | None
    steps: int | None
    batch_size: int | None  # None: full batch
    shuffle: bool
    seed: int
    validation_split: float
    devices: int | str = 1  # "all": every device of the host
    callbacks: list[Spec] = field(default_factory=list)
    checkpoint: str | None = None  # relative to the `.nn` file's folder
    spans: dict[str, Any] = field(default_factory=dict)
    losses: list[str] = field(default_factory=list)  # one per output
    loss_weights: list[float] = field(default_factory=list)
    validation_data: Spec | None = None

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "data": {"source": self.data.name, "args": self.data.args},
                "loss": self.loss, "losses": self.losses, "loss_weights": self.loss_weights,
                "optimizer": self.optimizer.to_json(),
                "metrics": self.metrics, "epochs": self.epochs, "steps": self.steps,
                "batch_size": self.batch_size, "shuffle": self.shuffle, "seed": self.seed,
                "validation_split": self.validation_split, "devices": self.devices,
                "validation_data": None if self.validation_data is None else {
                    "source": self.validation_data.name, "args": self.validation_data.args},
                "callbacks": [{"name": c.name, "args": c.args} for c in self.callbacks],
                "checkpoint": self.checkpoint}


def read_settings(lowering, train: ast.TrainDef) -> tuple[dict[str, Any], dict[str, Any]]:
    ev = Evaluator(Trace(Function("settings")), lowering.calls)
    scope = Scope(lowering.globals)
    values, spans = {}, {}
    for setting in train.settings:
        if setting.name not in SETTINGS:
            raise fail("E0401", f"unknown train setting `{setting.name}`", setting.name_span,
                       "not a setting", help=suggest(setting.name, SETTINGS)
                       or f"settings are {', '.join(SETTINGS)}")
        if setting.name in values:
            raise fail("E0401", f"`{setting.name}` is set twice", setting.name_span)
        if setting.name in ("data", "validation_data") and (
                definition := _definition_called(setting.value, lowering)) is not None:
            # Name resolution reports it in full (E0101 at the same span), with the sources.
            raise fail("E0101", f"`{definition.name}` is not a data source",
                       _callee(setting.value).span)
        values[setting.name] = ev.expr(setting.value, scope)
        spans[setting.name] = setting.value.span
        if isinstance(setting.value, ast.ListExpr):
            spans.update((f"{setting.name}[{i}]", item.span)
                         for i, item in enumerate(setting.value.items))
    for name, (default, check) in SETTINGS.items():
        if name not in values:
            if default is REQUIRED:
                raise fail("E0402", f"the train block has no `{name}`", train.span,
                           f"`{name}` missing", help=f"add `{name} = ...`")
            values[name] = default
        elif check is not None and (problem := check(values[name])):
            raise fail("E0404", f"`{name}` should be {problem}, found "
                       f"{_describe(values[name])}", spans[name])
    if values["epochs"] is not None and values["steps"] is not None:
        raise fail("E0404", "give `epochs` or `steps`, not both", spans["steps"])
    if values["epochs"] is None and values["steps"] is None:
        values["epochs"] = 1
    if values["validation_split"] and values["validation_data"] is not None:
        raise fail("E0404", "give `validation_split` or `validation_data`, not both",
                   spans["validation_data"], "validation data given here",
                   secondary=[Label(spans["validation_split"], "and a split here")],
                   help="`validation_data` is evaluated instead of a split of `data`; "
                   "remove one of them")
    return values, spans


def _callee(value: ast.Expr) -> ast.Expr:
    return value.func if isinstance(value, ast.Call) else value


def _definition_called(value: ast.Expr, lowering) -> ast.ModelDef | ast.LayerDef | None:
    """The model or layer that a `data = M(...)` setting calls instead of a data source."""
    callee = _callee(value)
    found = lowering.globals.get(callee.id) if isinstance(callee, ast.Name) else None
    definition = getattr(found, "definition", found)
    return definition if isinstance(definition, (ast.ModelDef, ast.LayerDef)) else None


def component(value, kind: str, span, lowering) -> Spec:
    if isinstance(value, str) and value in lowering.globals:
        value = lowering.globals[value]
    spec = as_spec(value, kind, span)
    if spec is None:
        raise fail("E0403", f"expected {'an' if kind[0] in 'aeiou' else 'a'} {kind}, found "
                   f"{kind_name(value)}", span)
    missing = [k for k, v in spec.args.items() if v is REQUIRED]
    if missing:
        raise fail("E0301", f"the {kind} `{spec.name}` is missing its argument `{missing[0]}`",
                   span)
    return spec


def loss_function(value, span, lowering, what: str) -> FnRef | Configured:
    """The fn a `loss` or metric names: a fn, a configured one (`Huber(delta=2.0)`), a
    Keras string (`"huber"`, `keras_names`), or an alias of one (`Huber`, `mse`),
    resolved so that its name is the loss's own."""
    value = keras_names.named(value, what, span)
    ev = Evaluator(Trace(Function("settings")), lowering.calls)
    seen = set()  # `fn f = g` with `fn g = f` is left to the call, which reports it
    while (isinstance(value, FnRef) and value.definition.params is None
           and value.definition.name not in seen):
        seen.add(value.definition.name)
        value = lowering.calls.evaluate_alias(ev, value.definition)
    if not isinstance(value, (FnRef, Configured)):
        raise fail("E0403", f"expected a {what} function, found {kind_name(value)}", span,
                   help="e.g. `mean_squared_error`, `Huber(delta=2.0)`, `\"huber\"` or a "
                   "`fn` taking (y_true, y_pred)")
    return value


def target_type(loss: str, prediction: TensorType) -> TensorType:
    """Sparse losses take integer class ids; the others take targets shaped like the
    prediction."""
    if loss.startswith("sparse_"):
        return TensorType("i32", prediction.shape[:-1])
    return prediction


@dataclass
class Objective:
    """What training asks of one output: its loss (weighted) and metrics (the entries of
    `metrics`, resolved by `metric_specs`); `output` names it in the training log (empty
    for a model's only output)."""

    output: str
    loss: FnRef | Configured
    weight: float
    metrics: list


def objectives(lowering, model: ast.ModelDef, values, spans, outputs: int) -> list[Objective]:
    """One `Objective` per output: `loss` is one loss or a list of one per output,
    `loss_weights` a list of one number per output, and `metrics` a list (one output) or
    a list of lists (several), as Keras' `compile` takes them."""
    losses, weights, metrics = values["loss"], values["loss_weights"], values["metrics"]
    if outputs == 1:
        losses, metrics = (losses if isinstance(losses, list) else [losses]), [metrics]
    for setting, given, what in (("loss", losses, "one loss per output"),
                                 ("loss_weights", weights, "one weight per output"),
                                 ("metrics", metrics, "one list of metrics per output")):
        if outputs > 1 and setting == "metrics" and given == []:
            metrics = given = [[] for _ in range(outputs)]
        if given is not None and (not isinstance(given, list) or len(given) != outputs or (
                setting == "metrics" and not all(isinstance(m, list) for m in given))):
            count = f"{outputs} output" + ("s" if outputs > 1 else "")
            raise fail("E0404", f"`{model.name}` has {count}, so `{setting}` needs {what}", spans.get(setting, spans["loss"]), help=(
                           "e.g. `loss = [sparse_categorical_crossentropy, mse]`, "
                           "`loss_weights = [1.0, 0.5]`, `metrics = [[accuracy], []]`"))
    names = output_names(model, outputs)
    return [Objective(name, loss_function(loss, spans["loss"], lowering, "loss"),
                      1.0 if weights is None else float(weight), list(own))
            for name, loss, weight, own in zip(names, losses, weights or [1.0] * outputs,
                                                metrics)]


def output_names(model: ast.ModelDef, outputs: int) -> list[str]:
    """How the training log names each output: nothing for a model's only one; else the
    name its `return` gives it (`return classes, box`), or `output_<i>`."""
    if outputs == 1:
        return [""]
    returned = next((s.values for s in reversed(model.body) if isinstance(s, ast.Return)), ())
    return [value.id if isinstance(value, ast.Name) else f"output_{i}"
            for i, value in enumerate(returned)] if len(returned) == outputs else [
        f"output_{i}" for i in range(outputs)]


def build_training(lowering, train: ast.TrainDef, model: ast.ModelDef) -> TrainConfig:
    values, spans = read_settings(lowering, train)
    data = component(values["data"], "data", spans["data"], lowering)
    validation_data = None if values["validation_data"] is None else component(
        values["validation_data"], "data", spans["validation_data"], lowering)
    optimizer = component(values["optimizer"], "optimizer", spans.get("optimizer", train.span),
                          lowering)
    predict = lowering.module.functions["predict"]
    goals = objectives(lowering, model, values, spans, len(predict.results))
    eval_step = loss_function_of(lowering, predict, goals, spans, "eval_step")
    eval_step.sort_results()
    lowering.module.add(eval_step)
    train_loss = loss_function_of(lowering, lowering.forward, goals, spans, "train_loss")
    lowering.module.add(build_train_step(lowering, train_loss, optimizer))
    lowering.module.meta["modes"].update(eval_step="inference", train_step="training")
    # the training log's names: the metrics' results, Keras' loss tracker "loss" first
    logs = [n for n, role in zip(eval_step.result_names, eval_step.result_roles)
            if role == "metric"]
    if values["validation_split"] or values["validation_data"] is not None:
        logs += ["val_" + name for name in logs]
    callbacks = [checked_callback(value, spans, i, lowering, logs)
                 for i, value in enumerate(values["callbacks"])]
    for spec in callbacks:
        rate = optimizer.args.get("learning_rate")
        if spec.name == "ReduceLROnPlateau" and isinstance(rate, Spec):
            raise fail("E0404", f"`ReduceLROnPlateau` changes the learning rate, but the "
                       f"optimizer's is the schedule `{rate.name}`", spec.span,
                       "needs a constant learning rate", help="give the optimizer a number "
                       "as its `learning_rate`, or drop the callback (Keras refuses both)")
    losses = [goal.loss.definition.name for goal in goals]
    config = TrainConfig(
        model.name, data, losses[0], optimizer,
        [n for n, role in zip(eval_step.result_names, eval_step.result_roles)
         if role == "metric"], values["epochs"], values["steps"],
        None if values["batch_size"] is ALL else values["batch_size"], values["shuffle"],
        values["seed"], float(values["validation_split"]),
        "all" if values["devices"] is ALL else values["devices"], callbacks=callbacks,
        checkpoint=values["checkpoint"], spans=spans, losses=losses,
        loss_weights=[goal.weight for goal in goals], validation_data=validation_data)
    lowering.module.meta["train"] = config.to_json()
    return config


def checked_callback(value, spans, index: int, lowering, logs: list[str]) -> Spec:
    """The `index`-th entry of `callbacks` as a callback `Spec`, its `monitor` one of
    the `logs` the run records (Keras only warns, and then never stops or saves)."""
    span = spans.get(f"callbacks[{index}]", spans["callbacks"])
    spec = component(value, "callback", span, lowering)
    monitor = monitored(spec.component, spec.args)
    if monitor is not None and monitor not in logs:
        given = "monitor" in spec.arg_spans
        raise fail("E0404", f"`{spec.name}` monitors `{monitor}`, which this run does not "
                   "log", spec.arg_spans.get("monitor", spec.span or span),
                   "not logged" if given else "monitors `val_loss` by default",
                   help=_monitor_help(monitor, logs))
    return spec


def _monitor_help(monitor: str, logs: list[str]) -> str:
    if monitor.startswith("val_") and monitor[4:] in logs:
        return f"`{monitor}` needs `validation_split`; or monitor `{monitor[4:]}`"
    return suggest(monitor, logs, "log") or f"the run logs {', '.join(logs)}"


def loss_function_of(lowering, forward: Function, goals: list[Objective], spans,
                     name: str) -> Function:
    """`name(..., metric_state..., x..., y...) -> (loss, metric..., metric_state...,
    state...)`: `forward` (the model in one mode: `predict`, or the training forward with
    its new state) inlined, then each output's loss of (its target, its prediction). The
    loss is the sum of the outputs' weighted losses. The metrics (`metric_specs`) are
    the loss's tracker, with several outputs each one's own loss (`classes_loss`), then
    each output's metrics, as Keras logs them: their results, and their variables'
    new values. For `eval_step` there is no new state."""
    from ..passes.inline import empty_like, inline

    function = empty_like(forward, name)
    values = forward.group_results(inline(forward, Builder(function, forward.loc),
                                          function.args))
    ev = Evaluator(Trace(function), lowering.calls)
    b = ev.trace.builder(spans["loss"])
    total, output_losses, tracked = None, [], []
    for goal, prediction in zip(goals, values["output"]):
        y_type = target_type(goal.loss.definition.name, prediction.type)
        y = function.add_arg(y_type, f"y_{goal.output}" if goal.output else "y",
                             Loc.of(spans["data"]), role="target")
        prefix = f"{goal.output}_" if goal.output else ""
        loss = scalar(lowering, ev, goal.loss, y, prediction, spans["loss"], "loss")
        weighted = loss if goal.weight == 1.0 else b.mul(loss, b.const(goal.weight,
                                                                      loss.type.dtype))
        total = weighted if total is None else b.add(total, weighted)
        if len(goals) > 1:
            output_losses.append((f"{prefix}loss", loss))

        for value in goal.metrics:
            metric = metric_specs.resolve(
                value, spans["metrics"], y, prediction,
                lambda v: loss_function(v, spans["metrics"], lowering, "metric"),
                lambda fn, y=y, prediction=prediction: applied(
                    lowering, ev, fn, y, prediction, spans["metrics"]))
            metric.name = prefix + metric.name
            tracked.append(metric)
    batch = b.size(function.args_with("input")[0], axes=(0,))
    tracked = [metric_specs.loss_tracker(n, v, batch)
               for n, v in [("loss", total), *output_losses]] + tracked
    where = spans.get("metrics", spans["loss"])
    results, variables, meta = metric_specs.thread_state(
        function, tracked, Loc.of(where), ev.trace.builder(where))
    function.sort_args()
    lowering.module.meta["metric_state"] = meta
    states = values.get("state", [])
    # The loss comes first, as `grad_function` differentiates the first result.
    function.set_results([
        ("loss", [total], ["loss"]), ("metric", results, [m.name for m in tracked]),
        ("metric_state", variables, [m["name"] for m in meta]),
        ("state", states, [a.name for a in function.args_with("state")[:len(states)]])])
    return function


def applied(lowering, ev, fn, y, prediction, span):
    """`fn(y, prediction)`: a loss's or a metric's values."""
    return ev.tensor(lowering.calls.call(ev, fn, [(y, span), (prediction, span)], {}, span),
                     span)


def scalar(lowering, ev, fn, y, prediction, span, what: str):
    """`fn(y, prediction)`, which must be a float scalar (a loss)."""
    value = applied(lowering, ev, fn, y, prediction, span)
    if value.type.shape != () or not value.type.is_float:
        raise fail("E0404", f"the {what} `{fn.definition.name}` gives `{value.type}`, "
                   "not a float scalar", span)
    return value


def build_train_step(lowering, train_loss: Function, spec: Spec) -> Function:
    """`train_step(rng?, params..., state..., optimizer state..., metric_state..., x, y)
    -> (params..., state..., optimizer state..., metric_state..., loss, metrics...)`: the
    gradient of `train_loss` (the model in training mode) with respect to the
    parameters, the optimizer's state (`optimizers.state_entries`) as further
    arguments, and its update appended, at the learning rate its state holds or its
    schedule computes from `iterations`; the metrics' variables pass through
    `train_loss`'s update."""
    from ..passes.autodiff import grad_function

    hyper = spec.args
    wrt = tuple(i for i, a in enumerate(train_loss.args) if a.role == "param")
    step = grad_function(train_loss, wrt=wrt, with_value=True, has_aux=True,
                         name="train_step")
    params = step.args_with("param")
    entries = optimizers.state_entries(spec.component, hyper,
                                       [(p.name, p.type) for p in params])
    locs = {p.name: p.loc for p in params}
    state = {e.name: step.add_arg(e.type, e.name, locs.get(e.param, Loc.of(spec.span)),
                                  role="optimizer") for e in entries}
    step.sort_args()
    named = step.group_results(list(zip(step.results, step.result_names)))
    grads = [value for value, _ in named.get(None, [])]
    b = Builder(step, Loc.of(spec.span))
    rate = hyper["learning_rate"]
    learning_rate = (rate.component.rate(b.at(Loc.of(rate.span)), rate.args,
                                         state[optimizers.ITERATIONS])
                     if isinstance(rate, Spec) else state[optimizers.LEARNING_RATE])
    new_params, new_state = optimizers.apply(b, spec.component, hyper, learning_rate, state,
                                             params, grads)

    def passed_on(role: str):
        """The results of `train_loss` in `role`, as (role, values, names)."""
        pairs = named.get(role, [])
        return role, [v for v, _ in pairs], [n for _, n in pairs]

    step.set_results([("param", new_params, [a.name for a in params]), passed_on("state"),
                      ("optimizer", list(new_state.values()), list(new_state)),
                      passed_on("metric_state"), passed_on("loss"), passed_on("metric")])
    lowering.module.meta["optimizer_state"] = [
        {"name": e.name, "dtype": e.type.dtype, "shape": list(e.type.shape),
         "value": e.initial} for e in entries]
    lowering.module.meta["optimizer"] = spec.to_json()
    return step
