from coordinator.cli import cli

cli(prog_name="python -m coordinator")
