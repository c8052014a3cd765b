# retrostep: runs at every boot, before main.py. Nothing to set up yet: the USB REPL
# stays available so the laptop can deploy and sync.
