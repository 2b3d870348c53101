"""Use cases over the store, shared by the CLI and the API: nearest snapshot, coverage and
suggestions, the annual report, single-site edits."""
