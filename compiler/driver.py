"""The `dslc` command line: compile to an artifact, train (saving and resuming
checkpoints), evaluate and predict with saved weights, check, explain, and `--emit`
any stage (ast, ir, ir-after=STAGE, stablehlo, summary). Layers above it add their own
`Command`s and a source highlighter through `main` (the console script, `compiler/cli.py`).

Exit codes: 0 success, 1 diagnostics in the user's input, 2 bad command-line usage,
3 internal compiler error (reported as such, with the IR as far as it got).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Callable, Sequence

from .. import __version__
from . import limits

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
COMMANDS = ("compile", "train", "evaluate", "predict", "check", "explain", "verify", "plot")
TARGETS = ("cpu", "gpu", "tpu")
EMIT_HELP = ("ast | ir | ir-after=STAGE | stablehlo | summary | tf | torch (a standalone "
             "TensorFlow or PyTorch module; -o FILE writes it); STAGE is one of: "
             "frontend (the IR with gradients and train_step built), canonicalize, cse, dce")


@dataclass(frozen=True)
class Command:
    """A command added to `dslc` from above the driver, such as the editor's `lsp`:
    `add_arguments` fills in its argument parser, `run` gets the Session and returns
    the exit code."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Session], int]


def parser(extra_commands: Sequence[Command] = ()) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="dslc", description="Compile and train neural-network models written in .nn files.",
        epilog="`dslc FILE ...` is short for `dslc compile FILE ...`.")
    top.add_argument("--version", action="version", version=f"dslc {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")

    compile_ = commands.add_parser("compile", help="compile to an artifact directory (default)")
    compile_.add_argument("file")
    compile_.add_argument("--target", choices=TARGETS, default="cpu",
                          help="platform of the artifact (tpu and gpu cross-compile here)")
    compile_.add_argument("-o", "--output", metavar="PATH",
                          help="artifact directory (default: FILE's stem + .TARGET); "
                          "with --emit tf|torch, the Python file to write")
    compile_.add_argument("--mesh", type=mesh_shape, metavar="DATAxMODEL",
                          help="compile for a device mesh (e.g. 4x2: 8 devices), params "
                          "split as their `sharded` annotations say, batches over `data`")
    compile_.add_argument("--force", action="store_true",
                          help="replace an -o folder that is not a dslc artifact")
    add_emit(compile_)

    train = commands.add_parser("train", help="compile and run the file's train block")
    train.add_argument("file")
    train.add_argument("--history", metavar="PATH", help="write the History as JSON")
    train.add_argument("--plot", metavar="PNG", help="draw the loss and metric curves as a "
                       "PNG image (a classifier of 2-D points also gets PNG's stem + "
                       "_boundary.png, its decision boundary); needs matplotlib")
    budget = train.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=positive_int, help="override the number of steps")
    budget.add_argument("--epochs", type=positive_int, help="override the number of epochs")
    train.add_argument("--batch-size", type=positive_int, help="override the batch size")
    devices = train.add_mutually_exclusive_group()
    devices.add_argument("--devices", type=device_count, metavar="N|all",
                         help="train data-parallel over N of this host's devices (or all)")
    devices.add_argument("--mesh", type=mesh_shape, metavar="DATAxMODEL",
                         help="train over a data x model device mesh, params split as "
                         "their `sharded` annotations say")
    verbosity = train.add_mutually_exclusive_group()
    verbosity.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                           help="as Keras' fit: 0 only the final result, 1 a progress bar "
                           "(one line per epoch when not a terminal), 2 one line per epoch")
    verbosity.add_argument("--quiet", dest="verbose", action="store_const", const=0,
                           help="the same as --verbose 0")
    train.add_argument("--save", metavar="DIR", help="save the run's checkpoint in DIR at every "
                       "epoch end and at the end (default: the train block's `checkpoint`)")
    train.add_argument("--save-every", type=positive_int, metavar="N",
                       help="also save every N steps")
    train.add_argument("--resume", metavar="DIR", help="go on from the checkpoint in DIR; "
                       "--steps/--epochs stay totals")
    add_processes(train)
    add_emit(train)

    evaluate = commands.add_parser("evaluate", help="loss and metrics of saved weights")
    evaluate.add_argument("file")
    evaluate.add_argument("--weights", metavar="DIR", required=True, help="a checkpoint folder")
    evaluate.add_argument("--data", metavar="FILE.npz", help="arrays `x` and `y` (default: "
                          "the train block's data)")
    evaluate.add_argument("--batch-size", type=positive_int, help="rows per batch")

    predict = commands.add_parser("predict", help="run the model on inputs with saved weights")
    predict.add_argument("file")
    predict.add_argument("--weights", metavar="DIR", required=True, help="a checkpoint folder")
    predict.add_argument("--input", metavar="FILE", action="append", required=True,
                         help="a .npy per input (repeat for several), or one .npz of them")
    predict.add_argument("-o", "--output", metavar="FILE", required=True,
                         help="where to write the predictions (.npy; .npz for several outputs)")
    predict.add_argument("--batch-size", type=positive_int, help="rows per batch")

    check = commands.add_parser("check", help="report diagnostics only")
    check.add_argument("files", nargs="+", metavar="FILE")

    explain = commands.add_parser("explain", help="explain an error code, e.g. E0203")
    explain.add_argument("code")

    verify = commands.add_parser(
        "verify", help="train on XLA, TensorFlow and PyTorch side by side and compare")
    verify.add_argument("file")
    verify.add_argument("--steps", type=positive_int, default=40,
                        help="how many training steps to compare (default 40)")
    verify.add_argument("--torch-backend", default="inductor", metavar="NAME",
                        help="torch.compile backend for the PyTorch side (default inductor)")

    plot = commands.add_parser("plot", help="draw a --history file's curves as a PNG image")
    plot.add_argument("history", metavar="HISTORY")
    plot.add_argument("-o", "--output", metavar="PNG",
                      help="the image to write (default: HISTORY's stem + .png)")

    for command in extra_commands:
        command.add_arguments(commands.add_parser(command.name, help=command.help))
    return top


def add_emit(command: argparse.ArgumentParser) -> None:
    command.add_argument("--emit", metavar="STAGE", help=EMIT_HELP)
    command.add_argument("--print-loc", action="store_true",
                         help="print source locations in emitted IR")


def add_processes(command: argparse.ArgumentParser) -> None:
    """Flags of a run over several processes (hosts), for `jax.distributed.initialize`;
    what is left out comes from JAX's cluster detection (SLURM, Open MPI, ...)."""
    group = command.add_argument_group(
        "several processes", "one run over several machines, each starting the same command")
    group.add_argument("--coordinator", metavar="HOST:PORT",
                       help="address of process 0, which every process connects to")
    group.add_argument("--num-processes", type=positive_int, metavar="P",
                       help="how many processes take part")
    group.add_argument("--process-id", type=int, metavar="I", help="this process, 0 to P-1")


def mesh_shape(text: str) -> tuple[int, int]:
    """`--mesh`: `4x2` is 4 devices along `data` by 2 along `model`; `4` is `4x1`."""
    parts = text.lower().split("x")
    if len(parts) > 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected DATAxMODEL, such as 4x2 or 8, got {text!r}")
    sizes = [int(p) for p in parts]
    return sizes[0], sizes[1] if len(sizes) == 2 else 1


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def device_count(text: str) -> int | str:
    """`--devices`: a positive count, or `all` (resolved when training starts)."""
    return "all" if text == "all" else positive_int(text)


def main(argv: list[str] | None = None, *, commands: Sequence[Command] = (),
         highlight: Callable[[str], str] | None = None) -> int:
    """Runs `dslc` with the core commands plus `commands`; `highlight` colours a line of
    `.nn` source in diagnostics written to a terminal."""
    argv = list(sys.argv[1:] if argv is None else argv)
    names = COMMANDS + tuple(command.name for command in commands)
    if argv and argv[0] not in names and not argv[0].startswith("-"):
        argv.insert(0, "compile")
    try:
        args = parser(commands).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.command is None:
        parser(commands).print_usage(sys.stderr)
        print("dslc: error: give a command or a FILE", file=sys.stderr)
        return EXIT_USAGE
    problems = limits.environment_problems()
    if problems:
        for problem in problems:
            print(f"dslc: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    session = Session(args, {command.name: command for command in commands}, highlight)
    try:
        status = session.run()
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        return closed_pipe()
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - every escape is reported as a compiler bug
        return session.internal_error(error)


def closed_pipe() -> int:
    """Output went to a reader that stopped reading (`dslc ... | head -1`): what it
    wanted has been written, so dslc ends quietly, as `cat` does. Standard output is
    pointed at /dev/null so that the exit's own flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


class Session:
    """One invocation: its arguments, the commands added from above, the highlighter for
    diagnostics, and the last IR it saw, for internal-error reports."""

    def __init__(self, args, extra_commands: dict[str, Command] | None = None,
                 highlight: Callable[[str], str] | None = None):
        self.args = args
        self.extra_commands = extra_commands or {}
        self.highlight = highlight
        self.last_ir: str | None = None

    def run(self) -> int:
        if self.args.command in self.extra_commands:
            return self.extra_commands[self.args.command].run(self)
        if self.args.command in ("evaluate", "predict"):
            from .checkpoints import run_weights_command

            return run_weights_command(self)
        from .commands import run_command

        return run_command(self)

    def remember(self, stage: str, module) -> None:
        from .ir_text import print_module

        self.last_ir = f"// after {stage}\n" + print_module(module)

    def internal_error(self, error: BaseException) -> int:
        print(f"error[E0900]: internal compiler error: {type(error).__name__}: {error}",
              file=sys.stderr)
        print("  = note: this is a bug in dslc, not in your program; please report it "
              "with the input file", file=sys.stderr)
        if os.environ.get("DSLC_BACKTRACE"):
            traceback.print_exc(file=sys.stderr)
        else:
            print("  = help: set DSLC_BACKTRACE=1 to see the compiler's stack", file=sys.stderr)
        if self.last_ir:
            print("\nIR at the time of the error:\n" + self.last_ir, file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
