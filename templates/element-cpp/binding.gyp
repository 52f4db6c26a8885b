{
  # The plugin library. `pktgraph plugin-build` (the install script) adds pktgraph's element
  # API headers and compiler flags (its native/plugin.gypi): name only the target and sources.
  "targets": [{ "target_name": "__LIB__", "sources": ["src/__NAME__.cc"] }]
}
