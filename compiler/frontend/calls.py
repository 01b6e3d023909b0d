"""Calls in `.nn` code: builtins, user `fn`s (inlined), layers, models and `grad`.

Binds arguments to parameters, checks tensors against declared types (binding symbolic
dims such as `in` from the first input, Keras' build()), creates parameters with their
hierarchical names, and differentiates through `compiler.passes.autodiff`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from ...dsl import ast
from ...dsl.diagnostics import Diagnostic, DiagnosticError, Label, suggest
from ..ir import Function, Loc, TensorType, Value
from .evaluate import Evaluator, LayerRecord, ParamSpec, Scope, Trace, check_dtype_name, fail
from .values import (PRELUDE_PREFIX, REQUIRED, Builtin, DimSym, FnRef, GradOf, LayerInstance,
                     LayerRef, ModelRef, Signature, Spec, kind_name)

MAX_CALL_DEPTH = 64
# Far beyond any device's memory; below it, a size in bytes still fits XLA's int64.
MAX_ELEMENTS = 2**48


@dataclass
class CallSite:
    """What a builtin's implementation sees: the evaluator, the call's span, and the
    span of each bound argument (for diagnostics that point at one argument)."""

    ev: Evaluator
    span: Any
    arg_spans: dict[str, Any]

    @property
    def b(self):
        return self.ev.trace.builder(self.span)

    def tensor(self, name: str, value: Any, dtype: str = "f32") -> Value:
        return self.ev.tensor(value, self.arg_spans.get(name, self.span), dtype)

    def fail(self, code: str, message: str, arg: str | None = None, label: str = "",
             **kw):
        return fail(code, message, self.arg_spans.get(arg, self.span), label, **kw)


def bind_arguments(signature: Signature, args, kwargs, span, what: str):
    """Binds positional and keyword `(value, span)` pairs to `signature`.
    Returns (values by name, spans by name)."""
    names = signature.names
    if len(args) > len(names):
        raise fail("E0301", f"{what} takes {len(names)} argument(s) but {len(args)} were given",
                   args[len(names)][1], "unexpected argument")
    values, spans = {}, {}
    for (name, _), (value, arg_span) in zip(signature.params, args):
        values[name], spans[name] = value, arg_span
    for name, (value, arg_span) in kwargs.items():
        if name not in names:
            raise fail("E0302", f"{what} has no parameter `{name}`", arg_span,
                       "unknown keyword", help=suggest(name, names) or
                       f"its parameters are {', '.join(f'`{n}`' for n in names) or 'none'}")
        if name in values:
            raise fail("E0301", f"`{name}` is given twice", arg_span)
        values[name], spans[name] = value, arg_span
    for name, default in signature.params:
        if name not in values:
            if default is REQUIRED:
                raise fail("E0301", f"{what} is missing its argument `{name}`", span,
                           f"`{name}` not given")
            values[name] = default
    return values, spans


def ast_signature(params) -> Signature:
    """A signature for `.nn` params; defaults stay AST nodes, evaluated at the call."""
    return Signature(tuple((p.name, p.default if p.default is not None else REQUIRED)
                           for p in params))


class Calls:
    """Dispatches calls by the kind of the callee."""

    def __init__(self, globals_: dict[str, Any], observer=None):
        self.globals = globals_
        self.observer = observer  # an `evaluate.Observer`, or None
        self.stack: list[str] = []

    def takes_piped_argument(self, func) -> bool:
        return isinstance(func, (Builtin, FnRef, GradOf, ModelRef))

    def call(self, ev: Evaluator, func, args, kwargs, span) -> Any:
        try:
            return self.dispatch(ev, func, args, kwargs, span)
        except DiagnosticError as error:
            if in_prelude(span):
                raise
            raise DiagnosticError([at_call_site(d, func, span) for d in error.diagnostics]) \
                from None

    def dispatch(self, ev: Evaluator, func, args, kwargs, span) -> Any:
        if isinstance(func, Builtin):
            return self.call_builtin(ev, func, args, kwargs, span)
        if isinstance(func, FnRef):
            return self.call_fn(ev, func.definition, args, kwargs, span)
        if isinstance(func, LayerRef):
            return self.configure_layer(ev, func.definition, args, kwargs, span)
        if isinstance(func, LayerInstance):
            return self.call_layer(ev, func, args, kwargs, span)
        if isinstance(func, ModelRef):
            return self.call_model(ev, func.definition, args, kwargs, span)
        if isinstance(func, GradOf):
            return self.call_grad(ev, func, args, kwargs, span)
        if isinstance(func, Spec):
            raise fail("E0303", f"{kind_name(func)} is already configured and cannot be "
                       "called again", span)
        raise fail("E0303", f"{kind_name(func)} is not callable", span, "called here")

    # Builtins and fns

    def call_builtin(self, ev, func: Builtin, args, kwargs, span):
        if func.takes_varargs:
            site = CallSite(ev, span, {f"#{i}": s for i, (_, s) in enumerate(args)})
            options, spans = bind_arguments(func.signature, [], kwargs, span, f"`{func.name}`")
            site.arg_spans.update(spans)
            return func.impl(site, [v for v, _ in args], **options)
        values, spans = bind_arguments(func.signature, args, kwargs, span, f"`{func.name}`")
        return func.impl(CallSite(ev, span, spans), **values)

    def call_fn(self, ev, fn: ast.FnDef, args, kwargs, span):
        if fn.params is None:
            inner = self.evaluate_alias(ev, fn)
            # Held while the aliased function runs, so `fn f = g` with `fn g = f` is
            # reported as recursion instead of looping.
            with self.entering(fn.name, span):
                return self.call(ev, inner, args, kwargs, span)
        with self.entering(fn.name, span):
            return self.run_signature_body(ev, fn, fn.params, fn.outputs, {}, args, kwargs,
                                           span)

    def evaluate_alias(self, ev, fn: ast.FnDef):
        """The value of `fn speed = grad(position)`: its body's one returned expression."""
        with self.entering(fn.name, fn.span):
            (value,) = ev.run_body(fn.body, Scope(self.globals))
            return value

    def finish(self, ev, definition, outputs, results, symbols, span):
        if results is None:
            raise fail("E0206", f"`{definition.name}` does not return a value",
                       definition.name_span, help="end the body with `return ...`")
        if outputs:
            if len(outputs) != len(results):
                raise fail("E0206", f"`{definition.name}` returns {len(results)} value(s) but "
                           f"declares {len(outputs)}", definition.name_span)
            spans = _return_spans(definition.body, len(results)) or [span] * len(results)
            results = tuple(self.match(ev, ann, value, symbols, value_span, None, result=True)
                            for ann, value, value_span in zip(outputs, results, spans))
        return results[0] if len(results) == 1 else results

    def default_or(self, ev, value, scope):
        """Parameter defaults are AST expressions, evaluated in the callee's globals."""
        if _is_ast(value):
            return ev.expr(value, Scope(self.globals, scope.values))
        return value

    # Layers and models

    def configure_layer(self, ev, layer: ast.LayerDef, args, kwargs, span):
        # A default may configure a layer in turn (`layer L(u = L())`): guard it.
        with self.entering(layer.name, span):
            return self._configure_layer(ev, layer, args, kwargs, span)

    def _configure_layer(self, ev, layer: ast.LayerDef, args, kwargs, span):
        values, _ = bind_arguments(ast_signature(layer.params), args, kwargs, span,
                                   f"`{layer.name}`")
        scope = Scope(self.globals)
        config = {}
        for param in layer.params:
            value = self.default_or(ev, values[param.name], scope)
            if param.annotation is not None and param.annotation.dims is None:
                value = self.check_kind(param.annotation, value, span, param)
            config[param.name] = value
            scope.values[param.name] = value
            if self.observer is not None:
                self.observer.on_binding(param.name, param.name_span, value)
        return LayerInstance(layer, config, span)

    def call_layer(self, ev, instance: LayerInstance, args, kwargs, span):
        layer = instance.definition
        trace = ev.trace
        if trace.params is None:
            raise fail("E0303", f"the layer `{layer.name}` can only be used inside a model "
                       "or a layer", span)
        if not layer.inputs:
            raise fail("E0601", f"`{layer.name}` has no `(inputs) -> outputs` line",
                       layer.name_span, help="add e.g. `(x: f32[B, in]) -> f32[B, units]`")
        if instance.name is None:
            base = snake_case(layer.name)
            count = trace.layer_counts.get(base, 0)
            trace.layer_counts[base] = count + 1
            instance.name = base if count == 0 else f"{base}_{count}"
        before = len(trace.params)
        trace.prefix.append(instance.name)
        try:
            with self.entering(layer.name, span):
                result = self.run_signature_body(ev, layer, layer.inputs, layer.outputs,
                                                 dict(instance.config), args, kwargs, span)
        finally:
            trace.prefix.pop()
        added = list(trace.params.values())[before:]
        output = result if isinstance(result, Value) else None
        trace.layers.append(LayerRecord(
            instance.name, layer.name, str(output.type) if output is not None else "-",
            sum(_count(p.type) for p in added), len(trace.prefix)))
        if self.observer is not None:
            self.observer.on_layer(span, instance, trace.layers[-1])
        return result

    def call_model(self, ev, model: ast.ModelDef, args, kwargs, span):
        with self.entering(model.name, span):
            return self.run_signature_body(ev, model, model.inputs, model.outputs, {}, args,
                                           kwargs, span)

    def run_signature_body(self, ev, definition, inputs, outputs, config, args, kwargs, span):
        """Binds the call's arguments to `inputs` (checking declared types, binding their
        dims), runs the body with `config` in scope, and checks the results."""
        values, spans = bind_arguments(ast_signature(inputs), args, kwargs, span,
                                       f"`{definition.name}`")
        scope = Scope(self.globals, config)
        symbols = {k: v for k, v in config.items() if isinstance(v, (int, DimSym))}
        for param in inputs:
            value = self.default_or(ev, values[param.name], scope)
            if param.annotation is not None:
                value = self.match(ev, param.annotation, value, symbols,
                                   spans.get(param.name, span), param)
            ev.bind(scope, param.name, value, param.name_span)
        for name, dim in symbols.items():
            scope.values.setdefault(name, dim)
        results = ev.run_body(definition.body, scope)
        return self.finish(ev, definition, outputs, results, symbols, span)

    def declare_param(self, ev: Evaluator, stmt: ast.ParamDecl, scope: Scope) -> Value:
        trace = ev.trace
        if trace.params is None:
            raise fail("E0303", "`param` can only be declared in a model or a layer",
                       stmt.span)
        ttype = self.resolve_type(stmt.type, scope, require_concrete=True)
        path = "/".join(trace.prefix + [stmt.name])
        if path in trace.params:
            return trace.params[path].value
        from .builtins import initializer_spec

        init = initializer_spec(ev, stmt.init, scope) if stmt.init is not None else None
        loc = Loc.of(stmt.span)
        value = trace.function.add_arg(ttype, path, loc)
        trace.params[path] = ParamSpec(path, ttype, init, loc, value)
        if self.observer is not None:
            self.observer.on_param(stmt, trace.params[path])
        return value

    # Gradients

    def call_grad(self, ev, grad: GradOf, args, kwargs, span):
        if kwargs:
            raise fail("E0302", "a gradient function takes positional arguments only",
                       next(iter(kwargs.values()))[1])
        tensors = [ev.tensor(v, s) for v, s in args]
        target = self.trace_callable(grad.target, [t.type for t in tensors], span)
        from ..passes.autodiff import GradError, grad_function
        from ..passes.inline import inline

        for i in grad.argnums:
            if i >= len(tensors):
                raise fail("E0305", f"cannot differentiate argument {i}: only {len(tensors)} "
                           "given", span)
        try:
            derivative = grad_function(target, wrt=grad.argnums, with_value=grad.with_value,
                                       has_aux=grad.has_aux)
        except GradError as error:
            raise fail("E0305", str(error), span, "differentiated here",
                       help="`grad` needs a function whose first result is a float scalar") \
                from None
        results = inline(derivative, ev.trace.builder(span), tensors)
        return results[0] if len(results) == 1 else tuple(results)

    def trace_callable(self, func, arg_types, span) -> Function:
        """`func` traced into its own IR function with arguments of `arg_types`."""
        function = Function(callable_name(func), loc=Loc.of(span))
        inner = Evaluator(Trace(function), self)
        params = _params_of(func)
        args = []
        for i, ttype in enumerate(arg_types):
            param = params[i] if i < len(params) else None
            name = param.name if param else f"arg{i}"
            arg_span = param.span if param else span
            args.append((function.add_arg(ttype, name, Loc.of(arg_span)), arg_span))
        results = self.call(inner, func, args, {}, span)
        results = results if isinstance(results, tuple) else (results,)
        function.results = [inner.tensor(r, span) for r in results]
        return function

    # Types

    def resolve_type(self, ann: ast.TypeAnn, scope: Scope, require_concrete=False,
                     new_symbols=False) -> TensorType:
        dtype = check_dtype_name(ann.name, ann.span)
        if ann.dims is None:
            return TensorType(dtype, ())
        dims = []
        for dim in ann.dims:
            value = self.eval_dim(dim, scope.values, bind_to=None, new_symbols=new_symbols)
            if isinstance(value, DimSym):
                if require_concrete:
                    raise fail("E0207", f"parameter shape `{_ann_text(ann)}` uses the symbolic "
                               f"dim `{value.name}`", dim.span, "not a concrete size",
                               help="parameter shapes must be known at compile time; bind the "
                               "dim from a layer's input, e.g. `(x: f32[B, in])`")
                dims.append(value.name)
            else:
                if value < 0:
                    raise fail("E0304", f"the dimension `{_dim_text(dim)}` is {value}", dim.span,
                               "a negative size", help="dimensions are sizes >= 0")
                dims.append(value)
        ttype = TensorType(dtype, tuple(dims))
        if _count(ttype) > MAX_ELEMENTS:
            raise fail("E0304", f"`{ttype}` has more elements than any device can hold",
                       ann.span, "too large", help="a tensor has at most 2**48 elements")
        return ttype

    def eval_dim(self, dim, env: dict, bind_to=None, new_symbols=False):
        if isinstance(dim, ast.DimInt):
            return dim.value
        if isinstance(dim, ast.DimName):
            if dim.name in env:
                value = env[dim.name]
                if isinstance(value, (int, DimSym)) and not isinstance(value, bool):
                    return value
                raise fail("E0304", f"`{dim.name}` is {kind_name(value)}, not a dimension",
                           dim.span)
            if bind_to is not None:
                env[dim.name] = bind_to
                return bind_to
            if new_symbols:
                env[dim.name] = DimSym(dim.name)
                return env[dim.name]
            if dim.name in self.globals and isinstance(self.globals[dim.name], int):
                return self.globals[dim.name]
            raise fail("E0101", f"the dimension `{dim.name}` is not bound", dim.span,
                       help="dims are bound by a definition's inputs")
        left = self.eval_dim(dim.left, env, None, new_symbols)
        right = self.eval_dim(dim.right, env, None, new_symbols)
        if not (isinstance(left, int) and isinstance(right, int)):
            raise fail("E0601", "arithmetic on symbolic dims is not supported yet", dim.span)
        if dim.op == "/" and (right == 0 or left % right):
            raise fail("E0304", f"`{left} / {right}` is not a whole number of elements",
                       dim.span)
        return {"+": left + right, "-": left - right, "*": left * right,
                "/": left // max(right, 1)}[dim.op]

    def match(self, ev, ann: ast.TypeAnn, value, env: dict, span, param, result=False):
        """Checks `value` against `ann`, binding unbound dim names in `env`."""
        if ann.dims is None:
            return self.check_kind(ann, value, span, param)
        dtype = check_dtype_name(ann.name, ann.span)
        if not isinstance(value, Value):
            if isinstance(value, (int, float)) and not ann.dims:
                return ev.tensor(value, span, dtype)
            raise fail("E0205", f"expected a tensor `{ann.name}[...]`, found {kind_name(value)}",
                       span, secondary=_declared(ann))
        actual = value.type
        expected_text = _ann_text(ann)
        code = "E0206" if result else "E0205"
        what = "result" if result else f"`{param.name}`" if param else "argument"
        if actual.dtype != dtype or actual.rank != len(ann.dims):
            raise fail(code, f"{what} should be `{expected_text}`, found `{actual}`", span,
                       f"this is `{actual}`", secondary=_declared(ann))
        for dim, size in zip(ann.dims, actual.shape):
            bound = self.eval_dim(dim, env, bind_to=DimSym(size) if isinstance(size, str)
                                  else size)
            got = bound.name if isinstance(bound, DimSym) else bound
            if got != size:
                notes = () if isinstance(dim, ast.DimInt) else (
                    f"`{_dim_text(dim)}` is `{got}` here, but the tensor has `{size}`",)
                raise fail(code, f"{what} should be `{expected_text}`, found `{actual}`", span,
                           f"this is `{actual}`", secondary=_declared(ann), notes=notes)
        return value

    def check_kind(self, ann: ast.TypeAnn, value, span, param):
        kinds = {"int": int, "float": (int, float), "bool": bool, "str": str}
        expected = kinds.get(ann.name)
        if expected is None:
            if ann.name in ("f32", "f64", "f16", "bf16", "i32", "i64", "bool"):
                return value
            raise fail("E0201", f"unknown type `{ann.name}`", ann.span,
                       help=suggest(ann.name, list(kinds)))
        if not isinstance(value, expected) or (ann.name == "int" and isinstance(value, bool)):
            name = f"`{param.name}`" if param else "value"
            raise fail("E0304", f"{name} should be {ann.name}, found {kind_name(value)}", span)
        return float(value) if ann.name == "float" else value

    @contextlib.contextmanager
    def entering(self, name: str, span):
        """Guards against recursion, which the language does not have."""
        if name in self.stack:
            raise fail("E0601", f"`{name}` calls itself; recursion is not supported", span,
                       notes=(f"calls: {' -> '.join(self.stack + [name])}",),
                       help="use an op such as `scan` for repetition")
        if len(self.stack) >= MAX_CALL_DEPTH:
            chain = self.stack[:3] + ["..."] + self.stack[-3:]
            raise fail("E0601", f"calls nest more than {MAX_CALL_DEPTH} deep here", span,
                       notes=(f"calls: {' -> '.join(chain)}",),
                       help="flatten the chain of definitions")
        self.stack.append(name)
        try:
            yield
        finally:
            self.stack.pop()


def in_prelude(span) -> bool:
    return span.source.name.startswith(PRELUDE_PREFIX)


def at_call_site(diagnostic: Diagnostic, func, span) -> Diagnostic:
    """A diagnostic raised inside the prelude (say in `Dense`'s body), moved to the
    user's call, with the prelude line kept as a secondary label."""
    if not in_prelude(diagnostic.span):
        return diagnostic
    inside = Label(diagnostic.span, diagnostic.label or "raised here")
    return dataclasses.replace(
        diagnostic, span=span, label=f"in this call to `{callable_name(func)}`",
        secondary=(inside,) + tuple(diagnostic.secondary))


def callable_name(func) -> str:
    while isinstance(func, GradOf):
        func = func.target
    definition = getattr(func, "definition", None)
    return getattr(definition, "name", None) or getattr(func, "name", "fn")


def _params_of(func) -> tuple:
    """The `.nn` parameters behind a callable, looking through `grad`."""
    while isinstance(func, GradOf):
        func = func.target
    if isinstance(func, FnRef) and func.definition.params:
        return func.definition.params
    return ()


def _return_spans(body, count: int):
    for stmt in reversed(body):
        if isinstance(stmt, ast.Return) and len(stmt.values) == count:
            return [v.span for v in stmt.values]
    return None


def _is_ast(value) -> bool:
    return type(value).__module__.endswith("dsl.ast")


def _count(ttype: TensorType) -> int:
    total = 1
    for dim in ttype.shape:
        total *= dim if isinstance(dim, int) else 1
    return total


def _dim_text(dim) -> str:
    if isinstance(dim, ast.DimInt):
        return str(dim.value)
    if isinstance(dim, ast.DimName):
        return dim.name
    return f"{_dim_text(dim.left)} {dim.op} {_dim_text(dim.right)}"


def _ann_text(ann: ast.TypeAnn) -> str:
    return f"{ann.name}[{', '.join(_dim_text(d) for d in ann.dims)}]"


def _declared(ann: ast.TypeAnn):
    from ...dsl.diagnostics import Label

    return [Label(ann.span, "declared here")]


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
