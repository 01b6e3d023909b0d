"""PyTorch as a target for Python source: the dtype spelling and the context each op's
`torch` rule gets, how symbolic dims are read (`x.shape[i]`, which `torch.compile(
dynamic=True)` keeps symbolic), and, for whole modules, `compiled(backend)` (every
function under `torch.compile(fullgraph=True, dynamic=True)`) and a `torch.nn.Module`.
"""

from __future__ import annotations

from ..ops.threefry import step_seed_source
from .python_source import Namer, SourceCtx, Target, argument_names, data_args, literal

TORCH_DTYPES = {"f16": "torch.float16", "bf16": "torch.bfloat16", "f32": "torch.float32",
                "f64": "torch.float64", "i8": "torch.int8", "i32": "torch.int32",
                "i64": "torch.int64", "u8": "torch.uint8", "bool": "torch.bool"}


class TorchCtx(SourceCtx):
    DTYPES = TORCH_DTYPES


def decorate(emitted, source: str) -> str:
    return source


def filled_buffers(entries, buffers: list[str]) -> list[str]:
    """`__init__` lines registering one buffer per entry of a `meta` group (name,
    dtype, shape, initial value), filled with its initial value."""
    if not entries:
        return []
    lines = ["        for name, dtype, shape, value in ("]
    lines += [f"                ({literal(b)}, {TORCH_DTYPES[s['dtype']]}, "
              f"{literal(tuple(s['shape']))}, {literal(s['value'])}),"
              for b, s in zip(buffers, entries)]
    return lines + ["        ):",
                    "            self.register_buffer(name, torch.full(shape, value, dtype=dtype))"]


def wrapper(module, names: dict[str, str], namer: Namer) -> str:
    """`compiled(backend)`, then `Model(torch.nn.Module)`: parameters from `init` as
    `nn.Parameter`s, optimizer state and metric variables as buffers, `forward`
    (predict, eager, so that `torch.export` and a user's own `torch.compile` see plain
    torch code), `train_step` (compiled; updates the parameters and buffers in place),
    `evaluate` and `reset_metrics`; the metrics a step returns are their results since
    the last reset, as Keras' are within an epoch."""
    pairs = ", ".join(f"({literal(ir_name)}, {name})" for ir_name, name in names.items())
    lines = [
        'def compiled(backend="inductor"):',
        '    """Every function above under `torch.compile(fullgraph=True, dynamic=True)`, by',
        '    name; each compiles on its first call, and symbolic dims stay dynamic."""',
        "    return {name: torch.compile(function, backend=backend, fullgraph=True, dynamic=True)",
        f"            for name, function in ({pairs},)}}",
    ]
    if not {"init", "predict"} <= set(names):
        return "\n".join(lines)
    functions = module.functions
    inputs = argument_names(functions["predict"].args_with("input"), namer)
    keys = Namer({"state"})
    params, state = module.meta["params"], module.meta.get("state", [])
    param_keys = [keys.fresh(p["name"]) for p in params]
    state_buffers = [f"var_{keys.fresh(s['name'])}" for s in state]
    slots = module.meta.get("optimizer_state", [])
    slot_buffers = [f"state_{keys.fresh(s['name'])}" for s in slots]
    metric_vars = module.meta.get("metric_state", [])
    metric_buffers = [f"metric_{keys.fresh(s['name'])}" for s in metric_vars]
    single = len(functions["predict"].results) == 1
    lines += [
        "",
        "",
        "class Model(torch.nn.Module):",
        '    """The program as a `torch.nn.Module`: parameters drawn by `init(seed)`, the',
        '    model\'s state, the optimizer slots and a step count in buffers."""',
        "",
        '    def __init__(self, seed=0, backend="inductor"):',
        "        super().__init__()",
        "        self.functions = compiled(backend)",
        "        self.seed = seed",
        f"        values = {names['init']}(torch.tensor(seed, dtype=torch.int32))",
        # A ParameterDict does not keep its keys in insertion order: the functions'
        # order is kept beside it. `init` may return one tensor for several equal
        # variables (two zero biases), so each gets its own copy.
        f"        self.param_keys = {literal(tuple(param_keys))}",
        "        self.params = torch.nn.ParameterDict({",
        "            key: torch.nn.Parameter(value.clone()) for key, value in",
        "            zip(self.param_keys, values)})",
        f"        self.variable_names = {literal(tuple(state_buffers))}",
        f"        for name, value in zip(self.variable_names, values[{len(params)}:]):",
        "            self.register_buffer(name, value.clone())",
        f"        self.state_names = {literal(tuple(slot_buffers))}",
        f"        self.metric_names = {literal(tuple(metric_buffers))}",
        "        self.register_buffer('steps', torch.zeros((), dtype=torch.int64))",
    ]
    lines += filled_buffers(slots, slot_buffers) + filled_buffers(metric_vars, metric_buffers)
    lines += [
        "        self.initial_metrics = [getattr(self, name).clone()",
        "                                for name in self.metric_names]",
        "",
        "    def reset_metrics(self):",
        '        """The metric variables back to their initial values (a new epoch)."""',
        "        for name, value in zip(self.metric_names, self.initial_metrics):",
        "            getattr(self, name).copy_(value)",
    ]
    lines += [
        "",
        "    def ordered_params(self):",
        '        """The parameters in the order the functions take them."""',
        "        return [self.params[key] for key in self.param_keys]",
        "",
        f"    def forward(self, {', '.join(inputs)}):",
        "        variables = [getattr(self, name) for name in self.variable_names]",
        f"        outputs = {names['predict']}(*self.ordered_params(), *variables, "
        f"{', '.join(inputs)})",
        "        return outputs[0]" if single else "        return outputs",
    ]
    for method, function, doc in (
            ("train_step", "train_step",
             "One optimizer step in place; returns the loss and the metrics, this batch "
             "folded in."),
            ("evaluate", "eval_step",
             "The loss on one batch, and the metrics with it folded in.")):
        if function not in names:
            continue
        data = argument_names(data_args(functions[function]), namer)
        lines += ["", "    @torch.no_grad()", f"    def {method}(self, {', '.join(data)}):",
                  f'        """{doc}"""',
                  "        tensors = self.ordered_params() + [",
                  "            getattr(self, name) for name in self.variable_names]"]
        if method == "train_step":
            draws = bool(functions["train_step"].args_with("rng"))
            seed = step_seed_source("self.seed", "self.steps")
            lines += [
                "        tensors += [getattr(self, name) for name in self.state_names]",
                "        tensors += [getattr(self, name) for name in self.metric_names]",
                *([f"        rng = {seed}.to(torch.int32)"] if draws else []),
                f'        results = self.functions[{literal(function)}]('
                f'{"rng, " if draws else ""}*tensors, {", ".join(data)})',
                "        for tensor, value in zip(tensors, results):",
                "            tensor.copy_(value)",
                "        self.steps += 1",
                "        return results[len(tensors):]",
            ]
        else:
            lines += [
                "        metrics = [getattr(self, name) for name in self.metric_names]",
                f'        results = self.functions[{literal(function)}](*tensors, *metrics, '
                f'{", ".join(data)})',
                "        for tensor, value in zip(metrics, results):",
                "            tensor.copy_(value)",
                "        return results[len(metrics):]",
            ]
    return "\n".join(lines)


TORCH = Target("torch", TorchCtx, ("torch", "np"), lambda arg, axis: f"{arg}.shape[{axis}]",
               title="PyTorch",
               imports="import numpy as np\nimport torch",
               module_names=("PARAMS", "OPTIMIZER_STATE", "METRIC_STATE", "METRICS", "Model",
                             "compiled"),
               decorate=decorate, wrapper=wrapper)
