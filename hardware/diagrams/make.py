"""Draw the wiring diagrams of hardware/README.md and compute the figures it quotes.

    python hardware/diagrams/make.py            # write the SVGs, print the figures
    python hardware/diagrams/make.py --png      # also render PNGs with Chromium (headless)

Nothing here is imported by the shelf: it is the source of the pictures and the numbers, kept
so that a changed resistor or camera is one edit and one run away from a correct page.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---- the figures -------------------------------------------------------------------------

GPIO_V = 3.3  # a Raspberry Pi's GPIO high level
PIN_SAFE_MA = 8.0  # per pin, the Pi's default drive strength; stay under it
PINS_TOTAL_MA = 50.0  # the usual guide for all GPIO pins together
CHIP_TOTAL_MA = 70.0  # 74HC595: absolute maximum through its VCC or GND pin
LEDS = {"red/yellow 5 mm": 2.0, "green 5 mm": 2.1, "white/blue 5 mm": 3.0}  # forward voltage
RESISTORS = (220, 330, 470)
QR_SIDE_MM = 38.1 - 2.0  # kiosk/printing.py: the label's height less 2 mm, quiet zone included
QR_QUIET = 4
QR_MODULES = {"label, no ref (version 2)": 25, "label with a carrier ref (version 3)": 29}
CAMERAS = {"USB webcam, 60° across": 60.0, "Camera Module 3, 66°": 66.0,
           "Camera Module 3 Wide, 102°": 102.0}
DISTANCES_CM = (30, 40, 50)
FRAME_WIDTHS = (640, 1280)


def led_current_ma(vf: float, ohms: int) -> float:
    return max(GPIO_V - vf, 0.0) / ohms * 1000


def module_mm(modules: int) -> float:
    return QR_SIDE_MM / (modules + 2 * QR_QUIET)


def module_px(modules: int, hfov_deg: float, distance_cm: float, width_px: int) -> float:
    """Pixels per QR module for a label held square to the camera at ``distance_cm``."""
    seen_mm = 2 * distance_cm * 10 * math.tan(math.radians(hfov_deg) / 2)
    return module_mm(modules) * width_px / seen_mm


def field_cm(hfov_deg: float, distance_cm: float, aspect: float = 4 / 3) -> tuple[float, float]:
    width = 2 * distance_cm * math.tan(math.radians(hfov_deg) / 2)
    return width, width / aspect


def figures() -> str:
    out = ["LED current from a 3.3 V pin (mA):"]
    out.append("  " + "LED".ljust(18) + "".join(f"{r} Ω".rjust(9) for r in RESISTORS))
    for name, vf in LEDS.items():
        out.append(f"  {name:<18}" + "".join(f"{led_current_ma(vf, r):9.1f}" for r in RESISTORS))
    i = led_current_ma(2.0, 330)
    out.append(f"Power budget at 330 Ω, red: one pin {i:.1f} mA (limit {PIN_SAFE_MA:.0f}); "
               f"12 pins all lit {12 * i:.0f} mA (guide {PINS_TOTAL_MA:.0f}); "
               f"one 595, 8 lit {8 * i:.0f} mA (max {CHIP_TOTAL_MA:.0f}); "
               f"16 on the chain {16 * i:.0f} mA from 3.3 V")
    out.append("QR module on the label: " + ", ".join(
        f"{name} {module_mm(n):.2f} mm" for name, n in QR_MODULES.items()))
    for camera, hfov in CAMERAS.items():
        for distance in DISTANCES_CM:
            w, h = field_cm(hfov, distance)
            px = ", ".join(f"{width}: {module_px(n, hfov, distance, width):.1f}"
                           for width in FRAME_WIDTHS for n in QR_MODULES.values())
            out.append(f"  {camera} at {distance} cm: sees {w:.0f} x {h:.0f} cm; px/module "
                       f"(frame width: v2, v3) {px}")
    return "\n".join(out)


# ---- the drawings ------------------------------------------------------------------------

STYLE = """
  text { font-family: 'DejaVu Sans', 'Noto Sans CJK SC', sans-serif; font-size: 14px; }
  .small { font-size: 12px; fill: #444; }
  .title { font-size: 18px; font-weight: bold; }
  .wire { stroke: #222; stroke-width: 2; fill: none; }
  .gnd { stroke: #2a6; stroke-width: 2; fill: none; }
  .vcc { stroke: #c33; stroke-width: 2; fill: none; }
  .data { stroke: #26c; stroke-width: 2; fill: none; }
  .box { fill: #f4f4f4; stroke: #222; stroke-width: 2; }
  .pi { fill: #e8f3e8; stroke: #2a6; stroke-width: 2; }
"""


class Svg:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height, self.parts = width, height, []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def text(self, x: float, y: float, words: str, cls: str = "", anchor: str = "start") -> None:
        self.add(f'<text x="{x}" y="{y}" class="{cls}" text-anchor="{anchor}">{words}</text>')

    def line(self, points: list[tuple[float, float]], cls: str = "wire") -> None:
        path = " ".join(f"{x},{y}" for x, y in points)
        self.add(f'<polyline points="{path}" class="{cls}"/>')

    def box(self, x: float, y: float, w: float, h: float, cls: str = "box") -> None:
        self.add(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" class="{cls}"/>')

    def dot(self, x: float, y: float) -> None:
        self.add(f'<circle cx="{x}" cy="{y}" r="4" fill="#222"/>')

    def resistor(self, x: float, y: float, label: str) -> None:
        """A horizontal resistor from (x, y) to (x + 60, y)."""
        self.line([(x, y), (x + 12, y)])
        self.add(f'<rect x="{x + 12}" y="{y - 7}" width="36" height="14" fill="#fff" '
                 'stroke="#222" stroke-width="2"/>')
        self.line([(x + 48, y), (x + 60, y)])
        self.text(x + 30, y - 11, label, "small", "middle")

    def led(self, x: float, y: float, colour: str = "#e33") -> None:
        """A horizontal LED from (x, y) (anode) to (x + 40, y) (cathode)."""
        self.line([(x, y), (x + 12, y)])
        self.add(f'<polygon points="{x + 12},{y - 9} {x + 12},{y + 9} {x + 28},{y}" '
                 f'fill="{colour}" stroke="#222" stroke-width="2"/>')
        self.line([(x + 28, y - 9), (x + 28, y + 9)])
        self.line([(x + 28, y), (x + 40, y)])
        self.add(f'<path d="M{x + 16},{y - 12} l6,-8 M{x + 22},{y - 12} l6,-8" '
                 'stroke="#e90" stroke-width="1.5"/>')

    def ground(self, x: float, y: float) -> None:
        self.line([(x, y), (x, y + 8)], "gnd")
        for i, half in enumerate((10, 6, 2)):
            self.line([(x - half, y + 8 + 4 * i), (x + half, y + 8 + 4 * i)], "gnd")

    def write(self, path: Path) -> None:
        body = "\n  ".join(self.parts)
        path.write_text(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}"'
            f' viewBox="0 0 {self.width} {self.height}">\n  <style>{STYLE}</style>\n'
            f'  <rect width="100%" height="100%" fill="#fff"/>\n  {body}\n</svg>\n',
            encoding="utf-8")


def one_pin_per_slot() -> Svg:
    svg = Svg(760, 480)
    svg.text(20, 30, "Shelf A: one GPIO pin per slot (BCM numbers; header pins in brackets)",
             "title")
    svg.box(20, 55, 190, 390, "pi")
    svg.text(115, 80, "Raspberry Pi", "", "middle")
    rows = [("A-01", 5, 29), ("A-02", 6, 31), ("A-03", 12, 32), ("A-12", 26, 37)]
    for i, (slot, bcm, header) in enumerate(rows):
        y = 120 + i * 70 + (40 if i == 3 else 0)
        svg.text(200, y + 5, f"GPIO{bcm} [{header}]", "", "end")
        svg.dot(210, y)
        svg.line([(210, y), (300, y)])
        svg.resistor(300, y, "330 Ω")
        svg.line([(360, y), (420, y)])
        svg.led(420, y)
        svg.line([(460, y), (560, y)], "gnd")
        svg.text(600, y + 5, f"slot {slot}: 3.9 mA (red)", "small")
        svg.line([(560, y), (560, 420)], "gnd")
    svg.text(300, 310, "⋮  A-04 .. A-11 the same (GPIO13 16 19 20 21 23 24 25)", "small")
    svg.text(200, 425, "GND [6, 9, 14 ...]", "", "end")
    svg.dot(210, 420)
    svg.line([(210, 420), (560, 420)], "gnd")
    svg.ground(560, 420)
    svg.text(20, 470, "LED: long leg (anode) towards the resistor, flat side (cathode) to "
             "ground. High = lit.", "small")
    return svg


def chain_595() -> Svg:
    svg = Svg(960, 560)
    svg.text(20, 30, "Shelf B: a 74HC595 chain (3 pins for 8, 16, 24 ... slots)", "title")
    svg.box(20, 60, 170, 330, "pi")
    svg.text(105, 85, "Raspberry Pi", "", "middle")
    pins = [("GPIO17 [11] data", 130, "SER (14)"), ("GPIO27 [13] clock", 180, "SRCLK (11)"),
            ("GPIO22 [15] latch", 230, "RCLK (12)")]
    chips = [(330, "chip 0: slots led = 0..7"), (620, "chip 1: led = 8..15")]
    for x, name in chips:
        svg.box(x, 100, 170, 270)
        svg.text(x + 85, 120, "74HC595", "", "middle")
        svg.text(x + 85, 390, name, "small", "middle")
        for _label, y, pin in pins:
            svg.text(x + 8, y + 5, pin, "small")
        svg.text(x + 8, 285, "OE (13) → GND", "small")
        svg.text(x + 8, 310, "SRCLR (10) → 3.3 V", "small")
        svg.text(x + 8, 335, "VCC (16) 3.3 V, GND (8)", "small")
        svg.text(x + 8, 355, "100 nF across VCC-GND", "small")
        svg.text(x + 162, 205, "QA..QH (15, 1-7)", "small", "end")
        svg.text(x + 162, 260, "QH' (9)", "small", "end")
    for label, y, _ in pins:
        svg.text(180, y - 8, label, "small", "end")
        svg.dot(190, y)
        cls = "data" if "data" in label else "wire"
        svg.line([(190, y), (330, y)], cls)
        if "data" not in label:  # clock and latch go on to every chip, over the top
            x, top = (300, 80) if "clock" in label else (290, 68)
            svg.line([(x, y), (x, top), (x + 305, top), (x + 305, y), (620, y)])
            svg.dot(x, y)
    svg.line([(500, 255), (560, 255), (560, 130), (620, 130)], "data")  # QH' -> next SER
    svg.text(505, 275, "QH' → next SER", "small")
    # one output drawn in full, per chip
    for x, _ in chips:
        y = 450
        svg.line([(x + 150, 370), (x + 150, y)])
        svg.resistor(x + 150, y, "330 Ω")
        svg.led(x + 210, y)
        svg.line([(x + 250, y), (x + 270, y)], "gnd")
        svg.ground(x + 270, y)
        svg.text(x + 150, y + 40, "× 8: a resistor + LED each", "small")
    svg.text(20, 530, "The 595 keeps its outputs between updates; the kiosk clears it at "
             "start (a 595 powers up at random).", "small")
    svg.text(20, 550, "For 12 V lamps: TPIC6B595 (same three pins), lamp between +12 V and "
             "the output.", "small")
    return svg


def buzzer() -> Svg:
    svg = Svg(520, 180)
    svg.text(20, 30, "Buzzer on GPIO18 [12]", "title")
    svg.text(20, 70, "3.3 V active piezo:  GPIO18 ── (+) buzzer (−) ── GND", "")
    svg.text(20, 110, "5 V magnetic:  GPIO18 ── 1 kΩ ── base S8050; collector ── buzzer (−);",
             "small")
    svg.text(20, 130, "buzzer (+) ── 5 V; emitter ── GND; 1N4148 across the buzzer "
             "(cathode to 5 V)", "small")
    svg.text(20, 165, "One short beep: accepted. Three: refused.", "small")
    return svg


def render_png(svg_path: Path) -> None:
    """Render an SVG to a PNG of the same size with headless Chromium (as the tests use)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH: the SVGs are written, the PNGs are not")
    text = svg_path.read_text(encoding="utf-8")
    width = text.split('width="', 1)[1].split('"', 1)[0]
    height = text.split('height="', 1)[1].split('"', 1)[0]
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={profile}",
                        f"--window-size={width},{height}",
                        f"--screenshot={svg_path.with_suffix('.png')}", svg_path.as_uri()],
                       check=True, capture_output=True, timeout=60)


def main(argv: list[str]) -> int:
    drawings = {"one-pin-per-slot.svg": one_pin_per_slot(), "74hc595-chain.svg": chain_595(),
                "buzzer.svg": buzzer()}
    for name, svg in drawings.items():
        svg.write(HERE / name)
        if "--png" in argv:
            render_png(HERE / name)
    print(figures())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
