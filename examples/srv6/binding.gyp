{
  # `pktgraph plugin-build` (the install script) adds the element API headers and flags.
  "targets": [{ "target_name": "srv6", "sources": ["src/SRv6Encap.cc", "src/SRv6LocalSIDs.cc"] }]
}
