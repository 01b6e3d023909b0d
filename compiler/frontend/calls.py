"""Calls in `.nn` code, dispatched by the kind of the callee: builtins, user `fn`s
(inlined), layers (`layers.py`), models, and `grad` (through `compiler.passes.autodiff`).

A `fn` called with keyword arguments only, each naming a parameter with a default,
is configured instead (`configures`): `Huber(delta=2.0)` is a `Configured` value, which
a later call (the train block's, with y_true and y_pred) completes. This is how Keras'
loss classes, aliases of the loss fns in the prelude, take their arguments.

`Calls` is what every evaluator of one compilation shares: the globals, the editor's
observer, and the stack of definitions being called (which refuses recursion).
"""

from __future__ import annotations

import contextlib
from typing import Any

from ...dsl import ast
from ...dsl.diagnostics import DiagnosticError, Label
from ..ir import Function, Loc
from ..passes.autodiff import GradError, grad_function
from ..passes.inline import inline
from .binding import CallSite, ast_signature, bind_arguments
from .builtins import builtin_globals
from .errors import at_call_site, fail, in_prelude
from .evaluate import Evaluator
from .layers import call_layer, configure_layer
from .trace import Scope, Trace
from .types import check_kind, match
from .values import (Builtin, Configured, DimSym, FnRef, GradOf, LayerInstance, LayerRef,
                     ModelRef, Spec, callable_name, kind_name)

MAX_CALL_DEPTH = 64
MAX_TRACED_NODES = 100_000  # in one function, as the front end builds it


class Calls:
    """Dispatches calls by the kind of the callee; see the module docstring."""

    def __init__(self, globals_: dict[str, Any], observer=None):
        self.globals = globals_
        self.observer = observer  # a `trace.Observer`, or None
        self.stack: list[str] = []

    def takes_piped_argument(self, func) -> bool:
        return isinstance(func, (Builtin, FnRef, Configured, GradOf, ModelRef))

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
            values, spans = bind_arguments(func.signature, args, kwargs, span,
                                           f"`{func.name}`")
            return func.impl(CallSite(ev, span, spans), **values)
        if isinstance(func, FnRef):
            if configures(func.definition, args, kwargs):
                return configure_fn(func, kwargs, span)
            return self.call_fn(ev, func.definition, args, kwargs, span)
        if isinstance(func, Configured):
            for name, (_, arg_span) in kwargs.items():
                if name in func.kwargs:
                    raise fail("E0301", f"`{name}` is already configured", arg_span,
                               secondary=[Label(func.kwargs[name][1], "configured here")])
            return self.call_fn(ev, func.definition, args, {**func.kwargs, **kwargs}, span)
        if isinstance(func, LayerRef):
            return configure_layer(ev, func.definition, args, kwargs, span)
        if isinstance(func, LayerInstance):
            return call_layer(ev, func, args, kwargs, span)
        if isinstance(func, ModelRef):
            model = func.definition
            with self.entering(model.name, span):
                return self.run_signature_body(ev, model, model.inputs, model.outputs, {},
                                               args, kwargs, span)
        if isinstance(func, GradOf):
            return self.call_grad(ev, func, args, kwargs, span)
        if isinstance(func, Spec):
            raise fail("E0303", f"{kind_name(func)} is already configured and cannot be "
                       "called again", span)
        raise fail("E0303", f"{kind_name(func)} is not callable", span, "called here")

    # fns, layers and models

    def call_fn(self, ev, fn: ast.FnDef, args, kwargs, span):
        self.check_size(ev, span)
        if fn.params is None:
            inner = self.evaluate_alias(ev, fn)
            # Held while the aliased function runs, so `fn f = g` with `fn g = f` is
            # reported as recursion instead of looping.
            with self.entering(fn.name, span):
                return self.call(ev, inner, args, kwargs, span)
        # A prelude fn named like a builtin extends it (Keras' `relu` and its arguments,
        # over the `relu` op): in its own body, its name is the builtin.
        extended = builtin_globals().get(fn.name) if in_prelude(fn.span) else None
        with self.entering(fn.name, span):
            return self.run_signature_body(ev, fn, fn.params, fn.outputs,
                                           {fn.name: extended} if extended else {},
                                           args, kwargs, span)

    def evaluate_alias(self, ev, fn: ast.FnDef):
        """The value of `fn speed = grad(position)`: its body's one returned expression."""
        with self.entering(fn.name, fn.span):
            (value,) = ev.run_body(fn.body, Scope(self.globals))
            return value

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
                value = match(ev, param.annotation, value, symbols,
                              spans.get(param.name, span), param)
            ev.bind(scope, param.name, value, param.name_span)
        for name, dim in symbols.items():
            scope.values.setdefault(name, dim)
        results = ev.run_body(definition.body, scope)
        if results is None:
            raise fail("E0206", f"`{definition.name}` does not return a value",
                       definition.name_span, help="end the body with `return ...`")
        if outputs:
            if len(outputs) != len(results):
                raise fail("E0206", f"`{definition.name}` returns {len(results)} value(s) but "
                           f"declares {len(outputs)}", definition.name_span)
            spans = _return_spans(definition.body, len(results)) or [span] * len(results)
            results = tuple(match(ev, ann, value, symbols, value_span, None, result=True)
                            for ann, value, value_span in zip(outputs, results, spans))
        return results[0] if len(results) == 1 else results

    def default_or(self, ev, value, scope):
        """Parameter defaults are AST expressions, evaluated in the callee's globals."""
        if isinstance(value, ast.Node):
            return ev.expr(value, Scope(self.globals, scope.values))
        return value

    # Gradients

    def call_grad(self, ev, grad: GradOf, args, kwargs, span):
        if kwargs:
            raise fail("E0302", "a gradient function takes positional arguments only",
                       next(iter(kwargs.values()))[1])
        tensors = [ev.tensor(v, s) for v, s in args]
        target = self.trace_callable(grad.target, [t.type for t in tensors], span)
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

    def check_size(self, ev, span) -> None:
        """Stops a program whose calls expand without bound (a fn that calls another
        twice doubles at each level) at the call that crosses `MAX_TRACED_NODES`."""
        if len(ev.trace.function.nodes) > MAX_TRACED_NODES:
            chain = self.stack if len(self.stack) <= 6 else (
                self.stack[:3] + ["..."] + self.stack[-3:])
            raise fail("E0601", f"the program expands to more than {MAX_TRACED_NODES:,} IR "
                       f"nodes at this call", span,
                       notes=(f"calls: {' -> '.join(chain) or '(top level)'}",),
                       help="a fn that calls another fn more than once multiplies its size "
                       "at each level; compute a value once and reuse it")

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


def configures(fn: ast.FnDef, args, kwargs) -> bool:
    """Whether a call of `fn` configures it instead (`Huber(delta=2.0)`): no positional
    arguments, every keyword naming a parameter with a default, and some parameter
    without one left unfilled."""
    if fn.params is None or args:
        return False
    defaults = {p.name: p.default for p in fn.params}
    return (all(defaults.get(name) is not None for name in kwargs)
            and any(p.default is None and p.name not in kwargs for p in fn.params))


def configure_fn(func: FnRef, kwargs, span) -> Configured:
    """The configured fn, each argument checked now against its kind (`delta: float`),
    so that `Huber(delta="x")` is reported where it is written."""
    fn = func.definition
    params = {p.name: p for p in fn.params}
    for name, (value, arg_span) in kwargs.items():
        annotation = params[name].annotation
        if annotation is not None and annotation.dims is None:
            try:
                check_kind(annotation, value, arg_span, params[name])
            except DiagnosticError as error:
                raise fail(error.diagnostics[0].code, error.diagnostics[0].message, arg_span,
                           f"not {annotation.name}", help=f"`{fn.name}` takes "
                           f"{', '.join(_declared(p) for p in fn.params if p.default)}") \
                    from None
    return Configured(func, dict(kwargs), span)


def _declared(param: ast.Param) -> str:
    kind = f": {param.annotation.name}" if param.annotation is not None else ""
    return f"`{param.name}{kind}`"


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
