# Build settings for an out-of-tree element plugin (docs/writing-elements.md): the element API
# headers shipped in this package, the engine's compiler flags, PG_PLUGIN (which puts the element
# API version into the library). `pktgraph plugin-build` passes this file to node-gyp, so a
# plugin's binding.gyp names only its target and sources. Paths are relative to this file.
# node-gyp's own settings come after these, so the library is build/Release/TARGET.node: a shared
# library the engine dlopens, though not a Node addon (Node could not load it).
{
  'variables': {
    'march%': 'x86-64-v3'
  },
  'target_defaults': {

    'include_dirs': ['.', '../elements/lib'],
    'defines': ['PG_PLUGIN'],
    'cflags!': ['-fno-exceptions', '-O2', '-O0'],
    'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-O2', '-O0'],
    'cflags_cc': ['-std=c++20', '-O3', '-march=<(march)', '-fexceptions', '-frtti', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers'],
    'ldflags': ['-pthread']
  }
}
