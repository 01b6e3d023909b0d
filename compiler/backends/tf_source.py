"""TensorFlow as a target for Python source: the dtype spelling and the context each
op's `tf` rule gets, how symbolic dims are read (`tf.shape`), and, for whole modules,
`tf.function(jit_compile=True)` with an input signature whose symbolic dims are `None`
(so one trace serves every batch size) and a `tf.Module` wrapper.
"""

from __future__ import annotations

from .. import dims
from ..ir import TensorType
from ..ops.threefry import step_seed_source
from .python_source import Namer, SourceCtx, Target, argument_names, data_args, literal

TF_DTYPES = {"f16": "tf.float16", "bf16": "tf.bfloat16", "f32": "tf.float32",
             "f64": "tf.float64", "i8": "tf.int8", "i32": "tf.int32", "i64": "tf.int64",
             "u8": "tf.uint8", "bool": "tf.bool"}


class TfCtx(SourceCtx):
    DTYPES = TF_DTYPES


def tensor_spec(ttype: TensorType) -> str:
    shape = tuple(None if dims.is_symbolic(d) else d for d in ttype.shape)
    return f"tf.TensorSpec({literal(shape)}, {TF_DTYPES[ttype.dtype]})"


def signature(values) -> str:
    return f"input_signature=[{', '.join(tensor_spec(v.type) for v in values)}]"


def decorate(emitted, source: str) -> str:
    # No autograph: the code has no Python control flow for it to convert.
    return (f"@tf.function(jit_compile=True, autograph=False, "
            f"{signature(emitted.function.args)})\n{source}")


def filled_variables(attribute: str, entries, variable: Namer) -> list[str]:
    """`self.<attribute> = [tf.Variable(...)]`, one non-trainable variable per entry
    of a `meta` group (name, dtype, shape, initial value)."""
    if not entries:
        return [f"        self.{attribute} = []"]
    lines = [f"        self.{attribute} = [",
             "            tf.Variable(tf.fill(shape, tf.constant(value, dtype)),",
             "                        trainable=False, name=name)",
             "            for name, dtype, shape, value in ("]
    lines += [f"                ({literal(variable.fresh(s['name']))}, {TF_DTYPES[s['dtype']]}, "
              f"{literal(tuple(s['shape']))}, {literal(s['value'])}),"
              for s in entries]
    return lines + ["            )]"]


def wrapper(module, names: dict[str, str], namer: Namer) -> str:
    """`Model(tf.Module)`: parameters (trainable), state, optimizer slots and metric
    variables (not) as `tf.Variable`s from `init`, `__call__` (predict), `train_step`
    (which assigns the new values, and counts steps for the seed of a model that draws),
    `evaluate` and `reset_metrics`; the metrics a step returns are their results since
    the last reset, as Keras' are within an epoch. Every compiled method has an input
    signature, so `tf.saved_model.save` exports it."""
    if not {"init", "predict"} <= set(names):
        return ""
    functions = module.functions
    variable = Namer()
    params, state = module.meta["params"], module.meta.get("state", [])
    param_names = [variable.fresh(p["name"]) for p in params]
    state_names = [variable.fresh(s["name"]) for s in state]
    single = len(functions["predict"].results) == 1
    lines = [
        "class Model(tf.Module):",
        '    """The program as a `tf.Module`: parameters, state, optimizer slots and metric',
        "    variables are `tf.Variable`s (drawn by `init(seed)`), methods run the compiled",
        "    functions.\"\"\"",
        "",
        "    def __init__(self, seed=0, name=None):",
        "        super().__init__(name=name)",
        "        self.seed = seed",
        f"        values = {names['init']}(tf.constant(seed, tf.int32))",
        "        self.params = [tf.Variable(value, name=name) for value, name in",
        f"                       zip(values, {literal(tuple(param_names))})]",
        "        self.state = [tf.Variable(value, trainable=False, name=name) for value, name in",
        f"                      zip(values[{len(params)}:], {literal(tuple(state_names))})]",
        "        self.steps = tf.Variable(tf.constant(0, tf.int64), trainable=False, name='steps')",
    ]
    lines += filled_variables("optimizer_state", module.meta.get("optimizer_state", []),
                              variable)
    lines += filled_variables("metric_state", module.meta.get("metric_state", []), variable)
    lines += ["        self.initial_metric_state = [tf.identity(v) for v in self.metric_state]"]

    def method(name: str, args, doc: str | None, body) -> list[str]:
        """A compiled method; `body(arguments)` gives its statements."""
        arg_names = ", ".join(argument_names(args, namer))
        head = ["", f"    @tf.function(autograph=False, {signature(args)})",
                f"    def {name}(self, {arg_names}):"]
        head += [f'        """{doc}"""'] if doc else []
        return head + [f"        {line}" for line in body(arg_names)]

    lines += method("__call__", functions["predict"].args_with("input"), None, lambda args: [
        f"outputs = {names['predict']}(*self.params, *self.state, {args})",
        "return outputs[0]" if single else "return outputs"])
    if "train_step" in names:
        draws = bool(functions["train_step"].args_with("rng"))
        seed = step_seed_source("tf.constant(self.seed, tf.int64)", "self.steps")
        lines += method(
            "train_step", data_args(functions["train_step"]),
            "One optimizer step; returns the loss and the metrics, this batch folded in.",
            lambda args: [
                "variables = (self.params + self.state + self.optimizer_state",
                "             + self.metric_state)",
                *([f"rng = tf.cast({seed}, tf.int32)"] if draws else []),
                f"results = {names['train_step']}({'rng, ' if draws else ''}*variables, {args})",
                "for variable, value in zip(variables, results):",
                "    variable.assign(value)",
                "self.steps.assign_add(1)",
                "return results[len(variables):]"])
    if "eval_step" in names:
        lines += method("evaluate", data_args(functions["eval_step"]),
                        "The loss on one batch, and the metrics with it folded in.",
                        lambda args: [
                            f"results = {names['eval_step']}(*self.params, *self.state, "
                            f"*self.metric_state, {args})",
                            "for variable, value in zip(self.metric_state, results):",
                            "    variable.assign(value)",
                            "return results[len(self.metric_state):]"])
    lines += ["", "    def reset_metrics(self):",
              '        """The metric variables back to their initial values (a new epoch)."""',
              "        for variable, value in zip(self.metric_state, self.initial_metric_state):",
              "            variable.assign(value)"]
    return "\n".join(lines)


TF = Target("tf", TfCtx, ("tf", "np"), lambda arg, axis: f"tf.shape({arg})[{axis}]",
            title="TensorFlow",
            imports="import numpy as np\nimport tensorflow as tf",
            module_names=("PARAMS", "OPTIMIZER_STATE", "METRIC_STATE", "METRICS", "Model"),
            decorate=decorate, wrapper=wrapper)
