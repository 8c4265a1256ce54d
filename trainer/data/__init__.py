"""Training data: photo folders decoded into in-memory thumbnail caches, the built-in un-edited pool, sampling."""
