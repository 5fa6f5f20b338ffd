// Formatting of numbers, times and durations for tables and charts. Unknown values are "—".

export const DASH = '—';

export function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A number with at most ``digits`` decimals, thousands separated; large magnitudes compact. */
export function formatNumber(v: number | null | undefined, digits = 2): string {
  if (!isNum(v)) return DASH;
  const abs = Math.abs(v);
  if (abs >= 1e6) return formatCompact(v);
  if (abs !== 0 && abs < 10 ** -digits) return v.toExponential(1);
  return v.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** 1.2k, 3.4M, 5.6B. */
export function formatCompact(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  const abs = Math.abs(v);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units) {
    if (abs >= size) {
      const scaled = v / size;
      const text = Math.abs(scaled) >= 100 ? scaled.toFixed(0) : scaled.toFixed(1);
      return `${text.replace(/\.0$/, '')}${suffix}`;
    }
  }
  return formatNumber(v, 2);
}

export function formatInt(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  return Math.round(v).toLocaleString('en-US');
}

/** A fraction in [0, 1] as a percentage: 0.625 → "62.5%". */
export function formatPercent(v: number | null | undefined, digits = 1): string {
  if (!isNum(v)) return DASH;
  return `${(v * 100).toFixed(digits).replace(/\.0+$/, '')}%`;
}

/** A duration in seconds: "850 ms", "42 s", "3m 05s", "2h 04m", "3d 02h". */
export function formatDuration(seconds: number | null | undefined): string {
  if (!isNum(seconds) || seconds < 0) return DASH;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1).replace(/\.0$/, '') : Math.floor(seconds)} s`;
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** Seconds between two ISO times (``end`` defaults to ``now``), or null. */
export function secondsBetween(
  start: string | null | undefined,
  end: string | null | undefined,
  now: number = Date.now(),
): number | null {
  if (!start) return null;
  const a = Date.parse(start);
  const b = end ? Date.parse(end) : now;
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return Math.max(0, (b - a) / 1000);
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** An ISO time in the viewer's local time zone: "2026-01-05 14:03:09". */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return DASH;
  return (
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", else the date. */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return DASH;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return DASH;
  const s = (now - t) / 1000;
  if (s < 0) return formatDateTime(iso);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 86400 * 14) {
    const days = Math.round(s / 86400);
    return `${days} day${days === 1 ? '' : 's'} ago`;
  }
  return formatDateTime(iso).slice(0, 16);
}

export function formatBytes(n: number | null | undefined): string {
  if (!isNum(n) || n < 0) return DASH;
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Any JSON value in one short line (config values, episode metrics). */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return DASH;
  if (typeof v === 'number') return Number.isInteger(v) ? formatInt(v) : formatNumber(v, 4);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** The win of an episode: 1 win, 0.5 tie, 0 loss. */
export function formatWin(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  if (v === 1) return 'win';
  if (v === 0) return 'loss';
  if (v === 0.5) return 'tie';
  return formatNumber(v, 2);
}

/** The steps per second of a run, from its timesteps and duration. */
export function stepsPerSecond(
  timesteps: number | null | undefined,
  seconds: number | null | undefined,
): number | null {
  if (!isNum(timesteps) || !isNum(seconds) || seconds <= 0) return null;
  return timesteps / seconds;
}

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/** A checkpoint file's short name: `final.zip`, or `agent-1/best.pt` when the run trained
 * several agents (each keeps its checkpoints in its own folder under `checkpoints/`). */
export function checkpointLabel(path: string | null | undefined): string {
  if (!path) return DASH;
  const parts = path.split(/[\\/]/).filter((p) => p !== '');
  const name = parts[parts.length - 1] ?? path;
  const folder = parts[parts.length - 2];
  return folder === undefined || folder === 'checkpoints' ? name : `${folder}/${name}`;
}
