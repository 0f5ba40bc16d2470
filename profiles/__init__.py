"""Reserved for the profiles issue: deployment profiles shipped as policy data (`*.bal`, `*.yaml`).

Empty on purpose. The package stays installed (as `ballast.profiles`, with its data globs in
pyproject.toml) so that the profiles issue adds files here without changing the packaging; until
then it holds no module and no data, and nothing imports it.
"""
