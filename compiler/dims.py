"""Dims of tensor types: integers, symbols (`B`, `H`) and arithmetic on them, in one
canonical normal form, so that shapes made by different rules compare by equality.

Sits under the IR (`ir.TensorType` holds these dims); the front end, the op shape
rules, the IR text, the verifier and the backends build, compare, print and evaluate
dims only through this module. No JAX here: a backend evaluates a dim with its own
values for the symbols (`evaluate`), ints or `jax.export` symbolic dims alike.

A dim is an `int` (concrete), a `str` (one symbol), or a `DimExpr` (anything else):
a polynomial with integer coefficients over symbols and floor-division atoms, like
JAX's `_DimExpr`. The constructors (`add`, `sub`, `mul`, `floordiv`, `mod`) always
return the simplest of the three, so `mul("H", 1)` is `"H"` and `sub("H", "H")` is `0`;
`is_symbolic` / `is_concrete` are the one test of which kind a dim is.

`/` in dims is floor division, for ints and symbols alike (`(H - 3) / 2 + 1` is 13 for
H = 28), as a convolution's output size needs. Normal form of `floor(a / k)` for an
int k > 0: each coefficient of `a` splits as `q * k + r` with `0 <= r < k`, the `q`
parts leave the division exactly, and the rest is divided by the gcd of its
coefficients and k; so `(2 * H + 2) / 4 == (H + 1) / 2` and `(H - 3) / 2 + 1 ==
(H + 1) / 2 - 1`. A symbolic divisor simplifies only when it is one term that
divides terms of `a`. `a % b` is `a - b * (a / b)`. Symbols stand for sizes >= 1 (as in
`jax.export`); a size that is negative is refused where it becomes an int.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Union

Dim = Union[int, str, "DimExpr"]


class DimError(ValueError):
    """A dim that cannot be built (division by zero) or a text that is not a dim."""


# A monomial is a sorted tuple of (atom, power); an atom is a symbol or a `FloorDiv`.
# A polynomial, while being computed, is a dict monomial -> nonzero int coefficient.


@dataclass(frozen=True, slots=True)
class DimExpr:
    """A dim that is neither an int nor a single symbol, in normal form: `terms`
    (monomial, coefficient) sorted by `_term_key`. Equal dims have equal terms."""

    terms: tuple

    def __str__(self) -> str:
        return format_dim(self)

    def __repr__(self) -> str:
        return f"DimExpr({format_dim(self)!r})"


@dataclass(frozen=True, slots=True)
class FloorDiv:
    """The atom `floor(num / den)`, both polynomials as sorted term tuples."""

    num: tuple
    den: tuple


def is_concrete(dim) -> bool:
    return isinstance(dim, int) and not isinstance(dim, bool)


def is_symbolic(dim) -> bool:
    return isinstance(dim, (str, DimExpr))


def is_dim(value) -> bool:
    return is_concrete(value) or is_symbolic(value)


# ---------------------------------------------------------------- normal form


def _atom_key(atom):
    if isinstance(atom, str):
        return (0, atom)
    return (1, _poly_key(atom.num), _poly_key(atom.den))


def _mono_key(mono):
    return tuple((_atom_key(a), p) for a, p in mono)


def _poly_key(terms):
    return tuple((_mono_key(m), c) for m, c in terms)


def _term_key(term):
    """Higher degree first, the constant last, so that `H * W + H + 1` prints so."""
    mono, _ = term
    return (-sum(p for _, p in mono), _mono_key(mono))


def _poly(dim) -> dict:
    if isinstance(dim, DimExpr):
        return dict(dim.terms)
    if isinstance(dim, str):
        return {((dim, 1),): 1}
    if is_concrete(dim):
        return {(): dim} if dim else {}
    raise DimError(f"`{dim!r}` is not a dimension")


def _sorted_terms(poly: dict) -> tuple:
    return tuple(sorted(((m, c) for m, c in poly.items() if c), key=_term_key))


def _dim(poly: dict) -> Dim:
    """The simplest dim for `poly`: an int, a symbol, or a `DimExpr`."""
    terms = _sorted_terms(poly)
    if not terms:
        return 0
    if len(terms) == 1:
        mono, coefficient = terms[0]
        if not mono:
            return coefficient
        if coefficient == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], str):
            return mono[0][0]
    return DimExpr(terms)


def _add_into(total: dict, poly: dict, scale: int = 1) -> dict:
    for mono, coefficient in poly.items():
        total[mono] = total.get(mono, 0) + scale * coefficient
        if not total[mono]:
            del total[mono]
    return total


def _mono_mul(left, right):
    powers: dict = {}
    for atom, power in left + right:
        powers[atom] = powers.get(atom, 0) + power
    return tuple(sorted(powers.items(), key=lambda item: _atom_key(item[0])))


def _poly_mul(left: dict, right: dict) -> dict:
    total: dict = {}
    for lm, lc in left.items():
        for rm, rc in right.items():
            _add_into(total, {_mono_mul(lm, rm): lc * rc})
    return total


def _mono_quotient(mono, divisor):
    """`mono / divisor` as a monomial when `divisor` divides it, else None."""
    powers = dict(mono)
    for atom, power in divisor:
        if powers.get(atom, 0) < power:
            return None
        powers[atom] -= power
    return tuple(sorted(((a, p) for a, p in powers.items() if p),
                        key=lambda item: _atom_key(item[0])))


def _poly_floordiv(num: dict, den: dict) -> dict:
    if not den:
        raise DimError("division by zero in a dimension")
    if not num:
        return {}
    if num == den:
        return {(): 1}
    if len(den) == 1:
        ((den_mono, den_coefficient),) = den.items()
        if den_coefficient < 0:  # floor(a / -b) == floor(-a / b)
            num, den_coefficient = _add_into({}, num, -1), -den_coefficient
        quotient, rest = {}, {}
        for mono, coefficient in num.items():
            exact = _mono_quotient(mono, den_mono)
            whole, part = divmod(coefficient, den_coefficient) if exact is not None else (0, coefficient)
            if whole:
                _add_into(quotient, {exact: whole})
            if part:
                rest[mono] = part
        if not rest:
            return quotient
        if not den_mono:
            divisor = math.gcd(den_coefficient, *rest.values())
            rest = {m: c // divisor for m, c in rest.items()}
            den_coefficient //= divisor
            if den_coefficient == 1:
                return _add_into(quotient, rest)
            if set(rest) == {()}:  # 0 <= the constant < the divisor
                return quotient
        den = {den_mono: den_coefficient}
        num = rest
    else:
        quotient = {}
    atom = FloorDiv(_sorted_terms(num), _sorted_terms(den))
    return _add_into(quotient, {((atom, 1),): 1})


# ---------------------------------------------------------------- constructors


def add(left, right) -> Dim:
    return _dim(_add_into(_poly(left), _poly(right)))


def sub(left, right) -> Dim:
    return _dim(_add_into(_poly(left), _poly(right), -1))


def mul(left, right) -> Dim:
    return _dim(_poly_mul(_poly(left), _poly(right)))


def floordiv(left, right) -> Dim:
    """`left / right` rounded down (the `/` of dims); DimError for a zero divisor."""
    return _dim(_poly_floordiv(_poly(left), _poly(right)))


def mod(left, right) -> Dim:
    """`left - right * (left / right)`, Python's `%` for ints."""
    return sub(left, mul(right, floordiv(left, right)))


def product(dims: Iterable) -> Dim:
    total: Dim = 1
    for dim in dims:
        total = mul(total, dim)
    return total


OPERATORS: dict[str, Callable] = {"+": add, "-": sub, "*": mul, "/": floordiv,
                                  "//": floordiv, "%": mod}


def canonical(dim) -> Dim:
    """`dim` in normal form (an int, str or DimExpr given in any form)."""
    return _dim(_poly(dim))


# ---------------------------------------------------------------- queries


def _atoms(terms) -> Iterable:
    for mono, _ in terms:
        for atom, _ in mono:
            yield atom


def symbols_of(dim) -> tuple[str, ...]:
    """The symbols inside `dim`, each once, in canonical order."""
    seen: dict[str, None] = {}

    def walk(terms):
        for atom in _atoms(terms):
            if isinstance(atom, str):
                seen.setdefault(atom)
            else:
                walk(atom.num)
                walk(atom.den)
    walk(_sorted_terms(_poly(dim)))
    return tuple(seen)


def evaluate(dim, env: Mapping, floor_divide: Callable = lambda a, b: a // b):
    """`dim` with each symbol replaced by `env[symbol]` (ints, or a backend's symbolic
    dims: anything with `+` and `*`). KeyError names a symbol `env` lacks."""
    if is_concrete(dim):
        return dim
    if isinstance(dim, str):
        return env[dim]
    return _evaluate_terms(dim.terms, env, floor_divide)


def _evaluate_terms(terms, env, floor_divide):
    total = 0
    for mono, coefficient in terms:
        value = coefficient
        for atom, power in mono:
            base = (env[atom] if isinstance(atom, str) else
                    floor_divide(_evaluate_terms(atom.num, env, floor_divide),
                                 _evaluate_terms(atom.den, env, floor_divide)))
            for _ in range(power):  # `1 * d` left out, for readable symbolic dims
                value = base if is_concrete(value) and value == 1 else value * base
        total = value if is_concrete(total) and total == 0 else total + value
    return total


def bind(pairs: Iterable[tuple], env: dict | None = None) -> tuple[dict, int | None]:
    """Symbol sizes from (dim, size) pairs: plain symbols are bound by their first size,
    then every pair is checked. Returns the bindings and the index of the first pair
    whose dim does not evaluate to its size (or has a symbol no plain dim binds), else
    None. Sizes may be a backend's symbolic dims; `is` and `==` compare them."""
    env = {} if env is None else env
    pairs = list(pairs)
    for dim, size in pairs:
        if isinstance(dim, str):
            env.setdefault(dim, size)
    for index, (dim, size) in enumerate(pairs):
        try:
            value = evaluate(dim, env)
        except KeyError:
            return env, index
        if not (value is size or value == size):
            return env, index
    return env, None


def solve(dim, size, env: Mapping) -> tuple[str, Dim] | None:
    """The (symbol, value) that makes `dim` equal `size` when `dim` has one symbol
    not in `env` and is `k * symbol + rest` in it, with k dividing; else None."""
    unknown = [s for s in symbols_of(dim) if s not in env]
    if len(unknown) != 1:
        return None
    (symbol,) = unknown
    known = {s: v for s, v in env.items() if s != symbol}
    coefficient, rest = 0, {}
    for mono, c in _poly(dim).items():
        if mono == ((symbol, 1),):
            coefficient = c
        elif symbol in symbols_of(DimExpr(((mono, 1),))):
            return None
        else:
            rest[mono] = c
    if not coefficient:
        return None
    remainder = sub(size, evaluate(_dim(rest), known))
    value = floordiv(remainder, coefficient)
    return (symbol, value) if mul(value, coefficient) == remainder else None


# ---------------------------------------------------------------- text


def format_dim(dim, name: Callable[[str], str] = str, divide: str = "/") -> str:
    """`dim` in `.nn` and IR syntax (`(H + 1) / 2 - 1`, `C * H * W`) with the fewest
    parentheses that parse back to it; `name` spells a symbol, `divide` the floor
    division (`//` for Python)."""
    if is_concrete(dim):
        return str(dim)
    if isinstance(dim, str):
        return name(dim)
    return _format_sum(dim.terms, name, divide)


def _format_sum(terms, name, divide) -> str:
    if not terms:
        return "0"
    # A leading minus has no syntax in dims: positive terms go first, or `0 - ...`.
    ordered = [t for t in terms if t[1] > 0] + [t for t in terms if t[1] < 0]
    text = "" if ordered[0][1] > 0 else "0"
    for mono, coefficient in ordered:
        body = _format_term(mono, abs(coefficient), name, divide)
        text = body if not text else f"{text} {'+' if coefficient > 0 else '-'} {body}"
    return text


def _format_term(mono, coefficient: int, name, divide) -> str:
    factors = [(str(coefficient), False)] if coefficient != 1 or not mono else []
    for atom, power in mono:
        factors += [(_format_atom(atom, name, divide), isinstance(atom, FloorDiv))] * power
    if len(factors) == 1:
        return factors[0][0]
    # `2 * (H / 2)` keeps its parentheses: `2 * H / 2` parses as `(2 * H) / 2`.
    return " * ".join(f"({text})" if division else text for text, division in factors)


def _format_atom(atom, name, divide) -> str:
    if isinstance(atom, str):
        return name(atom)
    num = _format_sum(atom.num, name, divide)
    if len(atom.num) > 1 or atom.num[0][1] < 0:
        num = f"({num})"
    den = _format_sum(atom.den, name, divide)
    if not isinstance(_dim(dict(atom.den)), (int, str)):
        den = f"({den})"
    return f"{num} {divide} {den}"


_TOKEN = re.compile(r'\s*(?:(?P<int>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)'
                    r'|(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>//|[-+*/%()]))')


class TextCursor:
    """Tokens of a dim's text for `parse_tokens`: (kind, text) with kind `int`,
    `name` or `op`, and ("end", "") at the end."""

    def __init__(self, text: str):
        self.tokens, pos = [], 0
        while text[pos:].strip():
            match = _TOKEN.match(text, pos)
            if match is None:
                raise DimError(f"unexpected `{text[pos:].strip()[0]}` in dimension `{text}`")
            kind = match.lastgroup
            value = match.group(kind)
            if kind == "string":
                kind, value = "name", json.loads(value)
            self.tokens.append((kind, value))
            pos = match.end()
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token


def parse_dim(text: str) -> Dim:
    """The dim printed as `text` (the inverse of `format_dim`)."""
    cursor = TextCursor(text)
    dim = parse_tokens(cursor)
    if cursor.peek()[0] != "end":
        raise DimError(f"unexpected `{cursor.peek()[1]}` in dimension `{text}`")
    return dim


def parse_tokens(cursor) -> Dim:
    """One dim from `cursor` (`peek()` and `take()` of (kind, text) tokens): sums of
    products of ints, names and parenthesized dims; `*`, `/`, `//`, `%` bind tighter
    than `+` and `-`, all left-associative."""
    return _parse_level(cursor, 0)


_LEVELS = (("+", "-"), ("*", "/", "//", "%"))


def _parse_level(cursor, level: int) -> Dim:
    if level == len(_LEVELS):
        return _parse_atom(cursor)
    left = _parse_level(cursor, level + 1)
    while cursor.peek()[0] == "op" and cursor.peek()[1] in _LEVELS[level]:
        operator = cursor.take()[1]
        left = OPERATORS[operator](left, _parse_level(cursor, level + 1))
    return left


def _parse_atom(cursor) -> Dim:
    kind, text = cursor.take()
    if kind == "int":
        return int(text)
    if (kind, text) == ("op", "-"):  # a negative int, as `str` prints it
        return sub(0, _parse_atom(cursor))
    if kind == "name":
        return text
    if (kind, text) == ("op", "("):
        inner = parse_tokens(cursor)
        if cursor.take() != ("op", ")"):
            raise DimError("expected `)` in a dimension")
        return inner
    raise DimError(f"expected a dimension, found `{text}`" if text else
                   "expected a dimension, found the end")
