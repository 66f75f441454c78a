"""Judge models shipped with judgeserve: locating and preparing them for the engines."""
