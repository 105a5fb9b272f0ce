"""The ``auditor`` command's entry point, and ``python -m auditor``.

The command line's module imports most of auditor (about half a second); Ctrl-C during that import
would otherwise end in a Python traceback. Here it ends as an interrupt does later: a one-line
message and exit code 130.
"""

import sys

EXIT_INTERRUPTED = 130  # auditor.cli.EXIT_INTERRUPTED, which cannot be imported before the import


def main() -> None:
    """Run the command line (:func:`auditor.cli.main`)."""
    try:
        from auditor.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("\nauditor: interrupted while starting\n")
        sys.exit(EXIT_INTERRUPTED)
    run()


if __name__ == "__main__":
    main()
