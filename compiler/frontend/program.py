"""AST to IR for a whole program: imports, the prelude, fns, the model and its training.

Consumes the parsed main file; produces an `ir.Module` with `init`, `predict`,
`train_step` and `eval_step` for the trained (or only) model and one function per
typed `fn`, plus `meta` (parameters, optimizer state, train settings, layer table).
Diagnostics from independent definitions are all collected.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

from ...dsl import DiagnosticError, ast, parse, resolve
from ...dsl.diagnostics import Diagnostic
from ..ir import Function, Loc, Module, TensorType
from ..builder import Builder
from ..data_sources import DATA_SOURCES
from ..initializers import draw
from ..source_files import SourceRefused, import_target, read_source, root_of
from .builtins import builtin_globals
from .calls import Calls
from .errors import fail
from .evaluate import Evaluator
from .prelude_files import PRELUDE, definitions, prelude, prelude_definitions  # noqa: F401
from .trace import Scope, Trace
from .train import TrainConfig, build_training
from .types import check_readable_symbols, resolve_type
from .values import FnRef, GradOf, ModelRef, kind_name


@dataclass
class FrontendResult:
    module: Module | None
    diagnostics: list[Diagnostic]
    train: TrainConfig | None = None
    sources: dict[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=256)
def parse_import(text: str, name: str):
    """An imported file parsed, once per text: an editor compiles the document at every
    keystroke, and its imports rarely change in between."""
    return parse(text, name)


class Imports:
    """Loads `import "file.nn"` items, relative to the importing file and confined to
    `root` (`source_files`), once each."""

    def __init__(self, sources: dict[str, str], root: str):
        self.sources = sources
        self.root = root
        self.loaded: dict[str, ast.Module] = {}
        self.tables: dict[str, dict[str, Any]] = {}
        self.diagnostics: list[Diagnostic] = []

    def collect(self, module: ast.Module, path: str, stack: tuple[str, ...] = ()) -> dict:
        """The definitions `module` (at `path`) imports, transitively; each file's are
        collected once, however many paths lead to it (an import diamond)."""
        here = os.path.abspath(path)
        if here in self.tables:
            return self.tables[here]
        table: dict[str, Any] = {}
        for item in module.items:
            if not isinstance(item, ast.Import):
                continue
            try:
                target = import_target(self.root, path, item.path)
            except SourceRefused as refused:
                self.refuse(item, refused)
                continue
            if target in stack or here == target:
                self.diagnostics.append(Diagnostic(
                    "E0502", f"`{item.path}` imports itself through a cycle", item.span,
                    "cycle closes here"))
                continue
            if len(stack) + 1 >= MAX_IMPORT_DEPTH:
                self.refuse(item, SourceRefused(
                    f"imports nest more than {MAX_IMPORT_DEPTH} files deep",
                    help="import the files you need from fewer levels"))
                continue
            imported = self.load(target, item)
            if imported is not None:
                table.update(self.collect(imported, target, stack + (here,)))
                table.update(definitions(imported))
        self.tables[here] = table
        return table

    def refuse(self, item: ast.Import, refused: SourceRefused, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(
            "E0501", f"cannot import `{item.path}`: {refused.reason}", item.span,
            "imported here", help=refused.help or help
            or "an import names a `.nn` file, relative to the importing file"))

    def load(self, target: str, item: ast.Import) -> ast.Module | None:
        if target in self.loaded:
            return self.loaded[target]
        try:
            text = read_source(target)
        except SourceRefused as refused:
            self.refuse(item, refused, f"looked for `{os.path.relpath(target)}`")
            return None
        result = parse_import(text, os.path.relpath(target))
        self.sources[result.source.name] = text
        self.diagnostics.extend(result.diagnostics)
        self.loaded[target] = result.module
        return result.module


def lower_program(main: ast.Module, path: str, observer=None) -> FrontendResult:
    """The front end's entry point: see the module docstring. `observer` (a
    `trace.Observer`) sees every evaluated expression, binding, param and layer."""
    sources: dict[str, str] = {}
    imports = Imports(sources, root_of(path))
    imported = imports.collect(main, path)
    if imports.diagnostics:
        return FrontendResult(None, imports.diagnostics, sources=sources)
    builtins = builtin_globals()
    globals_ = {**builtins, **prelude_definitions(), **imported}
    diagnostics = list(resolve(main, builtins=set(globals_), data_sources=DATA_SOURCES))
    globals_.update(definitions(main))
    lowering = ProgramLowering(globals_, main, observer)
    lowering.run()
    # Lowering meets the names resolution reported again; keep each error once.
    seen = {_key(d) for d in diagnostics}
    diagnostics += [d for d in lowering.diagnostics if _key(d) not in seen]
    diagnostics.sort(key=_key_in_file)
    module = lowering.module if not diagnostics else None
    return FrontendResult(module, diagnostics, lowering.train, sources)


def _key_in_file(diagnostic: Diagnostic):
    return diagnostic.span.source.name, diagnostic.span.start


def _key(diagnostic: Diagnostic):
    return diagnostic.code, diagnostic.span.source.name, diagnostic.span.start


MAX_IMPORT_DEPTH = 64
GENERATED_FUNCTIONS = ("init", "predict", "eval_step", "train_step")


class ProgramLowering:
    def __init__(self, globals_: dict[str, Any], main: ast.Module, observer=None):
        self.globals = globals_
        self.main = main
        self.calls = Calls(globals_, observer)
        self.module = Module()
        self.diagnostics: list[Diagnostic] = []
        self.train: TrainConfig | None = None
        self.forward: Function | None = None  # the model in training mode, for train_step

    def attempt(self, action, *args):
        try:
            return action(*args)
        except DiagnosticError as error:
            self.diagnostics.extend(error.diagnostics)
            return None

    def run(self) -> None:
        for item in self.main.items:
            if isinstance(item, ast.FnDef):
                self.attempt(self.lower_fn, item)
        trains = [i for i in self.main.items if isinstance(i, ast.TrainDef)]
        models = [i for i in self.main.items if isinstance(i, ast.ModelDef)]
        for extra in trains[1:]:
            self.diagnostics.append(Diagnostic(
                "E0601", "only one `train` block per program is supported yet", extra.span,
                secondary=(), help="move the other one to its own file"))
        if trains:
            model = self.globals.get(trains[0].model)
            if not isinstance(model, ModelRef):
                self.diagnostics.append(Diagnostic(
                    "E0405", f"`train` needs a model, and `{trains[0].model}` is "
                    f"{kind_name(model) if model is not None else 'not defined'}",
                    trains[0].model_span, "not a model"))
                return
            self.attempt(self.lower_model, model.definition)
            if not self.diagnostics:
                self.train = self.attempt(build_training, self, trains[0], model.definition)
        elif len(models) == 1:
            self.attempt(self.lower_model, models[0])
        self.check_generated_names()
        self.check_other_models(models, trains)

    def check_generated_names(self) -> None:
        """A `fn` may not take the name of a function generated for the model: the
        generated one would replace it."""
        model = self.module.meta.get("model")
        if model is None:
            return
        for item in self.main.items:
            if isinstance(item, ast.FnDef) and item.name in GENERATED_FUNCTIONS:
                self.diagnostics.append(Diagnostic(
                    "E0103", f"`{item.name}` is the name of a function dslc generates for "
                    f"the model `{model}`", item.name_span, "defined here",
                    help=f"generated functions are {', '.join(GENERATED_FUNCTIONS)}; "
                    f"give this fn another name"))

    def check_other_models(self, models, trains) -> None:
        """Models that are not compiled (no `train` names them, and there are several)
        are still traced, into throwaway functions, so that their errors are reported
        and an editor sees their types."""
        lowered = trains[0].model if trains else models[0].name if len(models) == 1 else None
        for model in models:
            if model.name != lowered:
                self.attempt(self.trace_model, model, Function(model.name, loc=Loc.of(model.span)))

    # fns

    def lower_fn(self, fn: ast.FnDef) -> None:
        """A `fn` with typed parameters, or an alias such as `grad(position)` of one,
        becomes an IR function of its own name; untyped fns are templates."""
        value = FnRef(fn)
        if fn.params is None:
            value = self.calls.evaluate_alias(Evaluator(Trace(Function(fn.name)), self.calls),
                                              fn)
        signature = self.signature(value)
        if signature is None:
            return
        names, types = signature
        function = self.calls.trace_callable(value, types, fn.span)
        function.name = fn.name
        for arg, name in zip(function.args, names):
            arg.name = name
        self.module.add(function)

    def signature(self, value) -> tuple[list[str], list[TensorType]] | None:
        seen: list[str] = []
        while isinstance(value, GradOf) or (isinstance(value, FnRef)
                                            and value.definition.params is None):
            if isinstance(value, GradOf):
                value = value.target
                continue
            alias = value.definition
            if alias.name in seen:
                raise fail("E0601", f"`{alias.name}` is defined in terms of itself; "
                           "recursion is not supported", alias.name_span,
                           notes=(f"aliases: {' -> '.join(seen + [alias.name])}",),
                           help="an alias such as `fn speed = grad(position)` must end at "
                           "a fn with parameters")
            seen.append(alias.name)
            value = self.calls.evaluate_alias(
                Evaluator(Trace(Function(alias.name)), self.calls), alias)
        if not isinstance(value, FnRef) or value.definition.params is None:
            return None
        params = value.definition.params
        if not params or any(p.annotation is None or p.annotation.dims is None
                             for p in params):
            return None
        scope = Scope(self.globals)
        types = [resolve_type(p.annotation, scope.values, new_symbols=True) for p in params]
        return [p.name for p in params], types

    # the model

    def trace_model(self, model: ast.ModelDef, function: Function, training: bool = False):
        """Traces `model` into `function` in one mode: its inputs, then its parameters and
        state as they are declared; returns (the trace, the model's outputs, the inputs)."""
        trace = Trace(function, params={}, states={}, training=training)
        ev = Evaluator(trace, self.calls)
        scope = Scope(self.globals)
        inputs = []
        for param in model.inputs:
            if param.annotation is None or param.annotation.dims is None:
                raise fail("E0205", f"model input `{param.name}` needs a tensor type",
                           param.span, help="e.g. `x: f32[N, 2]`")
            ttype = resolve_type(param.annotation, scope.values, new_symbols=True)
            inputs.append((function.add_arg(ttype, param.name, Loc.of(param.span), role="input"),
                           param.span))
        check_readable_symbols([p.annotation for p in model.inputs],
                               [value.type for value, _ in inputs])
        outputs = self.calls.dispatch(ev, ModelRef(model), inputs, {}, model.span)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        function.results = [ev.tensor(o, model.span) for o in outputs]
        function.result_roles = ["output"] * len(function.results)
        return trace, [v for v, _ in inputs]

    def lower_model(self, model: ast.ModelDef) -> None:
        """`predict` (the model in inference mode), `init`, and the model in training mode
        for `train_step` (`self.forward`): traced again where the model reads
        `training`, else `predict` with the state updates as further results."""
        predict = Function("predict", loc=Loc.of(model.span))
        trace, inputs = self.trace_model(model, predict)
        if trace.mode_read:
            observer, self.calls.observer = self.calls.observer, None
            try:
                forward = Function("forward", loc=predict.loc)
                training = self.trace_model(model, forward, training=True)[0]
            finally:
                self.calls.observer = observer
        else:
            forward = Function("forward", list(predict.args), list(predict.nodes),
                               list(predict.results), loc=predict.loc,
                               result_roles=list(predict.result_roles))
            training = trace
        params, states = (merged(trace, training, kind) for kind in ("params", "states"))
        for function, traced in ((predict, trace), (forward, training)):
            order_signature(function, traced, params, states)
        forward.set_results([
            ("state", [training.updates[s.path][0] if s.path in training.updates
                       else arg_named(forward, s.path) for s in states.values()],
             list(states)),
            ("output", forward.results, ["output"] * len(forward.results))])
        self.forward = forward
        self.module.add(predict)
        self.module.add(build_init(params, states, model))
        self.module.meta.update(
            model=model.name,
            params=[variable_meta(p) for p in params.values()],
            state=[variable_meta(s) for s in states.values()],
            inputs=[{"name": v.name, "dtype": v.type.dtype, "shape": list(v.type.shape)}
                    for v in inputs],
            layers=[vars(r) for r in trace.layers],
            modes={"predict": "inference"},
        )


def merged(inference: Trace, training: Trace, kind: str) -> dict:
    """The params (or states) of both traces of a model, by path, in declaration order;
    a layer called in one mode only has its variables in both functions' signatures."""
    table = dict(getattr(inference, kind))
    for path, spec in getattr(training, kind).items():
        table.setdefault(path, spec)
    return table


def arg_named(function: Function, name: str):
    return next(a for a in function.args if a.name == name)


def variable_meta(spec) -> dict:
    meta = {"name": spec.path, "dtype": spec.type.dtype, "shape": list(spec.type.shape)}
    if spec.sharding:
        meta["sharding"] = list(spec.sharding)
    return meta


def order_signature(function: Function, trace: Trace, params: dict, states: dict) -> None:
    """The model function's arguments as its named signature orders them: the random
    seed (if it draws), parameters, state, inputs; a variable the trace did not meet
    (it is used in the other mode only) is an argument left unused."""
    own = {spec.path: spec.value for table in (trace.params, trace.states)
           for spec in table.values()}
    variables = []
    for role, table in (("param", params), ("state", states)):
        for path, spec in table.items():
            variables.append(own.get(path) or function.add_arg(spec.type, path, spec.loc,
                                                               role=role))
    rng = [trace.rng] if trace.rng is not None else []
    inputs = [a for a in function.args if a.role == "input"]
    function.args = rng + variables + inputs
    for index, arg in enumerate(function.args):
        arg.index = index


def build_init(params: dict, states: dict, model: ast.ModelDef) -> Function:
    """`init(seed: i32[]) -> (params, state)`: each variable drawn by its initializer,
    from its own stream of the seed (its index, parameters first)."""
    init = Function("init", loc=Loc.of(model.span))
    seed = init.add_arg(TensorType("i32", ()), "seed", Loc.of(model.name_span), role="rng")
    groups = []
    for role, table in (("param", params), ("state", states)):
        values = []
        for spec in table.values():
            b = Builder(init, spec.loc)
            if spec.init is None:
                raise fail("E0304", f"{'parameter' if role == 'param' else 'state'} "
                           f"`{spec.path}` has no initializer", spec.loc.span,
                           help="add e.g. `= zeros` or `= glorot_uniform`")
            stream = len(params) * (role == "state") + len(values)
            value = draw(b, seed, spec.type, stream, spec.init.component, spec.init.args)
            value.name = spec.path
            values.append(value)
        groups.append((role, values, list(table)))
    init.set_results(groups)
    return init
