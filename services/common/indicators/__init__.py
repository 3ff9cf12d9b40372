"""Technical indicators over candles: the whole `ta` catalogue by name (``catalogue``), fast
numpy versions of the hot ones (``fast``), and one entry point (``compute``). Pure."""
