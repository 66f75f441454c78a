"""judgeserve: the gateway and everything the gateway, workers and CLI share."""
