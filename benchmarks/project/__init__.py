"""One Django project that each contender of the benchmark runs in turn."""
