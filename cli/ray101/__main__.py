from ray101.main import cli

cli(prog_name="ray101")
