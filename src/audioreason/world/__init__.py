"""The synthetic audio world: a seeded scene model written in the real formats of every dataset.

Importing the package does nothing; :func:`audioreason.world.write.write_world` writes the
world. Modules:

- ``write``: :func:`~audioreason.world.write.write_world`, every writer in a fixed order;
- ``scenes``: the scene model (clips, question kinds, the visual channel) that the AVQA,
  MMAU, VGGSound and CoTA writers share; ``captions``: faithful captions of scenes;
- ``sounds``, ``speech``: procedural sources (events, scene beds, voices, instruments;
  speakers, emotions, words); ``audio_out``: audio files, levels and clip ids;
- one writer per dataset, named as its importer in :mod:`audioreason.datasets`:
  ``avqa``, ``mmau``, ``music_avqa``, ``iemocap``, ``fau_aibo``, ``vctk``, ``desed``,
  ``maestro``, ``vggsound``, ``audiosetcaps``, ``cota``, ``arc`` (text only, no audio);
- ``metadata``: what the importers must report on each dataset (``world/metadata.json``).
"""
