import { describe, expect, it } from 'vitest';
import {
  DASH,
  checkpointLabel,
  formatBytes,
  formatCompact,
  formatDateTime,
  formatDuration,
  formatInt,
  formatNumber,
  formatPercent,
  formatRelative,
  formatValue,
  formatWin,
  secondsBetween,
  stepsPerSecond,
} from '../src/lib/format';

describe('formatDuration', () => {
  it('picks a unit by size', () => {
    expect(formatDuration(0.25)).toBe('250 ms');
    expect(formatDuration(4.25)).toBe('4.3 s');
    expect(formatDuration(5)).toBe('5 s');
    expect(formatDuration(42.9)).toBe('42 s');
    expect(formatDuration(185)).toBe('3m 05s');
    expect(formatDuration(2 * 3600 + 4 * 60 + 59)).toBe('2h 04m');
    expect(formatDuration(3 * 86400 + 2 * 3600)).toBe('3d 02h');
  });
  it('shows unknown and negative durations as a dash', () => {
    expect(formatDuration(null)).toBe(DASH);
    expect(formatDuration(undefined)).toBe(DASH);
    expect(formatDuration(Number.NaN)).toBe(DASH);
    expect(formatDuration(-1)).toBe(DASH);
  });
});

describe('numbers', () => {
  it('formats with separators and limited decimals', () => {
    expect(formatNumber(1234.5678)).toBe('1,234.57');
    expect(formatNumber(1234.5678, 0)).toBe('1,235');
    expect(formatNumber(-0.5)).toBe('-0.5');
    expect(formatNumber(0)).toBe('0');
  });
  it('uses exponents for tiny magnitudes and compact units for huge ones', () => {
    expect(formatNumber(0.00003, 2)).toBe('3.0e-5');
    expect(formatNumber(2_500_000)).toBe('2.5M');
  });
  it('compacts', () => {
    expect(formatCompact(999)).toBe('999');
    expect(formatCompact(1000)).toBe('1k');
    expect(formatCompact(1530)).toBe('1.5k');
    expect(formatCompact(1_000_000)).toBe('1M');
    expect(formatCompact(123_456_789)).toBe('123M');
    expect(formatCompact(-42_000)).toBe('-42k');
    expect(formatCompact(null)).toBe(DASH);
  });
  it('never prints NaN or Infinity', () => {
    for (const f of [formatNumber, formatCompact, formatInt, formatPercent]) {
      expect(f(Number.NaN)).toBe(DASH);
      expect(f(Number.POSITIVE_INFINITY)).toBe(DASH);
      expect(f(null)).toBe(DASH);
    }
  });
  it('formats integers and percentages', () => {
    expect(formatInt(1234567.4)).toBe('1,234,567');
    expect(formatPercent(0.625)).toBe('62.5%');
    expect(formatPercent(0.5)).toBe('50%');
    expect(formatPercent(1, 0)).toBe('100%');
    expect(formatPercent(-0.1234, 2)).toBe('-12.34%');
  });
  it('formats bytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(145_000)).toBe('142 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
    expect(formatBytes(null)).toBe(DASH);
  });
});

describe('times', () => {
  it('measures between ISO times, or up to now for a run still going', () => {
    expect(secondsBetween('2026-01-01T00:00:00Z', '2026-01-01T00:01:30Z')).toBe(90);
    const now = Date.parse('2026-01-01T00:00:10Z');
    expect(secondsBetween('2026-01-01T00:00:00Z', null, now)).toBe(10);
    expect(secondsBetween(null, null)).toBeNull();
    expect(secondsBetween('not a time', null)).toBeNull();
  });
  it('formats local date times', () => {
    const iso = new Date(2026, 0, 5, 14, 3, 9).toISOString();
    expect(formatDateTime(iso)).toBe('2026-01-05 14:03:09');
    expect(formatDateTime(null)).toBe(DASH);
    expect(formatDateTime('garbage')).toBe(DASH);
  });
  it('says how long ago', () => {
    const now = Date.parse('2026-01-10T12:00:00Z');
    expect(formatRelative('2026-01-10T11:59:50Z', now)).toBe('just now');
    expect(formatRelative('2026-01-10T11:55:00Z', now)).toBe('5 min ago');
    expect(formatRelative('2026-01-10T09:00:00Z', now)).toBe('3 h ago');
    expect(formatRelative('2026-01-09T12:00:00Z', now)).toBe('1 day ago');
    expect(formatRelative('2026-01-07T12:00:00Z', now)).toBe('3 days ago');
    const old = '2025-06-01T08:30:00Z';
    expect(formatRelative(old, now)).toBe(formatDateTime(old).slice(0, 16));
  });
  it('computes steps per second only from a positive duration', () => {
    expect(stepsPerSecond(30000, 15)).toBe(2000);
    expect(stepsPerSecond(30000, 0)).toBeNull();
    expect(stepsPerSecond(null, 15)).toBeNull();
  });
});

describe('values', () => {
  it('formats any JSON value on one line', () => {
    expect(formatValue(0.0003)).toBe('0.0003');
    expect(formatValue(256)).toBe('256');
    expect(formatValue(true)).toBe('true');
    expect(formatValue('MlpPolicy')).toBe('MlpPolicy');
    expect(formatValue([64, 64])).toBe('[64,64]');
    expect(formatValue({ pi: [32] })).toBe('{"pi":[32]}');
    expect(formatValue(null)).toBe(DASH);
  });
  it('names episode results', () => {
    expect(formatWin(1)).toBe('win');
    expect(formatWin(0)).toBe('loss');
    expect(formatWin(0.5)).toBe('tie');
    expect(formatWin(null)).toBe(DASH);
  });
});

describe('checkpointLabel', () => {
  it('names the file, and the agent folder of one of several agents', () => {
    expect(checkpointLabel('/home/u/rltrack/runs/abc/checkpoints/final.zip')).toBe('final.zip');
    expect(checkpointLabel('/data/runs/abc/checkpoints/agent-1/best.pt')).toBe('agent-1/best.pt');
    expect(checkpointLabel('C:\\runs\\abc\\checkpoints\\step_000000002048.zip')).toBe(
      'step_000000002048.zip',
    );
    expect(checkpointLabel('final.pt')).toBe('final.pt');
    expect(checkpointLabel(null)).toBe(DASH);
  });
});
