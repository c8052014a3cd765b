# retrostep firmware package: on the board it lives in /lib/rstep, on the laptop it is
# imported as retrostep.firmware. Modules inside import each other relatively only.
