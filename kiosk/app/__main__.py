"""Run the shelf command: ``python -m kiosk.app``."""
from kiosk.app.cli import main

main()
