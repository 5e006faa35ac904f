"""The delivery shelf's core: rules, services and the store. Imports no Flask, gpiozero or cv2."""
