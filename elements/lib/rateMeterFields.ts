// The config field and check Meter and BandwidthMeter share (their native side is one class
// too: rate_meter.h), worded for packets or bytes per second.
import { Type } from 'typebox';

export function rateMeterConfig(unit: string) {
  return Type.Object(
    {
      rates: Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 1e12 }), {
        minItems: 1,
        maxItems: 255,
        description: `The rates, ${unit}, increasing: n rates need n + 1 outputs.`,
      }),
    },
    { additionalProperties: false },
  );
}

export function rateMeterCheck(c: { rates: number[] }, ports: { outputs: number }): string | undefined {
  for (let i = 1; i < c.rates.length; i++)
    if (!(c.rates[i] > c.rates[i - 1])) return `config field 'rates': rate ${i + 1} (${c.rates[i]}) must be above rate ${i} (${c.rates[i - 1]})`;
  if (ports.outputs !== c.rates.length + 1)
    return `config field 'rates' has ${c.rates.length} rate(s), which need ${c.rates.length + 1} outputs, but ${ports.outputs} are connected`;
  return undefined;
}
