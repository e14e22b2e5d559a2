"""Tools Herald runs but that hold no rule of its own: the probe simulator (tests, demos,
benchmarks, `herald probe-sim`), the embedded Redis (`herald serve` without REDIS_URL) and the
GraphiQL page. Imported by the composition root (herald/) and by tests and bench/ only."""
