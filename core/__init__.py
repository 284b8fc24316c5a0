"""The shared library every app stands on: the error contract and the API base
view, strict fields and parsers, ids, pagination, time formatting, the
outbound HTTP guard, logging context and metrics. It imports no app."""
