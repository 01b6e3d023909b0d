"""Error codes: a short title and a long explanation for each, for `dslc explain CODE`.

Every diagnostic any stage raises uses a code from `CODES`: E00xx syntax, E01xx names,
E02xx types and shapes, E03xx calls, E04xx train blocks, E05xx imports, E06xx
unsupported features, E09xx internal errors.
"""

from __future__ import annotations


def _entry(title: str, text: str, wrong: str, right: str) -> tuple[str, str]:
    explanation = f"{text}\n\nErroneous example:\n\n{_indent(wrong)}\n\nCorrected:\n\n{_indent(right)}\n"
    return title, explanation


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.strip("\n").splitlines())


CODES: dict[str, tuple[str, str]] = {
    "E0001": _entry(
        "unexpected token",
        "The parser found a token that cannot appear here. The help line lists what could.",
        "model M(x: f32[N]) -> f32[N] {\n    return x +\n}",
        "model M(x: f32[N]) -> f32[N] {\n    return x + 1\n}",
    ),
    "E0002": _entry(
        "unexpected character",
        "A character that is not part of any token of the language, such as `$` or `;`.",
        "fn f(x) = x * 2;",
        "fn f(x) = x * 2",
    ),
    "E0003": _entry(
        "unexpected end of input",
        "The file ends in the middle of a definition, usually because a bracket is never closed.",
        "model M(x: f32[N]) -> f32[N] {\n    return x",
        "model M(x: f32[N]) -> f32[N] {\n    return x\n}",
    ),
    "E0004": _entry(
        "expression nested too deeply",
        "An expression nests more than 200 levels (parentheses, calls, operators). Split it\n"
        "into several statements with intermediate names.",
        "fn f(x) = ((((((((...x...))))))))",
        "fn f(x) {\n    a = g(x)\n    b = g(a)\n    return g(b)\n}",
    ),
    "E0005": _entry(
        "invalid literal",
        "A number or string literal is malformed: an unknown escape, an unterminated string,\n"
        "or a number too large to represent.",
        'import "layers\\q.nn"',
        'import "layers.nn"',
    ),
    "E0006": _entry(
        "source is not UTF-8",
        "A `.nn` file is UTF-8 text. The file holds a byte that UTF-8 does not allow where it\n"
        "stands, often because an editor saved it as Latin-1 or Windows-1252; the diagnostic\n"
        "points at the first one, with undecodable bytes shown as U+FFFD. Convert the file.",
        "# caf\\xe9 (Latin-1 bytes)\nfn f(x) = x",
        "# café (UTF-8 bytes)\nfn f(x) = x",
    ),
    "E0101": _entry(
        "undefined name",
        "A name is used that is not defined in this scope: not a parameter, input, dim symbol,\n"
        "earlier binding, top-level definition, import or builtin. Names must be defined\n"
        "before they are used.",
        "fn f(x) = relo(x)",
        "fn f(x) = relu(x)",
    ),
    "E0102": _entry(
        "duplicate definition",
        "Two top-level definitions (model, layer or fn) have the same name.",
        "fn f(x) = x\nfn f(x) = 2 * x",
        "fn f(x) = x\nfn g(x) = 2 * x",
    ),
    "E0103": _entry(
        "name defined twice in one scope",
        "Bindings are single assignment (SSA): a name cannot be rebound in the same body,\n"
        "and a parameter cannot be reassigned. Use a new name for the new value.",
        "fn f(x) {\n    h = x * 2\n    h = h + 1\n    return h\n}",
        "fn f(x) {\n    h = x * 2\n    h2 = h + 1\n    return h2\n}",
    ),
    "E0104": _entry(
        "keyword used as a name",
        "The keywords `model layer fn train param return import true false` are reserved and\n"
        "cannot name a definition, parameter or value.",
        "fn f(model) = model * 2",
        "fn f(net) = net * 2",
    ),
    "E0201": _entry(
        "unknown dtype",
        "A tensor type names a dtype the compiler does not know. Known dtypes include\n"
        "`f16 bf16 f32 f64 i8 i32 i64 u8 bool`.",
        "fn f(x: float32[N]) -> f32[N] = x",
        "fn f(x: f32[N]) -> f32[N] = x",
    ),
    "E0202": _entry(
        "shapes cannot be broadcast together",
        "An elementwise operation got operands whose shapes are not compatible under\n"
        "NumPy broadcasting: aligned from the right, each pair of dims must be equal or 1.",
        "fn f(a: f32[N, 3], b: f32[N, 2]) -> f32[N, 3] = a + b",
        "fn f(a: f32[N, 3], b: f32[N, 3]) -> f32[N, 3] = a + b",
    ),
    "E0203": _entry(
        "matmul inner dimensions differ",
        "In `a @ b` the last dim of `a` must equal the second-to-last dim of `b`.",
        "fn f(x: f32[N, 3], w: f32[2, 1]) -> f32[N, 1] = x @ w",
        "fn f(x: f32[N, 2], w: f32[2, 1]) -> f32[N, 1] = x @ w",
    ),
    "E0204": _entry(
        "wrong rank for an operation",
        "An operation got a tensor with the wrong number of dims, e.g. `Conv2D` on a 3-d input.",
        "model M(x: f32[B, 28, 28]) -> f32[B, 10] {\n    return x |> Conv2D(8, 3) |> Flatten() |> Dense(10)\n}",
        "model M(x: f32[B, 28, 28, 1]) -> f32[B, 10] {\n    return x |> Conv2D(8, 3) |> Flatten() |> Dense(10)\n}",
    ),
    "E0205": _entry(
        "argument does not match the declared input type",
        "A value passed to a layer, model or fn does not have the type its signature declares.",
        "fn g(x: f32[N, 2]) -> f32[N] = sum(x, axis=1)\nfn f(y: f32[N, 3]) -> f32[N] = g(y)",
        "fn g(x: f32[N, 2]) -> f32[N] = sum(x, axis=1)\nfn f(y: f32[N, 2]) -> f32[N] = g(y)",
    ),
    "E0206": _entry(
        "result does not match the declared output type",
        "The value returned has a different type from the one after `->`.",
        "fn f(x: f32[N, 2]) -> f32[N] = x",
        "fn f(x: f32[N, 2]) -> f32[N] = sum(x, axis=1)",
    ),
    "E0207": _entry(
        "shape is not concrete",
        "Some shapes must be known at compile time: a `param`'s shape, the shape drawn by a\n"
        "random op, and the axis `concat` joins along. Every such dim must be an integer, a\n"
        "config parameter or a dim bound from an input other than a symbolic one (`B`, `N`).",
        "model M(x: f32[B, 2]) -> f32[B, 1] {\n    param W: f32[B, 1] = zeros\n    return x @ W\n}",
        "model M(x: f32[B, 2]) -> f32[B, 1] {\n    param W: f32[2, 1] = zeros\n    return x @ W\n}",
    ),
    "E0208": _entry(
        "axis out of range",
        "An `axis` argument is not a valid dim index for a tensor of this rank.",
        "fn f(x: f32[N, 2]) -> f32[N] = sum(x, axis=2)",
        "fn f(x: f32[N, 2]) -> f32[N] = sum(x, axis=1)",
    ),
    "E0209": _entry(
        "dtype mismatch",
        "The operands of an operation have different dtypes; convert one explicitly.",
        "fn f(a: f32[N], b: i32[N]) -> f32[N] = a + b",
        "fn f(a: f32[N], b: i32[N]) -> f32[N] = a + cast(b, f32)",
    ),
    "E0210": _entry(
        "invalid reshape",
        "A reshape changes the number of elements, or uses more than one `-1`.",
        "fn f(x: f32[B, 6]) -> f32[B, 4] = reshape(x, [-1, 4])",
        "fn f(x: f32[B, 6]) -> f32[B, 2, 3] = reshape(x, [-1, 2, 3])",
    ),
    "E0301": _entry(
        "wrong number of arguments",
        "A call passes more or fewer positional arguments than the callee accepts.",
        "fn add(a, b) = a + b\nfn f(x) = add(x)",
        "fn add(a, b) = a + b\nfn f(x) = add(x, 1)",
    ),
    "E0302": _entry(
        "unknown keyword argument",
        "A call passes a keyword argument the callee does not declare.",
        "model M(x: f32[B, 4]) -> f32[B, 2] {\n    return x |> Dense(2, activaton=relu)\n}",
        "model M(x: f32[B, 4]) -> f32[B, 2] {\n    return x |> Dense(2, activation=relu)\n}",
    ),
    "E0303": _entry(
        "value is not callable, or is the wrong kind of value",
        "A value is used where another kind is needed: a tensor called like a function, a\n"
        "layer where a tensor is expected, or a non-layer on the right of `|>`.",
        "fn f(x) = x(2)",
        "fn f(x) = x * 2",
    ),
    "E0304": _entry(
        "invalid argument value",
        "An argument must be a compile-time constant (a number, string, name of a builtin)\n"
        "or has a value out of its allowed range, or one that excludes another argument\n"
        "(an optimizer takes one of `clipnorm`, `clipvalue` and `global_clipnorm`). A\n"
        "metric class's arguments are checked as Keras checks them (`AUC(num_thresholds=1)`,\n"
        "`curve=\"XY\"`), and those whose result would not be one number for the training\n"
        "log (F1Score's default `average=none`, a list of `thresholds`) are refused too.",
        "model M(x: f32[B, 4]) -> f32[B, 4] {\n    return x |> Dropout(1.5)\n}",
        "model M(x: f32[B, 4]) -> f32[B, 4] {\n    return x |> Dropout(0.5)\n}",
    ),
    "E0305": _entry(
        "invalid use of grad",
        "`grad` takes a function whose result is a scalar (`f32[]`).",
        "fn f(x: f32[N]) -> f32[N] = x ** 2\nfn df = grad(f)",
        "fn f(x: f32[N]) -> f32[] = sum(x ** 2)\nfn df = grad(f)",
    ),
    "E0401": _entry(
        "unknown train setting",
        "A `train` block has a setting the compiler does not know.",
        "train M {\n    epoch = 5\n}",
        "train M {\n    epochs = 5\n}",
    ),
    "E0402": _entry(
        "missing required train setting",
        "A `train` block needs at least `data`, `loss` and `optimizer`.",
        "train M {\n    loss = mean_squared_error\n}",
        "train M {\n    data = two_blobs()\n    loss = mean_squared_error\n    optimizer = sgd\n}",
    ),
    "E0403": _entry(
        "unknown loss, optimizer, metric, data source or callback",
        "A `train` setting names a loss, optimizer, metric, data source or callback that does\n"
        "not exist, or something of another kind where one of them belongs.",
        "train M {\n    data = two_blobs()\n    loss = mean_square_error\n    optimizer = sgd\n}",
        "train M {\n    data = two_blobs()\n    loss = mean_squared_error\n    optimizer = sgd\n}",
    ),
    "E0404": _entry(
        "invalid value for a train setting",
        "A `train` setting has a value of the wrong kind or out of range, or a metric\n"
        "cannot pair the targets with the predictions (AUC, Precision, Recall and F1Score\n"
        "take targets shaped like the predictions, not class ids).",
        "train M {\n    data = two_blobs()\n    loss = mse\n    optimizer = sgd\n    steps = -4\n}",
        "train M {\n    data = two_blobs()\n    loss = mse\n    optimizer = sgd\n    steps = 40\n}",
    ),
    "E0405": _entry(
        "train block names something that is not a model",
        "`train X` needs `X` to be a `model` defined in this file or imported.",
        "layer Block(units: int) {\n    (x: f32[B, N]) -> f32[B, units]\n    return x |> Dense(units)\n}\n"
        "train Block {\n    data = two_blobs()\n}",
        "model Net(x: f32[B, 2]) -> f32[B, 1] {\n    return x |> Block(1)\n}\n"
        "train Net {\n    data = two_blobs()\n}",
    ),
    "E0406": _entry(
        "data does not match the model",
        "The data source yields arrays whose shapes or dtypes differ from the model's inputs\n"
        "or from what the loss expects of its targets.",
        "model M(x: f32[N, 3]) -> f32[N, 1] {\n    return x |> Dense(1)\n}\n"
        "train M {\n    data = two_blobs()    # yields x: f32[N, 2]\n}",
        "model M(x: f32[N, 2]) -> f32[N, 1] {\n    return x |> Dense(1)\n}\n"
        "train M {\n    data = two_blobs()\n}",
    ),
    "E0407": _entry(
        "the loss is not finite",
        "A training step's loss was NaN or infinite: training diverged. Training stops after\n"
        "that step, as Keras' TerminateOnNaN does (its history so far is written; a `--save`\n"
        "checkpoint keeps the last finite state), and dslc exits with status 1, naming the step.",
        "train M {\n    data = two_blobs()\n    loss = mse\n"
        "    optimizer = SGD(learning_rate=1e6)\n}",
        "train M {\n    data = two_blobs()\n    loss = mse\n"
        "    optimizer = SGD(learning_rate=0.01)\n}",
    ),
    "E0501": _entry(
        "import not found or refused",
        "An `import` names a file that does not exist, relative to the importing file, or one\n"
        "dslc will not read: an absolute path, a file that is not `.nn`, one outside the\n"
        "folder of the program given to dslc (links followed), one that is not a regular\n"
        "file (a pipe, a device) or one larger than 1 MiB. Imports nest at most 64 deep.",
        'import "layer.nn"',
        'import "layers.nn"',
    ),
    "E0502": _entry(
        "import cycle",
        "Files import each other in a cycle. Move the shared definitions into a third file.",
        '# a.nn\nimport "b.nn"\n# b.nn\nimport "a.nn"',
        '# a.nn\nimport "common.nn"\n# b.nn\nimport "common.nn"',
    ),
    "E0601": _entry(
        "not supported yet",
        "The program uses a feature the compiler does not support yet. The message names it.",
        "fn f(x: f32[N]) -> f32[N] = x[x > 0]",
        "fn f(x: f32[N]) -> f32[N] = where(x > 0, x, 0)",
    ),
    "E0900": _entry(
        "internal compiler error",
        "dslc itself failed on this input. This is always a bug in dslc, never in your program;\n"
        "please report it with the input file and the note printed with the error.",
        "# any input that triggers the bug",
        "# no change is needed in your program",
    ),
}


def explain(code: str) -> str | None:
    """The long explanation of `code` (e.g. "E0302"), or None if it is not a known code."""
    entry = CODES.get(code.strip().upper())
    if entry is None:
        return None
    title, text = entry
    return f"{code.strip().upper()}: {title}\n\n{text}"
