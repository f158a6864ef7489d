"""audioreason: reproduce papers on teaching large audio language models to reason."""

__version__ = "0.1.0"
