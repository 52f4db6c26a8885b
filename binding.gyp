{
  # The native engine and every built-in element's C++ half, one addon.
  # Sources are listed by scripts/native-sources.mjs (native/*.cc and elements/**/*.cc),
  # so adding an element never edits this file.
  "variables": {
    "march%": "x86-64-v3",
    "sanitize%": "0"
  },
  "targets": [
    {
      "target_name": "pktgraph",
      "sources": ["<!@(node scripts/native-sources.mjs)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native",
        "elements/lib"
      ],
      # C++ exceptions are on: configuration and plan errors are thrown as
      # exceptions and become JavaScript errors; the packet path never throws.
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-O2", "-O0"],
      "cflags_cc": ["-std=c++20", "-O3", "-march=<(march)", "-fexceptions", "-frtti", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-g1"],
      "ldflags": ["-pthread"],
      # scripts/sanitize-test.sh builds with -Dsanitize=1: AddressSanitizer and
      # UndefinedBehaviorSanitizer, stopping at the first error.
      "conditions": [
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-O1"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
