"""Run the shelf command: ``python -m kiosk``."""
from kiosk.cli import main

main()
