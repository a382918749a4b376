"""The subcommands of `pigeonhole`: each module has ``run(args) -> exit code``."""
