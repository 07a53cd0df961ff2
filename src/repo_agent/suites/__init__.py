"""Task suites: builtin (shipped), quixbugs, mutants (generated) and repo; see loader."""
