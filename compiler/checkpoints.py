"""`dslc evaluate` and `dslc predict`: a program's saved weights (a checkpoint folder,
`runtime/checkpoint.py`) on data or on inputs, once the driver has parsed the command
line. Problems with the files are `error:` lines (exit 1); a checkpoint from a changed
source is a warning (`commands.read_checkpoint`).
"""

from __future__ import annotations

import io
import os
import sys
import zipfile

from ..dsl.diagnostics import visible
from .commands import (EXIT_DIAGNOSTICS, EXIT_OK, compile_file, output_refusal,
                       print_diagnostics, read_checkpoint, refuse_output)


def run_weights_command(session) -> int:
    """Compiles the file, reads `--weights`, and runs the command on them."""
    loaded = trained_program(session)
    if isinstance(loaded, int):
        return loaded
    command = {"evaluate": evaluate_command, "predict": predict_command}[session.args.command]
    return command(session, *loaded)


def trained_program(session):
    """The command's program with the weights of `--weights`: (program, variables), or
    an exit code."""
    from .api import Program
    from .training import weights_of

    args = session.args
    compilation = compile_file(session, args.file)
    if isinstance(compilation, int):
        return compilation
    program = Program(compilation)
    checkpoint = read_checkpoint("--weights", args.weights, program)
    if checkpoint is None:
        return EXIT_DIAGNOSTICS
    try:
        return program, weights_of(program, checkpoint)
    except ValueError as error:
        print(f"error: --weights {visible(args.weights)} does not fit {args.file}: {error}",
              file=sys.stderr)
        return EXIT_DIAGNOSTICS


def evaluate_command(session, program, variables) -> int:
    """`dslc evaluate FILE --weights DIR [--data FILE.npz]`: loss and metrics."""
    from .training import DataFileError, TrainError, load_data_file

    args = session.args
    if program.compilation.train is None:
        print(f"error: {args.file} has no `train` block (it names the loss and metrics)",
              file=sys.stderr)
        return EXIT_DIAGNOSTICS
    try:
        if args.data:
            data = load_data_file(program, args.data)
            results = program.evaluate(variables, data.x, data.y, batch_size=args.batch_size)
        else:
            results = program.evaluate(variables, batch_size=args.batch_size)
    except TrainError as error:
        print_diagnostics(session, error.diagnostics)
        return EXIT_DIAGNOSTICS
    except DataFileError as error:
        print(f"error: --data {error}", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    print(" - ".join(f"{name}: {value:.4f}" for name, value in results.items()))
    return EXIT_OK


def predict_command(session, program, variables) -> int:
    """`dslc predict FILE --weights DIR --input x.npy [--input ...] -o y.npy`."""
    import numpy as np

    from ..runtime.files import write_atomically
    from ..runtime.training import predict_batches
    from .backends.jax_lower import precision

    args = session.args
    if problem := output_refusal(args.output, program.compilation, folder=False):
        return refuse_output("-o", args.output, problem)
    inputs = read_inputs(program, args.input)
    if isinstance(inputs, str):
        print(f"error: --input: {inputs}", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    predict = program.module.functions["predict"]
    names = [name or f"output_{i}" for i, name in
             enumerate(predict.result_names or [""] * len(predict.results))]

    def model(variables, x):
        return program.jax_function("predict")(*predict.order_args(
            param=[variables[n] for n in program.param_names],
            state=[variables[n] for n in program.state_names], input=list(x)))

    with precision(program.module):
        outputs = predict_batches(model, variables, tuple(inputs), args.batch_size)
    buffer = io.BytesIO()
    if len(outputs) == 1:
        np.save(buffer, outputs[0])
    else:
        np.savez(buffer, **dict(zip(names, outputs)))
    try:
        write_atomically(args.output, buffer.getvalue())
    except OSError as error:
        print(f"error: cannot write {visible(args.output)}: {error.strerror or error}",
              file=sys.stderr)
        return EXIT_DIAGNOSTICS
    print(f"wrote {args.output} ({', '.join(f'{n}: {list(o.shape)}' for n, o in zip(names, outputs))})")
    return EXIT_OK


def read_inputs(program, paths: list[str]):
    """The model's inputs from `--input` files, checked against its types (a list of
    arrays), or a message saying what is wrong."""
    import numpy as np

    from .backends.stablehlo import numpy_dtype
    from .training import shape_problem

    args = program.module.functions["predict"].args_with("input")
    try:
        if len(paths) == 1 and paths[0].endswith(".npz"):
            with np.load(paths[0], allow_pickle=False) as archive:
                stored = list(archive.files)
                names = [a.name for a in args] if len(args) > 1 else \
                    (["x"] if "x" in stored else stored[:1])
                if missing := [n for n in names if n not in stored]:
                    return (f"{paths[0]} has no array {', '.join(missing)} (it holds "
                            f"{', '.join(stored) or 'none'})")
                arrays = [archive[n] for n in names]
        else:
            arrays = [np.load(path, allow_pickle=False) for path in paths]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        return str(error)
    if len(arrays) != len(args):
        return f"the model takes {len(args)} input(s), {len(arrays)} given"
    checked = []
    for array, arg in zip(arrays, args):
        if problem := shape_problem(array.shape, arg.type.shape):
            return f"`{arg.name}` has shape {list(array.shape)}, the model needs `{arg.type}`: {problem}"
        checked.append(np.asarray(array, numpy_dtype(arg.type.dtype)))
    if len({len(a) for a in checked}) > 1:
        return "the inputs have different numbers of rows"
    return checked
