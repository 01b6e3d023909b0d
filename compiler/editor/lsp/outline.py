"""A tolerant outline of a `.nn` document, for the language server.

Built from tokens, not from the parser, so that it holds up in the broken text of a
document being typed: the reserved words `import`, `model`, `layer`, `fn` and `train`
always start an item, and inside an item bracket depths tell parameters, dims and
bindings apart. Gives items, the names in scope at an offset, and the token under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ITEM_KEYWORDS = ("import", "model", "layer", "fn", "train")
KEYWORDS = ITEM_KEYWORDS + ("param", "state", "update", "if", "else", "return", "true",
                            "false")

TOKEN = re.compile(r"""
    (?P<space>[ \t\f\r\n]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\[^\n])*"?)
  | (?P<number>[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?
               |[0-9]+[eE][+-]?[0-9]+|[0-9]+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>->|\|>|\*\*|==|!=|<=|>=|[-+*/@%<>=.,:()\[\]{}])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)

OPEN, CLOSE = "([{", ")]}"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # name, keyword, string, number, op, other
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    tokens = []
    for match in TOKEN.finditer(text):
        kind = match.lastgroup
        if kind in ("space", "comment"):
            continue
        value = match.group()
        if kind == "name" and value in KEYWORDS:
            kind = "keyword"
        tokens.append(Token(kind, value, match.start(), match.end()))
    return tokens


@dataclass
class Symbol:
    """A name an item binds: `input` (a model or layer input, a fn parameter),
    `config` (a layer's configuration), `dim`, `param` (a weight) or `binding`."""

    name: str
    kind: str
    start: int
    end: int
    detail: str = ""


@dataclass
class Item:
    kind: str  # import, model, layer, fn, train
    name: str
    start: int
    end: int
    name_start: int = -1
    name_end: int = -1
    header: str = ""
    symbols: list[Symbol] = field(default_factory=list)

    def contains(self, offset: int) -> bool:
        return self.start <= offset <= self.end

    def lookup(self, name: str, offset: int) -> Symbol | None:
        """The symbol `name` visible at `offset`: bindings written before it, then the
        item's parameters and dims."""
        for symbol in self.symbols:
            if symbol.name == name and (symbol.kind not in ("binding", "param")
                                        or symbol.start <= offset):
                return symbol
        return None

    def visible(self, offset: int) -> list[Symbol]:
        seen, out = set(), []
        for symbol in self.symbols:
            if symbol.kind in ("binding", "param") and symbol.end >= offset:
                continue
            if symbol.name not in seen:
                seen.add(symbol.name)
                out.append(symbol)
        return out


class Outline:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.items: list[Item] = []
        self._split()

    # Queries

    def token_at(self, offset: int) -> Token | None:
        """The token under `offset`; a name touching it on either side wins."""
        best = None
        lo, hi = 0, len(self.tokens)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.tokens[mid].end < offset:
                lo = mid + 1
            else:
                hi = mid
        for token in self.tokens[lo:lo + 2]:
            if token.start <= offset <= token.end:
                if token.kind in ("name", "keyword"):
                    return token
                if best is None and offset < token.end:
                    best = token
        return best

    def item_at(self, offset: int) -> Item | None:
        for item in self.items:
            if item.contains(offset):
                return item
        return None

    def definition(self, name: str) -> Item | None:
        for item in self.items:
            if item.name == name and item.kind in ("model", "layer", "fn"):
                return item
        return None

    def imports(self) -> list[Item]:
        return [item for item in self.items if item.kind == "import"]

    def doc_comment(self, item: Item) -> str:
        """The comment lines right above `item`, without their `#`."""
        lines = self.text[:item.start].split("\n")[:-1]
        out = []
        for line in reversed(lines):
            stripped = line.strip()
            if not stripped.startswith("#"):
                break
            out.append(stripped.lstrip("#").strip())
        return "\n".join(reversed(out))

    # Building

    def _split(self) -> None:
        segment: list[Token] = []
        for token in self.tokens:
            if token.kind == "keyword" and token.text in ITEM_KEYWORDS and segment:
                self._item(segment, token.start)
                segment = []
            segment.append(token)
        if segment:
            self._item(segment, len(self.text))

    def _item(self, tokens: list[Token], next_start: int) -> None:
        head = tokens[0]
        if head.kind != "keyword" or head.text not in ITEM_KEYWORDS:
            return
        end = _closing_end(tokens) or max(tokens[-1].end, min(next_start, len(self.text)))
        item = Item(head.text, "", head.start, end)
        rest = tokens[1:]
        if head.text == "import":
            if rest and rest[0].kind == "string":
                item.name = rest[0].text.strip('"')
                item.name_start, item.name_end = rest[0].start, rest[0].end
            self.items.append(item)
            return
        if rest and rest[0].kind == "name":
            item.name = rest[0].text
            item.name_start, item.name_end = rest[0].start, rest[0].end
            rest = rest[1:]
        body_at = next((i for i, t in enumerate(rest) if t.text in ("{", "=")
                        and _depth_before(rest, i) == 0), len(rest))
        header_end = rest[body_at - 1].end if body_at else item.name_end
        if head.text == "fn" and body_at < len(rest) and rest[body_at].text == "=":
            header_end = tokens[-1].end  # `fn f(x) = expr`: the expression is the signature
        item.header = " ".join(self.text[head.start:max(header_end, head.end)].split())
        if head.text != "train" and rest and rest[0].text == "(":
            self._params(rest, 0, "config" if head.text == "layer" else "input", item)
        body = rest[body_at + 1:] if body_at < len(rest) else []
        if head.text == "layer" and body and body[0].text == "(":
            close = self._params(body, 0, "input", item)
            arrow_end = _annotation_end(body, close + 1)
            signature = self.text[body[0].start:body[arrow_end - 1].end] if arrow_end > close \
                else ""
            item.header += "\n    " + " ".join(signature.split())
            body = body[arrow_end:]
        self._statements(body, item)
        self.items.append(item)

    def _params(self, tokens: list[Token], open_at: int, kind: str, item: Item) -> int:
        """Reads `(a: T = d, ...)` from `tokens[open_at]`; returns the index of `)`."""
        depth, expect_name = 0, True
        for index in range(open_at, len(tokens)):
            token = tokens[index]
            if token.text in OPEN:
                depth += 1
            elif token.text in CLOSE:
                depth -= 1
                if depth == 0:
                    return index
            elif depth == 1 and token.text == ",":
                expect_name = True
                continue
            if depth == 1 and expect_name and token.kind == "name":
                item.symbols.append(Symbol(token.text, kind, token.start, token.end,
                                           self._annotation(tokens, index + 1)))
            elif depth == 2 and token.kind == "name" and tokens[index - 1].text in "[,*+-/(":
                if not any(s.name == token.text for s in item.symbols):
                    item.symbols.append(Symbol(token.text, "dim", token.start, token.end))
            if token.text not in OPEN:
                expect_name = False if depth == 1 else expect_name
        return len(tokens) - 1

    def _annotation(self, tokens: list[Token], index: int) -> str:
        if index < len(tokens) and tokens[index].text == ":":
            end = _annotation_end(tokens, index + 1, arrow=False)
            if end > index + 1:
                return self.text[tokens[index + 1].start:tokens[end - 1].end]
        return ""

    def _statements(self, body: list[Token], item: Item) -> None:
        depth = 0
        for index, token in enumerate(body):
            if token.text in OPEN:
                depth += 1
            elif token.text in CLOSE:
                depth -= 1
            # Declarations count in `if` blocks too; other statements there are skipped.
            if token.text in ("param", "state") and index + 1 < len(body) \
                    and body[index + 1].kind == "name":
                target = body[index + 1]
                item.symbols.append(Symbol(target.text, "param", target.start, target.end,
                                           self._annotation(body, index + 2)))
            elif depth != 0 or (index > 1 and body[index - 2].text == "update"):
                continue
            elif token.text == "=" and index > 0 and body[index - 1].kind == "name":
                names, back = [], index - 1
                while back >= 0 and body[back].kind == "name":
                    names.append(body[back])
                    if back >= 2 and body[back - 1].text == ",":
                        back -= 2
                    else:
                        break
                kind = "setting" if item.kind == "train" else "binding"
                for name in reversed(names):
                    item.symbols.append(Symbol(name.text, kind, name.start, name.end))


def _depth_before(tokens: list[Token], index: int) -> int:
    depth = 0
    for token in tokens[:index]:
        if token.text in OPEN:
            depth += 1
        elif token.text in CLOSE:
            depth -= 1
    return depth


def _closing_end(tokens: list[Token]) -> int | None:
    """The end of the `}` that closes the item's body, if it is there."""
    depth, opened = 0, False
    for token in tokens:
        if token.text == "{":
            depth, opened = depth + 1, True
        elif token.text == "}":
            depth -= 1
            if opened and depth == 0:
                return token.end
    return None


def _annotation_end(tokens: list[Token], index: int, arrow: bool = True) -> int:
    """The index after a type annotation (`f32[B, 2]`, `int`) or, with `arrow`, after
    `-> T` / `-> (T, U)` starting at `index`."""
    if arrow:
        if index >= len(tokens) or tokens[index].text != "->":
            return index
        index += 1
        if index < len(tokens) and tokens[index].text == "(":
            depth = 0
            for at in range(index, len(tokens)):
                depth += tokens[at].text in OPEN
                depth -= tokens[at].text in CLOSE
                if depth == 0:
                    return at + 1
            return len(tokens)
    if index >= len(tokens) or tokens[index].kind != "name":
        return index
    index += 1
    if index < len(tokens) and tokens[index].text == "[":
        for at in range(index, len(tokens)):
            if tokens[at].text == "]":
                return at + 1
            if tokens[at].text in "{}":
                return at
        return len(tokens)
    return index
