"""Composition roots: the ``shelf`` command, the demo and the wiring of adapters to the core.

The only part of ``kiosk`` that may import ``hardware``, ``web``, gpiozero, OpenCV or pyzbar
(an import contract in ``make test`` checks it).
"""
