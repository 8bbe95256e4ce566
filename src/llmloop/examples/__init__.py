"""Running examples that ship inside the package, so the quickstart and the docs work offline."""
