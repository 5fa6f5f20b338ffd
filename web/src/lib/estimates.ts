// Estimates with their confidence intervals, as the group and sweep pages show them:
// "195.3 [180.1, 210.4]", and the order of magnitude that picks how many decimals they get.
import { DASH, isNum } from './format';

/** Decimals that show a value of about this size with 4 significant digits (at most 4). */
export function decimalsFor(...values: (number | null | undefined)[]): number {
  let largest = 0;
  for (const v of values) if (isNum(v)) largest = Math.max(largest, Math.abs(v));
  if (largest === 0) return 2;
  const digits = 3 - Math.floor(Math.log10(largest));
  return Math.min(4, Math.max(1, digits));
}

function fixed(v: number, digits: number): string {
  // -0.0 is 0.0: a rounded interval edge carries no sign.
  const text = v.toFixed(digits);
  return /^-0(\.0+)?$/.test(text) ? text.slice(1) : text;
}

/** "195.3 [180.1, 210.4]": a point estimate and its interval, with the same decimals. An
 * unknown estimate is "—"; an unknown interval is left out. */
export function formatEstimate(
  value: number | null | undefined,
  lower: number | null | undefined,
  upper: number | null | undefined,
  digits: number = decimalsFor(value, lower, upper),
): string {
  if (!isNum(value)) return DASH;
  const point = fixed(value, digits);
  if (!isNum(lower) || !isNum(upper)) return point;
  return `${point} [${fixed(lower, digits)}, ${fixed(upper, digits)}]`;
}

/** A probability and its interval, always with two decimals: "0.83 [0.61, 0.97]". */
export function formatProbability(
  value: number | null | undefined,
  lower: number | null | undefined,
  upper: number | null | undefined,
): string {
  return formatEstimate(value, lower, upper, 2);
}
