// The pins: the timelines of PWM outputs (the motor) and digital outputs, and the
// ADC inputs (the battery through its divider, the rp2's temperature sensor).

import { job } from "./common.mjs";
import { clock, boardMs } from "./clock.mjs";
import { trace } from "./trace.mjs";

const PIN_LOG_MAX = 100000;

export const pins = {
  pwm: [], // [world, boot, pin, duty, freq]
  out: [], // [world, boot, pin, level]
};

export function pwm(pin, duty, freq) {
  pins.pwm.push([clock.world, clock.boot, pin, duty, freq]);
}

export function pout(pin, v) {
  if (pins.out.length < PIN_LOG_MAX) pins.out.push([clock.world, clock.boot, pin, v]);
}

function adcVolts(pin) {
  const p = job.profile;
  if (pin === p.battery_adc && p.battery_divider) return job.battery_v / p.battery_divider;
  if (pin === 30 && p.port === "rp2") return 0.706; // rp2 ADC(4): the temperature sensor at 27 C
  return 0;
}

export function adc(pin) {
  return Math.min(65535, Math.max(0, Math.round((adcVolts(pin) * 1000 / job.profile.adc_max_mv) * 65535)));
}

export function adcuv(pin) {
  return Math.round(adcVolts(pin) * 1e6);
}

export function pwmReport() {
  const t0 = trace.t0;
  return pins.pwm.map(([w, b, pin, duty, freq]) => ({
    t_s: t0 === null ? null : (w - t0) / 1e6,
    board_ms: boardMs(w, b),
    world_s: w / 1e6,
    pin,
    duty_u16: duty,
    freq_hz: freq,
  }));
}

export function pinsReport() {
  const t0 = trace.t0;
  return pins.out.map(([w, b, pin, v]) => ({
    t_s: t0 === null ? null : (w - t0) / 1e6,
    board_ms: boardMs(w, b),
    pin,
    value: v,
  }));
}
