from coordinator.cli import cli, exit_on_interrupt

exit_on_interrupt()
cli(prog_name="python -m coordinator")
