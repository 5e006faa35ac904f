"""Stand-ins for the world outside the gate, shipped as features (like OctoPrint's virtual
printer): a mail server on localhost that keeps what it receives, and a video of a courier
holding labels to the camera. The demo and the tests use them; the kiosk on a Pi never does.
"""
