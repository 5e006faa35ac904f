"""Adapters that deliver notices: each satisfies ``kiosk.ports.Channel``.

``kiosk.outbox.build_channels`` picks one per ``[[channels]]`` table of the configuration.
"""
