"""Board profiles: which pin does what on each supported board.

One dict per board, plain data so that it imports on MicroPython and CPython alike (on
the board as ``rstep.boards``, on the laptop as ``retrostep.firmware.boards``). The
wiring tables in hardware/README.md are the same choices, written for people; a test
keeps the two in step.

    from rstep import boards
    b = boards.detect() or boards.get("xiao_esp32s3")
    from machine import I2C, Pin
    i2c = I2C(b["i2c"], sda=Pin(b["sda"]), scl=Pin(b["scl"]), freq=400_000)
    button = Pin(b["button"], Pin.IN, Pin.PULL_UP)  # pressed reads 0

Fields of a profile (pins are GPIO numbers, except a LED name where MicroPython has one):

    name            key of the profile (as passed to get())
    title           the board as its maker names it
    port            MicroPython port: "esp32" or "rp2"
    chip            "esp32", "esp32s3", "esp32c3" or "rp2040"
    arch            mpy-cross -march for native code on that chip
    i2c             hardware I2C bus id; sda, scl: its pins
    int1            the IMU's INT1 (FIFO watermark, active high, push-pull)
    motor           PWM pin driving the motor transistor's base or gate (high = buzz)
    button          push button to GND, internal pull-up (pressed = 0)
    battery_adc     ADC pin reading the battery through a divider, or None
    battery_divider Vbattery / Vpin of that divider (2 for 100k over 100k), or None
    adc_max_mv      top of the ADC input range the divided battery voltage may use:
                    ESP32 family: at 11 dB attenuation (ADC.ATTN_11DB), where
                    read_uv() gives calibrated microvolts (the default attenuation
                    reads only up to ~1 V); RP2040: the 3.3 V that read_u16() = 65535
                    stands for
    led             a user LED (GPIO number or MicroPython pin name), or None
    led_active_low  True when the LED lights with the pin low
    light_sleep     machine.lightsleep(ms) works and saves power on this port
    pin_wake        INT1 and the button sit on pins that can end a lightsleep()

Rules followed in every profile: no strapping pins for outputs or the button (they
decide the boot mode), battery on ADC1 on Espressif chips (ADC2 is shared with the
radio and broken on the ESP32-C3), and all pins distinct.
"""

# mpy-cross -march for each chip: the Xtensa LX6/LX7 cores use the windowed ABI
# (xtensawin), the ESP32-C3 is RISC-V rv32imc, the RP2040's Cortex-M0+ is armv6m.
ARCH = {
    "esp32": "xtensawin",
    "esp32s3": "xtensawin",
    "esp32c3": "rv32imc",
    "rp2040": "armv6m",
}

PROFILES = {
    # Seeed Studio XIAO ESP32S3 (ESP32-S3, native USB-C, LiPo charger with BAT+/BAT-
    # pads underneath, user LED on GPIO21, active low). Pin labels -> GPIO:
    # D0=1 D1=2 D2=3 D3=4 D4=5 D5=6 D6=43 D7=44 D8=7 D9=8 D10=9 (Seeed pinout, and the
    # Arduino-ESP32 XIAO_ESP32S3 variant). SDA=D4/GPIO5, SCL=D5/GPIO6 are the board's
    # I2C pins (MicroPython's SEEED_XIAO_ESP32S3 defaults to them too). D2=GPIO3 is a
    # strapping pin (JTAG source select) and is left free; D6/D7 are UART0, which prints
    # the boot log, so the button stays off them. GPIO1..9 are all RTC GPIOs (wake
    # capable) and GPIO1..10 are ADC1, so the battery goes on D1/GPIO2 (ADC1_CH1).
    # ADC at 11 dB attenuation reads 0..3100 mV (ESP-IDF v4.4 ESP32-S3 ADC docs).
    "xiao_esp32s3": {
        "name": "xiao_esp32s3",
        "title": "Seeed Studio XIAO ESP32S3",
        "port": "esp32",
        "chip": "esp32s3",
        "arch": "xtensawin",
        "i2c": 0,
        "sda": 5,  # D4
        "scl": 6,  # D5
        "int1": 4,  # D3
        "motor": 1,  # D0
        "button": 7,  # D8
        "battery_adc": 2,  # D1, ADC1_CH1, from BAT+ through 100k/100k
        "battery_divider": 2,
        "adc_max_mv": 3100,
        "led": 21,
        "led_active_low": True,
        "light_sleep": True,
        "pin_wake": True,
    },
    # Seeed Studio XIAO ESP32C3 (ESP32-C3FN4, native USB-C, LiPo charger with BAT pads,
    # no user LED; GPIO0/1 carry its 32.768 kHz crystal and are not brought out).
    # D0=2 D1=3 D2=4 D3=5 D4=6 D5=7 D6=21 D7=20 D8=8 D9=9 D10=10. GPIO2, GPIO8 and
    # GPIO9 are strapping pins (D0, D8, D9): unused. Only GPIO0..5 (the VDD3P3_RTC
    # domain) can wake the C3 through MicroPython's esp32 wake API, so INT1 and the
    # button take D3/GPIO5 and D2/GPIO4; the battery takes D1/GPIO3 (ADC1_CH3); the
    # motor, needing only PWM, goes to D10/GPIO10. GPIO wake on the C3 needs a recent
    # MicroPython (it was fixed in 2024-2025; older builds only wake by timer).
    # ADC at 11 dB reads 0..2500 mV (ESP-IDF v4.4 ESP32-C3 ADC docs).
    "xiao_esp32c3": {
        "name": "xiao_esp32c3",
        "title": "Seeed Studio XIAO ESP32C3",
        "port": "esp32",
        "chip": "esp32c3",
        "arch": "rv32imc",
        "i2c": 0,  # the C3 has a single I2C controller
        "sda": 6,  # D4
        "scl": 7,  # D5
        "int1": 5,  # D3
        "motor": 10,  # D10
        "button": 4,  # D2
        "battery_adc": 3,  # D1, ADC1_CH3, from BAT+ through 100k/100k
        "battery_divider": 2,
        "adc_max_mv": 2500,
        "led": None,
        "led_active_low": False,
        "light_sleep": True,
        "pin_wake": True,
    },
    # Espressif ESP32-DevKitC with an ESP32-WROOM-32 / -32E module (classic ESP32, USB
    # through a USB-UART bridge, no charger, no user LED: only the power LED). I2C on
    # the customary GPIO21 (SDA) / GPIO22 (SCL). Strapping pins 0, 2, 5, 12, 15 and the
    # flash pins 6..11 are avoided. INT1 and the button need RTC GPIOs to wake the chip
    # (ext0/ext1): GPIO33 and GPIO27. Motor PWM on GPIO25. No battery input: this board
    # has no charger and its LDO wants 5 V, so it runs from USB (a power bank).
    # ADC (if used) at 11 dB: 150..2450 mV for accurate readings (ESP-IDF adc.h).
    "esp32_devkitc": {
        "name": "esp32_devkitc",
        "title": "Espressif ESP32-DevKitC (ESP32-WROOM-32)",
        "port": "esp32",
        "chip": "esp32",
        "arch": "xtensawin",
        "i2c": 0,
        "sda": 21,
        "scl": 22,
        "int1": 33,
        "motor": 25,
        "button": 27,
        "battery_adc": None,
        "battery_divider": None,
        "adc_max_mv": 2450,
        "led": None,
        "led_active_low": False,
        "light_sleep": True,
        "pin_wake": True,
    },
    # Raspberry Pi Pico and Pico W (RP2040). I2C0 on GP4 (SDA, pin 6) / GP5 (SCL,
    # pin 7), the pair MicroPython examples use. INT1 on GP6 (pin 9), button on GP14
    # (pin 19), motor on GP15 (pin 20). The onboard VSYS/3 monitor on GPIO29 is not
    # used: on the Pico W that pin is also the radio's SPI clock and needs GPIO25
    # juggled to read it, so one profile serves both boards with an external 100k/100k
    # divider from the battery into GP28 / ADC2 (pin 34). "LED" is MicroPython's name
    # for the user LED on both (GP25 on the Pico, the radio chip's WL_GPIO0 on the W).
    # RP2040 ADC reads 0..3300 mV (ADC_VREF = 3V3 on the Pico). lightsleep(ms) works
    # on rp2 (timer wake), but waking on a pin IRQ is not reliable in released
    # MicroPython (micropython#7035, #16442), hence pin_wake False.
    "pico": {
        "name": "pico",
        "title": "Raspberry Pi Pico / Pico W",
        "port": "rp2",
        "chip": "rp2040",
        "arch": "armv6m",
        "i2c": 0,
        "sda": 4,
        "scl": 5,
        "int1": 6,
        "motor": 15,
        "button": 14,
        "battery_adc": 28,
        "battery_divider": 2,
        "adc_max_mv": 3300,
        "led": "LED",
        "led_active_low": False,
        "light_sleep": True,
        "pin_wake": False,
    },
    # Adafruit QT Py RP2040 (Adafruit 4900) + the Adafruit LSM6DSOX STEMMA QT breakout
    # (Adafruit 4438) on one STEMMA QT cable. The QT Py's STEMMA QT port is I2C1 on
    # SDA1=GPIO22 / SCL1=GPIO23 (not the SDA/SCL castellations, which are I2C0 on
    # GPIO24/25). Castellations -> GPIO: A0=29 A1=28 A2=27 A3=26 SDA=24 SCL=25 TX=20
    # RX=5 SCK=6 MISO=4 MOSI=3. INT1 (a wire from the breakout's INT1 pin) on A1,
    # button on A2, motor on TX/GPIO20, battery divider into A0/GPIO29 (ADC3). The
    # onboard BOOT button (GPIO21) is readable too and could stand in for the button.
    # The only LED is a NeoPixel (data GPIO12, power GPIO11): not a plain LED, so None.
    "qtpy_rp2040": {
        "name": "qtpy_rp2040",
        "title": "Adafruit QT Py RP2040",
        "port": "rp2",
        "chip": "rp2040",
        "arch": "armv6m",
        "i2c": 1,
        "sda": 22,
        "scl": 23,
        "int1": 28,  # A1
        "motor": 20,  # TX
        "button": 27,  # A2
        "battery_adc": 29,  # A0, ADC3
        "battery_divider": 2,
        "adc_max_mv": 3300,
        "led": None,
        "led_active_low": False,
        "light_sleep": True,
        "pin_wake": False,
    },
}

# the fields that name pins (what a config file may override, rstep.config)
PIN_ROLES = ("sda", "scl", "int1", "motor", "button", "battery_adc", "led")

# every field a profile carries, in the order documented above
FIELDS = (
    "name", "title", "port", "chip", "arch", "i2c", "sda", "scl", "int1", "motor",
    "button", "battery_adc", "battery_divider", "adc_max_mv", "led", "led_active_low",
    "light_sleep", "pin_wake",
)


def names():
    """Profile names, sorted."""
    return sorted(PROFILES)


def get(name):
    """The profile called ``name``; ValueError naming the valid ones otherwise."""
    if isinstance(name, str) and name in PROFILES:
        return PROFILES[name]
    raise ValueError("unknown board %r: use one of %s" % (name, ", ".join(names())))


def _machine_string():
    import sys

    s = getattr(sys.implementation, "_machine", None)
    if s:
        return s
    try:
        import os

        return os.uname().machine
    except (AttributeError, ImportError):
        return ""


def detect(machine=None):
    """Guess the profile name from MicroPython's machine string; None when unsure.

    MicroPython reports "<board> with <mcu>" (sys.implementation._machine, also
    os.uname().machine), e.g. "Seeed XIAO ESP32S3 with ESP32-S3-FN8",
    "Generic ESP32 module with ESP32", "Raspberry Pi Pico W with RP2040",
    "Adafruit QT Py RP2040 with RP2040". A board named in the string is matched by
    name. A generic firmware image ("Generic ESP32S3 module", "ESP32C3 module") is
    matched by chip, since each Espressif chip has one profile here: a guess, which
    passing the name to get() overrides. Another named board (a LOLIN S3, a TinyPICO)
    gives None rather than pins that may be wrong. ``machine`` tests a given string.
    """
    text = _machine_string() if machine is None else machine
    up = text.upper()
    cut = up.rfind(" WITH ")
    if cut < 0:  # no " with ": let the whole text stand for board and chip
        board, mcu = up, up
    else:
        board, mcu = up[:cut], up[cut + 6:]
    chip = _chip(mcu.replace("-", "").replace("_", "").replace(" ", ""))
    if chip == "rp2040":
        if "QT PY" in board or "QTPY" in board:
            return "qtpy_rp2040"
        if "PICO" in board:
            return "pico"
        return None
    if chip is None:
        return None
    if "XIAO" in board:
        return {"esp32s3": "xiao_esp32s3", "esp32c3": "xiao_esp32c3"}.get(chip)
    if "DEVKITC" in board and chip == "esp32":
        return "esp32_devkitc"
    if "GENERIC" in board or "MODULE" in board:
        return {"esp32s3": "xiao_esp32s3", "esp32c3": "xiao_esp32c3",
                "esp32": "esp32_devkitc"}.get(chip)
    return None


def _chip(mcu):
    # mcu: the chip part of the machine string, upper case, without - _ and spaces
    if mcu.startswith("RP2040"):
        return "rp2040"
    if mcu.startswith("ESP32S3"):
        return "esp32s3"
    if mcu.startswith("ESP32C3"):
        return "esp32c3"
    # the classic ESP32 in its packages: ESP32, ESP32-D0WD(-V3), ESP32-D2WD,
    # ESP32-U4WDH, ESP32-PICO-D4, ESP32-SOLO-1; not S2/S3/C2/C3/C5/C6/H2/P4
    if mcu == "ESP32":
        return "esp32"
    for package in ("ESP32D", "ESP32U", "ESP32PICO", "ESP32SOLO"):
        if mcu.startswith(package):
            return "esp32"
    return None
