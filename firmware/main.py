# retrostep: the device's main loop (rstep/app.py). A short press starts a session.
# Stop it from a laptop with Ctrl-C (mpremote, or `retrostep sync`): the session is
# closed and saved first.
from rstep import app

try:
    app.main()
except ValueError as exc:  # a bad /config.json or an unknown board: say what to fix
    print("retrostep:", exc)
