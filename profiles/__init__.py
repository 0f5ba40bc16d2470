"""The catalog profiles, shipped as data: `baseline`, `sandbox` and `regulated` (docs/profiles.md).

Each `*.bal` file here is a `profile` document (issue 15): typed settings with the value a
tenant must hold and their safety orders. `baseline` is secure by default; `sandbox` (demo and
trial tenants, constrained capabilities) and `regulated` (PII-heavy: stricter logging and
retention) extend it, and the compiler proves they lower none of its settings. `sandbox.yaml` is
`sandbox.bal` in the YAML form. `ballast profile diff|remediate|apply` take these names
(`ballast.cli.profile` finds the files with `importlib.resources`); `ballast check profiles/`
compiles them. The package holds no module: the profile kind is
`ballast.compiler.kinds.profile`, the runtime side `ballast.runtime.profile` and
`ballast.runtime.provision`.
"""
