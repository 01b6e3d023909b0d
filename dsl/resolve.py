"""Name resolution over a parsed `Module`: every name used is bound exactly once.

Consumes the AST from `dsl.parser` and the names the compiler provides (builtins and
imported definitions); produces E0101, E0102, E0103 and E0405 diagnostics. Scopes are
the globals plus, per definition, its parameters, signature dim symbols and SSA bindings.
"""

from __future__ import annotations

from typing import Collection, Iterable

from . import ast
from .diagnostics import Diagnostic, Label, closest, suggest
from .source import Span

KIND_NAMES = {ast.ModelDef: "model", ast.LayerDef: "layer", ast.FnDef: "function"}


def resolve(module: ast.Module, builtins: Collection[str],
            data_sources: Collection[str] = ()) -> tuple[Diagnostic, ...]:
    """All name errors in `module`; names in `builtins` are always in scope. An unknown
    name in a `data = ...` setting is matched against `data_sources`."""
    resolver = _Resolver(module, builtins, data_sources)
    resolver.run()
    return tuple(resolver.diagnostics)


def dim_symbols(types: Iterable[ast.TypeAnn | None]) -> list[ast.DimName]:
    """The symbolic dims (`B`, `in`, ...) appearing in some type annotations, in order."""
    found = []
    for type_ann in types:
        if type_ann is None or type_ann.dims is None:
            continue
        for dim in type_ann.dims:
            found += [n for n in ast.walk(dim) if isinstance(n, ast.DimName)]
    return found


class _Resolver:
    def __init__(self, module: ast.Module, builtins: Collection[str],
                 data_sources: Collection[str] = ()) -> None:
        self.module = module
        self.builtins = frozenset(builtins)
        self.data_sources = tuple(data_sources)
        self.diagnostics: list[Diagnostic] = []
        self.definitions: dict[str, ast.Definition] = {}
        self.global_names: set[str] = set()

    def run(self) -> None:
        self._collect_definitions()
        self.global_names = set(self.definitions) | self.builtins
        for item in self.module.items:
            if isinstance(item, ast.TrainDef):
                self._check_train(item)
            elif not isinstance(item, ast.Import):
                self._check_definition(item)

    def _collect_definitions(self) -> None:
        for item in self.module.items:
            if isinstance(item, (ast.Import, ast.TrainDef)):
                continue
            first = self.definitions.get(item.name)
            if first is None:
                self.definitions[item.name] = item
                continue
            self.diagnostics.append(
                Diagnostic(
                    "E0102",
                    f"the name `{item.name}` is defined more than once",
                    item.name_span,
                    label=f"`{item.name}` redefined here",
                    secondary=(Label(first.name_span, f"previous definition of `{item.name}` here"),),
                    help="rename one of the definitions",
                )
            )

    def _check_train(self, train: ast.TrainDef) -> None:
        target = self.definitions.get(train.model)
        if isinstance(target, ast.ModelDef) or (target is None and train.model in self.builtins):
            pass
        elif target is not None:
            kind = KIND_NAMES[type(target)]
            self.diagnostics.append(
                Diagnostic(
                    "E0405",
                    f"`{train.model}` is a {kind}, not a model",
                    train.model_span,
                    label="a `train` block needs a model",
                    secondary=(Label(target.name_span, f"`{train.model}` is defined as a {kind} here"),),
                    help="define a `model` that uses it and train that model",
                )
            )
        else:
            models = [name for name, d in self.definitions.items() if isinstance(d, ast.ModelDef)]
            self.diagnostics.append(
                Diagnostic(
                    "E0405",
                    f"no model named `{train.model}`",
                    train.model_span,
                    label="not a model defined or imported here",
                    help=suggest(train.model, models, kind="model"),
                )
            )
        for setting in train.settings:
            if setting.name in ("data", "validation_data") \
                    and self._unknown_data_source(setting.value):
                continue
            _BodyScope(self, {}, ()).check_expr(setting.value)

    def _unknown_data_source(self, value: ast.Expr) -> bool:
        """E0101 for `data = name(...)` with an unknown `name`, naming the data sources
        (not whatever other name is close) and how to bring one's own arrays."""
        func = value.func if isinstance(value, ast.Call) else value
        if not isinstance(func, ast.Name):
            return False
        definition = self.definitions.get(func.id)
        if isinstance(definition, (ast.ModelDef, ast.LayerDef)):
            kind = "model" if isinstance(definition, ast.ModelDef) else "layer"
            message, close = f"`{func.id}` is a {kind}, not a data source", None
        elif func.id in self.global_names:
            return False
        else:
            message = f"no data source named `{func.id}`"
            close = closest(func.id, self.data_sources)
        sources = ", ".join(f"`{name}`" for name in self.data_sources)
        self.diagnostics.append(Diagnostic(
            "E0101", message, func.span,
            label="not a data source" + (f"; did you mean `{close}`?" if close else ""),
            help=f"the data sources are {sources}; for your own data write "
            '`npz("data.npz")`, `npy(x="x.npy", y="y.npy")` or '
            '`csv("data.csv", x=["a", "b"], y="label")`'))
        return True

    def _check_definition(self, definition: ast.Definition) -> None:
        if isinstance(definition, ast.ModelDef):
            params, types = list(definition.inputs), list(definition.outputs)
        elif isinstance(definition, ast.LayerDef):
            params, types = list(definition.params) + list(definition.inputs), list(definition.outputs)
        else:
            params, types = list(definition.params or ()), list(definition.outputs or ())
        scope = _BodyScope(self, {}, definition.body)
        for param in params:
            if param.default is not None:
                scope.check_expr(param.default)
            scope.bind(param.name, param.name_span)
        for dim in dim_symbols([p.annotation for p in params] + types):
            scope.locals.setdefault(dim.name, dim.span)
        for stmt in definition.body:
            scope.check_stmt(stmt)


class _BodyScope:
    """The names bound so far in one definition's body, in source order."""

    def __init__(self, resolver: _Resolver, bound: dict[str, Span], body: tuple[ast.Stmt, ...]) -> None:
        self.resolver = resolver
        self.locals = bound
        self.bound_later = {}
        self._note_bindings(body)

    def _note_bindings(self, body) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.ParamDecl, ast.StateDecl)):
                self.bound_later.setdefault(stmt.name, stmt.name_span)
            elif isinstance(stmt, ast.Assign):
                for name, span in zip(stmt.targets, stmt.target_spans):
                    self.bound_later.setdefault(name, span)
            elif isinstance(stmt, ast.IfStmt):
                self._note_bindings(stmt.body + stmt.orelse)

    def bind(self, name: str, span: Span) -> None:
        first = self.locals.get(name)
        if first is None:
            self.locals[name] = span
            return
        self.resolver.diagnostics.append(
            Diagnostic(
                "E0103",
                f"the name `{name}` is defined twice in this scope",
                span,
                label=f"`{name}` bound again here",
                secondary=(Label(first, f"`{name}` first bound here"),),
                help=f"values cannot be rebound: give the new value another name, e.g. `{name}2`",
            )
        )

    def check_stmt(self, stmt: ast.Stmt) -> None:
        if isinstance(stmt, (ast.ParamDecl, ast.StateDecl)):
            for dim in dim_symbols([stmt.type]):
                self.check_name(dim.name, dim.span)
            for expr in (stmt.init, stmt.sharding):
                if expr is not None:
                    self.check_expr(expr)
            self.bind(stmt.name, stmt.name_span)
        elif isinstance(stmt, ast.Assign):
            self.check_expr(stmt.value)
            for name, span in zip(stmt.targets, stmt.target_spans):
                self.bind(name, span)
        elif isinstance(stmt, ast.Update):
            self.check_name(stmt.name, stmt.name_span)
            self.check_expr(stmt.value)
        elif isinstance(stmt, ast.IfStmt):
            self.check_expr(stmt.condition)
            # One block runs: each may bind the same names, which are bound after it.
            before, bound = dict(self.locals), {}
            for block in (stmt.body, stmt.orelse):
                self.locals = dict(before)
                for inner in block:
                    self.check_stmt(inner)
                bound.update((k, v) for k, v in self.locals.items() if k not in before)
            self.locals = {**before, **bound}
        else:
            for value in stmt.values:
                self.check_expr(value)

    def check_expr(self, expr: ast.Node) -> None:
        for node in ast.walk(expr):
            if isinstance(node, ast.Name):
                self.check_name(node.id, node.span)

    def check_name(self, name: str, span: Span) -> None:
        if name in self.locals or name in self.resolver.global_names:
            return
        later = self.bound_later.get(name)
        if later is not None and later.start > span.start:
            self.resolver.diagnostics.append(
                Diagnostic(
                    "E0101",
                    f"cannot find `{name}` in this scope",
                    span,
                    label="used before it is defined",
                    secondary=(Label(later, f"`{name}` is defined here, after its use"),),
                    help="move the definition before its first use",
                )
            )
            return
        self.resolver.diagnostics.append(
            Diagnostic(
                "E0101",
                f"cannot find `{name}` in this scope",
                span,
                label="not found in this scope",
                help=suggest(name, set(self.locals) | self.resolver.global_names),
            )
        )
