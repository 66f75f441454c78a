"""The `judgeserve` command, one module per command group."""
