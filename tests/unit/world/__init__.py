"""Tests of :mod:`audioreason.world`, one module per world module (a package, so that
``test_cota.py`` here and in ``tests/unit/datasets`` do not collide)."""
